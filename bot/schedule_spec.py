"""The weekly schedule setting (`NUDGE_SCHEDULE`, e.g. `mon 09:00`): parsed once, used by nudges."""

from __future__ import annotations

import re
from dataclasses import dataclass

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^(?P<day>[a-z]{3})[a-z]*\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})$")


class ScheduleSpecError(ValueError):
    pass


@dataclass(frozen=True)
class WeeklySchedule:
    weekday: int  # Monday is 0, as in datetime.weekday()
    hour: int
    minute: int


def parse_weekly_schedule(text: str) -> WeeklySchedule:
    match = _SPEC.match(text.strip().lower())
    if not match or match["day"] not in WEEKDAYS:
        raise ScheduleSpecError(f"must look like 'mon 09:00' (a weekday and a 24-hour time), not {text!r}")
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise ScheduleSpecError(f"has no such time of day: {text!r}")
    return WeeklySchedule(WEEKDAYS.index(match["day"]), hour, minute)
