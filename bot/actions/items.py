"""Action items: what the team will change so this does not happen again.

Adding, listing and changing items (done, reopen, assign, due date, priority, drop, link,
snooze). Every change is kept as a `Revision` (who, when, before and after) and shows on the
incident's timeline as a system entry. How an item reads in Slack (`item_line`) lives here too,
so the listing, the nudge and its buttons show an item the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import timeline
from bot.actions.grammar import DEFAULT_PRIORITY, ActionDraft
from bot.errors import NotFound, UserError
from bot.models import ActionItem, ActionStatus, EntrySource, Incident, Revision
from bot.permissions import may_change
from bot.postmortem import late_changes
from bot.refs import action_ref
from bot.slack.text import escape, mention, safe_mrkdwn

MAX_LINK = 1000


def for_incident(session: Session, incident_id: int) -> list[ActionItem]:
    query = select(ActionItem).where(ActionItem.incident_id == incident_id).order_by(ActionItem.id)
    return list(session.scalars(query))


def default_due_date(severity: str, today: dt.date, due_days: dict[str, int]) -> dt.date:
    """The severity's policy: sev1 items due in 15 days, sev2 in 30 … (setting ACTION_DUE_DAYS)."""
    return today + dt.timedelta(days=due_days.get(severity, max(due_days.values(), default=45)))


def add(
    session: Session,
    incident: Incident,
    draft: ActionDraft,
    *,
    by: str,
    now: dt.datetime,
    today: dt.date,
    due_days: dict[str, int],
) -> ActionItem:
    due_date = draft.due_date or default_due_date(incident.severity, today, due_days)
    item = ActionItem(
        incident_id=incident.id,
        text=draft.text,
        owner_id=draft.owner_id,
        due_date=due_date,
        priority=draft.priority or DEFAULT_PRIORITY,
        action_type=draft.action_type,
        status=ActionStatus.OPEN,
        created_by=by,
        created_at=now,
    )
    session.add(item)
    session.flush()
    late_changes.note_change(session, incident, now)
    owner = f"owner {mention(item.owner_id)}" if item.owner_id else "no owner"
    _record(
        session,
        incident,
        item,
        "create",
        {},
        by=by,
        now=now,
        summary=f"added by {mention(by)}: {item.text} ({owner}, due {due_date.isoformat()}, {item.priority})",
    )
    return item


# -- finding -----------------------------------------------------------------------------------
def get(session: Session, item_id: int) -> ActionItem:
    item = session.get(ActionItem, item_id)
    if item is None:
        raise NotFound(
            f"There is no action item {action_ref(item_id)}. `/incident actions` lists an incident's items with their ids."
        )
    return item


def get_visible(session: Session, item_id: int, *, user_id: str, channel_id: str) -> tuple[ActionItem, Incident]:
    """An item and its incident, if this person may see it from this channel.

    A private incident's items are seen in its own channel, and by the item's owner and the
    incident's commander and declarer anywhere (their DMs); to anyone else they do not exist.
    """
    item = get(session, item_id)
    incident = session.get(Incident, item.incident_id)
    assert incident is not None
    # the same people who may change what someone recorded: the owner, commander and declarer
    if (
        incident.is_private
        and channel_id != incident.channel_id
        and not may_change(incident, item.owner_id or "", user_id)
    ):
        raise NotFound(
            f"There is no action item {action_ref(item_id)}. `/incident actions` lists an incident's items with their ids."
        )
    return item, incident


def entries_by_ids(session: Session, item_ids: Iterable[int]) -> dict[int, tuple[ActionItem, Incident]]:
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    query = (
        select(ActionItem, Incident).join(Incident, Incident.id == ActionItem.incident_id).where(ActionItem.id.in_(ids))
    )
    return {item.id: (item, incident) for item, incident in session.execute(query)}


def open_owned_by(session: Session, user_id: str) -> list[tuple[ActionItem, Incident]]:
    query = (
        select(ActionItem, Incident)
        .join(Incident, Incident.id == ActionItem.incident_id)
        .where(ActionItem.owner_id == user_id, ActionItem.status == ActionStatus.OPEN)
    )
    return [(item, incident) for item, incident in session.execute(query)]


def listing_order(items: Iterable[ActionItem], today: dt.date) -> list[ActionItem]:
    """Open items first, overdue ones on top; then by due date, priority and id; closed ones last."""

    def key(item: ActionItem) -> tuple[Any, ...]:
        is_open = item.status == ActionStatus.OPEN
        overdue = is_open and item.due_date is not None and item.due_date < today
        return (not is_open, not overdue, item.due_date or dt.date.max, item.priority, item.id)

    return sorted(items, key=key)


# -- changing ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    item: ActionItem
    incident: Incident
    summary: str  # what happened, for the reply: "A7 marked done"


def _snapshot(item: ActionItem) -> dict[str, Any]:
    return {
        "status": item.status.value,
        "owner_id": item.owner_id,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "priority": item.priority,
        "action_type": item.action_type,
        "link_url": item.link_url,
        "drop_reason": item.drop_reason,
        "snoozed_until": item.snoozed_until.isoformat() if item.snoozed_until else None,
    }


def _record(
    session: Session,
    incident: Incident,
    item: ActionItem,
    action: str,
    before: dict[str, Any],
    *,
    by: str,
    now: dt.datetime,
    summary: str,
) -> None:
    session.add(
        Revision(
            action_item_id=item.id, action=action, changed_by=by, changed_at=now, before=before, after=_snapshot(item)
        )
    )
    timeline.add_system_entry(
        session,
        incident,
        f"Action item {action_ref(item.id)} {summary}",
        author=by,
        now=now,
        source=EntrySource.ACTION_ITEM,
    )


def _change(
    session: Session, item: ActionItem, action: str, apply: Any, *, by: str, now: dt.datetime, summary: str
) -> Change:
    incident = session.get(Incident, item.incident_id)
    assert incident is not None
    before = _snapshot(item)
    apply()
    session.flush()
    _record(session, incident, item, action, before, by=by, now=now, summary=summary)
    return Change(item, incident, f"{action_ref(item.id)} {summary}")


def _require_open(item: ActionItem, doing: str) -> None:
    if item.status == ActionStatus.DONE:
        raise UserError(
            f"{action_ref(item.id)} is already done; `/incident reopen {action_ref(item.id)}` first if it is not."
        )
    if item.status == ActionStatus.DROPPED:
        raise UserError(
            f"{action_ref(item.id)} was dropped ({item.drop_reason}); `/incident reopen {action_ref(item.id)}` first to {doing} it."
        )


def mark_done(session: Session, item: ActionItem, *, by: str, now: dt.datetime) -> Change:
    _require_open(item, "finish")

    def apply() -> None:
        item.status, item.closed_at, item.closed_by = ActionStatus.DONE, now, by

    change = _change(session, item, "done", apply, by=by, now=now, summary=f"marked done by {mention(by)}")
    _tell_tracker(session, item, "done", by=by, now=now)
    return change


def reopen(session: Session, item: ActionItem, *, by: str, now: dt.datetime) -> Change:
    if item.status == ActionStatus.OPEN:
        raise UserError(f"{action_ref(item.id)} is open already.")

    def apply() -> None:
        item.status, item.closed_at, item.closed_by, item.drop_reason = ActionStatus.OPEN, None, None, None

    change = _change(session, item, "reopen", apply, by=by, now=now, summary=f"reopened by {mention(by)}")
    _tell_tracker(session, item, "reopen", by=by, now=now)
    return change


def assign(session: Session, item: ActionItem, owner_id: str | None, *, by: str, now: dt.datetime) -> Change:
    if item.owner_id == owner_id:
        raise UserError(
            f"{action_ref(item.id)} is already {'owned by ' + mention(owner_id) if owner_id else 'without an owner'}."
        )
    previous = item.owner_id

    def apply() -> None:
        item.owner_id = owner_id

    was = f" (was {mention(previous)})" if previous else ""
    now_owner = mention(owner_id) if owner_id else "nobody"
    return _change(
        session, item, "assign", apply, by=by, now=now, summary=f"assigned to {now_owner}{was} by {mention(by)}"
    )


def set_due(session: Session, item: ActionItem, due: dt.date, *, by: str, now: dt.datetime) -> Change:
    previous = item.due_date

    def apply() -> None:
        item.due_date = due
        item.snoozed_until = None  # a new date is a fresh promise: show it in the next nudge

    was = f" (was {previous.isoformat()})" if previous else ""
    return _change(
        session, item, "due", apply, by=by, now=now, summary=f"now due {due.isoformat()}{was}, set by {mention(by)}"
    )


def set_priority(session: Session, item: ActionItem, priority: str, *, by: str, now: dt.datetime) -> Change:
    if item.priority == priority:
        raise UserError(f"{action_ref(item.id)} is already {priority}.")
    previous = item.priority

    def apply() -> None:
        item.priority = priority

    return _change(
        session,
        item,
        "priority",
        apply,
        by=by,
        now=now,
        summary=f"priority {previous} → {priority}, set by {mention(by)}",
    )


def drop(session: Session, item: ActionItem, reason: str, *, by: str, now: dt.datetime) -> Change:
    _require_open(item, "drop")

    def apply() -> None:
        item.status, item.closed_at, item.closed_by, item.drop_reason = ActionStatus.DROPPED, now, by, reason

    change = _change(session, item, "drop", apply, by=by, now=now, summary=f"dropped by {mention(by)}: {reason}")
    _tell_tracker(session, item, "drop", by=by, now=now, reason=reason)
    return change


def set_link(session: Session, item: ActionItem, url: str | None, *, by: str, now: dt.datetime) -> Change:
    def apply() -> None:
        if url != item.link_url:  # another ticket (or none): what the old one said no longer applies
            item.ticket_tracker = item.ticket_key = item.ticket_state = item.ticket_assignee = None
            item.ticket_due = item.ticket_synced_at = None
        item.link_url = url

    summary = f"linked to {url} by {mention(by)}" if url else f"link removed by {mention(by)}"
    return _change(session, item, "link", apply, by=by, now=now, summary=summary)


def snooze(session: Session, item: ActionItem, until: dt.date, *, by: str, now: dt.datetime) -> Change:
    _require_open(item, "snooze")

    def apply() -> None:
        item.snoozed_until = until

    return _change(
        session,
        item,
        "snooze",
        apply,
        by=by,
        now=now,
        summary=f"snoozed by {mention(by)}: back in the nudges from {until.isoformat()}",
    )


def _tell_tracker(
    session: Session, item: ActionItem, action: str, *, by: str, now: dt.datetime, reason: str | None = None
) -> None:
    """A change made in Slack: the item's ticket follows (through the tracker outbox, same transaction)."""
    if item.ticket_key is not None:
        from bot.trackers import outbox

        outbox.item_changed(session, item, action, by=by, now=now, reason=reason)


def apply_tracker_change(
    session: Session, item: ActionItem, action: str, apply: Any, *, by: str, now: dt.datetime, summary: str
) -> Change:
    """A change that came from the tracker (or records its ticket): kept like any other change,
    and never sent back to the tracker — that would echo."""
    return _change(session, item, action, apply, by=by, now=now, summary=summary)


def history(session: Session, item_id: int) -> list[Revision]:
    query = select(Revision).where(Revision.action_item_id == item_id).order_by(Revision.changed_at, Revision.id)
    return list(session.scalars(query))


def parse_link(token: str) -> str | None:
    """A tracker URL as typed (Slack sends `<https://…>` or `<https://…|label>`); `none` removes the link."""
    raw = token.strip()
    if raw.lower() in ("none", "-"):
        return None
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1].split("|", 1)[0]
    if not raw.startswith(("https://", "http://")) or any(c in raw for c in " <>|") or len(raw) > MAX_LINK:
        raise UserError(
            "Give the ticket's full URL: `/incident link A7 https://tracker.example.com/OPS-123` (or `none` to remove it)."
        )
    return raw


# -- how an item reads -------------------------------------------------------------------------
def due_phrase(due: dt.date | None, today: dt.date) -> str:
    if due is None:
        return "_no due date_"
    shown = due.strftime("%a %d %b" if due.year == today.year else "%a %d %b %Y")
    days = (due - today).days
    if days < 0:
        return f"*overdue* since {shown} ({-days} day{'s' if days != -1 else ''})"
    if days == 0:
        return f"due *today* ({shown})"
    if days == 1:
        return f"due tomorrow ({shown})"
    return f"due {shown} (in {days} days)"


TICKET_STATES = {"open": "open", "closed": "closed", "gone": "deleted in the tracker"}


def ticket_phrase(item: ActionItem) -> str:
    """The item's ticket, linked: `#12 (open)` or `OPS-7 (closed)` once synced, else `ticket`."""
    if not item.link_url:
        return ""
    if not item.ticket_key:
        return f"<{item.link_url}|ticket>"
    label = f"#{item.ticket_key}" if item.ticket_key.isdigit() else item.ticket_key
    state = TICKET_STATES.get(item.ticket_state or "", "")
    return f":ticket: <{item.link_url}|{escape(label)}>" + (f" ({state})" if state else "")


def item_line(item: ActionItem, today: dt.date, *, incident: Incident | None = None) -> str:
    """One line of mrkdwn: id, priority, text, owner, due date, type, ticket, and the incident when given."""
    parts = [f"`{action_ref(item.id)}` *{item.priority}*", safe_mrkdwn(item.text, live_mentions=False)]
    if item.owner_id:
        parts.append(mention(item.owner_id))
    else:
        parts.append(":warning: _no owner_")
    if item.status == ActionStatus.OPEN:
        parts.append(due_phrase(item.due_date, today))
        if item.snoozed_until and item.snoozed_until > today:
            parts.append(f":zzz: snoozed until {item.snoozed_until:%a %d %b}")
    elif item.status == ActionStatus.DONE:
        parts.append(f":white_check_mark: done{' by ' + mention(item.closed_by) if item.closed_by else ''}")
    else:
        parts.append(f":no_entry_sign: dropped: {safe_mrkdwn(item.drop_reason or '', live_mentions=False)}")
    if item.action_type:
        parts.append(item.action_type)
    if item.link_url:
        parts.append(ticket_phrase(item))
    if incident is not None:
        parts.append(f"<#{incident.channel_id}> {safe_mrkdwn(incident.title, live_mentions=False)}")
    return " · ".join(parts)
