"""Many incidents read at once as plain values: what related incidents and the review look at.

A few queries for any number of incidents (ids in chunks SQLite accepts), never one per incident,
so the review of a thousand incidents stays quick. Key times come from the same rules as a single
draft (bot/postmortem/metrics.py): the last `started`/`detected`/… milestone recorded counts, and
impact starts at the earliest timeline entry when no `started` milestone was given.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.insights import labels as label_store
from bot.models import (
    ActionItem,
    EntrySource,
    Fact,
    FactSection,
    Incident,
    Milestone,
    Postmortem,
    TimelineEntry,
)
from bot.postmortem.metrics import KeyTimes, key_times

CHUNK = 900  # SQLite allows about a thousand bound values in one statement


@dataclass(frozen=True)
class ItemRecord:
    id: int
    text: str
    owner_id: str | None
    due_date: dt.date | None
    status: str  # open | done | dropped
    created_at: dt.datetime
    closed_at: dt.datetime | None
    drop_reason: str | None


@dataclass(frozen=True)
class MilestoneRecord:
    text: str
    author_id: str
    source: str


@dataclass
class IncidentRecord:
    id: int
    title: str
    severity: str
    status: str
    incident_type: str
    channel_id: str
    channel_name: str | None
    is_private: bool
    created_at: dt.datetime
    closed_at: dt.datetime | None
    key_times: KeyTimes
    services: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    facts: dict[FactSection, list[str]] = field(default_factory=dict)
    milestones: dict[Milestone, MilestoneRecord] = field(default_factory=dict)
    items: list[ItemRecord] = field(default_factory=list)
    postmortem_status: str | None = None  # draft | review | final | None (no draft yet)
    resolved_at: dt.datetime | None = None  # the resolved milestone, else the close: sharing's clock
    shared_at: dict[str, dt.datetime | None] = field(default_factory=dict)  # audience -> first share

    def facts_in(self, section: FactSection) -> list[str]:
        return self.facts.get(section, [])

    @property
    def open_items(self) -> list[ItemRecord]:
        return [i for i in self.items if i.status == "open"]


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def load(session: Session, incident_ids: Iterable[int], *, with_items: bool = True) -> dict[int, IncidentRecord]:
    """Records for these incidents (unknown ids are left out)."""
    ids = sorted(set(incident_ids))
    incidents: list[Incident] = []
    milestone_times: dict[int, dict[Milestone, dt.datetime]] = defaultdict(dict)
    milestones: dict[int, dict[Milestone, MilestoneRecord]] = defaultdict(dict)
    earliest: dict[int, dt.datetime] = {}
    facts: dict[int, dict[FactSection, list[str]]] = defaultdict(lambda: defaultdict(list))
    items: dict[int, list[ItemRecord]] = defaultdict(list)
    drafts: dict[int, str] = {}
    shares: dict[int, dict[str, dt.datetime | None]] = {}
    for chunk in _chunks(ids):
        incidents += session.scalars(select(Incident).where(Incident.id.in_(chunk)))
        marked = session.execute(
            select(
                TimelineEntry.incident_id,
                TimelineEntry.milestone,
                TimelineEntry.occurred_at,
                TimelineEntry.text,
                TimelineEntry.author_id,
                TimelineEntry.source,
            )
            .where(
                TimelineEntry.incident_id.in_(chunk),
                TimelineEntry.milestone.is_not(None),
                TimelineEntry.removed_at.is_(None),
            )
            .order_by(TimelineEntry.recorded_at, TimelineEntry.id)
        )
        for incident_id, milestone, occurred_at, text, author, source in marked:
            assert milestone is not None  # the query asks for milestones only
            milestone_times[incident_id][milestone] = occurred_at  # the last one recorded wins
            milestones[incident_id][milestone] = MilestoneRecord(text, author, source.value)
        first = session.execute(
            select(TimelineEntry.incident_id, func.min(TimelineEntry.occurred_at))
            .where(
                TimelineEntry.incident_id.in_(chunk),
                TimelineEntry.removed_at.is_(None),
                TimelineEntry.source != EntrySource.ACTION_ITEM,
            )
            .group_by(TimelineEntry.incident_id)
        )
        for incident_id, at in first:
            # min() over a column loses the type's result processing on SQLite: put the zone back.
            earliest[incident_id] = _aware(at)
        for incident_id, section, text in session.execute(
            select(Fact.incident_id, Fact.section, Fact.text)
            .where(Fact.incident_id.in_(chunk), Fact.removed_at.is_(None))
            .order_by(Fact.recorded_at, Fact.id)
        ):
            facts[incident_id][section].append(text)
        if with_items:
            # Columns, not ORM objects: the review reads tens of thousands of items.
            for row in session.execute(
                select(
                    ActionItem.incident_id,
                    ActionItem.id,
                    ActionItem.text,
                    ActionItem.owner_id,
                    ActionItem.due_date,
                    ActionItem.status,
                    ActionItem.created_at,
                    ActionItem.closed_at,
                    ActionItem.drop_reason,
                )
                .where(ActionItem.incident_id.in_(chunk))
                .order_by(ActionItem.id)
            ):
                items[row[0]].append(ItemRecord(row[1], row[2], row[3], row[4], row[5].value, row[6], row[7], row[8]))
        for incident_id, status, engineering, stakeholders in session.execute(
            select(
                Postmortem.incident_id,
                Postmortem.status,
                Postmortem.shared_engineering_at,
                Postmortem.shared_stakeholders_at,
            ).where(Postmortem.incident_id.in_(chunk))
        ):
            drafts[incident_id] = status
            shares[incident_id] = {"engineering": engineering, "stakeholders": stakeholders}
    labels = label_store.of_many(session, ids)
    records = {}
    for incident in incidents:
        found = labels.get(incident.id, label_store.Labels())
        records[incident.id] = IncidentRecord(
            id=incident.id,
            title=incident.title,
            severity=incident.severity,
            status=incident.status.value,
            incident_type=incident.incident_type,
            channel_id=incident.channel_id,
            channel_name=incident.channel_name,
            is_private=incident.is_private,
            created_at=incident.created_at,
            closed_at=incident.closed_at,
            key_times=key_times(milestone_times[incident.id], earliest.get(incident.id), incident.severity),
            services=found.services,
            tags=found.tags,
            facts={section: list(texts) for section, texts in facts[incident.id].items()},
            milestones=dict(milestones[incident.id]),
            items=items[incident.id],
            postmortem_status=drafts.get(incident.id),
            resolved_at=milestone_times[incident.id].get(Milestone.RESOLVED) or incident.closed_at,
            shared_at=shares.get(incident.id, {}),
        )
    return records


def _aware(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
