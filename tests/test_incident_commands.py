"""Declaring and running an incident through /incident, as a user types it, on both databases."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import EntryKind, Incident, TimelineEntry
from tests.conftest import ANN, BOB
from tests.flows import declare


def test_declare_creates_a_channel_invites_sets_topic_announces_and_links_back(bot, standin, db):
    result = bot.command("declare Checkout returns 503 sev2", user=ANN, channel="C0GENERAL")

    assert result.acked_in < 3
    create = standin.calls_to("conversations.create")[0]
    assert create.params["name"] == "inc-2026-06-22-checkout-returns-503"
    channel_id = next(cid for cid, c in standin.channels.items() if c["name"] == create.params["name"])
    assert standin.calls_to("conversations.invite")[0].params["users"] == ANN
    topic = standin.channels[channel_id]["topic"]
    topic = topic["value"] if isinstance(topic, dict) else topic
    assert "Checkout returns 503" in topic and "SEV2" in topic and "open" in topic
    announcement = standin.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == channel_id)
    assert announcement
    # the note where it was declared links to the new channel, visibly to that channel
    assert result.first["response_type"] == "in_channel"
    assert f"<#{channel_id}>" in result.text
    with db.unit_of_work() as session:
        incident = session.scalar(select(Incident))
        assert (incident.title, incident.severity, incident.commander_id) == ("Checkout returns 503", "sev2", ANN)
        entries = session.scalars(select(TimelineEntry)).all()
        assert [e.kind for e in entries] == [EntryKind.SYSTEM]
        assert "declared" in entries[0].text


def test_declare_aliases_and_default_severity(bot, db):
    bot.command("start Login slow", user=ANN, channel="C0GENERAL")
    bot.command("new Queue backlog SEV1", user=ANN, channel="C0GENERAL")
    bot.command("declare Payments SEV-2 down", user=ANN, channel="C0GENERAL")
    refused = bot.command("declare Payments down sev5", user=ANN, channel="C0GENERAL")
    assert "`sev5` is not a severity" in refused.text
    with db.unit_of_work() as session:
        got = {i.title: i.severity for i in session.scalars(select(Incident))}
    assert got == {"Login slow": "sev3", "Queue backlog": "sev1", "Payments down": "sev2"}


def test_a_broadcast_in_a_title_pings_nobody(bot, standin, make_bot):
    bot.command("declare <!here> DB down sev1", user=ANN, channel="C0GENERAL")
    in_place = make_bot(INCIDENT_CREATE_CHANNEL="false")
    standin.add_channel("C0WAR", "war-room")
    in_place.command("declare <!channel> Leaked key sev1", user=ANN, channel="C0WAR", channel_name="war-room")
    bot.settle()
    said = [str(c.params) for c in standin.calls if c.method in ("chat.postMessage", "conversations.setTopic")]
    said += [str(r.payload) for r in standin.responses]
    assert said and not any("<!here>" in s or "<!channel>" in s for s in said)


def test_taken_channel_name_gets_a_suffix_and_long_titles_fit_slacks_80_characters(bot, standin):
    standin.add_channel("C0TAKEN", "inc-2026-06-22-db-down")
    bot.command("declare DB down", user=ANN, channel="C0GENERAL")
    names = [c.params["name"] for c in standin.calls_to("conversations.create")]
    assert names == ["inc-2026-06-22-db-down", "inc-2026-06-22-db-down-2"]

    bot.command("declare " + "Ünïcode and a very long title " * 8, user=ANN, channel="C0GENERAL")
    name = standin.calls_to("conversations.create")[-1].params["name"]
    assert len(name) <= 80 and name == name.lower() and name.startswith("inc-2026-06-22-unicode-and-a-very-long")


def test_declare_without_a_title_shows_the_form_and_creates_nothing(bot, standin, db):
    result = bot.command("declare sev2", user=ANN, channel="C0GENERAL")
    assert "needs a title" in result.text and "/incident declare" in result.text
    assert standin.calls_to("conversations.create") == []
    with db.unit_of_work() as session:
        assert session.scalar(select(Incident)) is None


def test_declare_in_place_when_channel_creation_is_off(make_bot, standin, db):
    bot = make_bot(INCIDENT_CREATE_CHANNEL="false")
    standin.add_channel("C0WAR", "war-room")
    result = bot.command("declare Payments down sev1", user=ANN, channel="C0WAR", channel_name="war-room")
    assert standin.calls_to("conversations.create") == []
    assert result.first["response_type"] == "in_channel"
    assert "Payments down" in result.text
    bot.settle()
    assert len(standin.responses) == 1  # no second message: the topic was set
    assert "Payments down" in standin.channels["C0WAR"]["topic"]
    with db.unit_of_work() as session:
        assert session.scalar(select(Incident.channel_id)) == "C0WAR"
    again = bot.command("declare Again", user=ANN, channel="C0WAR", channel_name="war-room")
    assert "already belongs to an incident" in again.text
    standin.add_channel("C0NOTME", "not-me", bot_is_member=False)
    elsewhere = bot.command("declare Search slow", user=ANN, channel="C0NOTME", channel_name="not-me", wait=False)
    assert "/invite @incident-bot" in " ".join(r["text"] for r in elsewhere.wait(count=2))


def test_severity_update_and_roles_are_on_the_timeline(bot, standin, db):
    channel = declare(bot)
    sev = bot.command("severity SEV1", user=ANN, channel=channel)
    assert sev.first["response_type"] == "in_channel" and "from sev2 to *sev1*" in sev.text
    bad = bot.command("severity critical", user=ANN, channel=channel)
    assert "not a severity" in bad.text and "sev1" in bad.text
    assert "Give a severity" in bot.command("severity", user=ANN, channel=channel).text

    role = bot.command(f"role commander <@{BOB}|bob>", user=ANN, channel=channel)
    assert f"<@{BOB}> is now *commander*" in role.text
    assert BOB in standin.calls_to("conversations.invite")[-1].params["users"]
    roles = bot.command("roles", user=ANN, channel=channel)
    assert f"commander: <@{BOB}>" in roles.text and "comms: _nobody yet_" in roles.text
    wrong = bot.command("role commander bob", user=ANN, channel=channel)
    assert "not a person" in wrong.text

    update = bot.command("update Rolled back to v2.4.0 <!channel> errors falling", user=ANN, channel=channel)
    assert "Posted" in update.text
    posted = standin.calls_to("chat.postMessage")[-1].params
    assert posted["channel"] == channel
    assert "<!channel>" not in str(posted) and "@channel" in str(posted)
    with db.unit_of_work() as session:
        kinds = [e.kind for e in session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]
        texts = [e.text for e in session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]
    assert kinds == [EntryKind.SYSTEM, EntryKind.SYSTEM, EntryKind.SYSTEM, EntryKind.STATUS_UPDATE]
    assert texts[-1] == "Rolled back to v2.4.0 <!channel> errors falling"  # stored exactly as typed


def test_list_shows_open_incidents_newest_first(bot, clock):
    from datetime import timedelta

    declare(bot, "Older one")
    clock.advance(timedelta(minutes=5))
    declare(bot, "Newer one")
    listing = bot.command("list", user=BOB, channel="C0GENERAL")
    assert listing.text.index("Newer one") < listing.text.index("Older one")


def test_help_unknown_and_empty_subcommands(bot):
    help_text = bot.command("help", user=ANN, channel="C0GENERAL").text
    for name in ("declare", "timeline", "edit", "remove", "severity", "update", "role", "roles", "list"):
        assert f"`{name}" in help_text
    unknown = bot.command("explode now", user=ANN, channel="C0GENERAL").text
    assert "I don't know `explode`" in unknown and "`declare" in unknown
    empty = bot.command("", user=ANN, channel="C0GENERAL").text
    assert "`declare" in empty


def test_incident_commands_outside_an_incident_channel_say_so(bot):
    for text in ("timeline 14:05 alert", "severity sev1", "update hi", "roles"):
        reply = bot.command(text, user=ANN, channel="C0GENERAL").text
        assert "not an incident's channel" in reply, text
