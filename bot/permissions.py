"""Who may change what someone recorded during an incident: its author, the incident's
commander, and whoever declared the incident. One rule for timeline entries and facts."""

from __future__ import annotations

from bot.errors import PermissionDenied
from bot.models import Incident


def may_change(incident: Incident, author_id: str, user_id: str) -> bool:
    return user_id in (author_id, incident.commander_id, incident.declared_by)


def require_may_change(incident: Incident, author_id: str, user_id: str, *, what: str, ref: str) -> None:
    if not may_change(incident, author_id, user_id):
        raise PermissionDenied(
            f"Only the {what}'s author, the incident commander or whoever declared the incident can change {ref}."
        )
