"""The timeline from the conversation, through signed HTTP on SQLite and PostgreSQL: pin reactions
(in the channel and in threads), once under retries and races, un-pin, edits and deletions, the
message shortcut and its modal, and the events the bot acknowledges without acting on."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from bot import message_capture, timeline
from bot.models import EntrySource, Incident, TimelineEntry
from tests.conftest import ANN, BOB, CAROL
from tests.flows import declare
from tests.harness import BotUnderTest, utc

MEMO = "memo"  # the bot's confirmation reaction
# 2026-06-22 14:31:07.000200 UTC: before the test clock's 14:50, as a message in an incident would be.
POSTED = utc(2026, 6, 22, 14, 31, 7)
POSTED_TS = f"{int(POSTED.timestamp())}.000200"


# -- what Slack sends ----------------------------------------------------------------------------
def reaction_event(
    kind: str, *, user: str, channel: str, ts: str, item_user: str | None, reaction: str = "pushpin"
) -> dict:
    event = {
        "type": kind,
        "user": user,
        "reaction": reaction,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": f"{time.time():.6f}",
    }
    if item_user:
        event["item_user"] = item_user
    return event


def pin(
    bot: BotUnderTest,
    channel: str,
    ts: str,
    *,
    user: str,
    reaction: str = "pushpin",
    event_id: str | None = None,
    retry_num: int | None = None,
):
    """A person adds a pin reaction: Slack's state changes, then the event arrives."""
    bot.standin.react(channel, ts, reaction, user=user)
    author = bot.standin.message(channel, ts).get("user")
    response = bot.event(
        reaction_event("reaction_added", user=user, channel=channel, ts=ts, item_user=author, reaction=reaction),
        event_id=event_id,
        retry_num=retry_num,
    )
    assert response.status_code == 200, response.text
    return response


def unpin(bot: BotUnderTest, channel: str, ts: str, *, user: str, reaction: str = "pushpin"):
    bot.standin.unreact(channel, ts, reaction, user=user)
    author = bot.standin.message(channel, ts).get("user")
    response = bot.event(
        reaction_event("reaction_removed", user=user, channel=channel, ts=ts, item_user=author, reaction=reaction)
    )
    assert response.status_code == 200, response.text
    return response


def edit(bot: BotUnderTest, channel: str, ts: str, text: str):
    previous, current = bot.standin.edit_message(channel, ts, text)
    event = {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": channel,
        "ts": f"{time.time():.6f}",
        "message": current,
        "previous_message": previous,
    }
    return bot.event(event)


def delete(bot: BotUnderTest, channel: str, ts: str):
    previous = bot.standin.delete_message(channel, ts)
    event = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": channel,
        "ts": f"{time.time():.6f}",
        "deleted_ts": ts,
        "previous_message": previous,
    }
    return bot.event(event)


def shortcut_payload(bot: BotUnderTest, channel: str, ts: str, *, user: str, channel_name: str = "general") -> dict:
    return {
        "type": "message_action",
        "callback_id": "add_to_incident_timeline",
        "trigger_id": f"trigger-{time.monotonic_ns()}",
        "response_url": bot.standin.response_url(),
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "channel": {"id": channel, "name": channel_name},
        "message_ts": ts,
        "message": bot.standin.message(channel, ts),
        "action_ts": f"{time.time():.6f}",
    }


def replies_to(bot: BotUnderTest, response_url: str, count: int = 1) -> list[str]:
    token = response_url.rsplit("/", 1)[-1]
    found = bot.standin.wait_for_responses(count, timeout=10, where=lambda r: r.token == token)
    return [r.payload.get("text", "") for r in found]


def submission_payload(view: dict, *, user: str, incident_id: int | None, when: str = "", note: str = "") -> dict:
    values = {
        "incident": {
            "incident_choice": {
                "type": "static_select",
                "selected_option": (
                    {"text": {"type": "plain_text", "text": "x"}, "value": str(incident_id)} if incident_id else None
                ),
            }
        },
        "when": {"when_text": {"type": "plain_text_input", "value": when or None}},
        "note": {"note_text": {"type": "plain_text_input", "value": note or None}},
    }
    return {
        "type": "view_submission",
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "trigger_id": f"trigger-{time.monotonic_ns()}",
        "view": {**view, "state": {"values": values}},
    }


# -- what the bot did --------------------------------------------------------------------------
def imported(bot: BotUnderTest, channel: str, ts: str, *, include_removed: bool = True) -> list[TimelineEntry]:
    with bot.runtime.db.unit_of_work() as session:
        query = select(TimelineEntry).where(TimelineEntry.source_channel_id == channel, TimelineEntry.source_ts == ts)
        found = list(session.scalars(query.order_by(TimelineEntry.id)))
    return [e for e in found if include_removed or e.removed_at is None]


def history_actions(bot: BotUnderTest, entry_id: int) -> list[str]:
    with bot.runtime.db.unit_of_work() as session:
        return [revision.action for revision in timeline.history(session, entry_id)]


def incident_id_of(bot: BotUnderTest, channel: str) -> int:
    with bot.runtime.db.unit_of_work() as session:
        return session.scalar(select(Incident.id).where(Incident.channel_id == channel))


def marks(bot: BotUnderTest, channel: str, ts: str) -> list[str]:
    """Who has the bot's confirmation reaction on the message."""
    reactions = bot.standin.message(channel, ts).get("reactions", [])
    return next((r["users"] for r in reactions if r["name"] == MEMO), [])


def wait_for_mark(bot: BotUnderTest, channel: str, ts: str, count: int = 1) -> None:
    bot.standin.wait_for(
        "reactions.add",
        count=count,
        timeout=10,
        where=lambda c: c.params.get("timestamp") == ts and c.params.get("channel") == channel,
    )


def shown_timeline(bot: BotUnderTest, channel: str) -> str:
    return bot.command("timeline", user=ANN, channel=channel).text


@pytest.fixture
def incident(bot: BotUnderTest) -> str:
    return declare(bot)


# -- pins ---------------------------------------------------------------------------------------
def test_a_pin_puts_the_message_on_the_timeline_at_its_own_time_with_its_permalink(bot, incident):
    ts = bot.standin.add_message(incident, user=BOB, text="p99 latency 4s on checkout &amp; cart &lt;3", ts=POSTED_TS)

    pin(bot, incident, ts, user=ANN)
    wait_for_mark(bot, incident, ts)

    [entry] = imported(bot, incident, ts)
    assert entry.occurred_at == POSTED.replace(microsecond=200)
    assert entry.author_id == BOB
    assert entry.text == "p99 latency 4s on checkout & cart <3"
    assert entry.source == EntrySource.REACTION
    assert entry.permalink == f"https://example.slack.com/archives/{incident}/p{ts.replace('.', '')}"
    assert marks(bot, incident, ts) == ["UBOT"]
    assert not bot.standin.calls_to("chat.postMessage")[1:], "no channel message per pin"
    listing = shown_timeline(bot, incident)
    assert "p99 latency 4s on checkout &amp; cart &lt;3" in listing and entry.permalink in listing


def test_a_pinned_thread_reply_lands_with_its_thread_permalink(bot, incident):
    parent = bot.standin.add_message(incident, user=BOB, text="checkout is down", ts=POSTED_TS)
    reply = bot.standin.add_message(incident, user=CAROL, text="db primary failed over at 14:32", thread_ts=parent)

    pin(bot, incident, reply, user=ANN)
    wait_for_mark(bot, incident, reply)

    [entry] = imported(bot, incident, reply)
    assert (entry.text, entry.author_id) == ("db primary failed over at 14:32", CAROL)
    assert entry.occurred_at == message_capture.posted_at(reply)
    assert entry.permalink.endswith(f"?thread_ts={parent}&cid={incident}")
    assert imported(bot, incident, parent) == []
    assert bot.standin.calls_to("conversations.replies"), "thread replies are read with conversations.replies"


def test_files_are_kept_as_their_permalinks(bot, incident):
    files = [{"id": "F1", "name": "graph.png", "permalink": "https://example.slack.com/files/U0BOB/F1/graph.png"}]
    ts = bot.standin.add_message(incident, user=BOB, text="error rate graph", files=files)

    pin(bot, incident, ts, user=ANN)
    wait_for_mark(bot, incident, ts)

    [entry] = imported(bot, incident, ts)
    assert entry.text == "error rate graph\nhttps://example.slack.com/files/U0BOB/F1/graph.png"
    assert not bot.standin.calls_to("files.info") and not bot.standin.calls_to("files.getUploadURLExternal")


def test_retries_and_a_second_persons_pin_still_give_one_entry(bot, incident):
    ts = bot.standin.add_message(incident, user=BOB, text="rolled back to v2.4.0", ts=POSTED_TS)

    pin(bot, incident, ts, user=ANN, event_id="EvPIN1")
    author = bot.standin.message(incident, ts)["user"]
    for retry in (1, 2, 3):
        bot.event(
            reaction_event("reaction_added", user=ANN, channel=incident, ts=ts, item_user=author),
            event_id="EvPIN1",
            retry_num=retry,
        )
    pin(bot, incident, ts, user=CAROL, reaction="round_pushpin")  # not a pin reaction by default
    pin(bot, incident, ts, user=BOB)
    bot.settle()

    assert len(imported(bot, incident, ts)) == 1
    assert marks(bot, incident, ts) == ["UBOT"]
    assert shown_timeline(bot, incident).count("rolled back to v2.4.0") == 1


def test_concurrent_deliveries_from_two_replicas_give_one_entry(make_bot, standin):
    first = make_bot()
    second = make_bot()  # a second replica on the same database and workspace
    incident = declare(first)
    messages = [standin.add_message(incident, user=BOB, text=f"finding {n}") for n in range(4)]
    for ts in messages:
        for user in (ANN, CAROL):
            standin.react(incident, ts, "pushpin", user=user)

    def deliver(job: tuple[BotUnderTest, str, str, int | None]) -> int:
        bot, ts, user, retry = job
        event = reaction_event("reaction_added", user=user, channel=incident, ts=ts, item_user=BOB)
        return bot.event(event, event_id=f"Ev{ts}{user}", retry_num=retry).status_code

    jobs = [
        (bot, ts, user, retry)
        for ts in messages
        for user in (ANN, CAROL)
        for bot in (first, second)
        for retry in (None, 1, 2)
    ]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        statuses = list(pool.map(deliver, jobs))
    first.settle()
    second.settle()

    assert set(statuses) == {200}
    for ts in messages:
        assert len(imported(first, incident, ts)) == 1
        assert marks(first, incident, ts) == ["UBOT"]


def test_a_duplicate_insert_that_loses_the_race_is_a_no_op_inside_the_transaction(db, clock, monkeypatch):
    """The unique key, not the look-up before it, makes the import once: here the look-up is made
    to miss, as when another replica commits between it and the insert."""
    with db.unit_of_work() as session:
        incident = Incident(title="t", severity="sev3", channel_id="CINC", declared_by=ANN, created_at=clock.now())
        session.add(incident)
        session.flush()
        message = message_capture.CapturedMessage("CINC", POSTED_TS, BOB, "first words")
        won = message_capture.import_message(
            session, incident, message, source=EntrySource.REACTION, by=ANN, now=clock.now(), permalink=None
        )
        incident_id = incident.id

    real_find = message_capture.find_import
    calls = []

    def missing_once(*args, **kwargs):
        calls.append(1)
        return None if len(calls) == 1 else real_find(*args, **kwargs)

    monkeypatch.setattr(message_capture, "find_import", missing_once)
    with db.unit_of_work() as session:
        incident = session.get(Incident, incident_id)
        lost = message_capture.import_message(
            session,
            incident,
            message,
            source=EntrySource.REACTION,
            by=CAROL,
            now=clock.now(),
            permalink="https://example.slack.com/x",
        )
        # the transaction is still usable after the caught duplicate
        timeline.add_system_entry(session, incident, "still writable", author=ANN, now=clock.now())

    assert lost.outcome is message_capture.Outcome.ALREADY and lost.entry_id == won.entry_id
    with db.unit_of_work() as session:
        texts = [e.text for e in timeline.entries(session, incident_id)]
    assert texts == ["first words", "still writable"]


def test_a_pin_outside_an_incident_channel_does_nothing(bot, incident):
    ts = bot.standin.add_message("C0GENERAL", user=BOB, text="lunch?")

    pin(bot, "C0GENERAL", ts, user=ANN)
    bot.settle()

    assert imported(bot, "C0GENERAL", ts) == []
    assert not bot.standin.calls_to("conversations.history")
    assert marks(bot, "C0GENERAL", ts) == []


def test_the_bots_own_messages_are_not_imported(bot, incident):
    announcement = next(m["ts"] for m in bot.standin.messages[incident] if m.get("bot_id"))

    pin(bot, incident, announcement, user=ANN)
    # the same, with Slack leaving item_user out: the message itself says whose it is
    bot.event(reaction_event("reaction_added", user=BOB, channel=incident, ts=announcement, item_user=None))
    bot.settle()

    assert imported(bot, incident, announcement) == []
    assert marks(bot, incident, announcement) == []


def test_another_bots_alert_can_be_pinned(bot, incident):
    with bot.standin._lock:
        alert = bot.standin._store_message(
            incident, {"bot_id": "BGRAFANA", "subtype": "bot_message", "text": "[FIRING] checkout 5xx > 5%"}
        )["ts"]

    pin(bot, incident, alert, user=ANN)
    wait_for_mark(bot, incident, alert)

    [entry] = imported(bot, incident, alert)
    assert (entry.text, entry.author_id) == ("[FIRING] checkout 5xx > 5%", "BGRAFANA")


def test_a_pin_where_the_bot_is_not_a_member_says_how_to_add_it(bot, incident):
    ts = bot.standin.add_message(incident, user=BOB, text="cache cluster restarted")
    with bot.standin._lock:  # someone removed the bot from the channel
        bot.standin.channels[incident]["is_member"] = False
        bot.standin.channels[incident]["members"].discard("UBOT")

    pin(bot, incident, ts, user=ANN)
    posted = bot.standin.wait_for(
        "chat.postMessage", timeout=10, where=lambda c: str(c.params.get("channel", "")).startswith("D")
    )

    assert "/invite @incident-bot" in posted[-1].params["text"]
    assert imported(bot, incident, ts) == []


# -- un-pin ---------------------------------------------------------------------------------------
def test_removing_the_last_pin_takes_the_entry_off_and_a_new_pin_brings_it_back(bot, incident):
    ts = bot.standin.add_message(incident, user=BOB, text="purged CDN cache", ts=POSTED_TS)
    pin(bot, incident, ts, user=ANN)
    pin(bot, incident, ts, user=BOB)
    wait_for_mark(bot, incident, ts)
    bot.settle()

    unpin(bot, incident, ts, user=ANN)
    bot.settle()
    [entry] = imported(bot, incident, ts, include_removed=False)  # BOB's pin still holds it

    unpin(bot, incident, ts, user=BOB)
    bot.standin.wait_for("reactions.remove", timeout=10)
    bot.settle()
    [gone] = imported(bot, incident, ts)
    assert gone.removed_at is not None and gone.removed_by == BOB
    assert history_actions(bot, entry.id) == ["unpinned"]
    assert marks(bot, incident, ts) == []
    assert "purged CDN cache" not in shown_timeline(bot, incident)

    pin(bot, incident, ts, user=CAROL)
    wait_for_mark(bot, incident, ts, count=2)
    bot.settle()
    [back] = imported(bot, incident, ts, include_removed=False)
    assert back.id == entry.id and back.occurred_at == entry.occurred_at
    assert history_actions(bot, entry.id) == ["unpinned", "restore"]
    assert marks(bot, incident, ts) == ["UBOT"]


def test_a_late_or_retried_pin_event_for_a_pin_already_taken_away_adds_nothing(bot, incident):
    ts = bot.standin.add_message(incident, user=BOB, text="flapping health check", ts=POSTED_TS)
    # the un-pin's event is handled before the pin's (Slack does not promise the order)
    bot.standin.react(incident, ts, "pushpin", user=ANN)
    bot.standin.unreact(incident, ts, "pushpin", user=ANN)
    bot.event(reaction_event("reaction_removed", user=ANN, channel=incident, ts=ts, item_user=BOB))
    bot.event(reaction_event("reaction_added", user=ANN, channel=incident, ts=ts, item_user=BOB))
    bot.settle()
    assert imported(bot, incident, ts) == [] and marks(bot, incident, ts) == []

    # a normal pin and un-pin, then Slack retries the pin's delivery
    pin(bot, incident, ts, user=CAROL, event_id="EvPIN1")
    wait_for_mark(bot, incident, ts)
    bot.settle()
    unpin(bot, incident, ts, user=CAROL)
    bot.standin.wait_for("reactions.remove", timeout=10)
    bot.settle()
    bot.event(
        reaction_event("reaction_added", user=CAROL, channel=incident, ts=ts, item_user=BOB),
        event_id="EvPIN1",
        retry_num=2,
    )
    bot.settle()
    [entry] = imported(bot, incident, ts)
    assert entry.removed_at is not None and history_actions(bot, entry.id) == ["unpinned"]


def test_removing_a_reaction_that_is_not_a_pin_changes_nothing(bot, incident):
    ts = bot.standin.add_message(incident, user=BOB, text="paged the db team")
    pin(bot, incident, ts, user=ANN)
    wait_for_mark(bot, incident, ts)
    bot.standin.react(incident, ts, "eyes", user=BOB)

    unpin(bot, incident, ts, user=BOB, reaction="eyes")
    bot.settle()

    assert len(imported(bot, incident, ts, include_removed=False)) == 1


def test_configured_pin_reactions_are_the_ones_that_count(make_bot):
    bot = make_bot(INCIDENT_PIN_REACTIONS="round_pushpin,bookmark")
    incident = declare(bot)
    ts = bot.standin.add_message(incident, user=BOB, text="traffic shifted to eu-west")

    pin(bot, incident, ts, user=ANN, reaction="pushpin")
    bot.settle()
    assert imported(bot, incident, ts) == []

    pin(bot, incident, ts, user=ANN, reaction="bookmark")
    wait_for_mark(bot, incident, ts)
    assert len(imported(bot, incident, ts)) == 1


# -- edits and deletions --------------------------------------------------------------------------
def test_an_edit_of_a_pinned_message_changes_the_entry_and_keeps_the_old_text(bot, incident):
    ts = bot.standin.add_message(incident, user=BOB, text="root cause: expired cert", ts=POSTED_TS)
    pin(bot, incident, ts, user=ANN)
    wait_for_mark(bot, incident, ts)

    assert edit(bot, incident, ts, "root cause: expired intermediate cert on the LB").status_code == 200
    bot.settle()

    [entry] = imported(bot, incident, ts)
    assert entry.text == "root cause: expired intermediate cert on the LB"
    assert entry.occurred_at == POSTED.replace(microsecond=200)
    with bot.runtime.db.unit_of_work() as session:
        [revision] = timeline.history(session, entry.id)
        assert (revision.action, revision.changed_by) == ("message_edited", BOB)
        assert revision.before["text"] == "root cause: expired cert"
    assert "expired intermediate cert on the LB" in shown_timeline(bot, incident)


def test_a_deleted_pinned_message_leaves_the_timeline_with_history(bot, incident):
    ts = bot.standin.add_message(incident, user=BOB, text="wrong graph, ignore")
    pin(bot, incident, ts, user=ANN)
    wait_for_mark(bot, incident, ts)

    assert delete(bot, incident, ts).status_code == 200
    bot.settle()

    [entry] = imported(bot, incident, ts)
    assert entry.removed_at is not None
    assert history_actions(bot, entry.id) == ["message_deleted"]
    assert "wrong graph" not in shown_timeline(bot, incident)


def test_edits_of_messages_on_no_timeline_and_plain_messages_change_nothing(bot, incident):
    ts = bot.standin.add_message(incident, user=BOB, text="brb")
    assert edit(bot, incident, ts, "brb, coffee").status_code == 200
    plain = {"type": "message", "channel": incident, "user": BOB, "text": "hello", "ts": f"{time.time():.6f}"}
    assert bot.event(plain).status_code == 200
    bot.settle()

    assert imported(bot, incident, ts) == []


# -- the message shortcut and its modal ---------------------------------------------------------
def test_the_shortcut_in_the_incident_channel_adds_the_message_at_once(bot, incident):
    ts = bot.standin.add_message(incident, user=BOB, text="customer reports: checkout spinner", ts=POSTED_TS)
    payload = shortcut_payload(bot, incident, ts, user=CAROL, channel_name="inc")

    assert bot.interaction(payload).status_code == 200
    [reply] = replies_to(bot, payload["response_url"])

    [entry] = imported(bot, incident, ts)
    assert entry.source == EntrySource.SHORTCUT and entry.author_id == BOB
    assert entry.occurred_at == POSTED.replace(microsecond=200)
    assert entry.permalink and f"T{entry.id}" in reply and "Added to the timeline" in reply
    assert not bot.standin.calls_to("views.open")

    again = shortcut_payload(bot, incident, ts, user=ANN, channel_name="inc")
    bot.interaction(again)
    assert "already on the timeline" in replies_to(bot, again["response_url"])[0]
    assert len(imported(bot, incident, ts)) == 1


def test_an_expired_trigger_says_to_use_the_shortcut_again(bot, incident):
    ts = bot.standin.add_message("C0GENERAL", user=BOB, text="EU payments degraded", ts=POSTED_TS)
    payload = shortcut_payload(bot, "C0GENERAL", ts, user=ANN)
    bot.standin.expired_triggers.add(payload["trigger_id"])
    bot.interaction(payload)
    [reply] = replies_to(bot, payload["response_url"])
    assert "Use the shortcut again" in reply and "error id" not in reply


def test_the_shortcut_elsewhere_opens_a_modal_and_its_submission_adds_the_message(bot, incident):
    ts = bot.standin.add_message("C0GENERAL", user=BOB, text="status page says EU payments degraded", ts=POSTED_TS)
    payload = shortcut_payload(bot, "C0GENERAL", ts, user=ANN)

    bot.interaction(payload)
    [opened] = bot.standin.wait_for("views.open", timeout=10)
    assert opened.params["trigger_id"] == payload["trigger_id"]
    view = next(iter(bot.standin.views.values()))
    options = view["blocks"][1]["element"]["options"]
    assert [o["value"] for o in options] == [str(incident_id_of(bot, incident))]

    # ANN is in Europe/Berlin: 16:05 there is 14:05 UTC
    submitted = bot.interaction(
        submission_payload(
            view, user=ANN, incident_id=incident_id_of(bot, incident), when="16:05", note="check with payments vendor"
        )
    )
    assert submitted.status_code == 200 and not submitted.text
    [reply] = replies_to(bot, payload["response_url"])

    [entry] = imported(bot, "C0GENERAL", ts)
    assert entry.incident_id == incident_id_of(bot, incident)
    assert entry.occurred_at == utc(2026, 6, 22, 14, 5)
    assert (entry.author_id, entry.text) == (BOB, "status page says EU payments degraded")
    assert entry.permalink and entry.permalink.startswith("https://example.slack.com/archives/C0GENERAL/")
    assert f"T{entry.id}" in reply and f"<#{incident}>" in reply
    listing = shown_timeline(bot, incident)
    assert f"Note on T{entry.id}: check with payments vendor" in listing


def test_the_modal_without_a_time_uses_when_the_message_was_posted(bot, incident):
    ts = bot.standin.add_message("C0GENERAL", user=BOB, text="deploy 2.4.1 started", ts=POSTED_TS)
    payload = shortcut_payload(bot, "C0GENERAL", ts, user=CAROL)
    bot.interaction(payload)
    bot.standin.wait_for("views.open", timeout=10)
    view = next(iter(bot.standin.views.values()))

    bot.interaction(submission_payload(view, user=CAROL, incident_id=incident_id_of(bot, incident)))
    replies_to(bot, payload["response_url"])

    [entry] = imported(bot, "C0GENERAL", ts)
    assert entry.occurred_at == POSTED.replace(microsecond=200)


def test_a_modal_with_a_bad_time_shows_the_error_in_the_modal_and_stores_nothing(bot, incident):
    ts = bot.standin.add_message("C0GENERAL", user=BOB, text="disk full on db-3")
    payload = shortcut_payload(bot, "C0GENERAL", ts, user=ANN)
    bot.interaction(payload)
    bot.standin.wait_for("views.open", timeout=10)
    view = next(iter(bot.standin.views.values()))

    for bad in ("25:99", "after lunch"):
        response = bot.interaction(
            submission_payload(view, user=ANN, incident_id=incident_id_of(bot, incident), when=bad)
        )
        body = json.loads(response.text)
        assert body["response_action"] == "errors"
        assert "14:05" in body["errors"]["when"] and len(body["errors"]["when"]) <= 150
    no_incident = json.loads(bot.interaction(submission_payload(view, user=ANN, incident_id=None)).text)
    assert "incident" in no_incident["errors"]
    bot.settle()

    assert imported(bot, "C0GENERAL", ts) == []
    assert not [r for r in bot.standin.responses if r.token == payload["response_url"].rsplit("/", 1)[-1]]


def test_the_shortcut_from_a_channel_without_the_bot_adds_and_says_how_to_keep_it_in_step(bot, incident):
    bot.standin.add_channel("C0SUPPORT", "support", bot_is_member=False)
    ts = bot.standin.add_message("C0SUPPORT", user=BOB, text="3 customers cannot pay")
    payload = shortcut_payload(bot, "C0SUPPORT", ts, user=ANN, channel_name="support")
    bot.interaction(payload)
    bot.standin.wait_for("views.open", timeout=10)
    view = next(iter(bot.standin.views.values()))

    bot.interaction(submission_payload(view, user=ANN, incident_id=incident_id_of(bot, incident)))
    [reply] = replies_to(bot, payload["response_url"])

    assert len(imported(bot, "C0SUPPORT", ts)) == 1
    assert "/invite @incident-bot" in reply


def test_the_shortcut_with_no_open_incident_says_how_to_declare_one(bot):
    ts = bot.standin.add_message("C0GENERAL", user=BOB, text="is something wrong?")
    payload = shortcut_payload(bot, "C0GENERAL", ts, user=ANN)

    bot.interaction(payload)

    assert "/incident declare" in replies_to(bot, payload["response_url"])[0]
    assert not bot.standin.calls_to("views.open")


def test_the_shortcut_on_the_bots_own_message_adds_nothing(bot, incident):
    announcement = next(m["ts"] for m in bot.standin.messages[incident] if m.get("bot_id"))
    payload = shortcut_payload(bot, incident, announcement, user=ANN, channel_name="inc")

    bot.interaction(payload)

    assert "my own messages" in replies_to(bot, payload["response_url"])[0]
    assert imported(bot, incident, announcement) == []


# -- events the bot does not act on -----------------------------------------------------------------
@pytest.mark.parametrize(
    "event",
    [
        {"type": "member_joined_channel", "user": "U0BOB", "channel": "C0GENERAL"},
        {"type": "message", "channel": "C0GENERAL", "user": "U0BOB", "text": "hi", "ts": "1.000001"},
        {
            "type": "message",
            "subtype": "channel_join",
            "channel": "C0GENERAL",
            "user": "U0BOB",
            "text": "joined",
            "ts": "1.000002",
        },
        {
            "type": "message",
            "subtype": "bot_message",
            "channel": "C0GENERAL",
            "bot_id": "BX",
            "text": "x",
            "ts": "1.000003",
        },
        {"type": "reaction_added", "user": "U0BOB", "reaction": "pushpin", "item": {"type": "file", "file": "F1"}},
        {
            "type": "reaction_removed",
            "user": "U0BOB",
            "reaction": "tada",
            "item": {"type": "message", "channel": "C0GENERAL", "ts": "1.000004"},
        },
    ],
    ids=["member_joined", "message", "channel_join", "bot_message", "reaction_on_file", "other_reaction_removed"],
)
def test_events_the_bot_ignores_are_acknowledged(bot, event):
    assert bot.event(event).status_code == 200
    bot.settle()
    assert not bot.standin.internal_errors


# -- reading Slack's message shapes (pure) ---------------------------------------------------------
def test_a_messages_ts_is_the_instant_it_was_posted_to_the_microsecond():
    assert message_capture.posted_at("1782138667.000200") == utc(2026, 6, 22, 14, 31, 7).replace(microsecond=200)
    assert message_capture.posted_at("1782138667") == utc(2026, 6, 22, 14, 31, 7)


def test_entry_text_undoes_slacks_escaping_keeps_mentions_and_lists_file_links():
    message = {
        "text": "<@U0BOB> saw 5xx &gt; 5% &amp; rising",
        "files": [
            {"permalink": "https://example.slack.com/files/U1/F1/a.png"},
            {"url_private": "https://files.slack.com/F2/b.log"},
            {},
        ],
    }
    assert message_capture.entry_text(message) == (
        "<@U0BOB> saw 5xx > 5% & rising\nhttps://example.slack.com/files/U1/F1/a.png\nhttps://files.slack.com/F2/b.log"
    )
    assert message_capture.entry_text({"files": [{"permalink": "https://x/F1"}]}) == "https://x/F1"


def test_a_message_stays_pinned_while_anyone_but_the_bot_has_a_pin_on_it():
    pins = ("pushpin", "round_pushpin")
    assert not message_capture.still_pinned(
        {"reactions": [{"name": "pushpin", "users": ["UBOT"], "count": 1}]}, pins, bot_user_id="UBOT"
    )
    assert not message_capture.still_pinned(
        {"reactions": [{"name": "eyes", "users": [ANN], "count": 1}]}, pins, bot_user_id="UBOT"
    )
    assert message_capture.still_pinned(
        {"reactions": [{"name": "round_pushpin", "users": [BOB], "count": 1}]}, pins, bot_user_id="UBOT"
    )
    # Slack lists only some of the users on a popular reaction; the count tells the rest
    assert message_capture.still_pinned(
        {"reactions": [{"name": "pushpin", "users": ["UBOT"], "count": 40}]}, pins, bot_user_id="UBOT"
    )
    assert message_capture.still_pinned(
        {"reactions": [{"name": "pushpin::skin-tone-3", "users": [ANN], "count": 1}]}, pins, bot_user_id="UBOT"
    )


def test_own_messages_are_the_bots_user_or_bot_id_not_every_bot():
    own = {"bot_user_id": "UBOT", "bot_id": "BBOT"}
    assert message_capture.is_own_message({"user": "UBOT", "text": "x"}, **own)
    assert message_capture.is_own_message({"bot_id": "BBOT", "subtype": "bot_message"}, **own)
    assert not message_capture.is_own_message({"bot_id": "BGRAFANA", "subtype": "bot_message"}, **own)
    assert not message_capture.is_own_message({"user": ANN}, bot_user_id=None, bot_id=None)


def test_events_the_bot_does_not_subscribe_to_are_acknowledged_not_404(bot):
    for event in (
        {"type": "app_mention", "user": ANN, "text": "<@UBOT> hi", "channel": "C0GENERAL", "ts": "1.1"},
        {"type": "channel_archive", "channel": "C0GENERAL", "user": ANN},
        {"type": "member_left_channel", "user": ANN, "channel": "C0GENERAL"},
    ):
        assert bot.event(event).status_code == 200, event["type"]
