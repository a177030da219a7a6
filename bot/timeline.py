"""The incident timeline: entries at the time things happened, their milestones and their history."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import NotFound, UserError
from bot.models import EntryKind, EntrySource, Incident, Milestone, Revision, TimelineEntry
from bot.permissions import require_may_change
from bot.postmortem import late_changes
from bot.refs import entry_ref
from bot.timegrammar import TimeGrammarError, parse_leading_when

# Short enough that an entry always shows whole in one listing line (a section holds 3,000).
MAX_ENTRY_TEXT = 2800
_MILESTONE = re.compile(r"^(?P<word>started|detected|acknowledged|mitigated|resolved):\s*", re.IGNORECASE)


@dataclass(frozen=True)
class EntryDraft:
    occurred_at: dt.datetime
    text: str
    milestone: Milestone | None
    time_given: bool
    note: str | None


def _cut_milestone(text: str) -> tuple[Milestone | None, str]:
    match = _MILESTONE.match(text)
    if not match:
        return None, text
    return Milestone(match["word"].lower()), text[match.end() :]


def parse_entry_text(text: str, *, now: dt.datetime, zone: ZoneInfo, require_text: bool = True) -> EntryDraft:
    """`[<when>] [milestone:] <text>` (the milestone word may also come first)."""
    milestone, rest = _cut_milestone(text.strip())
    try:
        parsed = parse_leading_when(rest, now=now, zone=zone)
    except TimeGrammarError as err:
        raise UserError(str(err)) from None
    rest = parsed.rest
    if milestone is None:
        milestone, rest = _cut_milestone(rest)
    rest = rest.strip()
    if require_text and not rest:
        raise UserError("The entry needs some text after the time, e.g. `/incident timeline 14:05 alert fired`.")
    if len(rest) > MAX_ENTRY_TEXT:
        raise UserError(
            f"That entry is {len(rest)} characters; the limit is {MAX_ENTRY_TEXT}. Split it into several entries."
        )
    return EntryDraft(parsed.occurred_at, rest, milestone, parsed.given, parsed.note)


def add_entry(
    session: Session,
    incident: Incident,
    *,
    text: str,
    author: str,
    occurred_at: dt.datetime,
    recorded_at: dt.datetime,
    kind: EntryKind = EntryKind.NOTE,
    milestone: Milestone | None = None,
    source: EntrySource = EntrySource.COMMAND,
    source_channel_id: str | None = None,
    source_ts: str | None = None,
    permalink: str | None = None,
) -> TimelineEntry:
    entry = TimelineEntry(
        incident_id=incident.id,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        author_id=author,
        text=text,
        kind=EntryKind.MILESTONE if milestone and kind == EntryKind.NOTE else kind,
        milestone=milestone,
        source=source,
        source_channel_id=source_channel_id,
        source_ts=source_ts,
        permalink=permalink,
    )
    session.add(entry)
    session.flush()
    if entry.kind != EntryKind.SYSTEM:  # bookkeeping (roles, item changes) does not make a draft stale
        late_changes.note_change(session, incident, recorded_at)
    return entry


def add_system_entry(
    session: Session,
    incident: Incident,
    text: str,
    *,
    author: str,
    now: dt.datetime,
    source: EntrySource = EntrySource.SYSTEM,
) -> TimelineEntry:
    return add_entry(
        session,
        incident,
        text=text,
        author=author,
        occurred_at=now,
        recorded_at=now,
        kind=EntryKind.SYSTEM,
        source=source,
    )


def entries(session: Session, incident_id: int, *, include_removed: bool = False) -> list[TimelineEntry]:
    """In the order things happened (ties by the order they were recorded)."""
    query = select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
    if not include_removed:
        query = query.where(TimelineEntry.removed_at.is_(None))
    return list(session.scalars(query.order_by(TimelineEntry.occurred_at, TimelineEntry.id)))


def milestones(session: Session, incident_id: int) -> dict[Milestone, TimelineEntry]:
    """Each milestone's entry; when given twice, the one recorded last wins, and a person's
    milestone always wins over one set from monitoring (`bot.sources.routing`)."""
    query = (
        select(TimelineEntry)
        .where(
            TimelineEntry.incident_id == incident_id,
            TimelineEntry.milestone.is_not(None),
            TimelineEntry.removed_at.is_(None),
        )
        .order_by(TimelineEntry.recorded_at, TimelineEntry.id)
    )
    found: dict[Milestone, TimelineEntry] = {}
    from_machines: dict[Milestone, TimelineEntry] = {}
    for entry in session.scalars(query):
        (from_machines if entry.source == EntrySource.MONITORING else found)[entry.milestone] = entry  # type: ignore[index]
    return {**from_machines, **found}


def get_entry(session: Session, entry_id: int, incident: Incident | None = None) -> TimelineEntry:
    entry = session.get(TimelineEntry, entry_id)
    if entry is None or entry.removed_at is not None or (incident is not None and entry.incident_id != incident.id):
        where = " in this incident" if incident is not None else ""
        raise NotFound(
            f"There is no timeline entry {entry_ref(entry_id)}{where}. `/incident timeline` lists them with their ids."
        )
    return entry


def _require_may_change(incident: Incident, entry: TimelineEntry, user_id: str) -> None:
    require_may_change(incident, entry.author_id, user_id, what="entry", ref=entry_ref(entry.id))


def _snapshot(entry: TimelineEntry) -> dict[str, object]:
    return {
        "text": entry.text,
        "occurred_at": entry.occurred_at.isoformat(),
        "milestone": entry.milestone.value if entry.milestone else None,
    }


def edit_entry(
    session: Session,
    incident: Incident,
    entry_id: int,
    *,
    editor: str,
    now: dt.datetime,
    text: str | None = None,
    occurred_at: dt.datetime | None = None,
    milestone: Milestone | None = None,
    check_permission: bool = True,
    action: str = "edit",
) -> TimelineEntry:
    entry = get_entry(session, entry_id, incident)
    if check_permission:
        _require_may_change(incident, entry, editor)
    before = _snapshot(entry)
    if text is not None:
        entry.text = text
    if occurred_at is not None:
        entry.occurred_at = occurred_at
    if milestone is not None:
        entry.milestone = milestone
        if entry.kind == EntryKind.NOTE:
            entry.kind = EntryKind.MILESTONE
    session.add(
        Revision(
            entry_id=entry.id, action=action, changed_by=editor, changed_at=now, before=before, after=_snapshot(entry)
        )
    )
    session.flush()
    return entry


def remove_entry(
    session: Session,
    incident: Incident,
    entry_id: int,
    *,
    by: str,
    now: dt.datetime,
    check_permission: bool = True,
    reason: str = "remove",
) -> TimelineEntry:
    entry = get_entry(session, entry_id, incident)
    if check_permission:
        _require_may_change(incident, entry, by)
    entry.removed_at = now
    entry.removed_by = by
    session.add(
        Revision(entry_id=entry.id, action=reason, changed_by=by, changed_at=now, before=_snapshot(entry), after={})
    )
    session.flush()
    return entry


def restore_entry(
    session: Session, entry: TimelineEntry, *, by: str, now: dt.datetime, text: str | None = None
) -> TimelineEntry:
    """Bring a removed entry back (optionally with new text); the removal stays in its history."""
    before = {**_snapshot(entry), "removed_at": entry.removed_at.isoformat() if entry.removed_at else None}
    entry.removed_at = None
    entry.removed_by = None
    if text is not None:
        entry.text = text
    session.add(
        Revision(
            entry_id=entry.id, action="restore", changed_by=by, changed_at=now, before=before, after=_snapshot(entry)
        )
    )
    session.flush()
    return entry


def history(session: Session, entry_id: int) -> list[Revision]:
    query = select(Revision).where(Revision.entry_id == entry_id).order_by(Revision.changed_at, Revision.id)
    return list(session.scalars(query))
