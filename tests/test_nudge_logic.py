"""Pure logic of the nudge: weeks in the team's zone, the scheduled instant, snoozing, grouping, message size."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.models import ActionItem, ActionStatus, Incident
from bot.nudges import weekly as nudges
from bot.schedule_spec import parse_weekly_schedule
from bot.slack import blocks as bk
from tests.harness import utc
from tests.slack_standin import MAX_BLOCKS_TOTAL_TEXT, block_problems, text_length

BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
MONDAY_9 = parse_weekly_schedule("mon 09:00")


@pytest.mark.parametrize(
    "instant, zone, period",
    [
        (utc(2026, 6, 28, 23, 30), ZoneInfo("UTC"), "2026-W26"),  # Sunday night in UTC
        (utc(2026, 6, 28, 23, 30), BERLIN, "2026-W27"),  # already Monday in Berlin
        (utc(2026, 6, 28, 15, 30), TOKYO, "2026-W27"),
        (utc(2026, 12, 31, 12, 0), BERLIN, "2026-W53"),
        (utc(2027, 1, 4, 12, 0), BERLIN, "2027-W01"),
    ],
)
def test_the_week_is_the_iso_week_in_the_teams_zone(instant, zone, period):
    assert nudges.week_period(instant, zone) == period


@pytest.mark.parametrize(
    "period, zone, schedule, expected",
    [
        ("2026-W27", BERLIN, "mon 09:00", utc(2026, 6, 29, 7, 0)),  # summer time
        ("2026-W44", BERLIN, "mon 09:00", utc(2026, 10, 26, 8, 0)),  # the Monday after the autumn change
        ("2026-W13", BERLIN, "sun 02:30", utc(2026, 3, 29, 1, 30)),  # skipped by the spring change: 03:30
        ("2026-W43", BERLIN, "sun 02:30", utc(2026, 10, 25, 0, 30)),  # happens twice: the first
        ("2026-W27", TOKYO, "fri 17:45", utc(2026, 7, 3, 8, 45)),
    ],
)
def test_the_scheduled_instant_follows_that_weeks_rules(period, zone, schedule, expected):
    assert nudges.scheduled_at(period, parse_weekly_schedule(schedule), zone) == expected


def test_a_week_that_spans_a_new_year_has_a_previous_week():
    assert nudges.previous_period("2027-W01") == "2026-W53"
    assert nudges.previous_period("2026-W27") == "2026-W26"


@pytest.mark.parametrize(
    "now, until",
    [
        (utc(2026, 6, 29, 9, 30), dt.date(2026, 7, 7)),  # just after Monday's nudge: skip the next one
        (utc(2026, 7, 3, 12, 0), dt.date(2026, 7, 7)),
        (utc(2026, 7, 6, 8, 0), dt.date(2026, 7, 7)),  # before this Monday's nudge: skip this one only
    ],
)
def test_snooze_lasts_until_the_day_after_the_next_nudge(now, until):
    assert nudges.snooze_until(now, MONDAY_9, ZoneInfo("UTC")) == until


def _item(number: int, *, due: dt.date | None, owner: str | None = "U1", text: str = "fix it") -> ActionItem:
    return ActionItem(
        id=number, incident_id=1, text=text, owner_id=owner, due_date=due, priority="P2", status=ActionStatus.OPEN
    )


def test_grouping_boundaries():
    today = dt.date(2026, 6, 29)
    cases = {
        "overdue": [_item(1, due=today - dt.timedelta(days=1)), _item(2, due=dt.date(2026, 1, 1), owner=None)],
        "due_soon": [_item(3, due=today), _item(4, due=today + dt.timedelta(days=7), owner=None)],
        "no_owner": [_item(5, due=today + dt.timedelta(days=8), owner=None), _item(6, due=None, owner=None)],
        "no_due_date": [_item(7, due=None)],
        "later": [_item(8, due=today + dt.timedelta(days=8))],
    }
    for group, found in cases.items():
        for item in found:
            assert nudges.group_of(item, today) == group, (item.id, group)


def test_a_huge_digest_stays_within_every_limit_and_counts_what_it_leaves_out():
    today = dt.date(2026, 6, 29)
    incident = Incident(id=1, title="T" * 300, channel_id="C1", severity="sev1", is_private=False)
    entries = [
        (_item(n, due=today + dt.timedelta(days=n % 20 - 5), owner=None if n % 3 else "U1", text="x" * 500), incident)
        for n in range(1, 2001)
    ]
    message = nudges.digest_message(entries, today=today, period="2026-W27")
    assert block_problems(message.blocks, bk.MAX_BLOCKS) == []
    assert text_length(message.blocks) <= MAX_BLOCKS_TOTAL_TEXT
    bk.check_fits(message.blocks, message.text)
    assert 0 < message.items_shown < 2000 and message.items_total == 2000
    assert message.blocks[-1]["elements"][0]["text"].startswith(f"…and {2000 - message.items_shown} more open items")
