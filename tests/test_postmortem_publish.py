"""Publishing: within Slack's limits for any size of incident, kept and retried when Slack fails."""

from __future__ import annotations

import datetime as dt

from bot import timeline
from bot.models import EntrySource, Incident
from bot.postmortem import drafts, publish
from tests.conftest import CAROL
from tests.flows import declare
from tests.harness import reply_text
from tests.postmortem_steps import (
    at,
    close_and_wait,
    draft_files,
    headlines,
    incident_id,
    run,
    seed_incident,
    stored_postmortem,
    wait_until_settled,
)


def add_many_entries(bot, channel: str, count: int) -> None:
    number = incident_id(bot, channel)
    with bot.runtime.db.unit_of_work() as session:
        incident = session.get(Incident, number)
        start = at(8, 0)
        for i in range(count):
            when = start + dt.timedelta(seconds=15 * i)
            timeline.add_entry(
                session,
                incident,
                text=f"step {i:04d}: " + "retrying the shard rebalance " * 8,
                author=CAROL,
                occurred_at=when,
                recorded_at=when,
                source=EntrySource.COMMAND,
            )


def test_a_2000_entry_incident_publishes_within_slacks_limits(bot, db):
    channel = declare(bot, "Shard rebalance storm sev1")
    add_many_entries(bot, channel, 2000)
    run(bot, at(16, 30), "summary " + "A very long summary. " * 200, channel=channel)
    _, headline, markdown = close_and_wait(bot, channel, at(16, 31), "close 16:30 UTC done")
    # the stand-in enforces Slack's limits: nothing it refused
    refused = [c for c in bot.standin.calls if c.failed]
    assert refused == [], [(c.method, c.error) for c in refused]
    assert "2002 timeline entries" in reply_text(headline)  # declared + 2000 + resolved: counted, not listed
    assert len(reply_text(headline)) < 3000
    assert markdown.count("retrying the shard rebalance") == 2000 * 8
    assert "step 0000" in markdown and "step 1999" in markdown
    assert "**Duration:** 8 hours 30 minutes (08:00–16:30 UTC)" in markdown
    assert stored_postmortem(bot, channel).publish_state == "published"


def test_a_failing_file_upload_is_retried_and_the_draft_is_not_lost(bot, db):
    channel = seed_incident(bot)
    # more failures than the Web API client's own retries (3): the attempt fails
    bot.standin.fail("files.getUploadURLExternal", status=500, times=4)
    reply = run(bot, at(14, 48), "close 14:47 Metrics normal", channel=channel)
    assert "closed the incident" in reply
    row = wait_until_settled(bot, channel)
    assert (row.publish_state, row.publish_attempts, row.last_error) == ("pending", 1, "files_upload_v2: http_500")
    assert row.next_attempt_at == at(14, 48) + dt.timedelta(seconds=30)
    assert "**Duration:** 45 minutes" in row.markdown  # the draft is kept in the database
    assert draft_files(bot, channel) == [] and headlines(bot, channel) == []
    bot.standin.wait_for_responses(1, where=lambda r: "It is saved; I'll try again at 14:48:30 UTC" in str(r.payload))

    # the background job: not due yet, then due
    bot.clock.set(at(14, 48) + dt.timedelta(seconds=10))
    assert publish.retry_due(bot.runtime) == 0
    bot.clock.set(at(14, 48) + dt.timedelta(seconds=31))
    assert publish.retry_due(bot.runtime) == 1
    row = stored_postmortem(bot, channel)
    assert (row.publish_state, row.publish_attempts, row.last_error) == ("published", 2, None)
    assert len(draft_files(bot, channel)) == 1 and "**Duration:** 45 minutes" in draft_files(bot, channel)[0]
    assert len(headlines(bot, channel)) == 1


def test_a_failing_headline_is_retried_without_uploading_the_file_again(bot, db):
    channel = seed_incident(bot)
    bot.standin.fail("chat.postMessage", status=500, times=4)
    run(bot, at(14, 48), "close 14:47 Metrics normal", channel=channel)
    row = wait_until_settled(bot, channel)
    assert row.publish_state == "pending" and row.last_error == "chat.postMessage: http_500"
    assert row.file_id and len(draft_files(bot, channel)) == 1 and headlines(bot, channel) == []

    bot.clock.set(at(14, 49))
    assert publish.retry_due(bot.runtime) == 1
    assert len(draft_files(bot, channel)) == 1 and len(headlines(bot, channel)) == 1
    assert stored_postmortem(bot, channel).publish_state == "published"


def test_rate_limits_back_off_longer_each_time_and_postmortem_tries_now(bot, db):
    channel = seed_incident(bot)
    bot.standin.fail("chat.postMessage", status=429, retry_after=0, times=8)
    run(bot, at(14, 48), "close 14:47 Metrics normal", channel=channel)
    row = wait_until_settled(bot, channel)
    assert row.next_attempt_at == at(14, 48) + dt.timedelta(seconds=30)
    bot.clock.set(at(14, 49))
    publish.retry_due(bot.runtime)
    row = stored_postmortem(bot, channel)
    assert (row.publish_attempts, row.next_attempt_at) == (2, at(14, 49) + dt.timedelta(minutes=1))
    # on demand, without waiting for the backoff
    reply = run(
        bot,
        at(
            14,
            49,
        ),
        "postmortem",
        channel=channel,
    )
    assert "Re-rendered" in reply and len(headlines(bot, channel)) == 1
    assert stored_postmortem(bot, channel).publish_state == "published"


def test_the_backoff_doubles_up_to_an_hour_and_gives_up_in_the_end():
    assert [drafts.backoff(n).total_seconds() for n in (1, 2, 3, 4, 8, 9, 20)] == [30, 60, 120, 240, 3600, 3600, 3600]


def test_a_channel_the_bot_cannot_post_in_gives_up_and_says_how_to_fix_it(make_bot, db):
    bot = make_bot(INCIDENT_CREATE_CHANNEL="false")
    bot.standin.add_channel("C0OUTSIDE", "outside", bot_is_member=False)
    bot.clock.set(at(14, 40))
    bot.command("declare Checkout 503 sev2", user=CAROL, channel="C0OUTSIDE", channel_name="outside")
    reply = run(bot, at(14, 48), "close", channel="C0OUTSIDE")
    assert "closed the incident" in reply
    row = wait_until_settled(bot, "C0OUTSIDE")
    assert row.publish_state == "failed" and "not_in_channel" in row.last_error and row.markdown
    bot.standin.wait_for_responses(1, where=lambda r: "/invite @incident-bot" in str(r.payload))


def test_an_archived_channel_says_to_unarchive_it_first_and_keeps_the_draft(bot, db):
    channel = seed_incident(bot)
    bot.standin.channels[channel]["is_archived"] = True  # archived just as the incident closed
    reply = run(bot, at(14, 48), "close 14:47 Metrics normal", channel=channel)
    assert "closed the incident" in reply
    row = wait_until_settled(bot, channel)
    assert row.publish_state == "failed" and "is_archived" in row.last_error
    assert "**Duration:** 45 minutes" in row.markdown  # kept
    told = bot.standin.wait_for_responses(1, where=lambda r: "archived" in str(r.payload))
    text = str(told[-1].payload)
    assert "the incident channel is archived" in text and "The draft is saved" in text
    assert "Unarchive the channel first" in text and "to try again" not in text

    bot.standin.channels[channel]["is_archived"] = False  # as the reply says: unarchive, then postmortem
    reply = run(bot, at(14, 55), "postmortem", channel=channel)
    assert "Re-rendered" in reply and len(headlines(bot, channel)) == 1
    assert stored_postmortem(bot, channel).publish_state == "published"


def test_without_canvases_the_file_and_headline_still_go_out(bot, db):
    bot.standin.canvases_enabled = False
    channel = seed_incident(bot)
    _, headline, markdown = close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    assert "channel canvas" not in reply_text(headline) and "the Markdown file" in reply_text(headline)
    row = stored_postmortem(bot, channel)
    assert row.publish_state == "published" and row.canvas_id is None


def test_rerender_replaces_the_canvas(bot, db):
    channel = seed_incident(bot)
    close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    run(bot, at(14, 50), "lucky The incident happened outside peak hours.", channel=channel)
    run(bot, at(14, 51), "postmortem", channel=channel)
    canvases = [c for c in bot.standin.canvases.values() if c["channel_id"] == channel]
    assert len(canvases) == 1 and "The incident happened outside peak hours." in canvases[0]["markdown"]


def test_a_security_draft_in_a_public_channel_warns_and_stays_out_of_the_canvas(bot, db):
    channel = seed_incident(bot)  # declare creates a public channel
    run(bot, at(14, 44), "type security", channel=channel)
    _, headline, markdown = close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    assert markdown.startswith("> **Restricted distribution.**")  # the file goes out: the team asked for it
    text = reply_text(headline)
    assert "This channel is public" in text and "visible to everyone in the channel" in text
    assert "Restricted distribution" in text and "channel canvas" in text
    assert "Full draft in" in text and "and the channel canvas" not in text
    assert [c for c in bot.standin.canvases.values() if c["channel_id"] == channel] == []
    assert stored_postmortem(bot, channel).publish_state == "published"


def test_a_security_draft_in_a_private_channel_has_no_public_warning_and_no_canvas(make_bot, db):
    bot = make_bot(INCIDENT_CREATE_CHANNEL="false")
    bot.standin.add_channel("C0SECRET", "sec-incident", is_private=True)
    bot.clock.set(at(14, 40))
    bot.command("declare Leaked token sev1 type:security", user=CAROL, channel="C0SECRET", channel_name="sec-incident")
    _, headline, markdown = close_and_wait(bot, "C0SECRET", at(14, 48))
    assert "**Restricted distribution.**" in markdown
    assert "Restricted distribution" in reply_text(headline) and "This channel is public" not in reply_text(headline)
    assert bot.standin.canvases == {}


def test_a_draft_turned_security_is_taken_out_of_the_canvas(bot, db):
    channel = seed_incident(bot)
    close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    [canvas] = [c for c in bot.standin.canvases.values() if c["channel_id"] == channel]
    assert "Deploy v2.4.1" in canvas["markdown"]
    run(bot, at(14, 50), "type security", channel=channel)
    assert "Re-rendered" in run(bot, at(14, 51), "postmortem", channel=channel)
    assert "Deploy v2.4.1" not in canvas["markdown"] and "restricted distribution" in canvas["markdown"]
    assert "This channel is public" in reply_text(headlines(bot, channel)[-1])


def test_a_slow_slack_does_not_hold_the_draft_up_for_names(bot, db):
    channel = seed_incident(bot)
    bot.standin.delays["users.info"] = 8  # slower than the lookup deadline: names fall back to ids
    _, _, markdown = close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    assert "owner @U0IVAN" in markdown and "owner @U0OLGA" in markdown
    assert "Commander @carol" in markdown  # known already (cached from her own commands)
