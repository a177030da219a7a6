"""The periods a review covers, read from what people type and from the review schedule.

Every period is a half-open range of instants [start, end) whose boundaries are local midnights
in the team's zone (INCIDENT_TIMEZONE), so "2026-Q3" means the quarter as the team lives it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.errors import UserError

DEFAULT = "last 90 days"
FORMS = (
    "`last 90 days` (any number of days, the default), `this month`, `last month`, `2026-07`, "
    "`this quarter`, `last quarter`, `2026-Q3`, `since 2026-07-01`"
)
MONTHLY, QUARTERLY = "monthly", "quarterly"
SCHEDULES = (MONTHLY, QUARTERLY)
MAX_DAYS = 3660


@dataclass(frozen=True)
class Period:
    start: dt.datetime  # inclusive, UTC
    end: dt.datetime  # exclusive, UTC
    label: str  # how people read it: "2026-Q3", "last 90 days (2026-04-01 – 2026-06-29)"
    key: str  # a stable name, for the schedule's claim: "2026-Q3", "2026-07"

    def contains(self, instant: dt.datetime) -> bool:
        return self.start <= instant < self.end


def _midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone).astimezone(dt.UTC)


def _month(year: int, month: int, zone: ZoneInfo) -> Period:
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    first = dt.date(year, month, 1)
    return Period(_midnight(first, zone), _midnight(following, zone), f"{first:%B %Y}", f"{year}-{month:02d}")


def _quarter(year: int, quarter: int, zone: ZoneInfo) -> Period:
    first = dt.date(year, 3 * quarter - 2, 1)
    following = dt.date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1)
    return Period(_midnight(first, zone), _midnight(following, zone), f"{year}-Q{quarter}", f"{year}-Q{quarter}")


def _shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def parse(text: str, *, now: dt.datetime, zone: ZoneInfo) -> Period:
    """A period from what was typed (empty: the last 90 days); a clear error with the forms otherwise."""
    value = " ".join(text.strip().lower().split()) or DEFAULT
    today = now.astimezone(zone).date()
    tomorrow = _midnight(today + dt.timedelta(days=1), zone)
    if match := re.fullmatch(r"(?:last|past) (\d{1,4}) days?", value):
        days = int(match.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise UserError(f"Give between 1 and {MAX_DAYS} days, e.g. `/incident review last 90 days`.")
        first = today - dt.timedelta(days=days - 1)
        return Period(_midnight(first, zone), tomorrow, f"last {days} days ({first} – {today})", f"last-{days}")
    if value in ("this month", "last month"):
        year, month = _shift_month(today.year, today.month, -1 if value == "last month" else 0)
        return _month(year, month, zone)
    if value in ("this quarter", "last quarter"):
        quarter = (today.month - 1) // 3 + 1
        year, month = _shift_month(today.year, 3 * quarter - 2, -3 if value == "last quarter" else 0)
        return _quarter(year, (month - 1) // 3 + 1, zone)
    if match := re.fullmatch(r"(\d{4})-q([1-4])", value):
        return _check_started(_quarter(int(match.group(1)), int(match.group(2)), zone), now)
    if match := re.fullmatch(r"(\d{4})-(\d{2})", value):
        month = int(match.group(2))
        if 1 <= month <= 12:
            return _check_started(_month(int(match.group(1)), month, zone), now)
    if match := re.fullmatch(r"since (\d{4})-(\d{2})-(\d{2})", value):
        try:
            first = dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            raise UserError(f"`{match.group(0)[6:]}` is not a date. Periods: {FORMS}.") from None
        if first > today:
            raise UserError(f"{first} is in the future; a review looks back. Periods: {FORMS}.")
        return Period(_midnight(first, zone), tomorrow, f"since {first}", f"since-{first}")
    raise UserError(f"I can't read `{text.strip()}` as a period. Use one of: {FORMS}.")


def _check_started(period: Period, now: dt.datetime) -> Period:
    if period.start > now:
        raise UserError(f"{period.label} has not begun yet; a review looks back. Periods: {FORMS}.")
    return period


def previous(schedule: str, now: dt.datetime, zone: ZoneInfo) -> Period:
    """The period of this schedule that ended last: last month, or last quarter."""
    return parse("last month" if schedule == MONTHLY else "last quarter", now=now, zone=zone)
