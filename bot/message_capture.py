"""Slack messages on the timeline: importing one (by pin reaction or shortcut), once, and keeping it in sync.

An imported entry is the message itself: its author, its text (with each attached file's permalink,
never the file), at the time it was posted (its `ts`), with a link back to it. The database's unique
key on (incident, source channel, source ts) is what makes an import happen once, however many
deliveries, replicas or people race to do it; a duplicate insert is caught inside a savepoint and
turns into "already there". Edits, deletions and un-pins change the entry through the timeline's
own edit/remove/restore, so every change is kept in the entry's history.

Pure parsing of Slack's message shapes lives here too; the Web API calls stay with the caller.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import timeline
from bot.models import EntrySource, Incident, TimelineEntry
from bot.refs import entry_ref
from bot.slack.text import unescape_incoming

# Revision actions (Revision.action holds 24 characters).
UNPINNED = "unpinned"
MESSAGE_DELETED = "message_deleted"
MESSAGE_EDITED = "message_edited"
# Who a change is recorded as when Slack does not say who made it.
SLACK = "slack"


@dataclass(frozen=True)
class CapturedMessage:
    """The parts of a Slack message a timeline entry is made of."""

    channel_id: str
    ts: str
    author_id: str
    text: str

    @property
    def posted_at(self) -> dt.datetime:
        return posted_at(self.ts)


def posted_at(ts: str) -> dt.datetime:
    """A message's `ts` ("1750600000.123456") as the aware UTC instant it was posted."""
    seconds, _, micros = ts.partition(".")
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC) + dt.timedelta(microseconds=int((micros + "000000")[:6]))


def entry_text(message: dict[str, Any]) -> str:
    """The message's text as its author wrote it (Slack's `& < >` escaping undone, markup kept),
    then one line per attached file: its permalink."""
    parts = [unescape_incoming(message.get("text") or "").strip()]
    for file in message.get("files") or []:
        link = file.get("permalink") or file.get("url_private")
        if link:
            parts.append(link)
    return "\n".join(part for part in parts if part)


def author_of(message: dict[str, Any]) -> str:
    # Integrations (alerting bots) post without a user; their bot id is the best author we have.
    return message.get("user") or message.get("bot_id") or SLACK


def captured(channel_id: str, message: dict[str, Any]) -> CapturedMessage:
    return CapturedMessage(
        channel_id=channel_id, ts=message["ts"], author_id=author_of(message), text=entry_text(message)
    )


def is_own_message(message: dict[str, Any], *, bot_user_id: str | None, bot_id: str | None) -> bool:
    """Written by this bot (announcements, status updates): those are on the timeline already.

    Other bots' messages (alerts from monitoring) are facts people pin, so they are not excluded.
    """
    return bool((bot_user_id and message.get("user") == bot_user_id) or (bot_id and message.get("bot_id") == bot_id))


def reaction_name(raw: str) -> str:
    """`thumbsup::skin-tone-2` → `thumbsup`: the tone does not change what the reaction means."""
    return raw.split("::", 1)[0]


def still_pinned(message: dict[str, Any], pin_reactions: Iterable[str], *, bot_user_id: str | None) -> bool:
    """Whether anyone but the bot still has one of the pin reactions on the message."""
    wanted = set(pin_reactions)
    for reaction in message.get("reactions") or []:
        if reaction_name(reaction.get("name", "")) not in wanted:
            continue
        users = [user for user in reaction.get("users") or [] if user != bot_user_id]
        # Slack lists at most a few users per reaction; the count covers the rest.
        others = int(reaction.get("count") or 0) - (1 if bot_user_id in (reaction.get("users") or []) else 0)
        if users or others > 0:
            return True
    return False


class Outcome(str, enum.Enum):
    ADDED = "added"
    RESTORED = "restored"  # it had been taken off (un-pinned, removed) and is back
    ALREADY = "already"  # it was on the timeline; nothing changed


@dataclass(frozen=True)
class ImportResult:
    entry_id: int
    outcome: Outcome
    occurred_at: dt.datetime


def find_import(
    session: Session, incident_id: int, channel_id: str, ts: str, *, for_update: bool = False
) -> TimelineEntry | None:
    """The entry (live or removed) made from this message on this incident's timeline."""
    query = select(TimelineEntry).where(
        TimelineEntry.incident_id == incident_id,
        TimelineEntry.source_channel_id == channel_id,
        TimelineEntry.source_ts == ts,
    )
    if for_update:
        # PostgreSQL: two replicas changing the same entry queue here. SQLite's writer lock already does.
        query = query.with_for_update()
    return session.scalar(query)


def import_message(
    session: Session,
    incident: Incident,
    message: CapturedMessage,
    *,
    source: EntrySource,
    by: str,
    now: dt.datetime,
    permalink: str | None,
    occurred_at: dt.datetime | None = None,
) -> ImportResult:
    """Put the message on the incident's timeline once; a second import of it changes nothing,
    and importing a message that was taken off the timeline brings its entry back (with history)."""
    existing = find_import(session, incident.id, message.channel_id, message.ts, for_update=True)
    if existing is None:
        try:
            with session.begin_nested():  # a savepoint: losing the race must not spoil the transaction
                entry = timeline.add_entry(
                    session,
                    incident,
                    text=message.text,
                    author=message.author_id,
                    occurred_at=occurred_at or message.posted_at,
                    recorded_at=now,
                    source=source,
                    source_channel_id=message.channel_id,
                    source_ts=message.ts,
                    permalink=permalink,
                )
            return ImportResult(entry.id, Outcome.ADDED, entry.occurred_at)
        except IntegrityError:
            # Another delivery of the same event (or another person's pin) committed first.
            existing = find_import(session, incident.id, message.channel_id, message.ts, for_update=True)
            if existing is None:
                raise
    if existing.removed_at is None:
        if permalink and not existing.permalink:
            existing.permalink = permalink
        return ImportResult(existing.id, Outcome.ALREADY, existing.occurred_at)
    entry = timeline.restore_entry(session, existing, by=by, now=now, text=message.text)
    # Brought back by a shortcut, it is no longer the pin's to take away.
    entry.source = source
    if permalink:
        entry.permalink = permalink
    return ImportResult(entry.id, Outcome.RESTORED, entry.occurred_at)


def add_note(
    session: Session, incident: Incident, imported: ImportResult, note: str, *, by: str, now: dt.datetime
) -> int:
    """A note on an imported message, in the words (and name) of whoever added it, beside it in time."""
    entry = timeline.add_entry(
        session,
        incident,
        text=f"Note on {entry_ref(imported.entry_id)}: {note}",
        author=by,
        occurred_at=imported.occurred_at,
        recorded_at=now,
        source=EntrySource.SHORTCUT,
    )
    return entry.id


def unpin(session: Session, incident: Incident, channel_id: str, ts: str, *, by: str, now: dt.datetime) -> int | None:
    """Take a pinned message off the timeline (kept in history). Only entries a pin put there:
    one added with the shortcut stays when someone removes a reaction. Returns the entry id."""
    entry = find_import(session, incident.id, channel_id, ts, for_update=True)
    if entry is None or entry.removed_at is not None or entry.source != EntrySource.REACTION:
        return None
    timeline.remove_entry(session, incident, entry.id, by=by, now=now, check_permission=False, reason=UNPINNED)
    return entry.id


def _live_imports(session: Session, channel_id: str, ts: str) -> list[TimelineEntry]:
    """Every live entry made from this message, on any incident's timeline."""
    query = (
        select(TimelineEntry)
        .where(
            TimelineEntry.source_channel_id == channel_id,
            TimelineEntry.source_ts == ts,
            TimelineEntry.removed_at.is_(None),
        )
        .order_by(TimelineEntry.id)
        .with_for_update()
    )
    return list(session.scalars(query))


def follow_edit(session: Session, channel_id: str, ts: str, message: dict[str, Any], *, now: dt.datetime) -> list[int]:
    """The message was edited: its entries take the new text. Returns the ids of entries changed."""
    text = entry_text(message)
    changed = []
    for entry in _live_imports(session, channel_id, ts):
        if entry.text == text:
            continue  # Slack also sends message_changed for unfurls and thread replies
        incident = session.get_one(Incident, entry.incident_id)  # an entry always has its incident
        editor = (message.get("edited") or {}).get("user") or author_of(message)
        timeline.edit_entry(
            session,
            incident,
            entry.id,
            editor=editor,
            now=now,
            text=text,
            check_permission=False,
            action=MESSAGE_EDITED,
        )
        changed.append(entry.id)
    return changed


def follow_deletion(session: Session, channel_id: str, ts: str, *, by: str, now: dt.datetime) -> list[int]:
    """The message was deleted: its entries are taken off the timelines (kept in history)."""
    removed = []
    for entry in _live_imports(session, channel_id, ts):
        incident = session.get_one(Incident, entry.incident_id)  # an entry always has its incident
        timeline.remove_entry(
            session, incident, entry.id, by=by, now=now, check_permission=False, reason=MESSAGE_DELETED
        )
        removed.append(entry.id)
    return removed
