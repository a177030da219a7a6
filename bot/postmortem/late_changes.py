"""Changes that reach a closed incident after its postmortem draft was rendered.

A timeline entry, fact or action item added after close (a close racing a burst of commands,
a pin a minute later) is stored at once, but the draft in the channel was rendered without it.
Each such change is counted on the draft's row (`note_change`, called by the services that
add them); once no change has come for `QUIET`, or the first one has waited `MAX_WAIT`, the
background job makes the draft due again (`schedule_rerenders`) and it is re-rendered and
published. The render records how many changes it saw, read before its snapshot, so a change
that lands while a render runs is caught by the next one.

Why re-render rather than only tell each author to refresh: nobody's words are left out of
the draft, a burst of late changes costs one new draft rather than one per change, and no one
has to run a command. A *final* postmortem is not changed behind its reviewers' backs: its
authors are told how to re-render it instead (`author_note`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from bot.models import Incident, IncidentStatus, Postmortem
from bot.postmortem import drafts

QUIET = dt.timedelta(seconds=20)
MAX_WAIT = dt.timedelta(minutes=2)


def note_change(session: Session, incident: Incident, now: dt.datetime) -> None:
    """Count one change to a closed incident's record (a no-op while it is open)."""
    if incident.status != IncidentStatus.CLOSED:
        return
    session.execute(
        update(Postmortem)
        .where(Postmortem.incident_id == incident.id)
        .values(
            changes_seen=Postmortem.changes_seen + 1,
            last_change_at=now,
            stale_since=func.coalesce(Postmortem.stale_since, now),
        )
        .execution_options(synchronize_session=False)
    )


def seen(session: Session, postmortem_id: int) -> int:
    """How many changes a render starting now includes (read before the render's snapshot)."""
    return int(session.scalar(select(Postmortem.changes_seen).where(Postmortem.id == postmortem_id)) or 0)


def rendered(session: Session, postmortem_id: int, changes: int) -> None:
    """A render that included `changes` changes was saved."""
    session.execute(
        update(Postmortem)
        .where(Postmortem.id == postmortem_id, Postmortem.changes_rendered < changes)
        .values(changes_rendered=changes)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Postmortem)
        .where(Postmortem.id == postmortem_id, Postmortem.changes_seen <= changes)
        .values(stale_since=None)
        .execution_options(synchronize_session=False)
    )


def schedule_rerenders(session: Session, now: dt.datetime) -> list[int]:
    """Published drafts whose late changes have settled, made due for publication; their incident ids."""
    rows = session.scalars(
        select(Postmortem).where(
            Postmortem.changes_seen > Postmortem.changes_rendered,
            Postmortem.status != "final",  # a draft, or one in review: approval is not changed behind its back
            Postmortem.publish_state == drafts.PUBLISHED,
            or_(Postmortem.last_change_at <= now - QUIET, Postmortem.stale_since <= now - MAX_WAIT),
        )
    ).all()
    for row in rows:
        drafts.request_publication(session, row.incident_id, row.template, now)
    return [row.incident_id for row in rows]


def author_note(session: Session, incident: Incident) -> str | None:
    """What the author of a change to a closed incident should know about the draft."""
    if incident.status != IncidentStatus.CLOSED:
        return None
    row = drafts.get(session, incident.id)
    if row is None or row.publish_state == drafts.WITHDRAWN:
        return None
    if row.status == "final" or row.publish_state == drafts.FAILED:
        what = "final postmortem" if row.status == "final" else "postmortem draft"
        return (
            f":information_source: The {what} does not include this yet: run `/incident postmortem` "
            "to re-render it from what is stored now."
        )
    return (
        ":information_source: The incident is closed: the postmortem draft is re-rendered with this "
        f"about {int(QUIET.total_seconds())} seconds after the last change."
    )
