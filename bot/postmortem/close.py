"""Closing and reopening an incident.

Closing is one conditional UPDATE (`… WHERE status = 'open'`): whoever's UPDATE changes the row
closes the incident, records the `resolved` milestone and creates the draft's row — all in one
transaction, before any Slack call. A second close, simultaneous or later, changes no row and is
told who closed it. This holds on SQLite (one writer at a time) and PostgreSQL (the second UPDATE
waits for the first and then sees the row closed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot import timeline
from bot.db import rows_changed
from bot.errors import UserError
from bot.models import Incident, IncidentStatus, Milestone
from bot.postmortem import drafts
from bot.postmortem import status as pm_status
from bot.slack.text import mention

DEFAULT_CLOSE_TEXT = "Incident closed"


@dataclass(frozen=True)
class CloseResult:
    closed: bool  # False: it was already closed (by closed_by, at closed_at)
    closed_by: str | None
    closed_at: dt.datetime | None
    resolved_at: dt.datetime | None = None
    entry_id: int | None = None
    milestone_added: bool = False
    title: str = ""
    severity: str = ""


def close(
    session: Session,
    incident_id: int,
    *,
    by: str,
    now: dt.datetime,
    resolved_at: dt.datetime,
    text: str,
    time_given: bool,
    variant: str | None = None,
) -> CloseResult:
    """Close once. With no time given and a `resolved` milestone already on the timeline, that
    milestone stands; otherwise the close records one at `resolved_at` with `text`."""
    result = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.status == IncidentStatus.OPEN)
        .values(status=IncidentStatus.CLOSED, closed_at=now, closed_by=by, close_count=Incident.close_count + 1)
        .execution_options(synchronize_session=False)
    )
    incident = session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        raise UserError(f"There is no incident #{incident_id}.")
    if rows_changed(result) != 1:
        return CloseResult(
            False, incident.closed_by, incident.closed_at, title=incident.title, severity=incident.severity
        )
    existing = timeline.milestones(session, incident_id).get(Milestone.RESOLVED)
    if existing is not None and not time_given:
        entry = timeline.add_system_entry(
            session, incident, f"Incident closed by {mention(by)}" + (f": {text}" if text else ""), author=by, now=now
        )
        resolved, added = existing.occurred_at, False
    else:
        entry = timeline.add_entry(
            session,
            incident,
            text=text or DEFAULT_CLOSE_TEXT,
            author=by,
            occurred_at=resolved_at,
            recorded_at=now,
            milestone=Milestone.RESOLVED,
        )
        resolved, added = resolved_at, True
    drafts.prepare_for_close(session, incident_id, variant or incident.incident_type, now)
    pm_status.start_draft(session, incident_id, by=by, now=now)
    return CloseResult(True, by, now, resolved, entry.id, added, incident.title, incident.severity)


@dataclass(frozen=True)
class ReopenResult:
    reopened: bool
    headline: tuple[str, str] | None = None  # (channel, ts) of the draft's headline message, if any
    removed_entries: tuple[int, ...] = ()


def reopen(session: Session, incident_id: int, *, by: str, now: dt.datetime) -> ReopenResult:
    """Undo a close: the incident is open again, its `resolved` milestones are taken out (kept
    in their history) and the draft stops being published."""
    result = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.status == IncidentStatus.CLOSED)
        .values(status=IncidentStatus.OPEN, closed_at=None, closed_by=None, close_count=Incident.close_count + 1)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(result) != 1:
        return ReopenResult(False)
    incident = session.get(Incident, incident_id, populate_existing=True)
    assert incident is not None
    removed = []
    for entry in timeline.entries(session, incident_id):
        if entry.milestone == Milestone.RESOLVED:
            timeline.remove_entry(session, incident, entry.id, by=by, now=now, check_permission=False, reason="reopen")
            removed.append(entry.id)
    timeline.add_system_entry(session, incident, f"Incident reopened by {mention(by)}", author=by, now=now)
    row = drafts.withdraw(session, incident_id)
    headline = (incident.channel_id, row.message_ts) if row is not None and row.message_ts else None
    return ReopenResult(True, headline, tuple(removed))


def set_type(session: Session, incident_id: int, incident_type: str, *, by: str, now: dt.datetime) -> str | None:
    """Returns the previous type, or None when nothing changed."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise UserError(f"There is no incident #{incident_id}.")
    previous = incident.incident_type
    if previous == incident_type:
        return None
    incident.incident_type = incident_type
    timeline.add_system_entry(
        session, incident, f"Type changed from {previous} to {incident_type} by {mention(by)}", author=by, now=now
    )
    return previous
