"""Nobody's words go missing without a word: changes after close reach the draft, and a status
update is posted whole or refused with its limit."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.models import EntryKind, TimelineEntry
from bot.postmortem import publish
from tests.conftest import ANN, BOB
from tests.harness import reply_text
from tests.postmortem_steps import (
    at,
    close_and_wait,
    draft_files,
    headlines,
    run,
    seed_incident,
    wait_for_headline,
    wait_until_settled,
)

CLOSED = at(14, 48)


def closed_incident(bot) -> str:
    channel = seed_incident(bot)
    close_and_wait(bot, channel, CLOSED, "close 14:47 Metrics normal")
    return channel


def test_an_entry_added_after_close_is_in_the_draft_once_changes_settle_and_its_author_is_told(bot, db):
    channel = closed_incident(bot)
    reply = run(
        bot, CLOSED + dt.timedelta(seconds=5), "timeline 14:46 Cache warmed up again", user=ANN, channel=channel
    )
    assert "the postmortem draft is re-rendered with this about 20 seconds after the last change" in reply
    assert "Cache warmed up again" not in draft_files(bot, channel)[-1]

    bot.clock.set(CLOSED + dt.timedelta(seconds=15))
    publish.retry_due(bot.runtime)
    assert len(draft_files(bot, channel)) == 1  # still settling

    bot.clock.set(CLOSED + dt.timedelta(seconds=30))
    publish.retry_due(bot.runtime)
    files = draft_files(bot, channel)
    assert len(files) == 2 and "Cache warmed up again" in files[-1]
    assert len(headlines(bot, channel)) == 1  # the same headline, pointing at the new file
    bot.clock.set(CLOSED + dt.timedelta(minutes=5))
    publish.retry_due(bot.runtime)
    assert len(draft_files(bot, channel)) == 2  # nothing new: nothing re-rendered


def test_a_burst_of_late_changes_makes_one_new_draft_with_all_of_them(bot, db):
    channel = closed_incident(bot)
    for second, command in enumerate(
        [
            "timeline 14:44 Pool size raised",
            "cause Pool limit was never load tested",
            "action Add a pool saturation alert <@U0BOB> by Jul 3",
            "went-well Fast rollback",
        ]
    ):
        run(bot, CLOSED + dt.timedelta(seconds=10 * second), command, user=BOB, channel=channel)
        bot.clock.set(CLOSED + dt.timedelta(seconds=10 * second + 5))
        publish.retry_due(bot.runtime)  # the job ticks meanwhile: nothing yet, changes keep coming
    assert len(draft_files(bot, channel)) == 1
    bot.clock.set(CLOSED + dt.timedelta(seconds=60))
    publish.retry_due(bot.runtime)
    files = draft_files(bot, channel)
    assert len(files) == 2
    for words in (
        "Pool size raised",
        "Pool limit was never load tested",
        "Add a pool saturation alert",
        "Fast rollback",
    ):
        assert words in files[-1]


def test_a_change_to_an_approved_postmortem_puts_it_back_in_review_first_and_then_reaches_the_draft(bot, db):
    channel = closed_incident(bot)
    run(bot, CLOSED + dt.timedelta(minutes=1), "postmortem final", channel=channel)
    bot.settle()
    reply = run(bot, CLOSED + dt.timedelta(minutes=2), "cause A late finding", user=ANN, channel=channel)
    assert "this change puts it back *in review*" in reply
    assert "re-rendered with this about 20 seconds after the last change" in reply
    assert "final postmortem does not include this" not in reply
    bot.clock.set(CLOSED + dt.timedelta(minutes=10))
    before = len(draft_files(bot, channel))
    publish.retry_due(bot.runtime)
    assert len(draft_files(bot, channel)) == before + 1
    assert "A late finding" in draft_files(bot, channel)[-1]


def test_an_update_over_the_limit_is_refused_with_the_limit_and_nothing_is_posted(bot, db, standin):
    channel = closed_incident(bot)
    posts = len(standin.calls_to("chat.postMessage"))
    reply = run(bot, CLOSED, "update " + "word " * 2000, user=ANN, channel=channel)
    assert "That update is 9,999 characters; the limit is 2,800" in reply and "Nothing was posted" in reply
    assert len(standin.calls_to("chat.postMessage")) == posts
    with db.unit_of_work() as session:
        assert not session.scalars(select(TimelineEntry).where(TimelineEntry.kind == EntryKind.STATUS_UPDATE)).all()


def test_an_update_at_the_limit_is_posted_whole(bot, db, standin):
    channel = closed_incident(bot)
    text = ("Rolled back, drained the queue; " * 100)[:2799] + "!"
    reply = run(bot, CLOSED, f"update {text}", user=ANN, channel=channel)
    assert "Posted and added to the timeline" in reply
    [post] = [
        c for c in standin.calls_to("chat.postMessage") if "Status update" in str(c.params.get("text")) and not c.failed
    ]
    shown = reply_text(
        standin.message(
            channel, [m for m in standin.messages[channel] if "Status update" in (m.get("text") or "")][0]["ts"]
        )
    )
    assert text in shown
    assert post.params["blocks"]


def test_entries_that_race_the_close_reach_the_draft(bot, db, standin):
    channel = seed_incident(bot)
    # Slack takes its time with the draft's file, while people keep adding entries
    standin.fail("files.completeUploadExternal", mode="slow", seconds=1.5, channel=channel)
    bot.clock.set(CLOSED)
    close = bot.command("close 14:47 Metrics normal", user=ANN, channel=channel, wait=False)
    standin.wait_for("files.getUploadURLExternal", where=lambda c: True)  # rendering is done, uploading
    racing = [
        bot.command(f"timeline 14:4{i} racing entry {i}", user=BOB, channel=channel, wait=False) for i in range(5)
    ]
    for result in racing:
        result.wait()
    close.wait()
    wait_for_headline(bot, channel)
    assert wait_until_settled(bot, channel).publish_state == "published"
    assert not any(f"racing entry {i}" in draft_files(bot, channel)[-1] for i in range(5))
    assert all("re-rendered with this" in r.text for r in racing)
    bot.clock.set(CLOSED + dt.timedelta(seconds=30))
    publish.retry_due(bot.runtime)
    assert all(f"racing entry {i}" in draft_files(bot, channel)[-1] for i in range(5))
