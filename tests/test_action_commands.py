"""Action items through /incident: adding with owners, dates, priorities and types; listing; every change."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.actions.due_dates import ACCEPTED_DUE_FORMS
from bot.models import ActionItem, ActionStatus, EntryKind, Revision, TimelineEntry
from tests.conftest import ANN, BOB, CAROL
from tests.flows import declare


def items(db) -> list[ActionItem]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(ActionItem).order_by(ActionItem.id)))


def system_entries(db) -> list[str]:
    with db.unit_of_work() as session:
        return [
            e.text
            for e in session.scalars(
                select(TimelineEntry).where(TimelineEntry.kind == EntryKind.SYSTEM).order_by(TimelineEntry.id)
            )
        ]


def revisions(db, item_id: int) -> list[Revision]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(Revision).where(Revision.action_item_id == item_id).order_by(Revision.id)))


def test_an_item_with_owner_date_priority_and_type(bot, db):
    channel = declare(bot)
    reply = bot.command(
        "action Add an alert on queue depth <@U0BOB|bob> by friday P1 type:detect", user=ANN, channel=channel
    )
    [item] = items(db)
    assert (item.text, item.owner_id, item.due_date, item.priority, item.action_type, item.status) == (
        "Add an alert on queue depth",
        BOB,
        dt.date(2026, 6, 26),
        "P1",
        "detect",
        ActionStatus.OPEN,
    )
    # the reply shows what was understood, in the channel, with the id
    assert reply.first["response_type"] == "in_channel"
    assert f"*A{item.id}*" in reply.text
    assert "owner <@U0BOB>" in reply.text and "due Fri 26 Jun 2026" in reply.text and "P1" in reply.text
    assert "type detect" in reply.text
    assert any(f"Action item A{item.id} added by <@U0ANN>" in text for text in system_entries(db))
    assert [r.action for r in revisions(db, item.id)] == ["create"]


def test_without_options_the_severity_sets_the_due_date_and_the_item_is_unowned(bot, db):
    channel = declare(bot, "Checkout returns 503 sev1")
    reply = bot.command("action Rotate the signing keys", user=ANN, channel=channel)
    [item] = items(db)
    assert item.due_date == dt.date(2026, 6, 22) + dt.timedelta(days=15)  # sev1: 15 days
    assert (item.owner_id, item.priority) == (None, "P2")
    assert "no owner yet" in reply.text and "the sev1 default" in reply.text


def test_the_due_date_setting_changes_the_default(make_bot, db):
    bot = make_bot(ACTION_DUE_DAYS="sev1=5,sev2=10,sev3=20,sev4=40")
    channel = declare(bot, "Queue stuck sev2")
    bot.command("action Drain the queue", user=ANN, channel=channel)
    assert items(db)[0].due_date == dt.date(2026, 7, 2)


def test_tomorrow_means_the_authors_tomorrow(bot, db):
    channel = declare(bot)
    # 14:50 UTC on Monday is 16:50 in Berlin (ANN) and 10:50 in New York (BOB): both still Monday.
    bot.command("action A by tomorrow", user=ANN, channel=channel)
    bot.clock.set(dt.datetime(2026, 6, 23, 2, 0, tzinfo=dt.UTC))  # Tuesday in Berlin, Monday in New York
    bot.command("action B by tomorrow", user=ANN, channel=channel)
    bot.command("action C by tomorrow", user=BOB, channel=channel)
    assert [i.due_date for i in items(db)] == [dt.date(2026, 6, 23), dt.date(2026, 6, 24), dt.date(2026, 6, 23)]


def test_bad_input_is_refused_with_the_right_form_and_nothing_is_stored(bot, db):
    channel = declare(bot)
    reply = bot.command("action Fix the cron by Jun 31 P1", user=ANN, channel=channel)
    assert "can't read `Jun 31` as a due date" in reply.text and ACCEPTED_DUE_FORMS in reply.text
    reply = bot.command("action Fix the cron P7", user=ANN, channel=channel)
    assert "`P7` is not a priority" in reply.text
    reply = bot.command("action Fix the cron type:prevnt", user=ANN, channel=channel)
    assert "is not an action type" in reply.text and "prevent, detect, mitigate, process" in reply.text
    reply = bot.command("action", user=ANN, channel=channel)
    assert "Usage: `/incident action <text>" in reply.text
    assert items(db) == []
    reply = bot.command("action Fix the cron", user=ANN, channel="C0GENERAL")
    assert "not an incident's channel" in reply.text


def test_a_date_in_numbers_or_a_vague_date_is_refused_not_kept_as_text(bot, db):
    channel = declare(bot)
    for command in (
        "action Fix pool by 6/25",
        "action Fix pool by 25/6 <@U0BOB>",
        "action Fix pool by 6-25 P1",
        "action Fix pool by eow",
        "action Fix pool by end of month",
        "action Fix pool by next week",
    ):
        reply = bot.command(command, user=ANN, channel=channel)
        assert "as a due date" in reply.text and ACCEPTED_DUE_FORMS in reply.text, command
    assert items(db) == []
    bot.command("action Document the restore done by hand", user=ANN, channel=channel)
    [item] = items(db)
    assert item.text == "Document the restore done by hand"
    assert "can't read `6/25` as a due date" in bot.command(f"due A{item.id} 6/25", user=ANN, channel=channel).text
    assert items(db)[0].due_date == item.due_date


def test_a_late_item_with_a_past_date_is_kept_with_a_warning(bot, db):
    channel = declare(bot)
    reply = bot.command("action Renew the certificate by 2026-06-20", user=ANN, channel=channel)
    assert items(db)[0].due_date == dt.date(2026, 6, 20)
    assert "is in the past (2 days ago)" in reply.text


def test_listing_puts_open_first_and_overdue_on_top(bot, db):
    channel = declare(bot)
    bot.command("action Later one by 2026-08-01", user=ANN, channel=channel)
    bot.command("action Overdue one by 2026-06-01", user=ANN, channel=channel)
    bot.command("action Soon one by friday", user=ANN, channel=channel)
    bot.command("action Finished one by 2026-05-01", user=ANN, channel=channel)
    finished = items(db)[-1].id
    bot.command(f"done A{finished}", user=ANN, channel=channel)
    listing = bot.command("actions", user=BOB, channel=channel)
    assert listing.first.get("response_type") != "in_channel"
    text = listing.text.split("overdue first", 1)[1]
    order = [text.index(name) for name in ("Overdue one", "Soon one", "Later one", "Finished one")]
    assert order == sorted(order)
    assert "3 open of 4" in listing.text
    assert "*overdue* since" in text and ":white_check_mark: done by <@U0ANN>" in text


def test_every_change_is_kept_with_who_and_when_and_shows_on_the_timeline(bot, db):
    channel = declare(bot)
    bot.command("action Add a canary stage <@U0BOB> by friday", user=ANN, channel=channel)
    ref = f"A{items(db)[0].id}"
    assert (
        "assigned to <@U0CAROL> (was <@U0BOB>)"
        in bot.command(f"assign {ref} <@U0CAROL|carol>", user=ANN, channel=channel).text
    )
    assert "now due 2026-07-06" in bot.command(f"due {ref} in 2 weeks", user=BOB, channel=channel).text
    assert "priority P2 → P0" in bot.command(f"priority {ref} P0", user=CAROL, channel=channel).text
    link = bot.command(f"link {ref} <https://tracker.example.com/OPS-12>", user=ANN, channel=channel)
    assert "<https://tracker.example.com/OPS-12|ticket>" in link.text
    done = bot.command(f"done {ref}", user=CAROL, channel=channel)
    assert done.first["response_type"] == "in_channel" and "marked done by <@U0CAROL>" in done.text
    assert "is already done" in bot.command(f"done {ref}", user=CAROL, channel=channel).text
    assert "reopened by <@U0ANN>" in bot.command(f"reopen {ref}", user=ANN, channel=channel).text
    dropped = bot.command(f"drop {ref} replaced by the new deploy pipeline", user=ANN, channel=channel)
    assert "dropped by <@U0ANN>: replaced by the new deploy pipeline" in dropped.text

    item = items(db)[0]
    assert (item.status, item.drop_reason, item.owner_id, item.priority, item.due_date, item.link_url) == (
        ActionStatus.DROPPED,
        "replaced by the new deploy pipeline",
        CAROL,
        "P0",
        dt.date(2026, 7, 6),
        "https://tracker.example.com/OPS-12",
    )
    history = revisions(db, item.id)
    assert [(r.action, r.changed_by) for r in history] == [
        ("create", ANN),
        ("assign", ANN),
        ("due", BOB),
        ("priority", CAROL),
        ("link", ANN),
        ("done", CAROL),
        ("reopen", ANN),
        ("drop", ANN),
    ]
    assert history[1].before["owner_id"] == BOB and history[1].after["owner_id"] == CAROL
    assert all(r.changed_at.tzinfo is not None for r in history)
    timeline_texts = [t for t in system_entries(db) if t.startswith(f"Action item {ref}")]
    assert len(timeline_texts) == 8
    listing = bot.command("timeline", user=ANN, channel=channel)
    assert f"Action item {ref} dropped by" in listing.text


def test_changes_refuse_bad_input(bot, db):
    channel = declare(bot)
    bot.command("action Add a canary stage", user=ANN, channel=channel)
    ref = f"A{items(db)[0].id}"
    assert "Mention the new owner" in bot.command(f"assign {ref} bob", user=ANN, channel=channel).text
    assert "Say why it is dropped" in bot.command(f"drop {ref}", user=ANN, channel=channel).text
    assert "Give the ticket's full URL" in bot.command(f"link {ref} OPS-12", user=ANN, channel=channel).text
    assert "`P9` is not a priority" in bot.command(f"priority {ref} P9", user=ANN, channel=channel).text
    assert "can't read `someday`" in bot.command(f"due {ref} someday", user=ANN, channel=channel).text
    assert "There is no action item A999" in bot.command("done A999", user=ANN, channel=channel).text
    assert "is not an id" in bot.command("done T3", user=ANN, channel=channel).text
    assert [r.action for r in revisions(db, items(db)[0].id)] == ["create"]


def test_actions_mine_lists_my_open_items_across_incidents(bot, db):
    first = declare(bot, "Checkout returns 503 sev2")
    second = declare(bot, "Search is slow sev3")
    bot.command("action Fix checkout retries <@U0ANN>", user=BOB, channel=first)
    bot.command("action Tune search cache <@U0ANN|ann>", user=BOB, channel=second)
    bot.command("action Someone else's <@U0BOB>", user=BOB, channel=second)
    bot.command("action Already finished <@U0ANN>", user=BOB, channel=second)
    bot.command(f"done A{items(db)[-1].id}", user=ANN, channel=second)
    mine = bot.command("actions mine", user=ANN, channel="C0GENERAL")
    assert "Fix checkout retries" in mine.text and "Tune search cache" in mine.text
    assert "Someone else's" not in mine.text and "Already finished" not in mine.text
    assert f"<#{first}>" in mine.text and f"<#{second}>" in mine.text
    assert "You own no open action items" in bot.command("actions mine", user=CAROL, channel="C0GENERAL").text


def test_a_private_incidents_item_cannot_be_reached_from_elsewhere_by_others(make_bot, db, standin):
    bot = make_bot(INCIDENT_CREATE_CHANNEL="false")
    standin.add_channel("C0SECRET", "sec-incident", is_private=True)
    bot.command("declare Leaked token sev1", user=ANN, channel="C0SECRET", channel_name="sec-incident")
    bot.command("action Revoke the leaked token <@U0BOB>", user=ANN, channel="C0SECRET")
    ref = f"A{items(db)[0].id}"
    assert "There is no action item" in bot.command(f"done {ref}", user=CAROL, channel="C0GENERAL").text
    assert items(db)[0].status == ActionStatus.OPEN
    # the owner may, from anywhere; and anyone in the incident's channel
    assert "marked done by <@U0BOB>" in bot.command(f"done {ref}", user=BOB, channel="C0GENERAL").text
    assert "reopened by <@U0CAROL>" in bot.command(f"reopen {ref}", user=CAROL, channel="C0SECRET").text
