"""The `<when>` grammar at the start of timeline commands.

This module owns reading the optional time expression that may open the text of
`/incident timeline [<when>] <text>` (and of `edit <id> [<when>] [<text>]` and
`close [<when>] [<text>]`), turning it into an aware UTC datetime, and the
user-facing wording around it: the list of accepted forms and every refusal.

The same grammar reads *forward* for times to come (`postmortem meeting <when>`): with
`forward=True` a bare clock is its next occurrence, `tomorrow` and weekday names (`thu 15:00`)
are read, and anything not in the future is refused.

It is pure logic. It never reads the clock or talks to Slack: the caller passes
`now` and the author's IANA zone. Anything that does not *look* like a time is
left alone as plain text at `now`; anything that looks like a time but is not a
valid one is refused, so that a typo never silently lands at the wrong moment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo

__all__ = ["ACCEPTED_FORMS", "FORWARD_FORMS", "ParsedWhen", "TimeGrammarError", "parse_leading_when"]

UTC = UTC

ACCEPTED_FORMS = "\n".join(
    (
        "• `now` (e.g. `now failover started`)",
        "• `<N> ago` in m, h or d, up to three parts (e.g. `1h30m ago`)",
        "• a clock in your timezone, the most recent one that has passed: `14:05`, `14:05:30`, `2:05pm` or `2:05 pm`",
        "• `today`, `yesterday` or a date before the clock (e.g. `yesterday 23:40`, `2026-06-22 14:05`)",
        "• `UTC`, `Z` or an offset after the clock (e.g. `14:05 UTC`, `14:05 +05:30`)",
    )
)

_FORMS_INTRO = "Put one of these first, or leave the time out to use now:"

FORWARD_FORMS = (
    "• a clock in your timezone, the next one to come: `15:00` or `3pm`\n"
    "• `today`, `tomorrow`, a weekday or a date before the clock (e.g. `tomorrow 10:00`, `thu 15:00`, `2026-12-03 15:00`)\n"
    "• `UTC`, `Z` or an offset after the clock (e.g. `2026-12-03 15:00 UTC`)"
)

_FORWARD_INTRO = "Give a time to come, one of these:"

# Offsets in use worldwide run from -12:00 to +14:00; anything beyond is a typo.
_MAX_OFFSET = timedelta(hours=14)

_UNITS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "minutes"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "hours"),
    **dict.fromkeys(("d", "day", "days"), "days"),
}


@dataclass(frozen=True)
class ParsedWhen:
    occurred_at: datetime  # tz-aware, UTC
    rest: str  # the text after the <when>, leading whitespace stripped (may be "")
    given: bool  # False when the text had no <when>; occurred_at is then `now`
    note: str | None  # something the author should know, e.g. an ambiguous DST time


class TimeGrammarError(ValueError):
    """A refused <when>. str(err) is a complete Slack mrkdwn message for the author;
    `problem` is its first line alone (what was wrong, without the list of forms)."""

    def __init__(self, message: str, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem or message


# --- patterns ---------------------------------------------------------------

_NOW_RE = re.compile(r"now (?=\s|$)", re.IGNORECASE | re.VERBOSE)

# Loose on purpose: it also catches near misses ("10 ago", "1h30 ago",
# "2 weeks ago", "1h and 30m ago") so they can be refused instead of becoming
# plain text. Every part but the last needs letters after its digits, which
# keeps the digit runs unambiguous and the matching linear.
_AGO_RE = re.compile(
    r"""
    (?P<phrase>
        (?: \d+ \s* [a-z]+                      # a part with a unit: 1h, 30 min
            (?: \s*,\s* | \s+and\s+ | \s* )     # separators people type; only spaces are valid
        )*
        \d+ (?: \s* [a-z]+ )?                   # the last part; its unit may be missing
    )
    (?P<gap> \s* )                              # must be a space; "10mago" is a near miss
    ago (?=\s|$)
    """,
    re.IGNORECASE | re.VERBOSE,
)

_AGO_PART_RE = re.compile(
    r"""
    (?P<amount> \d+ ) \s*
    (?P<unit> [a-z]* ) \s*      # no unit at all is refused with its own reason
    """,
    re.IGNORECASE | re.VERBOSE,
)

_TOKEN_RE = re.compile(r"\s*(?P<token>\S+)")
_TOKEN_AT_RE = re.compile(r"\S*")

# `tomorrow` is read only to refuse it clearly: a timeline entry is something that already happened.
_DAY_WORD_RE = re.compile(r"(?P<word> today | yesterday | tomorrow ) (?=\s|$)", re.IGNORECASE | re.VERBOSE)

# Weekday names, read only forward ("thu 15:00"): in a timeline entry "mon" stays text.
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_RE = re.compile(
    r"(?P<word> mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun"
    r" | monday|tuesday|wednesday|thursday|friday|saturday|sunday ) (?=\s|$)",
    re.IGNORECASE | re.VERBOSE,
)

# One-digit months and days are matched only so they can be refused with a hint.
_DATE_RE = re.compile(
    r"""
    (?P<year> \d{4} ) - (?P<month> \d{1,2} ) - (?P<day> \d{1,2} )
    """,
    re.VERBOSE,
)

# What makes a token "look like a clock": digits then a colon and a digit,
# or digits glued to am/pm. Such a token must parse or it is refused.
_CLOCKISH_RE = re.compile(
    r"""
    \d{1,2} (?: : \d                  # 14:05, 14:5, 25:99, 1:1
            | (?: : \d\d )? [ap]m     # 2pm, 2:05pm, 2:05pmish, 13pm
            )
    """,
    re.IGNORECASE | re.VERBOSE,
)

_NUMBER_RE = re.compile(r"\d+")
_SHORT_NUMBER_RE = re.compile(r"\d{1,2}")
_MERIDIEM_RE = re.compile(r"[ap]m", re.IGNORECASE)
_AT_RE = re.compile(r"at", re.IGNORECASE)

# Deliberately wider than the grammar (any digit counts) so that each wrong
# field gets its own reason instead of a generic "can't read it".
_CLOCK_RE = re.compile(
    r"""
    (?P<hour> \d+ )
    (?: : (?P<minute> \d+ )
        (?: : (?P<second> \d+ ) )?
    )?
    (?P<meridiem> [ap]m )?
    (?P<zone> z | utc | [+-] \d+ (?: : \d+ )? )?    # attached: 14:05Z, 14:05+05:30
    """,
    re.IGNORECASE | re.VERBOSE,
)

# A separate zone token after the clock. "+1" or "+100" stay text ("14:05 +1 for
# rollback"); only offset-shaped tokens are taken, and then must be valid.
_ZONE_TOKEN_RE = re.compile(
    r"""
    z | utc
    | [+-] (?: \d{1,2} : \d+       # +05:30, and near misses like +5:30 or +25:00
           | \d{4} )               # +0530
    | utc [+-] \S*                 # a near miss: UTC+02:00
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Zone abbreviations are ambiguous (IST, CST) and not IANA names, but a time
# followed by one must not quietly be read in the author's zone instead.
# Case-sensitive, so "14:05 est. impact" stays text.
_ZONE_ABBREVIATION_RE = re.compile(
    r"""
    GMT | BST | IST | JST | CES?T | EES?T | WES?T | AE[SD]T
    | [ECMP][SD]T                  # US: EST, EDT, CST, ... PDT
    """,
    re.VERBOSE,
)

_OFFSET_RE = re.compile(
    r"""
    (?P<sign> [+-] ) (?P<hours> \d{2} ) :? (?P<minutes> \d{2} )
    """,
    re.VERBOSE,
)


# --- public entry point -----------------------------------------------------


def parse_leading_when(
    text: str,
    *,
    now: datetime,
    zone: ZoneInfo,
    allow_future: timedelta = timedelta(minutes=2),
    forward: bool = False,
) -> ParsedWhen:
    """Cut the optional leading `<when>` off `text` and resolve it to UTC.

    Raises TimeGrammarError when the text starts with something time-shaped that
    is not a valid time, or with a time that is in the future or did not exist.
    With `forward`, the time must be one to come instead (and the refusals list
    the forward forms).
    """
    if not forward:
        return _parse(text, now=now, zone=zone, allow_future=allow_future, forward=False)
    try:
        return _parse(text, now=now, zone=zone, allow_future=allow_future, forward=True)
    except TimeGrammarError as err:
        raise TimeGrammarError(f"{err.problem}\n{_FORWARD_INTRO}\n{FORWARD_FORMS}", err.problem) from None


def _parse(text: str, *, now: datetime, zone: ZoneInfo, allow_future: timedelta, forward: bool) -> ParsedWhen:
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    # All arithmetic happens in UTC: aware arithmetic inside a ZoneInfo zone is
    # wall-clock arithmetic and goes wrong across DST changes.
    now_utc = now.astimezone(UTC)
    text = text.lstrip()

    if match := _NOW_RE.match(text):
        if forward:
            raise _refusal(f"{_quote(match.group(0))} is not a time to come.")
        return ParsedWhen(now_utc, _rest_after(text, match.end()), True, None)
    if match := _AGO_RE.match(text):
        if forward:
            raise _refusal(f"{_quote(match.group(0))} is in the past; give a time to come.")
        return ParsedWhen(_resolve_ago(match, now_utc), _rest_after(text, match.end()), True, None)
    _refuse_common_slips(text)
    phrase = _scan_clock_phrase(text, forward=forward)
    if phrase is None:
        return ParsedWhen(now_utc, text, False, None)
    if forward:
        occurred_at, note = _resolve_forward(phrase, now_utc, zone)
    else:
        occurred_at, note = _resolve_clock_phrase(phrase, now_utc, zone, allow_future)
    return ParsedWhen(occurred_at, _rest_after(text, phrase.end), True, note)


# Ways people under stress write a time that look like one of ours but aren't: refused with the
# forms, so they never land silently at "now" with the time left in the text.
_SLIPS = (
    (
        re.compile(r"(?i)at\s+(?:today\s+|yesterday\s+)?\d{1,2}(?::\d{2}|\s*[ap]m)(?=\W|$)"),
        "leave out `at`: the time comes first, e.g. `14:05 alert fired`",
    ),
    (re.compile(r"[~≈]\s*\d{1,2}:\d{2}"), "give the time without `~`; say it was approximate in the text"),
    (re.compile(r"(?i)\d{1,2}h\d{2}(?=\s|$)"), "write the clock with a colon, e.g. `14:05`"),
    (re.compile(r"(?i)\d+[.,]\d+\s*[a-z]+\s+ago(?=\s|$)"), "use whole numbers, e.g. `1h 30m ago`"),
)


def _refuse_common_slips(text: str) -> None:
    for pattern, reason in _SLIPS:
        if match := pattern.match(text):
            raise _near_miss(match.group(0), reason)


def _rest_after(text: str, end: int) -> str:
    return text[end:].lstrip()


def _refusal(problem: str) -> TimeGrammarError:
    return TimeGrammarError(f"{problem}\n{_FORMS_INTRO}\n{ACCEPTED_FORMS}", problem)


def _near_miss(quoted: str, reason: str) -> TimeGrammarError:
    return _refusal(f"{_quote(quoted)} looks like a time, but I can't read it: {reason}.")


def _quote(fragment: str) -> str:
    """Inline code for Slack: no backticks inside, and &, <, > escaped as Slack requires."""
    fragment = fragment if len(fragment) <= 60 else fragment[:59] + "…"
    fragment = fragment.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`" + fragment.replace("`", "'") + "`"


# --- N ago ------------------------------------------------------------------


def _resolve_ago(match: re.Match[str], now_utc: datetime) -> datetime:
    quoted = match.group(0)
    if not match["gap"]:
        raise _near_miss(quoted, "put a space before `ago`, e.g. `10m ago`")
    amounts = _read_ago_parts(match["phrase"], quoted)
    try:
        return now_utc - timedelta(**amounts)
    except OverflowError:
        raise _refusal(f"{_quote(quoted)} is too long ago to record.") from None


def _read_ago_parts(phrase: str, quoted: str) -> dict[str, int]:
    amounts: dict[str, int] = {}
    pos = 0
    while pos < len(phrase):
        part = _AGO_PART_RE.match(phrase, pos)
        if part is None:
            raise _near_miss(quoted, "separate the parts with spaces only, e.g. `1h 30m ago`")
        unit = part["unit"].lower()
        if not unit:
            raise _near_miss(quoted, f"`{part['amount']}` needs a unit: m, h or d")
        if unit not in _UNITS:
            raise _near_miss(quoted, f"`{unit}` isn't a unit here; use m, h or d")
        if _UNITS[unit] in amounts:
            raise _near_miss(quoted, f"{_UNITS[unit]} are given twice")
        amounts[_UNITS[unit]] = int(part["amount"])
        pos = part.end()
    # With three units and no repeats, "at most three parts" needs no check of its own.
    return amounts


# --- [today|yesterday|DATE] CLOCK [ZONE] ------------------------------------


class _Token(NamedTuple):
    text: str
    end: int


@dataclass(frozen=True)
class _ClockPhrase:
    day_word: str | None  # "today", "yesterday", "tomorrow" or a weekday's full name
    day: date | None  # an explicit date
    clock: time
    zone: tzinfo | None  # an explicit zone; None means the author's
    source: str  # the phrase as typed, for messages
    end: int  # where the phrase ends in the text


def _token_after(text: str, pos: int) -> _Token | None:
    match = _TOKEN_RE.match(text, pos)
    return _Token(match["token"], match.end("token")) if match else None


def _scan_clock_phrase(text: str, *, forward: bool = False) -> _ClockPhrase | None:
    """Read a clock phrase at the start of `text`; None when the text doesn't open with one."""
    day_word: str | None = None
    day: date | None = None
    match = _DAY_WORD_RE.match(text) or (_WEEKDAY_RE.match(text) if forward else None)
    if match:
        clock_token = _token_after(text, match.end())
        if clock_token is not None and _AT_RE.fullmatch(clock_token.text):
            _refuse_at(text, clock_token, match["word"])
        if clock_token is None or not _opens_clock(text, clock_token, after_day_word=True):
            return None  # "today was rough", "yesterday's deploy"
        word = match["word"].lower()
        day_word = next((name for name in _WEEKDAYS if name.startswith(word[:3])), word) if forward else word
    elif match := _DATE_RE.match(text):
        day = _read_date(match)
        clock_token = _clock_token_after_date(text, match)
    else:
        clock_token = _token_after(text, 0)
        if clock_token is None or not _opens_clock(text, clock_token, after_day_word=False):
            return None
    return _scan_clock(text, clock_token, day_word, day)


def _opens_clock(text: str, token: _Token, *, after_day_word: bool) -> bool:
    if _CLOCKISH_RE.match(token.text):
        return True
    # After today/yesterday any number is meant as a time ("yesterday 9").
    if after_day_word and _NUMBER_RE.fullmatch(token.text):
        return True
    following = _token_after(text, token.end)
    return bool(_SHORT_NUMBER_RE.fullmatch(token.text) and following and _MERIDIEM_RE.fullmatch(following.text))


def _refuse_at(text: str, at_token: _Token, word: str) -> None:
    clock_token = _token_after(text, at_token.end)
    if clock_token is not None and _opens_clock(text, clock_token, after_day_word=True):
        raise _near_miss(
            text[: clock_token.end], f"leave out `at`, e.g. {_quote(f'{word.lower()} {clock_token.text}')}"
        )


def _read_date(match: re.Match[str]) -> date:
    quoted = match.group(0)
    if len(match["month"]) != 2 or len(match["day"]) != 2:
        raise _near_miss(quoted, "write dates as YYYY-MM-DD, e.g. `2026-06-22`")
    try:
        return date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        raise _near_miss(quoted, "there is no such date") from None


def _clock_token_after_date(text: str, match: re.Match[str]) -> _Token:
    end = match.end()
    date_text = match.group(0)
    needs_clock = f"a date needs a clock after it, e.g. `{date_text} 14:05`"
    if text[end : end + 1] in ("T", "t"):
        glued = _TOKEN_AT_RE.match(text, end + 1)
        if glued is None or not glued.group(0):
            raise _near_miss(text[: end + 1], needs_clock)
        return _Token(glued.group(0), glued.end())
    if end < len(text) and not text[end].isspace():
        glued_word = _token_after(text, 0)
        raise _near_miss(glued_word.text if glued_word else text, needs_clock)
    token = _token_after(text, end)
    if token is None or not _opens_clock(text, token, after_day_word=True):
        raise _near_miss(date_text, needs_clock)
    return token


def _scan_clock(text: str, token: _Token, day_word: str | None, day: date | None) -> _ClockPhrase:
    following = _token_after(text, token.end)
    # "9 pm" / "2:05 PM": people type the space; the am/pm belongs to the clock before it.
    if token.text[-1:].isdigit() and following is not None and _MERIDIEM_RE.fullmatch(following.text):
        token = _Token(token.text + following.text, following.end)
        following = _token_after(text, token.end)
    try:
        clock, zone = _read_clock(token.text)
    except _Unreadable as err:
        raise _near_miss(text[: token.end], err.reason) from None
    end = token.end
    if zone is None and following is not None and _ZONE_TOKEN_RE.fullmatch(following.text):
        try:
            zone = _read_zone(following.text)
        except _Unreadable as err:
            raise _near_miss(text[: following.end], err.reason) from None
        end = following.end
    elif zone is None and following is not None and _ZONE_ABBREVIATION_RE.fullmatch(following.text):
        raise _near_miss(text[: following.end], "give the zone as `UTC`, `Z` or an offset such as `-05:00`")
    return _ClockPhrase(day_word, day, clock, zone, text[:end], end)


_CLOCK_FORM = "a time is `14:05`, `14:05:30` or `2:05pm`, followed by a space"


class _Unreadable(Exception):
    """A clock or zone that is time-shaped but wrong; carries the reason for the author."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _read_clock(token: str) -> tuple[time, tzinfo | None]:
    match = _CLOCK_RE.fullmatch(token)
    if match is None:
        raise _Unreadable(_CLOCK_FORM)
    hour_text, minute_text, second_text = match["hour"], match["minute"], match["second"]
    if minute_text is not None and len(minute_text) != 2:
        raise _Unreadable("minutes need two digits, e.g. `14:05`")
    if second_text is not None and len(second_text) != 2:
        raise _Unreadable("seconds need two digits, e.g. `14:05:07`")
    minute, second = int(minute_text or 0), int(second_text or 0)
    if minute > 59:
        raise _Unreadable("minutes go from 00 to 59")
    if second > 59:
        raise _Unreadable("seconds go from 00 to 59")
    hour = _read_hour(hour_text, match["meridiem"], has_minutes=minute_text is not None)
    zone = _read_zone(match["zone"]) if match["zone"] else None
    return time(hour, minute, second), zone


def _read_hour(hour_text: str, meridiem: str | None, *, has_minutes: bool) -> int:
    hour = int(hour_text)
    if meridiem:
        if len(hour_text) > 2 or not 1 <= hour <= 12:
            raise _Unreadable("with am/pm the hour goes from 1 to 12")
        # 12am is midnight and 12pm is noon.
        return hour % 12 + (12 if meridiem.lower() == "pm" else 0)
    if not has_minutes:
        raise _Unreadable("add minutes or am/pm, e.g. `9:00` or `9am`")
    if len(hour_text) > 2 or hour > 23:
        raise _Unreadable("hours go from 0 to 23 (or use am/pm)")
    return hour


def _read_zone(zone_text: str) -> tzinfo:
    if zone_text.lower() in ("z", "utc"):
        return UTC
    match = _OFFSET_RE.fullmatch(zone_text)
    if match is None:
        raise _Unreadable("write offsets as ±HH:MM or ±HHMM, e.g. `+05:30`")
    minutes = int(match["minutes"])
    offset = timedelta(hours=int(match["hours"]), minutes=minutes)
    if minutes > 59 or offset > _MAX_OFFSET:
        raise _Unreadable("offsets go from -14:00 to +14:00")
    return timezone(-offset if match["sign"] == "-" else offset)


# --- resolving a clock phrase to an instant ---------------------------------


def _resolve_clock_phrase(
    phrase: _ClockPhrase, now_utc: datetime, author_zone: ZoneInfo, allow_future: timedelta
) -> tuple[datetime, str | None]:
    zone = phrase.zone or author_zone
    today = now_utc.astimezone(zone).date()
    latest = now_utc + allow_future
    if phrase.day is not None:
        day = phrase.day
    elif phrase.day_word == "yesterday":
        day = today - timedelta(days=1)
    elif phrase.day_word == "tomorrow":
        day = today + timedelta(days=1)
    else:
        day = today
        # A bare clock is the most recent past one. A time skipped by DST is
        # compared by its pre-jump offset, as zoneinfo reads fold=0.
        if phrase.day_word is None and _first_reading(day, phrase.clock, zone) > latest:
            day = today - timedelta(days=1)
    occurred_at, note = _localize(day, phrase, zone)
    if occurred_at > latest:
        raise _refusal(_future_problem(phrase, occurred_at, now_utc, zone))
    return occurred_at, note


def _resolve_forward(phrase: _ClockPhrase, now_utc: datetime, author_zone: ZoneInfo) -> tuple[datetime, str | None]:
    """A time to come: a bare clock is its next occurrence, a weekday the next such day."""
    zone = phrase.zone or author_zone
    today = now_utc.astimezone(zone).date()
    if phrase.day is not None:
        day = phrase.day
    elif phrase.day_word in ("today", None):
        day = today
        if phrase.day_word is None and _first_reading(day, phrase.clock, zone) <= now_utc:
            day = today + timedelta(days=1)
    elif phrase.day_word == "yesterday":
        day = today - timedelta(days=1)
    elif phrase.day_word == "tomorrow":
        day = today + timedelta(days=1)
    else:
        day = today + timedelta(days=(_WEEKDAYS.index(phrase.day_word) - today.weekday()) % 7)
        if _first_reading(day, phrase.clock, zone) <= now_utc:
            day += timedelta(days=7)
    occurred_at, note = _localize(day, phrase, zone)
    if occurred_at <= now_utc:
        local = occurred_at.astimezone(zone)
        raise _refusal(
            f"{_quote(phrase.source)} is {_duration_text(now_utc - occurred_at)} in the past "
            f"({local:%Y-%m-%d %H:%M} {_zone_name(zone)}); give a time to come."
        )
    return occurred_at, note


def _first_reading(day: date, clock: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _localize(day: date, phrase: _ClockPhrase, zone: tzinfo) -> tuple[datetime, str | None]:
    """The UTC instant of a local wall time; refuses DST gaps, takes the first of a DST overlap."""
    wall = datetime.combine(day, phrase.clock)
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        raise _refusal(_gap_problem(phrase, day, first, second, zone))
    note = None
    if _offset(first) != _offset(second):
        note = (
            f"{_clock_text(phrase.clock)} happened twice on {day.isoformat()} in {_zone_name(zone)}; "
            f"took the first ({first.tzname()}, {_offset_text(_offset(first))})"
        )
    return first.astimezone(UTC), note


def _offset(aware: datetime) -> timedelta:
    offset = aware.utcoffset()
    if offset is None:
        raise ValueError(f"{aware!r} has no time zone")
    return offset


def _gap_problem(phrase: _ClockPhrase, day: date, before: datetime, after: datetime, zone: tzinfo) -> str:
    # In a gap, fold=0 carries the offset from before the jump and fold=1 the one after.
    jump = _offset(after) - _offset(before)
    return (
        f"{_quote(phrase.source)}: {_clock_text(phrase.clock)} didn't exist on {day.isoformat()} "
        f"in {_zone_name(zone)}; clocks jumped forward {_duration_text(jump)} "
        f"({before.tzname()} to {after.tzname()}). Use a time outside the jump, or give it in UTC."
    )


def _future_problem(phrase: _ClockPhrase, occurred_at: datetime, now_utc: datetime, zone: tzinfo) -> str:
    local = occurred_at.astimezone(zone)
    return (
        f"{_quote(phrase.source)} is {_duration_text(occurred_at - now_utc)} in the future "
        f"({local:%Y-%m-%d %H:%M} {_zone_name(zone)}). Timeline times must be in the past."
    )


def _zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


def _clock_text(clock: time) -> str:
    return clock.strftime("%H:%M:%S" if clock.second else "%H:%M")


def _offset_text(offset: timedelta) -> str:
    sign = "-" if offset < timedelta(0) else "+"
    hours, minutes = divmod(int(abs(offset).total_seconds()) // 60, 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def _duration_text(duration: timedelta) -> str:
    total = max(0, int(duration.total_seconds()))
    days, total = divmod(total, 86400)
    hours, total = divmod(total, 3600)
    minutes, seconds = divmod(total, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours else []
    parts += [f"{minutes}m"] if minutes else []
    # Seconds only matter for short spans.
    parts += [f"{seconds}s"] if seconds and not (days or hours) else []
    return " ".join(parts) or "0s"
