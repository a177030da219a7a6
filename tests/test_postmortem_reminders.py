"""Postmortem follow-ups: a closed incident's unfinished postmortem is asked about once a day for a week."""

from __future__ import annotations

import datetime as dt

from bot.models import Incident, IncidentStatus, Postmortem
from bot.nudges import postmortem_reminders
from bot.nudges.claims import ChannelPacer
from tests.conftest import ANN, BOB
from tests.flows import declare
from tests.harness import utc
from tests.nudge_steps import dm_nudges, nudge_posts, posted_nudges, text_of


def close(db, channel: str, at: dt.datetime, *, final: bool = False, reopened: bool = False) -> None:
    """The incident's state as the postmortem's close (and finalise) leave it."""
    with db.unit_of_work() as session:
        incident = session.query(Incident).filter_by(channel_id=channel).one()
        incident.status = IncidentStatus.OPEN if reopened else IncidentStatus.CLOSED
        incident.closed_at = at
        session.add(Postmortem(incident_id=incident.id, status="final" if final else "draft"))


def run_at(bot, clock, instant: dt.datetime):
    clock.set(instant)
    # The test's days pass in milliseconds; the process-wide one-post-a-second pacing would make it wait.
    return postmortem_reminders.run_daily(bot.runtime, pacer=ChannelPacer(0))


def test_one_reminder_a_day_to_the_channel_and_the_commander_for_a_week(bot, db, standin, clock):
    channel = declare(bot)
    bot.command("role commander <@U0BOB|bob>", user=ANN, channel=channel)
    close(db, channel, utc(2026, 6, 22, 15, 0))
    finished = declare(bot, "Search is slow sev3")
    close(db, finished, utc(2026, 6, 22, 15, 0), final=True)
    reopened = declare(bot, "Queue stuck sev3")
    close(db, reopened, utc(2026, 6, 22, 15, 0), reopened=True)

    assert run_at(bot, clock, utc(2026, 6, 24, 9, 5)).sent == []  # two days after the close: not yet
    assert run_at(bot, clock, utc(2026, 6, 25, 8, 55)).due is False  # the day's reminder time is 09:00
    report = run_at(bot, clock, utc(2026, 6, 25, 9, 5))
    assert sorted(report.sent) == sorted([f"postmortem {channel}", f"postmortem_dm {channel}"])
    [in_channel] = posted_nudges(standin, channel, "postmortem")
    assert "is not final yet, 3 days after the incident closed" in text_of(in_channel)
    assert "Reminder 1 of 7" in text_of(in_channel) and "owner <@U0BOB>" in text_of(in_channel)
    [direct] = dm_nudges(standin, BOB)
    assert f"(<#{channel}>)" in text_of(direct)
    assert run_at(bot, clock, utc(2026, 6, 25, 17, 0)).sent == []  # once a day

    for day in range(26, 31):
        run_at(bot, clock, utc(2026, 6, day, 9, 30))
    run_at(bot, clock, utc(2026, 7, 1, 9, 30))
    assert run_at(bot, clock, utc(2026, 7, 2, 9, 30)).sent == []  # a week of reminders, then quiet
    posts = nudge_posts(standin)
    assert sum(n for (c, kind, _), n in posts.items() if c == channel and kind == "postmortem") == 7
    assert sum(n for (c, kind, _), n in posts.items() if c == standin.dm_channel(BOB) and kind == "postmortem_dm") == 7
    assert all(n == 1 for n in posts.values())
    assert "Reminder 7 of 7" in text_of(posted_nudges(standin, channel, "postmortem")[-1])
    assert posted_nudges(standin, finished) == [] and posted_nudges(standin, reopened) == []
    assert dm_nudges(standin, ANN) == []  # ANN is no longer the commander


def test_marking_the_postmortem_final_stops_the_reminders(bot, db, standin, clock):
    channel = declare(bot)
    close(db, channel, utc(2026, 6, 22, 15, 0))
    assert len(run_at(bot, clock, utc(2026, 6, 25, 9, 5)).sent) == 2
    with db.unit_of_work() as session:
        session.query(Postmortem).one().status = "final"
    assert run_at(bot, clock, utc(2026, 6, 26, 9, 5)).sent == []


def test_the_delay_is_a_setting_and_an_archived_channel_still_reaches_the_commander(make_bot, db, standin, clock):
    bot = make_bot(POSTMORTEM_REMINDER_DAYS="1", INCIDENT_TIMEZONE="America/New_York")
    channel = declare(bot)
    close(db, channel, utc(2026, 6, 22, 15, 0))
    standin.channels[channel]["is_archived"] = True
    assert run_at(bot, clock, utc(2026, 6, 23, 12, 55)).due is False  # 08:55 in New York
    report = run_at(bot, clock, utc(2026, 6, 23, 13, 5))
    assert report.gone == [f"postmortem {channel}"] and report.sent == [f"postmortem_dm {channel}"]
    assert "1 day after the incident closed" in text_of(dm_nudges(standin, ANN)[0])
