"""What a draft is made from, read from the database in one go as plain values.

Reading happens inside a unit of work; everything after (looking up names in Slack,
rendering) works on this snapshot, so no transaction is held open across network calls.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import timeline
from bot.actions import items as action_items
from bot.models import EntryKind, EntrySource, FactSection, Incident, IncidentWatch, Milestone, Postmortem
from bot.postmortem import facts as fact_store
from bot.postmortem import followup
from bot.postmortem.metrics import KeyTimes, key_times


@dataclass(frozen=True)
class EntryValue:
    id: int
    occurred_at: dt.datetime
    text: str
    author_id: str
    kind: EntryKind
    milestone: Milestone | None
    source: EntrySource | None = None
    origin: str | None = None  # the tool a monitoring entry came from
    permalink: str | None = None

    @property
    def from_monitoring(self) -> bool:
        return self.source == EntrySource.MONITORING


@dataclass(frozen=True)
class FactValue:
    id: int
    section: FactSection
    text: str
    author_id: str


@dataclass(frozen=True)
class ActionValue:
    id: int
    text: str
    owner_id: str | None
    due_date: dt.date | None
    priority: str
    action_type: str | None
    status: str
    link_url: str | None
    ticket_key: str | None = None  # the tracker's key (`12` on GitHub, `OPS-7` on Jira) and its state
    ticket_state: str | None = None


@dataclass(frozen=True)
class IncidentValue:
    id: int
    title: str
    severity: str
    status: str
    incident_type: str
    channel_id: str
    channel_name: str | None
    declared_by: str
    commander_id: str | None
    comms_id: str | None
    scribe_id: str | None
    created_at: dt.datetime
    closed_at: dt.datetime | None
    closed_by: str | None
    is_private: bool = False  # the incident channel's visibility (a restricted draft warns when public)


@dataclass(frozen=True)
class PostmortemValue:
    status: str  # draft | final
    finalized_at: dt.datetime | None
    finalized_by: str | None


@dataclass(frozen=True)
class DraftSource:
    incident: IncidentValue
    postmortem: PostmortemValue
    entries: list[EntryValue]
    facts: list[FactValue]
    action_items: list[ActionValue]
    key_times: KeyTimes
    followup: followup.FollowupValue | None = None  # owner, status history, meeting, sharing, checklist
    # The entry each key time was taken from (a person's, or monitoring's).
    milestone_entries: dict[Milestone, EntryValue] = field(default_factory=dict)
    watched: bool = False  # the incident watches labels from monitoring (bot/sources)

    def facts_in(self, section: FactSection) -> list[FactValue]:
        return [fact for fact in self.facts if fact.section == section]

    @property
    def authors(self) -> list[str]:
        """Who wrote the timeline entries and facts (the bot's own entries aside)."""
        found = {fact.author_id: None for fact in self.facts}
        found.update(
            {
                entry.author_id: None
                for entry in self.entries
                if entry.kind != EntryKind.SYSTEM and not entry.from_monitoring
            }
        )
        return list(found)

    @property
    def people(self) -> list[str]:
        """Everyone whose name the draft may show: roles, authors, owners (in a stable order)."""
        found: dict[str, None] = {}
        i = self.incident
        for user in (i.commander_id, i.comms_id, i.scribe_id, i.declared_by, i.closed_by, self.postmortem.finalized_by):
            if user:
                found[user] = None
        for item in self.action_items:
            if item.owner_id:
                found[item.owner_id] = None
        for fact in self.facts:
            found[fact.author_id] = None
        for entry in self.entries:
            if entry.kind != EntryKind.SYSTEM and not entry.from_monitoring:
                found[entry.author_id] = None
        if self.followup is not None:
            found.update(dict.fromkeys(self.followup.people))
        return list(found)


def load(session: Session, incident_id: int) -> DraftSource:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise LookupError(f"no incident {incident_id}")
    entries = [
        EntryValue(e.id, e.occurred_at, e.text, e.author_id, e.kind, e.milestone, e.source, e.origin, e.permalink)
        for e in timeline.entries(session, incident_id)
        if e.source != EntrySource.ACTION_ITEM  # item bookkeeping has its own section
    ]
    by_id = {entry.id: entry for entry in entries}
    milestone_rows = timeline.milestones(session, incident_id)
    milestone_times = {m: e.occurred_at for m, e in milestone_rows.items()}
    earliest = min((e.occurred_at for e in entries), default=None)
    row = session.query(Postmortem).filter_by(incident_id=incident_id).one_or_none()
    return DraftSource(
        incident=IncidentValue(
            id=incident.id,
            title=incident.title,
            severity=incident.severity,
            status=incident.status.value,
            incident_type=incident.incident_type,
            channel_id=incident.channel_id,
            channel_name=incident.channel_name,
            declared_by=incident.declared_by,
            commander_id=incident.commander_id,
            comms_id=incident.comms_id,
            scribe_id=incident.scribe_id,
            created_at=incident.created_at,
            closed_at=incident.closed_at,
            closed_by=incident.closed_by,
            is_private=incident.is_private,
        ),
        postmortem=PostmortemValue(
            status=row.status if row else "draft",
            finalized_at=row.finalized_at if row else None,
            finalized_by=row.finalized_by if row else None,
        ),
        entries=entries,
        facts=[FactValue(f.id, f.section, f.text, f.author_id) for f in fact_store.facts(session, incident_id)],
        action_items=[
            ActionValue(
                a.id,
                a.text,
                a.owner_id,
                a.due_date,
                a.priority,
                a.action_type,
                a.status.value if hasattr(a.status, "value") else str(a.status),
                a.link_url,
                a.ticket_key,
                a.ticket_state,
            )
            for a in action_items.for_incident(session, incident_id)
        ],
        key_times=key_times(milestone_times, earliest, incident.severity),
        followup=followup.load(session, incident, row),
        milestone_entries={m: by_id[e.id] for m, e in milestone_rows.items() if e.id in by_id},
        watched=bool(
            session.scalar(
                select(func.count()).select_from(IncidentWatch).where(IncidentWatch.incident_id == incident_id)
            )
        ),
    )
