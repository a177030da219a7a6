"""Action items: what the team will change so this does not happen again."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import ActionItem


def for_incident(session: Session, incident_id: int) -> list[ActionItem]:
    query = select(ActionItem).where(ActionItem.incident_id == incident_id).order_by(ActionItem.id)
    return list(session.scalars(query))
