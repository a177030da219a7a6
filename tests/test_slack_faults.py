"""Promises kept under the faults Slack and networks really produce (issue 8).

The stand-in fails the way networks do (`fail(method, mode=...)`): it carries out a write and
then resets the connection, answers 502/504 HTML pages, answers 200 with a body that is not
JSON, or answers late. Each test checks what a user would see: one nudge, one announcement, one
headline, one channel, and a declare that succeeds.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.models import Incident
from bot.nudges import weekly as nudges
from tests.conftest import ANN
from tests.flows import declare
from tests.harness import reply_text
from tests.nudge_steps import nudge_posts, posted_nudges
from tests.postmortem_steps import draft_files, headlines, seed_incident, wait_for_headline, wait_until_settled
from tests.test_nudges import NEXT_MONDAY

TITLE = "Checkout returns 503 sev2"


def announcements(standin, channel: str) -> list[dict]:
    return [m for m in standin.messages.get(channel, []) if (m.get("text") or "").startswith("Incident declared")]


def incident_channels(standin) -> list[str]:
    return sorted(c["name"] for c in standin.channels.values() if c["name"].startswith("inc-"))


def stored_incidents(db) -> list[tuple[str, str]]:
    with db.unit_of_work() as session:
        return [(i.title, i.channel_id) for i in session.scalars(select(Incident))]


def test_a_weekly_nudge_whose_answer_is_lost_is_posted_once(bot, db, standin, clock):
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)
    standin.fail("chat.postMessage", mode="lost_answer", channel=channel)
    clock.set(NEXT_MONDAY)
    report = nudges.run_weekly(bot.runtime)
    assert report.sent == [f"weekly {channel}"]
    assert len(posted_nudges(standin, channel)) == 1
    assert nudge_posts(standin) == {(channel, "weekly", "2026-W27"): 1}
    assert [c.lost for c in standin.calls_to("chat.postMessage") if c.params.get("channel") == channel][-1]


def test_a_declare_announcement_whose_answer_is_lost_is_posted_once(bot, db, standin):
    standin.fail("chat.postMessage", mode="lost_answer")
    result = bot.command(f"declare {TITLE}", user=ANN, channel="C0GENERAL")
    assert "declared *Checkout returns 503*" in result.text
    [(_, channel)] = stored_incidents(db)
    assert len(announcements(standin, channel)) == 1
    assert "Slack refused the announcement" not in result.text


def test_a_create_whose_answer_is_lost_uses_that_channel_and_leaves_no_orphan(bot, db, standin):
    standin.fail("conversations.create", mode="lost_answer")
    result = bot.command(f"declare {TITLE}", user=ANN, channel="C0GENERAL")
    assert "declared *Checkout returns 503*" in result.text
    assert incident_channels(standin) == ["inc-2026-06-22-checkout-returns-503"]
    [(_, channel)] = stored_incidents(db)
    assert standin.channels[channel]["name"] == "inc-2026-06-22-checkout-returns-503"
    assert len(announcements(standin, channel)) == 1
    assert ANN in standin.channels[channel]["members"]


def test_a_name_taken_by_a_person_still_gets_a_suffix_after_a_lost_create(bot, db, standin):
    standin.add_channel("C0TAKEN", "inc-2026-06-22-checkout-returns-503", creator="U0SOMEONE")
    standin.fail("conversations.create", mode="lost_answer")
    bot.command(f"declare {TITLE}", user=ANN, channel="C0GENERAL")
    [(_, channel)] = stored_incidents(db)
    assert channel != "C0TAKEN"
    assert incident_channels(standin) == [
        "inc-2026-06-22-checkout-returns-503",
        "inc-2026-06-22-checkout-returns-503-2",
    ]


def test_a_declare_under_502_and_504_pages_from_slacks_edge_succeeds(bot, db, standin):
    standin.fail("conversations.create", status=502)
    standin.fail("conversations.create", status=504)
    result = bot.command(f"declare {TITLE}", user=ANN, channel="C0GENERAL")
    assert "declared *Checkout returns 503*" in result.text
    assert incident_channels(standin) == ["inc-2026-06-22-checkout-returns-503"]
    assert [c.status for c in standin.calls_to("conversations.create")] == [502, 504, 200]


def test_answers_that_are_not_json_on_topic_and_invite_do_not_fail_a_declare(bot, db, standin):
    # more than the gateway's retries: both best-effort steps fail for good
    standin.fail("conversations.setTopic", mode="non_json", times=10)  # a cut-off JSON body
    standin.fail("conversations.invite", mode="non_json", body="<html><body>upstream hiccup</body></html>", times=10)
    result = bot.command(f"declare {TITLE}", user=ANN, channel="C0GENERAL")
    assert "declared *Checkout returns 503*" in result.text
    assert "Something went wrong" not in result.text
    [(_, channel)] = stored_incidents(db)
    assert incident_channels(standin) == ["inc-2026-06-22-checkout-returns-503"]
    assert len(announcements(standin, channel)) == 1


def test_a_non_json_answer_once_is_retried_for_a_call_that_only_sets_a_state(bot, db, standin):
    standin.fail("conversations.setTopic", mode="non_json")
    bot.command(f"declare {TITLE}", user=ANN, channel="C0GENERAL")
    [(_, channel)] = stored_incidents(db)
    standin.wait_for("conversations.setTopic", count=2)
    assert "Checkout returns 503" in standin.channels[channel]["topic"]


def test_a_slow_answer_that_times_out_is_not_posted_twice(make_bot, db, standin):
    bot = make_bot(SLACK_TIMEOUT_SECONDS="1")
    standin.fail("chat.postMessage", mode="slow", seconds=2)
    result = bot.command(f"declare {TITLE}", user=ANN, channel="C0GENERAL", timeout=20)
    assert "declared *Checkout returns 503*" in result.text
    [(_, channel)] = stored_incidents(db)
    assert len(announcements(standin, channel)) == 1
    assert "Slack refused the announcement" not in result.text  # found, not given up on


def test_a_long_retry_after_on_create_is_waited_out_and_makes_one_channel(bot, db, standin):
    standin.fail("conversations.create", status=429, retry_after=3)
    result = bot.command(f"declare {TITLE}", user=ANN, channel="C0GENERAL", timeout=20)
    assert "declared *Checkout returns 503*" in result.text
    assert incident_channels(standin) == ["inc-2026-06-22-checkout-returns-503"]


def test_postmortem_file_canvas_and_headline_exist_once_when_their_answers_are_lost(bot, db, standin):
    channel = seed_incident(bot)
    for method in ("files.completeUploadExternal", "conversations.canvases.create", "chat.postMessage"):
        standin.fail(method, mode="lost_answer", channel=channel)
    bot.command("close 14:47 Metrics normal", user=ANN, channel=channel)
    wait_for_headline(bot, channel)
    row = wait_until_settled(bot, channel)
    assert row.publish_state == "published"
    assert len(headlines(bot, channel)) == 1
    assert len(draft_files(bot, channel)) == 1
    assert len([c for c in standin.canvases.values() if c["channel_id"] == channel]) == 1
    assert row.canvas_id and row.message_ts == headlines(bot, channel)[0]["ts"]
    assert "Postmortem draft" in reply_text(headlines(bot, channel)[0])


def test_a_channel_left_by_a_declare_that_stopped_before_recording_is_used_by_the_next(bot, db, standin):
    # a process made the channel and was killed before the incident was stored
    standin.add_channel("C0LEFT", "inc-2026-06-22-checkout-returns-503")
    standin.channels["C0LEFT"]["created"] -= 600
    result = bot.command(f"declare {TITLE}", user=ANN, channel="C0GENERAL")
    assert "declared *Checkout returns 503*" in result.text
    assert stored_incidents(db) == [("Checkout returns 503", "C0LEFT")]
    assert incident_channels(standin) == ["inc-2026-06-22-checkout-returns-503"]


def test_a_bot_channel_that_belongs_to_an_incident_or_was_just_made_is_not_taken(bot, db, standin, clock):
    first = declare(bot)  # the same title twice in a day: the second gets its own channel
    standin.channels[first]["created"] -= 600
    clock.advance(dt.timedelta(minutes=2))  # past the one-minute guard against a retyped declare
    bot.command(f"declare {TITLE}", user=ANN, channel="C0GENERAL")
    standin.add_channel("C0FRESH", "inc-2026-06-22-checkout-returns-503-3")  # a simultaneous declare's, just made
    clock.advance(dt.timedelta(minutes=2))
    bot.command(f"declare {TITLE}", user=ANN, channel="C0GENERAL")
    channels = [channel for _, channel in stored_incidents(db)]
    assert len(set(channels)) == 3 and "C0FRESH" not in channels
    assert incident_channels(standin) == [
        "inc-2026-06-22-checkout-returns-503",
        "inc-2026-06-22-checkout-returns-503-2",
        "inc-2026-06-22-checkout-returns-503-3",
        "inc-2026-06-22-checkout-returns-503-4",
    ]


def test_the_slack_timeout_setting_is_checked():
    import pytest

    from bot.settings import Settings, SettingsError

    base = {"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_SIGNING_SECRET": "s"}
    assert Settings.from_env(base).slack_timeout_seconds == 15
    assert Settings.from_env({**base, "SLACK_TIMEOUT_SECONDS": "5"}).slack_timeout_seconds == 5
    with pytest.raises(SettingsError, match="^SLACK_TIMEOUT_SECONDS must be between 1 and 120, not 0$"):
        Settings.from_env({**base, "SLACK_TIMEOUT_SECONDS": "0"})
