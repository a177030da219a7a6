"""Health and readiness, and the numbers the database gauges show.

`/healthz`: the process answers (a liveness probe must not fail because the database did).
`/readyz`: the database answers and its schema is at the head migration this code expects.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.clock import Clock
from bot.db import Database
from bot.models import ActionItem, ActionStatus, Incident, IncidentStatus


@dataclass(frozen=True)
class Readiness:
    ready: bool
    status: str  # "ok", "database unavailable", "schema at X, this code expects Y"


@functools.lru_cache(maxsize=1)
def _head() -> str:
    from bot.migrate import head_revision

    return head_revision()


def readiness(db: Database) -> Readiness:
    from bot.migrate import current_revision

    try:
        current = current_revision(db.engine)
    except Exception:
        return Readiness(False, "database unavailable")
    head = _head()
    if current != head:
        return Readiness(False, f"schema at {current or 'nothing'}, this code expects {head}: run incident-bot migrate")
    return Readiness(True, "ok")


def operational_counts(db: Database, clock: Clock, zone: ZoneInfo) -> dict[str, float]:
    """Open incidents, open action items, and open items past their due date (in the team's zone)."""
    today = clock.now().astimezone(zone).date()
    with db.unit_of_work() as session:
        incidents = (
            session.scalar(select(func.count()).select_from(Incident).where(Incident.status == IncidentStatus.OPEN))
            or 0
        )
        items = (
            session.scalar(select(func.count()).select_from(ActionItem).where(ActionItem.status == ActionStatus.OPEN))
            or 0
        )
        overdue = (
            session.scalar(
                select(func.count())
                .select_from(ActionItem)
                .where(
                    ActionItem.status == ActionStatus.OPEN,
                    ActionItem.due_date.is_not(None),
                    ActionItem.due_date < today,
                )
            )
            or 0
        )
    return {
        "open_incidents": float(incidents),
        "open_action_items": float(items),
        "overdue_action_items": float(overdue),
    }
