"""Incidents: declaring, finding by channel, severity, roles and the channel topic."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from bot import timeline
from bot.db import Database
from bot.errors import UserError
from bot.insights import search_index
from bot.models import EntryKind, EntrySource, Incident, IncidentStatus
from bot.settings import SEVERITIES
from bot.slack.gateway import channel_slug
from bot.slack.text import mention, safe_mrkdwn

ROLES = ("commander", "comms", "scribe", "postmortem")
# The postmortem role owns the write-up (issue 12); the others are columns named after the role.
_ROLE_COLUMNS = {"postmortem": "postmortem_owner_id"}
INCIDENT_TYPES = ("default", "security", "data-loss", "degradation", "third-party")
DEFAULT_SEVERITY = "sev3"


class NotAnIncidentChannel(UserError):
    def __init__(self) -> None:
        super().__init__(
            "This channel is not an incident's channel. Run this in the incident's own channel "
            "(`/incident list` shows the open ones), or open one with `/incident declare <title> [sev1-4]`."
        )


@dataclass(frozen=True)
class DeclareRequest:
    title: str
    severity: str
    incident_type: str


# `sev1`, `SEV-1`, `sev_1`; `sev0`/`sev5` are caught as mistakes rather than kept in the title.
_SEVERITY_WORD = re.compile(r"^sev[-_]?(\d)$", re.IGNORECASE)


def _severity_word(word: str) -> str | None:
    match = _SEVERITY_WORD.match(word)
    if not match:
        return None
    value = f"sev{match.group(1)}"
    if value not in SEVERITIES:
        raise UserError(f"`{word}` is not a severity. Use one of {', '.join(SEVERITIES)} (sev1 is the worst).")
    return value


def parse_declare(text: str) -> DeclareRequest:
    """`<title> [sev1|sev2|sev3|sev4] [type:<name>]` — severity and type may stand anywhere."""
    severity = None
    incident_type = "default"
    words = []
    for word in text.split():
        lowered = _severity_word(word) or word.lower()
        if lowered in SEVERITIES:
            if severity and severity != lowered:
                raise UserError(f"Two severities given ({severity} and {lowered}); give one.")
            severity = lowered
        elif lowered.startswith("type:"):
            incident_type = parse_type(lowered[5:])
        else:
            words.append(word)
    title = " ".join(words).strip()
    if not title:
        raise UserError(
            "An incident needs a title. Try `/incident declare Checkout returns 503 sev2` "
            "(severity sev1–sev4, default sev3; optional `type:security`)."
        )
    if len(title) > 300:
        raise UserError("That title is over 300 characters; keep it short and put the detail in the timeline.")
    return DeclareRequest(title=title, severity=severity or DEFAULT_SEVERITY, incident_type=incident_type)


def parse_severity(text: str) -> str:
    value = text.strip().lower()
    if " " not in value and _SEVERITY_WORD.match(value):
        value = _severity_word(value) or value
    if not value:
        raise UserError(f"Give a severity, one of {', '.join(SEVERITIES)}: e.g. `/incident severity sev1`.")
    if value not in SEVERITIES:
        raise UserError(
            f"`{text.strip()}` is not a severity. Use one of {', '.join(SEVERITIES)}, e.g. `/incident severity sev1`."
        )
    return value


def parse_type(text: str) -> str:
    value = text.strip().lower()
    if value not in INCIDENT_TYPES:
        raise UserError(f"`{value}` is not an incident type. Use one of {', '.join(INCIDENT_TYPES)}.")
    return value


def channel_stem(title: str, declared_at: dt.datetime, zone: dt.tzinfo) -> str:
    date = declared_at.astimezone(zone).strftime("%Y-%m-%d")
    return f"{date}-{channel_slug(title, 60) or 'incident'}"


def declare(
    session: Session,
    request: DeclareRequest,
    *,
    channel_id: str,
    channel_name: str | None,
    is_private: bool,
    declared_by: str,
    declared_in: str | None,
    now: dt.datetime,
) -> Incident:
    incident = Incident(
        title=request.title,
        severity=request.severity,
        incident_type=request.incident_type,
        status=IncidentStatus.OPEN,
        channel_id=channel_id,
        channel_name=channel_name,
        is_private=is_private,
        declared_by=declared_by,
        declared_in_channel_id=declared_in,
        commander_id=declared_by,
        created_at=now,
        close_count=0,
    )
    session.add(incident)
    try:
        session.flush()
    except IntegrityError:
        raise UserError("This channel already belongs to an incident; `/incident roles` shows it.") from None
    timeline.add_system_entry(
        session,
        incident,
        f"Incident declared by {mention(declared_by)}: {request.title} ({request.severity})",
        author=declared_by,
        now=now,
    )
    search_index.refresh(session, incident.id, now=now)
    return incident


def declaring_key(user_id: str, title: str) -> str:
    """Names one person declaring one title (case and spacing aside): a twin declare shares it."""
    folded = " ".join(title.casefold().split())
    return f"declare:{user_id}:{hashlib.sha256(folded.encode()).hexdigest()[:40]}"


def recently_declared(session: Session, user_id: str, title: str, since: dt.datetime) -> Incident | None:
    """The newest incident this person declared with this title since `since`."""
    folded = " ".join(title.casefold().split())
    candidates = session.scalars(
        select(Incident)
        .where(Incident.declared_by == user_id, Incident.created_at >= since)
        .order_by(Incident.id.desc())
    )
    return next((i for i in candidates if " ".join(i.title.casefold().split()) == folded), None)


def find_by_channel(session: Session, channel_id: str) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.channel_id == channel_id))


def channel_unused(session: Session, channel_id: str) -> bool:
    """No incident has this channel (a channel made for a declare that never got recorded)."""
    return find_by_channel(session, channel_id) is None


def require_by_channel(session: Session, channel_id: str) -> Incident:
    incident = find_by_channel(session, channel_id)
    if incident is None:
        raise NotAnIncidentChannel()
    return incident


class ChannelIncidents:
    """Which incident each channel belongs to, remembered once found.

    Safe to keep without expiry: a channel id is unique among incidents, never reassigned, and
    incidents are never deleted. Only found channels are kept (a channel may get its incident later)."""

    LIMIT = 100_000  # ids, not rows: a few MB at most

    def __init__(self) -> None:
        self._found: dict[str, int] = {}

    def require(self, db: Database, channel_id: str) -> int:
        found = self._found.get(channel_id)
        if found is None:
            with db.unit_of_work() as session:
                found = require_by_channel(session, channel_id).id
            if len(self._found) < self.LIMIT:
                self._found[channel_id] = found
        return found


def get(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise UserError(f"There is no incident #{incident_id}.")
    return incident


def list_open(session: Session, limit: int = 200) -> list[Incident]:
    query = (
        select(Incident)
        .options(selectinload(Incident.labels))
        .where(Incident.status == IncidentStatus.OPEN)
        .order_by(Incident.created_at.desc(), Incident.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def set_severity(session: Session, incident: Incident, severity: str, *, by: str, now: dt.datetime) -> str | None:
    """Returns the previous severity, or None when nothing changed."""
    previous = incident.severity
    if previous == severity:
        return None
    incident.severity = severity
    timeline.add_system_entry(
        session, incident, f"Severity changed from {previous} to {severity} by {mention(by)}", author=by, now=now
    )
    return previous


def assign_role(session: Session, incident: Incident, role: str, user_id: str, *, by: str, now: dt.datetime) -> None:
    if role not in ROLES:
        raise UserError(f"`{role}` is not a role. Roles: {', '.join(ROLES)}, e.g. `/incident role commander @ann`.")
    setattr(incident, _ROLE_COLUMNS.get(role, f"{role}_id"), user_id)
    timeline.add_system_entry(
        session, incident, f"{mention(user_id)} is now {role} (set by {mention(by)})", author=by, now=now
    )


# A status update is posted whole in one message section (3,000 characters, as Slack shows it).
MAX_STATUS_UPDATE_SHOWN = 2900


def check_status_update(text: str) -> str:
    """The update as it will be shown (mrkdwn-safe), or a refusal naming the limit: never cut."""
    if len(text) > timeline.MAX_ENTRY_TEXT:
        raise UserError(
            f"That update is {len(text):,} characters; the limit is {timeline.MAX_ENTRY_TEXT:,}, so that it "
            "is posted whole. Post the gist with `/incident update`, and the detail as a message, file or "
            "link in the channel. Nothing was posted."
        )
    shown = safe_mrkdwn(text)
    if len(shown) > MAX_STATUS_UPDATE_SHOWN:
        raise UserError(
            f"That update is {len(shown):,} characters as Slack shows it (`&`, `<` and `>` count as several); "
            f"the limit is {MAX_STATUS_UPDATE_SHOWN:,}, so that it is posted whole. Shorten it. Nothing was posted."
        )
    return shown


def post_status_update(session: Session, incident: Incident, text: str, *, by: str, now: dt.datetime):
    return timeline.add_entry(
        session,
        incident,
        text=text,
        author=by,
        occurred_at=now,
        recorded_at=now,
        kind=EntryKind.STATUS_UPDATE,
        source=EntrySource.COMMAND,
    )


def topic(incident: Incident) -> str:
    commander = f" | commander {mention(incident.commander_id)}" if incident.commander_id else ""
    title = safe_mrkdwn(incident.title, live_mentions=False)  # a topic must not ping anyone either
    services = ", ".join(label.name for label in incident.labels if label.kind == "service")
    shown = f" | {services}" if services else ""
    return f":rotating_light: {title} | {incident.severity.upper()}{shown} | {incident.status.value}{commander}"


def roles_of(incident: Incident) -> dict[str, str | None]:
    return {role: getattr(incident, _ROLE_COLUMNS.get(role, f"{role}_id")) for role in ROLES}
