"""What the draft, its message and the App Home show of the follow-up, read in one go.

Owner, status and its history, reviewers, the meeting and its invitees, the share times against
their deadlines, and the communication checklist, as plain values (see `snapshot.py` for why).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.models import Incident, Postmortem
from bot.postmortem import checklist, meeting, sharing
from bot.postmortem import status as pm_status


@dataclass(frozen=True)
class ShareValue:
    audience: str
    deadline: dt.datetime | None
    shared_at: dt.datetime | None
    shared_by: str | None

    @property
    def late(self) -> bool:
        return bool(self.deadline and self.shared_at and self.shared_at > self.deadline)


@dataclass(frozen=True)
class FollowupValue:
    status: str
    owner: str
    history: list[pm_status.StatusChange]
    reviewers: list[str]
    observers: list[str]
    resolved_at: dt.datetime | None
    meeting_at: dt.datetime | None
    invitees: list[str]
    shares: list[ShareValue]
    checklist: list[checklist.Tick]

    @property
    def label(self) -> str:
        return pm_status.label(self.status)

    @property
    def people(self) -> list[str]:
        found = dict.fromkeys([self.owner, *self.reviewers, *self.observers, *(c.by for c in self.history)])
        found.update(dict.fromkeys(t.by for t in self.checklist if t.by))
        found.update(dict.fromkeys(s.shared_by for s in self.shares if s.shared_by))
        return [user for user in found if user]


def load(session: Session, incident: Incident, row: Postmortem | None) -> FollowupValue:
    resolved = meeting.resolved_at(session, incident)
    shares = []
    for audience in sharing.AUDIENCES.values():
        at, by = sharing.shared(row, audience) if row else (None, None)
        shares.append(ShareValue(audience.name, sharing.deadline(resolved, audience), at, by))
    return FollowupValue(
        status=row.status if row else pm_status.DRAFT,
        owner=pm_status.owner_of(incident),
        history=pm_status.history(session, incident.id),
        reviewers=pm_status.people(session, incident.id, pm_status.REVIEWER),
        observers=pm_status.people(session, incident.id, pm_status.OBSERVER),
        resolved_at=resolved,
        meeting_at=row.meeting_at if row else None,
        invitees=meeting.invitees(session, incident) if row and row.meeting_at else [],
        shares=shares,
        checklist=checklist.state(session, incident.id),
    )
