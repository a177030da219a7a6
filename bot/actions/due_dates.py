"""The due-date grammar of action items: `2026-06-25`, `Jun 25`, `25 Jun`, `tomorrow`, `friday`, `in 2 weeks`.

Pure logic: the caller passes `today` (a date in the author's zone). Anything that looks like one
of the forms but is not a valid date is refused with the list of forms, so a typo never files an
item with a wrong date. A date in the past is accepted with a warning (items can be filed late).
Month-name dates are handed to python-dateutil only after the regex has cut them out, never with
fuzzy parsing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dateutil import parser as dateutil_parser

from bot.errors import UserError

ACCEPTED_DUE_FORMS = (
    "a due date is one of: `2026-06-25`, `Jun 25`, `25 Jun` (with an optional year), `today`, `tomorrow`, "
    "a weekday such as `friday` (the next one), or `in 3 days` / `in 2 weeks`"
)

# A month-day without a year is this year's, unless that is more than half a year ago:
# `Jan 10` typed in December means next January.
_YEARLESS_LOOKBACK = dt.timedelta(days=183)
_MAX_RELATIVE = 999

_WEEKDAYS = {
    **dict.fromkeys(("mon", "monday"), 0),
    **dict.fromkeys(("tue", "tues", "tuesday"), 1),
    **dict.fromkeys(("wed", "weds", "wednesday"), 2),
    **dict.fromkeys(("thu", "thur", "thurs", "thursday"), 3),
    **dict.fromkeys(("fri", "friday"), 4),
    **dict.fromkeys(("sat", "saturday"), 5),
    **dict.fromkeys(("sun", "sunday"), 6),
}
_MONTH_PREFIXES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

_ISO = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})$")
_MONTH_DAY = re.compile(
    r"^(?:(?P<mon>[a-z]+)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?"
    r"|(?P<day2>\d{1,2})(?:st|nd|rd|th)?\s+(?P<mon2>[a-z]+)\.?)"
    r"(?:,?\s+(?P<year>\d{4}))?$"
)
_RELATIVE = re.compile(r"^in\s+(?P<count>\d+)\s+(?P<unit>days?|weeks?)$")
_WEEKDAY = re.compile(r"^(?:next\s+)?(?P<day>[a-z]+)$")
# Shaped like a date but not a form we read: refused rather than kept as words of the item's text.
# Numbers alone are ambiguous (6/5 is June 5th or May 6th depending on who types it).
_NUMERIC_DATE = re.compile(r"^(?:\d{1,2}/\d{1,2}(?:/\d{2,4})?|\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2})$")
_VAGUE_DATES = ("eow", "eom", "end of week", "end of month")


class DueDateError(UserError):
    """A due date that looks like one of the forms but is not a valid date."""


@dataclass(frozen=True)
class DueDate:
    date: dt.date
    warning: str | None = None


def _is_month_word(word: str) -> bool:
    return dateutil_parser.parserinfo().month(word) is not None


def looks_like_due_date(text: str) -> bool:
    """Whether `text` is shaped like a due date (so a failure to read it is an error, not plain words)."""
    words = text.strip().lower().split()
    if not words:
        return False
    first = words[0].rstrip(".,")
    if first in ("today", "tomorrow", "in", "next") or first in _WEEKDAYS:
        return True
    if _NUMERIC_DATE.match(first) or " ".join(words) in _VAGUE_DATES:
        return True
    if re.match(r"^\d{4}-\d", first):
        return True
    if first[:3] in _MONTH_PREFIXES and len(words) >= 2 and words[1][:1].isdigit():
        return True
    if re.match(r"^\d{1,2}(?:st|nd|rd|th)?$", first) and len(words) >= 2 and words[1][:3] in _MONTH_PREFIXES:
        return True
    return False


def _refuse(text: str, reason: str = "") -> DueDateError:
    because = f" ({reason})" if reason else ""
    return DueDateError(f"I can't read `{text.strip()}` as a due date{because}; {ACCEPTED_DUE_FORMS}.")


def parse_due_date(text: str, *, today: dt.date) -> DueDate:
    """Read one due date; raises DueDateError (a UserError) with the accepted forms."""
    phrase = " ".join(text.strip().lower().split())
    if not phrase:
        raise _refuse(text)
    found = _read(phrase, text, today)
    if found < today:
        days = (today - found).days
        ago = "yesterday" if days == 1 else f"{days} days ago"
        return DueDate(
            found,
            f"That due date ({found:%a %d %b %Y}) is in the past ({ago}); the item is kept and counts as overdue.",
        )
    return DueDate(found)


def _read(phrase: str, original: str, today: dt.date) -> dt.date:
    if phrase == "today":
        return today
    if phrase == "tomorrow":
        return today + dt.timedelta(days=1)
    if match := _ISO.match(phrase):
        try:
            return dt.date(int(match["year"]), int(match["month"]), int(match["day"]))
        except ValueError as err:
            raise _refuse(original, str(err)) from None
    if match := _RELATIVE.match(phrase):
        count = int(match["count"])
        if count < 1 or count > _MAX_RELATIVE:
            raise _refuse(original, f"give between 1 and {_MAX_RELATIVE}")
        days = count * 7 if match["unit"].startswith("week") else count
        return today + dt.timedelta(days=days)
    if match := _WEEKDAY.match(phrase):
        if match["day"] in _WEEKDAYS:
            ahead = (_WEEKDAYS[match["day"]] - today.weekday() - 1) % 7 + 1  # strictly after today
            return today + dt.timedelta(days=ahead)
    if match := _MONTH_DAY.match(phrase):
        return _month_day(match, original, today)
    if _NUMERIC_DATE.match(phrase):
        raise _refuse(
            original,
            "a date in numbers only could be month/day or day/month; write the month as a word or use year-month-day",
        )
    raise _refuse(original)


def _month_day(match: re.Match[str], original: str, today: dt.date) -> dt.date:
    month_word = match["mon"] or match["mon2"]
    day = match["day"] or match["day2"]
    if not _is_month_word(month_word):
        raise _refuse(original, f"`{month_word}` is not a month")
    year = match["year"]
    default = dt.datetime(int(year) if year else today.year, 1, 1)
    try:
        found = dateutil_parser.parse(f"{month_word} {day} {year or ''}".strip(), default=default).date()
    except (ValueError, OverflowError) as err:
        raise _refuse(original, str(err)) from None
    if not year and found < today - _YEARLESS_LOOKBACK:
        try:
            found = found.replace(year=found.year + 1)
        except ValueError:  # 29 Feb in a year that has none
            raise _refuse(original, f"{found.year + 1} has no {found:%d %b}") from None
    return found
