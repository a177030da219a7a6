"""Key times and durations of an incident, computed from its timeline milestones.

Impact start is the `started` milestone, else the earliest timeline entry. Each duration is
None ("not recorded") when a milestone it needs is missing. Per-incident numbers only: an
average over incidents hides what happened in each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.models import Milestone

# Detection slower than this, for the severities listed, is a monitoring gap.
MONITORING_GAP = dt.timedelta(minutes=5)
MONITORING_GAP_SEVERITIES = ("sev1", "sev2")
# Slower than this, users probably told us before our monitoring did.
USERS_FIRST = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class KeyTimes:
    impact_start: dt.datetime | None
    start_from_milestone: bool  # False: taken from the earliest timeline entry
    detected: dt.datetime | None
    acknowledged: dt.datetime | None
    mitigated: dt.datetime | None
    resolved: dt.datetime | None
    severity: str
    missing: tuple[Milestone, ...] = field(default=())

    @property
    def duration(self) -> dt.timedelta | None:
        return _between(self.impact_start, self.resolved)

    @property
    def time_to_detect(self) -> dt.timedelta | None:
        return _between(self.impact_start, self.detected)

    @property
    def time_to_acknowledge(self) -> dt.timedelta | None:
        return _between(self.detected, self.acknowledged)

    @property
    def time_to_mitigate(self) -> dt.timedelta | None:
        return _between(self.impact_start, self.mitigated)

    @property
    def time_to_resolve(self) -> dt.timedelta | None:
        return self.duration

    @property
    def monitoring_gap(self) -> bool:
        detect = self.time_to_detect
        return detect is not None and detect > MONITORING_GAP and self.severity in MONITORING_GAP_SEVERITIES

    @property
    def users_found_first(self) -> bool:
        """Whether detection took so long that users probably noticed first (the draft asks)."""
        detect = self.time_to_detect
        return detect is not None and detect > USERS_FIRST

    def out_of_order(self) -> list[OutOfOrder]:
        """Every pair of key times in the wrong order: a sign of a mistyped time. Each pair is
        checked on its own, so a missing milestone in between hides nothing."""
        problems = []
        for earlier_name, later_name in IMPLIED_ORDER:
            earlier, later = getattr(self, _ATTRIBUTES[earlier_name]), getattr(self, _ATTRIBUTES[later_name])
            if later is not None and earlier is not None and later < earlier:
                problems.append(OutOfOrder(later_name, later, earlier_name, earlier))
        return problems


@dataclass(frozen=True)
class OutOfOrder:
    """A key time (`later`) recorded before one that must precede it (`earlier`)."""

    later: str
    later_at: dt.datetime
    earlier: str
    earlier_at: dt.datetime

    def __str__(self) -> str:
        return f"{self.later} is before {self.earlier}"


# (earlier, later): what the milestones mean implies this order. Impact starts before anyone can
# detect it, detection comes before acknowledgement, mitigation before resolution, and nothing is
# resolved before it was detected or acknowledged.
IMPLIED_ORDER = (
    ("impact start", "detected"),
    ("impact start", "acknowledged"),
    ("detected", "acknowledged"),
    ("impact start", "mitigated"),
    ("impact start", "resolved"),
    ("mitigated", "resolved"),
    ("detected", "resolved"),
    ("acknowledged", "resolved"),
)
_ATTRIBUTES = {
    "impact start": "impact_start",
    "detected": "detected",
    "acknowledged": "acknowledged",
    "mitigated": "mitigated",
    "resolved": "resolved",
}


def _between(start: dt.datetime | None, end: dt.datetime | None) -> dt.timedelta | None:
    if start is None or end is None:
        return None
    return end - start


def key_times(
    milestone_times: Mapping[Milestone, dt.datetime], earliest_entry: dt.datetime | None, severity: str
) -> KeyTimes:
    """Key times from each milestone's time and the earliest entry's time."""
    started = milestone_times.get(Milestone.STARTED)
    missing = tuple(m for m in Milestone if m not in milestone_times)
    return KeyTimes(
        impact_start=started or earliest_entry,
        start_from_milestone=started is not None,
        detected=milestone_times.get(Milestone.DETECTED),
        acknowledged=milestone_times.get(Milestone.ACKNOWLEDGED),
        mitigated=milestone_times.get(Milestone.MITIGATED),
        resolved=milestone_times.get(Milestone.RESOLVED),
        severity=severity,
        missing=missing,
    )


def human_duration(delta: dt.timedelta | None) -> str:
    """`45 minutes`, `1 hour 5 minutes`, `1 day 1 hour 50 minutes`, `1 day`, `under a minute`;
    `not recorded` for None. Exact to the minute at any length: no unit is rounded away."""
    if delta is None:
        return "not recorded"
    negative = delta < dt.timedelta(0)
    seconds = int(abs(delta).total_seconds())
    if seconds < 60:
        text = "under a minute" if seconds else "0 minutes"
        return f"-{text}" if negative and seconds else text
    minutes_total = seconds // 60
    days, rest = divmod(minutes_total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [_plural(count, unit) for count, unit in ((days, "day"), (hours, "hour"), (minutes, "minute")) if count]
    text = " ".join(parts)
    return f"-{text}" if negative else text


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
