"""The postmortem's owner and status: Draft → In review → Approved, every change kept.

The status is stored on the postmortem row (`draft`, `review`, `final` — "final" is the stored
name of *Approved*, which `postmortem final` has always set) and each change is a row of
`postmortem_status_changes` with who, when and, when the bot moved it, why. The owner is the
`postmortem` role (default: the commander, then whoever declared the incident); the owner gets the
postmortem's reminders. Reviewers are asked with `postmortem review @a @b`; a reviewer or the
commander approves. Editing the facts or the timeline of an approved postmortem puts it back in
review (`after_edit`), so what was approved is what is published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import timeline
from bot.db import rows_changed
from bot.errors import PermissionDenied, UserError
from bot.models import (
    Incident,
    IncidentStatus,
    Postmortem,
    PostmortemPerson,
    PostmortemStatusChange,
)
from bot.postmortem import drafts
from bot.slack.text import mention

DRAFT, REVIEW, APPROVED = "draft", "review", "final"
LABELS = {DRAFT: "Draft", REVIEW: "In review", APPROVED: "Approved"}
REVIEWER, OBSERVER = "reviewer", "observer"
PINNER = "pinner"  # put a message on the timeline (pin or shortcut): took part, though not its author


def label(status: str) -> str:
    return LABELS.get(status, status.capitalize())


def owner_of(incident: Incident) -> str:
    """Who owns the write-up: the `postmortem` role, else the commander, else the declarer."""
    return incident.postmortem_owner_id or incident.commander_id or incident.declared_by


@dataclass(frozen=True)
class StatusChange:
    status: str
    by: str
    at: dt.datetime
    reason: str | None = None

    @property
    def label(self) -> str:
        return label(self.status)


def history(session: Session, incident_id: int) -> list[StatusChange]:
    rows = session.scalars(
        select(PostmortemStatusChange)
        .where(PostmortemStatusChange.incident_id == incident_id)
        .order_by(PostmortemStatusChange.changed_at, PostmortemStatusChange.id)
    )
    return [StatusChange(r.status, r.changed_by, r.changed_at, r.reason) for r in rows]


def record(
    session: Session, row: Postmortem, status: str, *, by: str, now: dt.datetime, reason: str | None = None
) -> None:
    """Set the status and keep the change (who, when, why).

    A compare-and-set on the status the caller saw: of two people approving at the same moment
    one wins, and the other is told, so the history never shows the same change twice.
    """
    session.flush()
    approved = status == APPROVED
    changed = rows_changed(
        session.execute(
            update(Postmortem)
            .where(Postmortem.id == row.id, Postmortem.status == row.status)
            .values(
                status=status,
                status_changed_at=now,
                finalized_at=now if approved else None,
                finalized_by=by if approved else None,
            )
            .execution_options(synchronize_session=False)
        )
    )
    session.refresh(row)
    if changed != 1:
        raise UserError(
            f"Someone changed the postmortem's status at the same moment (it is {label(row.status)} now); "
            "look at it again before you try once more."
        )
    session.add(
        PostmortemStatusChange(incident_id=row.incident_id, status=status, changed_by=by, changed_at=now, reason=reason)
    )


def people(session: Session, incident_id: int, role: str) -> list[str]:
    rows = session.scalars(
        select(PostmortemPerson.user_id)
        .where(PostmortemPerson.incident_id == incident_id, PostmortemPerson.role == role)
        .order_by(PostmortemPerson.id)
    )
    return list(rows)


def add_people(
    session: Session, incident_id: int, user_ids: list[str], role: str, *, by: str, now: dt.datetime
) -> list[str]:
    """Add people under a role; returns those who were not there yet (the others are kept once)."""
    present = set(people(session, incident_id, role))
    added = []
    for user_id in dict.fromkeys(user_ids):
        if user_id in present:
            continue
        try:
            with session.begin_nested():
                session.add(
                    PostmortemPerson(incident_id=incident_id, user_id=user_id, role=role, added_by=by, added_at=now)
                )
        except IntegrityError:  # added at the same moment by someone else
            continue
        added.append(user_id)
    return added


def _closed_postmortem(session: Session, incident_id: int) -> tuple[Incident, Postmortem]:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise UserError(f"There is no incident #{incident_id}.")
    if incident.status != IncidentStatus.CLOSED:
        raise UserError("Close the incident first (`/incident close`); the postmortem's review starts after that.")
    return incident, drafts.require(session, incident_id)


def set_owner(session: Session, incident: Incident, user_id: str, *, by: str, now: dt.datetime) -> None:
    incident.postmortem_owner_id = user_id
    timeline.add_system_entry(
        session, incident, f"{mention(user_id)} now owns the postmortem (set by {mention(by)})", author=by, now=now
    )


def start_draft(session: Session, incident_id: int, *, by: str, now: dt.datetime) -> None:
    """A close made a fresh draft: its history starts (again) with Draft."""
    row = drafts.require(session, incident_id)
    record(session, row, DRAFT, by=by, now=now, reason="incident closed")


@dataclass(frozen=True)
class ReviewRequest:
    added: list[str]  # reviewers asked now (to be told)
    reviewers: list[str]  # everyone asked so far
    moved: bool  # the status changed to In review now
    file_url: str | None
    channel_id: str
    title: str


def request_review(
    session: Session, incident_id: int, reviewer_ids: list[str], *, by: str, now: dt.datetime
) -> ReviewRequest:
    incident, row = _closed_postmortem(session, incident_id)
    if row.status == APPROVED:
        raise UserError(
            f"The postmortem is approved already (by {mention(row.finalized_by or '')}). Editing a fact "
            "or the timeline puts it back in review; `/incident postmortem review @name` then asks more people."
        )
    if not reviewer_ids and not people(session, incident_id, REVIEWER):
        raise UserError(
            "Name who should review it: `/incident postmortem review @ann @bob` (each gets a message with the link)."
        )
    added = add_people(session, incident_id, reviewer_ids, REVIEWER, by=by, now=now)
    moved = row.status != REVIEW
    if moved:
        record(session, row, REVIEW, by=by, now=now)
    return ReviewRequest(
        added, people(session, incident_id, REVIEWER), moved, row.file_url, incident.channel_id, incident.title
    )


def may_approve(session: Session, incident: Incident, user_id: str) -> bool:
    return user_id == incident.commander_id or user_id in people(session, incident.id, REVIEWER)


def approve(session: Session, incident_id: int, *, by: str, now: dt.datetime) -> Postmortem:
    """A reviewer or the commander approves (from Draft or In review)."""
    incident, row = _closed_postmortem(session, incident_id)
    if row.status == APPROVED:
        raise UserError(f"The postmortem is already approved (by {mention(row.finalized_by or '')}).")
    if not may_approve(session, incident, by):
        reviewers = people(session, incident_id, REVIEWER)
        asked = f"its reviewers ({', '.join(mention(r) for r in reviewers)})" if reviewers else "a reviewer"
        commander = mention(incident.commander_id) if incident.commander_id else "the commander"
        raise PermissionDenied(
            f"Only {asked} or the commander ({commander}) can approve this postmortem. To be asked, "
            "someone runs `/incident postmortem review @you`."
        )
    record(session, row, APPROVED, by=by, now=now)
    return row


def after_edit(session: Session, incident_id: int, *, by: str, now: dt.datetime, what: str) -> str | None:
    """A fact or the timeline changed: an approved postmortem goes back to review. Returns what to tell."""
    # The status alone first: this runs for every timeline entry, and only an approved draft needs its row.
    if session.scalar(select(Postmortem.status).where(Postmortem.incident_id == incident_id)) != APPROVED:
        return None
    row = drafts.get(session, incident_id)
    assert row is not None
    record(session, row, REVIEW, by=by, now=now, reason=f"{what} changed after approval")
    return (
        ":leftwards_arrow_with_hook: The postmortem was approved; this change puts it back *in review*. "
        "A reviewer or the commander approves it again with `/incident postmortem approve` "
        "(after `/incident postmortem` re-renders it)."
    )


def history_line(
    changes: list[StatusChange],
    names: Mapping[str, str] | None = None,
    *,
    when: Callable[[dt.datetime], str] | None = None,
) -> str:
    """`Draft (@ann, 22 Jun 14:48) → In review (@bob, …)`: the last few changes, oldest first."""

    def who(user: str) -> str:
        return f"@{names[user]}" if names and user in names else mention(user)

    shown = changes[-6:]
    parts = []
    for change in shown:
        stamp = when(change.at) if when else change.at.strftime("%Y-%m-%d %H:%M UTC")
        reason = f", {change.reason}" if change.reason and change.reason != "incident closed" else ""
        parts.append(f"{change.label} ({who(change.by)}, {stamp}{reason})")
    more = f"{len(changes) - len(shown)} earlier · " if len(changes) > len(shown) else ""
    return more + " → ".join(parts)
