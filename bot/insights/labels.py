"""Services and tags on an incident: checking names, setting and reading them.

A service is what was affected (`checkout`); a tag is any word the team finds by (`db`, `pool`).
Both are lower-case words of letters, digits, `.`, `_` and `-`, up to 40 characters.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot import timeline
from bot.errors import UserError
from bot.models import Incident, IncidentLabel
from bot.slack.text import mention

SERVICE, TAG = "service", "tag"
MAX_LABELS = 10
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
SERVICE_USAGE = "`/incident service checkout` or several: `/incident service checkout, payments`"
TAG_USAGE = "`/incident tag db pool` (remove one with `/incident tag -pool`)"


@dataclass(frozen=True)
class Labels:
    services: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass
class _Collected:
    services: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def check_name(name: str, kind: str) -> str:
    value = name.strip().lower()
    if not _NAME.match(value):
        usage = SERVICE_USAGE if kind == SERVICE else TAG_USAGE
        raise UserError(
            f"`{name}` is not a {kind} name: use letters, digits, `.`, `_` or `-` (up to 40, no spaces), e.g. {usage}."
        )
    return value


def parse_services(text: str) -> list[str]:
    """`checkout, payments` or `checkout payments` -> [checkout, payments]."""
    names = [part for part in re.split(r"[,\s]+", text.strip()) if part]
    if not names:
        raise UserError(f"Name the service, e.g. {SERVICE_USAGE}.")
    return _unique(check_name(name, SERVICE) for name in names)


def parse_tags(text: str) -> tuple[list[str], list[str]]:
    """`db pool -cache` -> (add [db, pool], remove [cache])."""
    words = text.split()
    if not words:
        raise UserError(f"Give one or more tags, e.g. {TAG_USAGE}.")
    add = _unique(check_name(w, TAG) for w in words if not w.startswith("-"))
    remove = _unique(check_name(w[1:], TAG) for w in words if w.startswith("-"))
    return add, remove


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def of(session: Session, incident_id: int) -> Labels:
    return of_many(session, [incident_id]).get(incident_id, Labels())


def of_many(session: Session, incident_ids: Iterable[int]) -> dict[int, Labels]:
    ids = list(set(incident_ids))
    found: dict[int, _Collected] = defaultdict(_Collected)
    for start in range(0, len(ids), 900):  # SQLite allows about a thousand bound values
        query = (
            select(IncidentLabel.incident_id, IncidentLabel.kind, IncidentLabel.name)
            .where(IncidentLabel.incident_id.in_(ids[start : start + 900]))
            .order_by(IncidentLabel.id)
        )
        for incident_id, kind, name in session.execute(query):
            (found[incident_id].services if kind == SERVICE else found[incident_id].tags).append(name)
    return {i: Labels(tuple(c.services), tuple(c.tags)) for i, c in found.items()}


def add_watched_services(
    session: Session, incident: Incident, matchers: Iterable[Sequence[str]], *, by: str, now: dt.datetime
) -> list[str]:
    """A watch on `service=<name>` names that service on the incident too (one it does not have yet);
    returns the names added. Patterns (`service=~…`) name nothing."""
    current = list(of(session, incident.id).services)
    wanted = [
        name.lower() for key, op, name in matchers if key == "service" and op == "=" and _NAME.match(name.lower())
    ]
    added = [name for name in dict.fromkeys(wanted) if name not in current]
    if added and len(current) + len(added) <= MAX_LABELS:
        set_services(session, incident, current + added, by=by, now=now)
        return added
    return []


def set_services(
    session: Session, incident: Incident, services: list[str], *, by: str, now: dt.datetime, record: bool = True
) -> Labels:
    """Replace the incident's services with these (what `service a, b` means: the whole list)."""
    if len(services) > MAX_LABELS:
        raise UserError(f"That is {len(services)} services; an incident can name up to {MAX_LABELS}.")
    session.execute(
        delete(IncidentLabel).where(IncidentLabel.incident_id == incident.id, IncidentLabel.kind == SERVICE)
    )
    for name in services:
        session.add(IncidentLabel(incident_id=incident.id, kind=SERVICE, name=name))
    session.flush()
    session.expire(incident, ["labels"])  # the topic reads them next
    if record:
        shown = ", ".join(services)
        timeline.add_system_entry(session, incident, f"Services set to {shown} by {mention(by)}", author=by, now=now)
    return of(session, incident.id)


def change_tags(
    session: Session, incident: Incident, add: list[str], remove: list[str], *, by: str, now: dt.datetime
) -> Labels:
    current = of(session, incident.id).tags
    wanted = [t for t in current if t not in remove] + [t for t in add if t not in current and t not in remove]
    if len(wanted) > MAX_LABELS:
        raise UserError(f"An incident can have up to {MAX_LABELS} tags; remove one first with `/incident tag -<tag>`.")
    session.execute(
        delete(IncidentLabel).where(
            IncidentLabel.incident_id == incident.id, IncidentLabel.kind == TAG, IncidentLabel.name.in_(remove)
        )
    )
    for name in wanted:
        if name not in current:
            session.add(IncidentLabel(incident_id=incident.id, kind=TAG, name=name))
    session.flush()
    session.expire(incident, ["labels"])
    parts = ([f"added {', '.join(a for a in add if a not in current)}"] if set(add) - set(current) else []) + (
        [f"removed {', '.join(r for r in remove if r in current)}"] if set(remove) & set(current) else []
    )
    if parts:
        timeline.add_system_entry(session, incident, f"Tags {' and '.join(parts)} by {mention(by)}", author=by, now=now)
    return of(session, incident.id)
