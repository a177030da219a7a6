"""Tests for bot.timegrammar: the leading `<when>` of timeline commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.timegrammar import ACCEPTED_FORMS, FORWARD_FORMS, ParsedWhen, TimeGrammarError, parse_leading_when

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(zone: ZoneInfo, *fields: int) -> datetime:
    return datetime(*fields, tzinfo=zone)


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


# `now` is deliberately given in the author's zone: arithmetic done on it directly
# would be wall-clock arithmetic, which the DST cases below would catch.
BER_AFTERNOON = at(BERLIN, 2026, 6, 22, 14, 0)  # CEST, 12:00 UTC
BER_JUST_AFTER_MIDNIGHT = at(BERLIN, 2026, 6, 23, 0, 10)  # 2026-06-22 22:10 UTC
BER_NEW_YEAR = at(BERLIN, 2026, 1, 1, 9, 0)  # CET, 08:00 UTC
BER_NEW_YEAR_MIDNIGHT = at(BERLIN, 2026, 1, 1, 0, 10)  # 2025-12-31 23:10 UTC
NY_EVENING = at(NEW_YORK, 2026, 6, 22, 21, 0)  # EDT; already 2026-06-23 01:00 in UTC
NY_MARCH_FIRST = at(NEW_YORK, 2026, 3, 1, 8, 0)  # EST, 13:00 UTC

# Spring forward: EU 2026-03-29 02:00 CET -> 03:00 CEST; US 2026-03-08 02:00 EST -> 03:00 EDT.
BER_SPRING_DAY = at(BERLIN, 2026, 3, 29, 10, 0)
NY_SPRING_DAY = at(NEW_YORK, 2026, 3, 8, 10, 0)
# Fall back: EU 2026-10-25 03:00 CEST -> 02:00 CET; US 2026-11-01 02:00 EDT -> 01:00 EST.
BER_FALL_DAY = at(BERLIN, 2026, 10, 25, 10, 0)
NY_FALL_DAY = at(NEW_YORK, 2026, 11, 1, 9, 0)


def parse(text: str, now: datetime = BER_AFTERNOON, zone: ZoneInfo = BERLIN, **kwargs) -> ParsedWhen:
    return parse_leading_when(text, now=now, zone=zone, **kwargs)


def refusal(text: str, now: datetime = BER_AFTERNOON, zone: ZoneInfo = BERLIN) -> str:
    with pytest.raises(TimeGrammarError) as info:
        parse(text, now, zone)
    message = str(info.value)
    assert ACCEPTED_FORMS in message
    return message


# (text, now, zone, expected UTC instant, expected rest)
ACCEPTED = [
    # now
    pytest.param("now db failover", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 12, 0), "db failover", id="now"),
    pytest.param("Now", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 12, 0), "", id="now-alone-capitalised"),
    pytest.param("NOW   we know", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 12, 0), "we know", id="now-we-know"),
    # N ago, in UTC
    pytest.param("10m ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 50), "x", id="ago-m"),
    pytest.param("10 min ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 50), "x", id="ago-min-spaced"),
    pytest.param("10 mins ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 50), "x", id="ago-mins"),
    pytest.param("1 minute ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 59), "x", id="ago-minute"),
    pytest.param("45 minutes ago", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 15), "", id="ago-minutes-end"),
    pytest.param("1h30m ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 10, 30), "x", id="ago-h-m-glued"),
    pytest.param("1h 30m ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 10, 30), "x", id="ago-h-m-spaced"),
    pytest.param("1 h 30 m ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 10, 30), "x", id="ago-all-spaced"),
    pytest.param("2 hours ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 10, 0), "x", id="ago-hours"),
    pytest.param("1 hr ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 0), "x", id="ago-hr"),
    pytest.param("3 hrs ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 9, 0), "x", id="ago-hrs"),
    pytest.param("1 hour ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 0), "x", id="ago-hour"),
    pytest.param("2 days ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 20, 12, 0), "x", id="ago-days"),
    pytest.param("1 day ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 12, 0), "x", id="ago-day"),
    pytest.param("1d2h3m ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 9, 57), "x", id="ago-three-parts"),
    pytest.param("1d 2h 3m ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 9, 57), "x", id="ago-three-spaced"),
    pytest.param("30m 1h ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 10, 30), "x", id="ago-any-order"),
    pytest.param("0m ago x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 12, 0), "x", id="ago-zero"),
    pytest.param("10M AGO x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 50), "x", id="ago-uppercase"),
    # N ago across DST changes: UTC arithmetic, not wall-clock
    pytest.param("3h ago x", at(BERLIN, 2026, 3, 29, 3, 30), BERLIN, utc(2026, 3, 28, 22, 30), "x", id="ago-eu-spring"),
    pytest.param("3h ago x", at(BERLIN, 2026, 10, 25, 4, 0), BERLIN, utc(2026, 10, 25, 0, 0), "x", id="ago-eu-fall"),
    pytest.param("3h ago x", at(NEW_YORK, 2026, 3, 8, 4, 0), NEW_YORK, utc(2026, 3, 8, 5, 0), "x", id="ago-us-spring"),
    pytest.param("3h ago x", at(NEW_YORK, 2026, 11, 1, 3, 0), NEW_YORK, utc(2026, 11, 1, 5, 0), "x", id="ago-us-fall"),
    pytest.param("1d ago x", at(BERLIN, 2026, 3, 29, 12, 0), BERLIN, utc(2026, 3, 28, 10, 0), "x", id="ago-day-is-24h"),
    # bare 24h clocks: the most recent past one, with 2 minutes of grace
    pytest.param("13:59 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 59), "x", id="clock-earlier-today"),
    pytest.param("9:15 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 7, 15), "x", id="clock-one-digit-hour"),
    pytest.param("09:15 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 7, 15), "x", id="clock-two-digit-hour"),
    pytest.param("0:05 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 22, 5), "x", id="clock-zero-hour"),
    pytest.param("14:00 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 12, 0), "x", id="clock-exactly-now"),
    pytest.param("14:01 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 12, 1), "x", id="clock-1min-ahead-today"),
    pytest.param("14:02 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 12, 2), "x", id="clock-at-grace-edge"),
    pytest.param("14:03 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 12, 3), "x", id="clock-3min-ahead-yesterday"),
    pytest.param("14:05 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 12, 5), "x", id="clock-5min-ahead-yesterday"),
    pytest.param("today 14:01 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 12, 1), "x", id="today-within-grace"),
    pytest.param("TODAY 9:15 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 7, 15), "x", id="today-uppercase"),
    pytest.param("yesterday 14:05 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 12, 5), "x", id="yesterday"),
    pytest.param("Yesterday 9:15", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 7, 15), "", id="yesterday-capitalised"),
    # seconds
    pytest.param("13:59:30 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 59, 30), "x", id="seconds"),
    pytest.param("14:01:59 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 12, 1, 59), "x", id="seconds-in-grace"),
    pytest.param("14:02:01 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 12, 2, 1), "x", id="seconds-past-grace"),
    pytest.param("23:59:59 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 21, 59, 59), "x", id="seconds-last-of-day"),
    # am/pm
    pytest.param("2pm x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 12, 0), "x", id="pm"),
    pytest.param("02pm x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 12, 0), "x", id="pm-leading-zero"),
    pytest.param("1:30PM x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="pm-uppercase"),
    pytest.param("9am x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 7, 0), "x", id="am"),
    pytest.param("9AM x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 7, 0), "x", id="am-uppercase"),
    pytest.param("12am x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 22, 0), "x", id="12am-is-midnight"),
    pytest.param("12:30am x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 22, 30), "x", id="12-30am"),
    pytest.param("12pm x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 10, 0), "x", id="12pm-is-noon"),
    pytest.param("12:45pm x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 10, 45), "x", id="12-45pm"),
    pytest.param("11:59pm x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 21, 59), "x", id="11-59pm-yesterday"),
    pytest.param("2:05pm x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 12, 5), "x", id="pm-ahead-yesterday"),
    pytest.param("1:15:30pm x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 15, 30), "x", id="pm-with-seconds"),
    pytest.param("yesterday 9pm x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 19, 0), "x", id="yesterday-pm"),
    # a space before am/pm, as people type it
    pytest.param("3:15 pm x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 13, 15), "x", id="space-pm"),
    pytest.param("2:05 PM x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 12, 5), "x", id="space-PM"),
    pytest.param("9 am x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 7, 0), "x", id="space-am-hour-only"),
    pytest.param("today 9 am x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 7, 0), "x", id="today-space-am"),
    pytest.param("yesterday 9 pm x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 19, 0), "x", id="yesterday-space-pm"),
    # across midnight: the date is the author's, not UTC's
    pytest.param(
        "23:55 x", BER_JUST_AFTER_MIDNIGHT, BERLIN, utc(2026, 6, 22, 21, 55), "x", id="midnight-2355-is-yesterday"
    ),
    pytest.param("11:55pm x", BER_JUST_AFTER_MIDNIGHT, BERLIN, utc(2026, 6, 22, 21, 55), "x", id="midnight-pm"),
    pytest.param("00:05 x", BER_JUST_AFTER_MIDNIGHT, BERLIN, utc(2026, 6, 22, 22, 5), "x", id="midnight-0005-today"),
    pytest.param("today 00:05 x", BER_JUST_AFTER_MIDNIGHT, BERLIN, utc(2026, 6, 22, 22, 5), "x", id="midnight-today"),
    pytest.param(
        "yesterday 23:55 x", BER_JUST_AFTER_MIDNIGHT, BERLIN, utc(2026, 6, 22, 21, 55), "x", id="midnight-yesterday"
    ),
    pytest.param(
        "yesterday 00:05 x", BER_JUST_AFTER_MIDNIGHT, BERLIN, utc(2026, 6, 21, 22, 5), "x", id="midnight-yesterday-0005"
    ),
    pytest.param("20:00 x", NY_EVENING, NEW_YORK, utc(2026, 6, 23, 0, 0), "x", id="ny-evening-clock"),
    pytest.param("today 20:00 x", NY_EVENING, NEW_YORK, utc(2026, 6, 23, 0, 0), "x", id="ny-evening-today-is-local"),
    pytest.param(
        "yesterday 20:00 x", NY_EVENING, NEW_YORK, utc(2026, 6, 22, 0, 0), "x", id="ny-evening-yesterday-is-local"
    ),
    # yesterday across month and year boundaries
    pytest.param("yesterday 23:40 x", BER_NEW_YEAR, BERLIN, utc(2025, 12, 31, 22, 40), "x", id="yesterday-new-year"),
    pytest.param("23:50 x", BER_NEW_YEAR_MIDNIGHT, BERLIN, utc(2025, 12, 31, 22, 50), "x", id="bare-clock-new-year"),
    pytest.param(
        "yesterday 12:00 x", NY_MARCH_FIRST, NEW_YORK, utc(2026, 2, 28, 17, 0), "x", id="yesterday-end-of-february"
    ),
    # explicit zones
    pytest.param("11:30 UTC x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="utc"),
    pytest.param("11:30 utc x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="utc-lowercase"),
    pytest.param("11:30UTC x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="utc-attached"),
    pytest.param("11:30Z x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="z-attached"),
    pytest.param("11:30z x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="z-lowercase"),
    pytest.param("11:30 Z x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="z-spaced"),
    pytest.param("11am UTC x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 0), "x", id="am-utc"),
    pytest.param("17:00 +05:30 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="offset-spaced"),
    pytest.param("17:00+05:30 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="offset-attached"),
    pytest.param("17:00 +0530 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="offset-no-colon"),
    pytest.param("17:00+0530 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="offset-attached-no-colon"),
    pytest.param("07:30 -04:00 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="offset-negative"),
    pytest.param("12:30 UTC x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 12, 30), "x", id="utc-ahead-is-yesterday"),
    pytest.param("today 11:30 UTC x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 30), "x", id="today-utc"),
    pytest.param("yesterday 11:30 +05:30 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 21, 6, 0), "x", id="yesterday-offset"),
    pytest.param("00:30 UTC x", NY_EVENING, NEW_YORK, utc(2026, 6, 23, 0, 30), "x", id="utc-date-is-utcs"),
    pytest.param("today 00:30 UTC x", NY_EVENING, NEW_YORK, utc(2026, 6, 23, 0, 30), "x", id="today-utc-date-is-utcs"),
    pytest.param(
        "13:05 +1 for rollback",
        BER_AFTERNOON,
        BERLIN,
        utc(2026, 6, 22, 11, 5),
        "+1 for rollback",
        id="plus-one-is-text",
    ),
    pytest.param(
        "13:05 Zookeeper down", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 5), "Zookeeper down", id="z-word-is-text"
    ),
    pytest.param("13:05 API down", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 5), "API down", id="caps-word-is-text"),
    pytest.param(
        "13:05 est. impact", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 5), "est. impact", id="est-word-is-text"
    ),
    # ISO dates
    pytest.param("2026-06-20 09:15 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 20, 7, 15), "x", id="iso-date-space"),
    pytest.param("2026-06-20T09:15 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 20, 7, 15), "x", id="iso-t"),
    pytest.param("2026-06-20T09:15:30 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 20, 7, 15, 30), "x", id="iso-t-seconds"),
    pytest.param("2026-06-20T09:15Z x", BER_AFTERNOON, BERLIN, utc(2026, 6, 20, 9, 15), "x", id="iso-t-z"),
    pytest.param("2026-06-20T09:15+02:00 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 20, 7, 15), "x", id="iso-t-offset"),
    pytest.param("2026-06-20 09:15 UTC x", BER_AFTERNOON, BERLIN, utc(2026, 6, 20, 9, 15), "x", id="iso-date-utc"),
    pytest.param("2026-06-20 9:15am x", BER_AFTERNOON, BERLIN, utc(2026, 6, 20, 7, 15), "x", id="iso-date-am"),
    pytest.param(
        "2026-01-15 09:15 x", BER_AFTERNOON, BERLIN, utc(2026, 1, 15, 8, 15), "x", id="iso-date-winter-offset"
    ),
    pytest.param("2026-06-22 14:01 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 12, 1), "x", id="iso-today-in-grace"),
    pytest.param(
        "2025-12-31 23:59:59 x", BER_AFTERNOON, BERLIN, utc(2025, 12, 31, 22, 59, 59), "x", id="iso-last-year"
    ),
    # next to the DST changes, but not inside them
    pytest.param("01:59 x", BER_SPRING_DAY, BERLIN, utc(2026, 3, 29, 0, 59), "x", id="eu-before-gap"),
    pytest.param("03:00 x", BER_SPRING_DAY, BERLIN, utc(2026, 3, 29, 1, 0), "x", id="eu-after-gap"),
    pytest.param("01:59 x", NY_SPRING_DAY, NEW_YORK, utc(2026, 3, 8, 6, 59), "x", id="us-before-gap"),
    pytest.param("03:00 x", NY_SPRING_DAY, NEW_YORK, utc(2026, 3, 8, 7, 0), "x", id="us-after-gap"),
    pytest.param("01:59 x", BER_FALL_DAY, BERLIN, utc(2026, 10, 24, 23, 59), "x", id="eu-before-overlap"),
    pytest.param("03:00 x", BER_FALL_DAY, BERLIN, utc(2026, 10, 25, 2, 0), "x", id="eu-after-overlap"),
    pytest.param("00:59 x", NY_FALL_DAY, NEW_YORK, utc(2026, 11, 1, 4, 59), "x", id="us-before-overlap"),
    pytest.param("02:00 x", NY_FALL_DAY, NEW_YORK, utc(2026, 11, 1, 7, 0), "x", id="us-after-overlap"),
    # an explicit offset picks the second of a repeated hour, with no note
    pytest.param(
        "01:30 -05:00 x", NY_FALL_DAY, NEW_YORK, utc(2026, 11, 1, 6, 30), "x", id="us-overlap-second-by-offset"
    ),
    # today's 02:30 was skipped but would be in the future anyway: yesterday's is meant
    pytest.param(
        "02:30 x",
        at(NEW_YORK, 2026, 3, 8, 1, 50),
        NEW_YORK,
        utc(2026, 3, 7, 7, 30),
        "x",
        id="us-gap-ahead-is-yesterday",
    ),
    # whitespace
    pytest.param("  13:59 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 59), "x", id="leading-space"),
    pytest.param("13:59     x  y", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 59), "x  y", id="rest-lstripped"),
    pytest.param("13:59", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 59), "", id="clock-alone"),
    pytest.param("13:59\tx", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 11, 59), "x", id="tab"),
]


@pytest.mark.parametrize(("text", "now", "zone", "expected", "rest"), ACCEPTED)
def test_accepted(text: str, now: datetime, zone: ZoneInfo, expected: datetime, rest: str) -> None:
    parsed = parse(text, now, zone)
    assert parsed == ParsedWhen(expected, rest, True, None)
    assert parsed.occurred_at.tzinfo is UTC


# A repeated local hour: the first one is taken and the author is told.
# (text, now, zone, expected UTC instant, expected note)
AMBIGUOUS = [
    pytest.param(
        "02:30 x",
        BER_FALL_DAY,
        BERLIN,
        utc(2026, 10, 25, 0, 30),
        "02:30 happened twice on 2026-10-25 in Europe/Berlin; took the first (CEST, UTC+02:00)",
        id="eu-bare",
    ),
    pytest.param(
        "2:30am x",
        BER_FALL_DAY,
        BERLIN,
        utc(2026, 10, 25, 0, 30),
        "02:30 happened twice on 2026-10-25 in Europe/Berlin; took the first (CEST, UTC+02:00)",
        id="eu-am",
    ),
    pytest.param(
        "today 02:59:59 x",
        BER_FALL_DAY,
        BERLIN,
        utc(2026, 10, 25, 0, 59, 59),
        "02:59:59 happened twice on 2026-10-25 in Europe/Berlin; took the first (CEST, UTC+02:00)",
        id="eu-today-seconds",
    ),
    pytest.param(
        "01:30 x",
        NY_FALL_DAY,
        NEW_YORK,
        utc(2026, 11, 1, 5, 30),
        "01:30 happened twice on 2026-11-01 in America/New_York; took the first (EDT, UTC-04:00)",
        id="us-bare",
    ),
    pytest.param(
        "yesterday 01:30 x",
        at(NEW_YORK, 2026, 11, 2, 9, 0),
        NEW_YORK,
        utc(2026, 11, 1, 5, 30),
        "01:30 happened twice on 2026-11-01 in America/New_York; took the first (EDT, UTC-04:00)",
        id="us-yesterday",
    ),
    pytest.param(
        "2026-11-01T01:00 x",
        NY_FALL_DAY,
        NEW_YORK,
        utc(2026, 11, 1, 5, 0),
        "01:00 happened twice on 2026-11-01 in America/New_York; took the first (EDT, UTC-04:00)",
        id="us-iso",
    ),
]


@pytest.mark.parametrize(("text", "now", "zone", "expected", "note"), AMBIGUOUS)
def test_fall_back_takes_the_first_and_says_so(
    text: str, now: datetime, zone: ZoneInfo, expected: datetime, note: str
) -> None:
    assert parse(text, now, zone) == ParsedWhen(expected, "x", True, note)


# (text, the quoted part, a fragment of the reason)
NEAR_MISSES = [
    ("at 14:05 alert fired", "at 14:05", "leave out `at`"),
    ("at 2pm alert fired", "at 2pm", "leave out `at`"),
    ("~14:05 alert fired", "~14:05", "without `~`"),
    ("14h05 alert fired", "14h05", "with a colon"),
    ("1.5h ago deploy", "1.5h ago", "whole numbers"),
    ("25:99 db down", "25:99", "minutes go from 00 to 59"),
    ("25:00 db down", "25:00", "hours go from 0 to 23"),
    ("24:00 x", "24:00", "hours go from 0 to 23"),
    ("14:5 db down", "14:5", "two digits"),
    ("14:60 x", "14:60", "minutes go from 00 to 59"),
    ("14:05:60 x", "14:05:60", "seconds go from 00 to 59"),
    ("14:05:7 x", "14:05:7", "seconds need two digits"),
    ("1:1 meeting", "1:1", "two digits"),
    ("14:05, db down", "14:05,", "followed by a space"),
    ("2:05pmish db down", "2:05pmish", "followed by a space"),
    ("2pm-ish x", "2pm-ish", "followed by a space"),
    ("14:05pm x", "14:05pm", "from 1 to 12"),
    ("13pm x", "13pm", "from 1 to 12"),
    ("0am x", "0am", "from 1 to 12"),
    ("0:30am x", "0:30am", "from 1 to 12"),
    ("14:05 pm x", "14:05 pm", "from 1 to 12"),
    ("2026-13-01 10:00 x", "2026-13-01", "no such date"),
    ("2026-02-30 10:00 x", "2026-02-30", "no such date"),
    ("2026-6-22 10:00 x", "2026-6-22", "YYYY-MM-DD"),
    ("2026-06-22 deploy", "2026-06-22", "needs a clock"),
    ("2026-06-22", "2026-06-22", "needs a clock"),
    ("2026-06-22: deploy", "2026-06-22:", "needs a clock"),
    ("2026-06-22T x", "2026-06-22T", "needs a clock"),
    ("2026-06-22T25:00 x", "2026-06-22T25:00", "hours go from 0 to 23"),
    ("2026-06-22 9 x", "2026-06-22 9", "add minutes or am/pm"),
    ("yesterday 9 x", "yesterday 9", "add minutes or am/pm"),
    ("yesterday 3 pods died", "yesterday 3", "add minutes or am/pm"),
    ("Today 25:00 x", "Today 25:00", "hours go from 0 to 23"),
    ("today 2pmish x", "today 2pmish", "followed by a space"),
    ("yesterday at 9:00 x", "yesterday at 9:00", "leave out `at`"),
    ("10 ago x", "10 ago", "`10` needs a unit"),
    ("1h30 ago x", "1h30 ago", "`30` needs a unit"),
    ("5m5m ago x", "5m5m ago", "minutes are given twice"),
    ("5m 5min ago x", "5m 5min ago", "minutes are given twice"),
    ("1d 2h 3m 4m ago x", "1d 2h 3m 4m ago", "minutes are given twice"),
    ("2 weeks ago x", "2 weeks ago", "`weeks` isn't a unit"),
    ("1h and 30m ago x", "1h and 30m ago", "spaces only"),
    ("1h, 30m ago x", "1h, 30m ago", "spaces only"),
    ("10mago x", "10mago", "space before `ago`"),
    ("14:05 +25:00 x", "14:05 +25:00", "from -14:00 to +14:00"),
    ("14:05+25:00 x", "14:05+25:00", "from -14:00 to +14:00"),
    ("14:05 +05:60 x", "14:05 +05:60", "from -14:00 to +14:00"),
    ("14:05 +5:30 x", "14:05 +5:30", "±HH:MM"),
    ("14:05+5 x", "14:05+5", "±HH:MM"),
    ("14:05 UTC+02:00 x", "14:05 UTC+02:00", "±HH:MM"),
    ("14:05 PST x", "14:05 PST", "give the zone as `UTC`"),
    ("2pm GMT x", "2pm GMT", "give the zone as `UTC`"),
    ("yesterday 9:00 CEST x", "yesterday 9:00 CEST", "give the zone as `UTC`"),
]


@pytest.mark.parametrize(("text", "quoted", "reason"), NEAR_MISSES)
def test_near_miss_refused(text: str, quoted: str, reason: str) -> None:
    message = refusal(text)
    assert f"`{quoted}`" in message
    assert reason in message


def test_far_too_long_ago_is_refused_not_crashing() -> None:
    assert "`99999999999d ago`" in refusal("99999999999d ago x")


# (text, now, zone, quoted, how far ahead)
FUTURE = [
    pytest.param("today 23:00 x", BER_AFTERNOON, BERLIN, "today 23:00", "9h", id="today-later"),
    pytest.param("today 14:03 x", BER_AFTERNOON, BERLIN, "today 14:03", "3m", id="today-past-grace"),
    pytest.param("2026-06-23 10:00 x", BER_AFTERNOON, BERLIN, "2026-06-23 10:00", "20h", id="iso-tomorrow"),
    pytest.param("2026-06-22T14:05:30 x", BER_AFTERNOON, BERLIN, "2026-06-22T14:05:30", "5m 30s", id="iso-seconds"),
    pytest.param("today 12:30 UTC x", BER_AFTERNOON, BERLIN, "today 12:30 UTC", "30m", id="today-utc"),
    pytest.param("today 22:00 x", NY_EVENING, NEW_YORK, "today 22:00", "1h", id="ny-today"),
    pytest.param("2027-01-01 00:00 x", BER_AFTERNOON, BERLIN, "2027-01-01 00:00", "192d 11h", id="next-year"),
    pytest.param("tomorrow 10:00 x", BER_AFTERNOON, BERLIN, "tomorrow 10:00", "20h", id="tomorrow"),
]


@pytest.mark.parametrize(("text", "now", "zone", "quoted", "ahead"), FUTURE)
def test_future_refused(text: str, now: datetime, zone: ZoneInfo, quoted: str, ahead: str) -> None:
    message = refusal(text, now, zone)
    assert f"`{quoted}` is {ahead} in the future" in message
    assert "must be in the past" in message


# (text, now, zone, the date and zone named)
SKIPPED_BY_DST = [
    pytest.param("02:30 x", BER_SPRING_DAY, BERLIN, "2026-03-29", "Europe/Berlin", id="eu-bare"),
    pytest.param("today 02:00 x", BER_SPRING_DAY, BERLIN, "2026-03-29", "Europe/Berlin", id="eu-today-start"),
    pytest.param("2:30am x", BER_SPRING_DAY, BERLIN, "2026-03-29", "Europe/Berlin", id="eu-am"),
    pytest.param("2026-03-29 02:59:59 x", BER_SPRING_DAY, BERLIN, "2026-03-29", "Europe/Berlin", id="eu-iso-end"),
    pytest.param(
        "yesterday 02:30 x", at(BERLIN, 2026, 3, 30, 9, 0), BERLIN, "2026-03-29", "Europe/Berlin", id="eu-yesterday"
    ),
    pytest.param("02:30 x", NY_SPRING_DAY, NEW_YORK, "2026-03-08", "America/New_York", id="us-bare"),
    pytest.param("2026-03-08T02:15 x", NY_SPRING_DAY, NEW_YORK, "2026-03-08", "America/New_York", id="us-iso"),
    pytest.param(
        "yesterday 2am x", at(NEW_YORK, 2026, 3, 9, 9, 0), NEW_YORK, "2026-03-08", "America/New_York", id="us-yesterday"
    ),
]


@pytest.mark.parametrize(("text", "now", "zone", "day", "zone_name"), SKIPPED_BY_DST)
def test_spring_forward_gap_refused(text: str, now: datetime, zone: ZoneInfo, day: str, zone_name: str) -> None:
    message = refusal(text, now, zone)
    assert f"`{text[:-2]}`" in message
    assert f"didn't exist on {day} in {zone_name}" in message
    assert "jumped forward 1h" in message


PLAIN_TEXT = [
    "503 errors rise",
    "at last the pool drained",
    "at 503 errors a minute the alert fired",
    "2.4.1 rolled out",
    "tomorrow we fix it",
    "3 pods down",
    "2 alerts",
    "1000 users",
    "12 monkeys",
    "2026 roadmap",
    "2026-06 report",
    "123:00 is not a clock",
    "today was rough",
    "Today",
    "yesterday's deploy broke it",
    "yesterday x",
    "today 5xx spike",
    "v2.4.1 deployed",
    "2.4.1 deployed",
    "10.0.0.1 unreachable",
    "3/5 nodes",
    "24/7 support",
    "100% cpu",
    "5xx spike",
    "5m users affected",
    "2h outage window agreed",
    "p99 up",
    "nowhere to be found",
    "now's the time",
    "now: db",
    "ago",
    "a few minutes ago it broke",
    "2 pods died an hour ago",
]


@pytest.mark.parametrize("text", PLAIN_TEXT)
def test_plain_text_is_left_alone(text: str) -> None:
    assert parse(text) == ParsedWhen(utc(2026, 6, 22, 12, 0), text, False, None)


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_empty_text(text: str) -> None:
    parsed = parse(text)
    assert parsed == ParsedWhen(utc(2026, 6, 22, 12, 0), "", False, None)
    assert parsed.occurred_at.tzinfo is UTC


def test_now_is_returned_in_utc_for_plain_text() -> None:
    assert parse("db down").occurred_at.tzinfo is UTC


def test_allow_future_zero_sends_a_minute_ahead_to_yesterday() -> None:
    parsed = parse("14:01 x", allow_future=timedelta(0))
    assert parsed.occurred_at == utc(2026, 6, 21, 12, 1)


def test_allow_future_wider_grace_accepts_today() -> None:
    parsed = parse("today 14:05 x", allow_future=timedelta(minutes=10))
    assert parsed.occurred_at == utc(2026, 6, 22, 12, 5)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError) as info:
        parse_leading_when("14:05 x", now=datetime(2026, 6, 22, 14, 0), zone=BERLIN)
    assert not isinstance(info.value, TimeGrammarError)


def test_refusal_escapes_slack_control_characters() -> None:
    message = refusal("2026-06-22T<@U1> x")
    assert "<@U1>" not in message
    assert "&lt;@U1&gt;" in message


@pytest.mark.parametrize(
    "example",
    [
        "now failover started",
        "1h30m ago",
        "14:05",
        "14:05:30",
        "2:05pm",
        "yesterday 23:40",
        "2026-06-22 14:05",
        "14:05 UTC",
        "14:05 +05:30",
    ],
)
def test_accepted_forms_lists_working_examples(example: str) -> None:
    assert f"`{example}`" in ACCEPTED_FORMS
    # Late that day, so the dated example is in the past.
    assert parse(example, at(BERLIN, 2026, 6, 22, 18, 0)).given


def test_accepted_forms_is_a_multi_line_list() -> None:
    lines = ACCEPTED_FORMS.splitlines()
    assert len(lines) >= 5
    assert all(line.startswith("• ") for line in lines)


@pytest.mark.parametrize(
    "text",
    ["1m  " * 20000 + "x", "1" * 100000, "1a" * 50000, "1 and " * 20000, "1m " * 20000 + "ago"],
    ids=["many-parts", "long-number", "digit-letter", "and-chain", "many-parts-ago"],
)
def test_long_inputs_finish(text: str) -> None:
    # A backtracking blow-up would hang here (pytest-timeout stops it when installed).
    try:
        parse(text)
    except TimeGrammarError:
        pass


# --- forward: the review meeting's times to come ------------------------------------------

# Monday 2026-06-22 14:00 in Berlin (12:00 UTC).
FORWARD = [
    pytest.param("15:00 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 13, 0), id="bare-clock-later-today"),
    pytest.param("13:00 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 23, 11, 0), id="bare-clock-passed-is-tomorrow"),
    pytest.param("3 pm x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 13, 0), id="space-pm"),
    pytest.param("tomorrow 10:00 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 23, 8, 0), id="tomorrow"),
    pytest.param("thu 15:00 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 25, 13, 0), id="weekday-short"),
    pytest.param("Thursday 3:15 PM x", BER_AFTERNOON, BERLIN, utc(2026, 6, 25, 13, 15), id="weekday-long-space-pm"),
    pytest.param("mon 15:00 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 13, 0), id="weekday-today-still-to-come"),
    pytest.param("mon 10:00 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 29, 8, 0), id="weekday-today-passed-next-week"),
    pytest.param("2026-12-03 15:00 UTC x", BER_AFTERNOON, BERLIN, utc(2026, 12, 3, 15, 0), id="date-utc"),
    pytest.param("2026-12-03 15:00 x", BER_AFTERNOON, BERLIN, utc(2026, 12, 3, 14, 0), id="date-author-zone-winter"),
    pytest.param("today 20:00 x", BER_AFTERNOON, BERLIN, utc(2026, 6, 22, 18, 0), id="today-later"),
    pytest.param("tomorrow 9:00 x", NY_EVENING, NEW_YORK, utc(2026, 6, 23, 13, 0), id="ny-tomorrow-is-local"),
]


@pytest.mark.parametrize(("text", "now", "zone", "expected"), FORWARD)
def test_forward_reads_times_to_come(text: str, now: datetime, zone: ZoneInfo, expected: datetime) -> None:
    assert parse(text, now, zone, forward=True) == ParsedWhen(expected, "x", True, None)


def forward_refusal(text: str, now: datetime = BER_AFTERNOON, zone: ZoneInfo = BERLIN) -> str:
    with pytest.raises(TimeGrammarError) as info:
        parse(text, now, zone, forward=True)
    message = str(info.value)
    assert FORWARD_FORMS in message and ACCEPTED_FORMS not in message
    return message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today 10:00", "`today 10:00` is 4h in the past"),
        ("yesterday 15:00", "`yesterday 15:00` is 23h in the past"),
        ("2026-06-01 10:00", "`2026-06-01 10:00` is 21d 4h in the past"),
        ("now", "`now` is not a time to come"),
        ("10m ago", "`10m ago` is in the past"),
        ("25:00", "hours go from 0 to 23"),
        ("thu 15:5", "two digits"),
        ("at 15:00", "leave out `at`"),
        ("14:05 pm", "from 1 to 12"),
        ("2026-12-03 15:00 PST", "give the zone as `UTC`"),
    ],
)
def test_forward_refuses_the_past_and_near_misses(text: str, expected: str) -> None:
    assert expected in forward_refusal(text)


def test_a_word_after_a_clock_is_text_even_when_it_starts_like_am() -> None:
    assert parse("14:05 amazon hosts failed").rest == "amazon hosts failed"


def test_weekday_words_stay_text_on_the_timeline() -> None:
    assert parse("thu 15:00 planning", BER_AFTERNOON, BERLIN) == ParsedWhen(
        utc(2026, 6, 22, 12, 0), "thu 15:00 planning", False, None
    )


def test_forward_forms_list_working_examples() -> None:
    for example in ("15:00", "3pm", "tomorrow 10:00", "thu 15:00", "2026-12-03 15:00", "2026-12-03 15:00 UTC"):
        assert f"`{example}`" in FORWARD_FORMS
        assert parse(example, BER_AFTERNOON, BERLIN, forward=True).given
