"""The periodic review's numbers: durations, detection, action-item follow-through, recurring
themes and waiting postmortems, for the incidents declared in a period.

Plain values in, plain values out (`compute`); `load` reads the incidents with a few queries.
Medians and spreads only, never means: one long outage would drag a mean anywhere ("MTTR across
incidents misleads"). An action item's fate is judged in the team's zone: done on time means
closed on or before its due date; overdue means open after it.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.insights import history
from bot.insights.detection import MONITORING, PEOPLE, UNKNOWN, how_detected
from bot.insights.periods import Period
from bot.insights.related import stem, words
from bot.models import FactSection, Incident
from bot.postmortem import sharing
from bot.postmortem.metrics import (
    MONITORING_GAP,
    MONITORING_GAP_SEVERITIES,
    USERS_FIRST,
)

MEASURES = ("time_to_detect", "time_to_acknowledge", "time_to_mitigate", "time_to_resolve")
MEASURE_LABELS = {
    "time_to_detect": "detect",
    "time_to_acknowledge": "acknowledge",
    "time_to_mitigate": "mitigate",
    "time_to_resolve": "resolve",
}
THEME_MIN_INCIDENTS = 2
MAX_THEMES = 8


@dataclass(frozen=True)
class IncidentRow:
    id: int
    title: str
    channel_id: str
    declared: dt.date
    severity: str
    services: tuple[str, ...]
    detected_by: str
    durations: dict[str, dt.timedelta | None]
    is_private: bool


@dataclass(frozen=True)
class Spread:
    """Minutes: the median, the middle half (25th–75th percentile) and the extremes."""

    count: int
    median: float | None = None
    p25: float | None = None
    p75: float | None = None
    low: float | None = None
    high: float | None = None


@dataclass
class ItemTally:
    created: int = 0
    done_on_time: int = 0
    done_late: int = 0
    overdue: int = 0
    open_not_due: int = 0
    dropped: int = 0
    unowned: int = 0  # open, nobody owns it
    within_policy: int = 0  # done within the severity's due-date policy, counted from creation

    def add(self, other: ItemTally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def done(self) -> int:
        return self.done_on_time + self.done_late

    @property
    def share_within_policy(self) -> float | None:
        counted = self.created - self.dropped
        return self.within_policy / counted if counted else None


@dataclass(frozen=True)
class Theme:
    kind: str  # service | cause
    name: str
    incident_ids: tuple[int, ...]


@dataclass(frozen=True)
class Waiting:
    incident_id: int
    title: str
    channel_id: str
    closed_on: dt.date
    days: int
    has_draft: bool


@dataclass(frozen=True)
class LateShare:
    """A postmortem shared with an audience after its deadline, or not yet and the deadline passed."""

    incident_id: int
    title: str
    audience: str  # engineering (24 h after resolution) | stakeholders (48 h)
    deadline: dt.datetime
    shared_at: dt.datetime | None  # None: not shared yet


@dataclass
class Review:
    period: Period
    today: dt.date
    incidents: list[IncidentRow] = field(default_factory=list)
    spreads: dict[str, Spread] = field(default_factory=dict)
    detected_by: dict[str, int] = field(default_factory=dict)
    monitoring_gaps: list[int] = field(default_factory=list)  # SEV1/2 detected after more than 5 minutes
    slow_detection: list[int] = field(default_factory=list)  # any detected after more than 30 minutes
    items: ItemTally = field(default_factory=ItemTally)
    items_by_incident: dict[int, ItemTally] = field(default_factory=dict)
    items_by_owner: dict[str | None, ItemTally] = field(default_factory=dict)  # None: nobody
    dropped_reasons: list[tuple[int, int, str]] = field(default_factory=list)  # (item, incident, reason)
    themes: list[Theme] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    late_shares: list[LateShare] = field(default_factory=list)
    weeks: list[tuple[dt.date, int, int]] = field(default_factory=list)  # (week ending, open, done)


def minutes(delta: dt.timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds() / 60


def spread(values: Iterable[float]) -> Spread:
    ordered = sorted(values)
    if not ordered:
        return Spread(0)
    if len(ordered) == 1:
        only = ordered[0]
        return Spread(1, only, only, only, only, only)
    quartiles = statistics.quantiles(ordered, n=4, method="inclusive")
    return Spread(len(ordered), statistics.median(ordered), quartiles[0], quartiles[2], ordered[0], ordered[-1])


def _tally(
    item: history.ItemRecord, severity: str, today: dt.date, zone: ZoneInfo, due_days: Mapping[str, int]
) -> ItemTally:
    tally = ItemTally(created=1)
    closed_on = item.closed_at.astimezone(zone).date() if item.closed_at else None
    if item.status == "dropped":
        tally.dropped = 1
    elif item.status == "done":
        on_time = item.due_date is None or (closed_on is not None and closed_on <= item.due_date)
        tally.done_on_time, tally.done_late = (1, 0) if on_time else (0, 1)
        policy = due_days.get(severity)
        if policy is not None and closed_on is not None:
            tally.within_policy = int(closed_on <= item.created_at.astimezone(zone).date() + dt.timedelta(days=policy))
    else:
        overdue = item.due_date is not None and item.due_date < today
        tally.overdue, tally.open_not_due = (1, 0) if overdue else (0, 1)
        tally.unowned = int(item.owner_id is None)
    return tally


def compute(
    records: Iterable[history.IncidentRecord],
    period: Period,
    *,
    now: dt.datetime,
    zone: ZoneInfo,
    due_days: Mapping[str, int],
) -> Review:
    today = now.astimezone(zone).date()
    chosen = sorted((r for r in records if period.contains(r.created_at)), key=lambda r: (r.created_at, r.id))
    review = Review(period=period, today=today)
    detected: Counter[str] = Counter({MONITORING: 0, PEOPLE: 0, UNKNOWN: 0})
    values: dict[str, list[float]] = {m: [] for m in MEASURES}
    service_incidents: dict[str, list[int]] = defaultdict(list)
    cause_incidents: dict[str, list[int]] = defaultdict(list)
    cause_words: dict[str, str] = {}
    for record in chosen:
        times = record.key_times
        durations = {m: getattr(times, m) for m in MEASURES}
        for measure, delta in durations.items():
            if delta is not None and delta >= dt.timedelta(0):  # a negative one is a mistyped time
                values[measure].append(delta.total_seconds() / 60)
        how = how_detected(record)
        detected[how] += 1
        review.incidents.append(
            IncidentRow(
                record.id,
                record.title,
                record.channel_id,
                record.created_at.astimezone(zone).date(),
                record.severity,
                record.services,
                how,
                durations,
                record.is_private,
            )
        )
        detect = times.time_to_detect
        if detect is not None and detect > MONITORING_GAP and record.severity in MONITORING_GAP_SEVERITIES:
            review.monitoring_gaps.append(record.id)
        if detect is not None and detect > USERS_FIRST:
            review.slow_detection.append(record.id)
        per_incident = ItemTally()
        for item in record.items:
            tally = _tally(item, record.severity, today, zone, due_days)
            per_incident.add(tally)
            review.items_by_owner.setdefault(item.owner_id, ItemTally()).add(tally)
            if item.status == "dropped":
                review.dropped_reasons.append((item.id, record.id, item.drop_reason or "no reason given"))
        review.items_by_incident[record.id] = per_incident
        review.items.add(per_incident)
        for service in record.services:
            service_incidents[service].append(record.id)
        for word in {stem(w): w for cause in record.facts_in(FactSection.CAUSE) for w in words(cause)}.items():
            cause_incidents[word[0]].append(record.id)
            cause_words.setdefault(word[0], word[1])
        review.late_shares += late_shares(record, now)
        if record.status == "closed" and record.postmortem_status != "final" and record.closed_at is not None:
            closed_on = record.closed_at.astimezone(zone).date()
            review.waiting.append(
                Waiting(
                    record.id,
                    record.title,
                    record.channel_id,
                    closed_on,
                    (today - closed_on).days,
                    record.postmortem_status is not None,
                )
            )
    review.spreads = {m: spread(v) for m, v in values.items()}
    review.detected_by = dict(detected)
    review.themes = _themes(service_incidents, "service", {}) + _themes(cause_incidents, "cause", cause_words)
    review.waiting.sort(key=lambda w: (-w.days, w.incident_id))
    review.weeks = weekly_items(chosen, period, now=now, zone=zone)
    return review


def late_shares(record: history.IncidentRecord, now: dt.datetime) -> list[LateShare]:
    """The sharing deadlines this incident's postmortem missed (bot/postmortem/sharing.py sets them)."""
    if record.status != "closed" or record.postmortem_status is None:
        return []
    late = []
    for audience in sharing.AUDIENCES.values():
        deadline = sharing.deadline(record.resolved_at, audience)
        shared_at = record.shared_at.get(audience.name)
        if deadline is not None and (shared_at > deadline if shared_at else now > deadline):
            late.append(LateShare(record.id, record.title, audience.name, deadline, shared_at))
    return late


def _themes(found: dict[str, list[int]], kind: str, shown: dict[str, str]) -> list[Theme]:
    returning = [(name, ids) for name, ids in found.items() if len(ids) >= THEME_MIN_INCIDENTS]
    returning.sort(key=lambda pair: (-len(pair[1]), pair[0]))
    return [Theme(kind, shown.get(name, name), tuple(ids)) for name, ids in returning[:MAX_THEMES]]


def weekly_items(
    records: Iterable[history.IncidentRecord], period: Period, *, now: dt.datetime, zone: ZoneInfo
) -> list[tuple[dt.date, int, int]]:
    """At the end of each week of the period (up to now): how many of its items were open, and how
    many done. A dropped item counts as open until it was dropped, then as neither."""
    items = [item for record in records for item in record.items]
    end = min(period.end, now)
    weeks = []
    cursor = period.start + dt.timedelta(days=7)
    while True:
        at = min(cursor, end)
        opened = sum(1 for i in items if i.created_at < at and (i.closed_at is None or i.closed_at >= at))
        done = sum(1 for i in items if i.status == "done" and i.closed_at is not None and i.closed_at < at)
        weeks.append(((at - dt.timedelta(seconds=1)).astimezone(zone).date(), opened, done))
        if at >= end or len(weeks) >= 160:
            return weeks
        cursor += dt.timedelta(days=7)


def load(session: Session, period: Period, *, include_private: bool = True) -> list[history.IncidentRecord]:
    query = select(Incident.id).where(Incident.created_at >= period.start, Incident.created_at < period.end)
    if not include_private:
        query = query.where(Incident.is_private.is_(False))
    return list(history.load(session, session.scalars(query)).values())
