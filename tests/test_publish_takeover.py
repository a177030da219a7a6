"""A publisher that died while publishing a draft: its claim is recognised within a minute, and
`/incident postmortem` and the retry job take the draft over; a live, slow publisher keeps it."""

from __future__ import annotations

import datetime as dt
import time

from bot.postmortem import drafts, publish
from tests.conftest import CAROL
from tests.postmortem_steps import (
    at,
    close_and_wait,
    headlines,
    incident_id,
    run,
    seed_incident,
    stored_postmortem,
)


def die_while_publishing(bot, channel: str, when: dt.datetime) -> None:
    """What a process killed mid-publication leaves: the draft claimed, its lease never renewed."""
    number = incident_id(bot, channel)
    with bot.runtime.db.unit_of_work() as session:
        row = drafts.get(session, number)
        drafts.request_publication(session, number, "default", when)
        assert drafts.claim(session, row.id, when) is not None


def published_drafts(bot, channel: str) -> int:
    return len(
        [f for f in bot.standin.files.values() if f["filename"].startswith("postmortem-") and channel in f["channels"]]
    )


def test_postmortem_tells_the_truth_about_a_dead_publisher_and_takes_over_within_a_minute(bot, db):
    channel = seed_incident(bot)
    close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    die_while_publishing(bot, channel, at(14, 50))

    right_away = run(bot, at(14, 50), "postmortem", channel=channel)
    assert "being published right now" in right_away

    silent = run(bot, at(14, 50) + dt.timedelta(seconds=20), "postmortem", channel=channel)
    assert "being published right now" not in silent
    assert "has not reported progress for 20 seconds" in silent and "runs out in 11 seconds" in silent

    taken_over = run(bot, at(14, 51), "postmortem", channel=channel)
    assert "Re-rendered the postmortem" in taken_over
    row = stored_postmortem(bot, channel)
    assert row.publish_state == "published" and published_drafts(bot, channel) == 2
    assert len(headlines(bot, channel)) == 1  # the same headline, updated


def test_the_retry_job_takes_over_a_dead_publishers_draft_within_a_minute_of_restart(bot, db):
    channel = seed_incident(bot)
    close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    die_while_publishing(bot, channel, at(14, 50))
    bot.clock.set(at(14, 50) + dt.timedelta(seconds=10))
    assert publish.retry_due(bot.runtime) == 0  # a claim this fresh may be a live publisher's
    bot.clock.set(at(14, 51))  # the restarted bot's first ticks
    assert publish.retry_due(bot.runtime) == 1
    assert stored_postmortem(bot, channel).publish_state == "published"
    assert published_drafts(bot, channel) == 2


def test_a_live_publisher_waiting_on_a_slow_slack_keeps_its_claim(bot, db):
    channel = seed_incident(bot)
    close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    bot.clock.set(at(14, 50))
    bot.standin.fail("files.completeUploadExternal", mode="slow", seconds=drafts.HEARTBEAT_SECONDS + 3)
    bot.command("postmortem", user=CAROL, channel=channel, wait=False)
    first_lease = at(14, 50) + drafts.CLAIM_LEASE
    deadline = time.monotonic() + 5
    while stored_postmortem(bot, channel).publish_state != "publishing":
        assert time.monotonic() < deadline, "the publication never started"
        time.sleep(0.02)
    bot.clock.set(at(14, 50) + dt.timedelta(seconds=25))
    deadline = time.monotonic() + drafts.HEARTBEAT_SECONDS + 3
    while stored_postmortem(bot, channel).next_attempt_at <= first_lease:  # the heartbeat renews it
        assert time.monotonic() < deadline, "the live publisher never renewed its claim"
        time.sleep(0.05)
    bot.clock.set(at(14, 50) + dt.timedelta(seconds=40))  # past the first lease, within the renewed one
    assert publish.retry_due(bot.runtime) == 0
    bot.standin.wait_for_responses(where=lambda r: "Re-rendered the postmortem" in str(r.payload), timeout=20)
    assert published_drafts(bot, channel) == 2
