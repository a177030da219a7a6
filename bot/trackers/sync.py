"""Bringing what the tracker says into the items: closes, reopens, reassignments and new due dates.

Used by the webhooks (bot.trackers.inbound), the reconcile sweep (every TRACKER_SYNC_MINUTES, and
`incident-bot tracker sync`) and a hand-made `link` to an issue of the configured tracker.
An item keeps what its ticket said last (`ticket_state`, `ticket_assignee`, `ticket_due`); only a
difference from that is a change made in the tracker. The bot's own writes update those values
when they succeed, so they never come back as changes (no echo), and a Slack-side close still
waiting in the outbox is not undone by a sweep that reads the ticket open.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from bot.actions import items as action_items
from bot.models import ActionItem, ActionStatus, Incident, TrackerDelivery
from bot.refs import action_ref
from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure
from bot.slack.text import escape, mention
from bot.trackers import tickets
from bot.trackers.base import CLOSED, OPEN, Ticket, TrackerError, cap

RECENTLY_CLOSED = dt.timedelta(days=30)
DELIVERIES_KEPT = dt.timedelta(days=30)
BATCH = 200  # items per transaction in a sweep
GONE = "gone"


@dataclass
class Announcements:
    """Messages for incident channels, posted after the changes are committed."""

    messages: list[tuple[str, str]] = field(default_factory=list)

    def post(self, runtime: Runtime) -> None:
        for channel, text in self.messages:
            try:
                runtime.gateway.post_message(channel, text)
            except SlackFailure as failure:
                runtime.logger.warning("could not tell %s about a ticket change: %s", channel, failure)


def apply_ticket(
    runtime: Runtime,
    session: Session,
    item: ActionItem,
    ticket: Ticket,
    *,
    actor: str | None,
    now: dt.datetime,
    said: Announcements,
) -> list[str]:
    """Apply what changed in the ticket since it was last read; returns what happened (plain words)."""
    tracker = runtime.tracker
    assert tracker is not None
    display = tracker.display
    who = cap(actor or ticket.closed_by or "someone", 60)
    by = cap(f"{who} ({display})", 32)  # who, as the history records it
    label = escape(ticket.label)
    done: list[str] = []
    ref = action_ref(item.id)

    def tell(text: str) -> None:
        incident = session.get(Incident, item.incident_id)  # only when there is something to say
        assert incident is not None
        done.append(text)
        said.messages.append((incident.channel_id, f":ticket: *{ref}* {text}"))

    previous_state, item.ticket_state = item.ticket_state, ticket.state
    if ticket.state != previous_state:
        if ticket.state == CLOSED and item.status == ActionStatus.OPEN:

            def close() -> None:
                item.status, item.closed_at, item.closed_by = ActionStatus.DONE, now, by

            action_items.apply_tracker_change(
                session, item, "done", close, by=by, now=now, summary=f"closed in {display} by {escape(who)} ({label})"
            )
            tell(f"closed in {display} by {escape(who)} ({label}), so it is done here too")
        elif ticket.state == OPEN and previous_state is not None and item.status != ActionStatus.OPEN:

            def reopen() -> None:
                item.status, item.closed_at, item.closed_by, item.drop_reason = ActionStatus.OPEN, None, None, None

            action_items.apply_tracker_change(
                session,
                item,
                "reopen",
                reopen,
                by=by,
                now=now,
                summary=f"reopened in {display} by {escape(who)} ({label})",
            )
            tell(f"reopened in {display} by {escape(who)} ({label}), so it is open here again")
    if ticket.assignee != item.ticket_assignee:
        item.ticket_assignee = ticket.assignee
        owner = tickets.slack_user_for(
            runtime.settings.trackers, runtime.gateway, ticket.assignee, ticket.assignee_email
        )
        if owner and owner != item.owner_id:
            new_owner = owner

            def assign() -> None:
                item.owner_id = new_owner

            action_items.apply_tracker_change(
                session,
                item,
                "assign",
                assign,
                by=by,
                now=now,
                summary=f"assigned to {mention(owner)} in {display} by {escape(who)}",
            )
            tell(f"assigned to {mention(owner)} in {display} by {escape(who)}")
        elif ticket.assignee and not owner:
            runtime.logger.info("%s: %s assignee %s matches no Slack person", ref, display, ticket.assignee)
    if ticket.due != item.ticket_due:
        item.ticket_due = ticket.due
        if ticket.due is not None and ticket.due != item.due_date:
            due, was = ticket.due, item.due_date

            def redate() -> None:
                item.due_date, item.snoozed_until = due, None

            action_items.apply_tracker_change(
                session,
                item,
                "due",
                redate,
                by=by,
                now=now,
                summary=f"now due {due.isoformat()}"
                f"{f' (was {was.isoformat()})' if was else ''}, set in {display} by {escape(who)}",
            )
            tell(f"now due {due.isoformat()}, set in {display} by {escape(who)}")
    if done:
        item.ticket_synced_at = now
    return done


def mark_gone(runtime: Runtime, session: Session, item: ActionItem, *, now: dt.datetime, said: Announcements) -> None:
    tracker = runtime.tracker
    assert tracker is not None
    label = f"#{item.ticket_key}" if (item.ticket_key or "").isdigit() else item.ticket_key or "?"

    def apply() -> None:
        item.ticket_state = GONE

    action_items.apply_tracker_change(
        session,
        item,
        "ticket",
        apply,
        by=cap(f"({tracker.display})", 32),
        now=now,
        summary=f"ticket {escape(label)} no longer exists in {tracker.display}",
    )
    incident = session.get(Incident, item.incident_id)
    assert incident is not None
    ref = action_ref(item.id)
    text = (
        f":ticket: *{ref}*: its ticket {escape(label)} no longer exists in {tracker.display}; the item stays as it "
        f"is here. `/incident link {ref} none` then `/incident ticket {ref}` makes a new one."
    )
    said.messages.append((incident.channel_id, text))


def items_with_ticket(session: Session, tracker_name: str, key: str, *, lock: bool = False) -> list[ActionItem]:
    query = select(ActionItem).where(ActionItem.ticket_tracker == tracker_name, ActionItem.ticket_key == key)
    return list(session.scalars(query.with_for_update() if lock else query))


# -- the reconcile sweep -----------------------------------------------------------------------------
@dataclass
class SweepReport:
    checked: int = 0
    changes: int = 0
    gone: int = 0
    calls_seconds: float = 0.0
    error: str | None = None

    def describe(self) -> str:
        if self.error:
            return f"tracker sync stopped: {self.error}"
        return (
            f"tracker sync: {self.checked} tickets read in {self.calls_seconds:.1f}s; "
            f"{self.changes} changes brought in; {self.gone} tickets no longer exist"
        )


def sweep(runtime: Runtime) -> SweepReport:
    """Read the ticket of every open item, and of every item closed in the last 30 days, and apply changes."""
    report = SweepReport()
    tracker = runtime.tracker
    if tracker is None:
        report.error = "no tracker is configured"
        return report
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        rows = session.execute(
            select(ActionItem.id, ActionItem.ticket_key)
            .where(
                ActionItem.ticket_tracker == tracker.name,
                ActionItem.ticket_key.is_not(None),
                or_(ActionItem.ticket_state.is_(None), ActionItem.ticket_state != GONE),
                or_(ActionItem.status == ActionStatus.OPEN, ActionItem.closed_at >= now - RECENTLY_CLOSED),
            )
            .order_by(ActionItem.id)
        ).all()
    keys = sorted({key for _, key in rows if key is not None})
    started = time.monotonic()
    try:
        found = tracker.get_many(keys)
    except TrackerError as err:
        report.error = str(err)
        runtime.logger.warning("tracker sync: %s", err)
        return report
    report.calls_seconds = time.monotonic() - started
    report.checked = len(found)
    said = Announcements()
    ids = [item_id for item_id, _ in rows]
    for start in range(0, len(ids), BATCH):
        with runtime.db.unit_of_work() as session:
            batch = session.scalars(
                select(ActionItem)
                .where(ActionItem.id.in_(ids[start : start + BATCH]))
                .order_by(ActionItem.id)
                .with_for_update()
            )
            for item in batch:
                if item.ticket_tracker != tracker.name or item.ticket_key is None:
                    continue  # unlinked meanwhile
                ticket = found.get(item.ticket_key)
                if ticket is None:
                    mark_gone(runtime, session, item, now=now, said=said)
                    report.gone += 1
                else:
                    report.changes += len(apply_ticket(runtime, session, item, ticket, actor=None, now=now, said=said))
            # one statement for the whole batch, not an UPDATE per unchanged item
            session.execute(
                update(ActionItem)
                .where(ActionItem.id.in_(ids[start : start + BATCH]))
                .values(ticket_synced_at=now)
                .execution_options(synchronize_session=False)
            )
    said.post(runtime)
    with runtime.db.unit_of_work() as session:  # redeliveries come within days; older ids only take room
        session.execute(delete(TrackerDelivery).where(TrackerDelivery.received_at < now - DELIVERIES_KEPT))
    return report


SWEEP_CLAIM = "tracker-sync"


def sweep_slot(now: dt.datetime, minutes: int) -> str:
    """The TRACKER_SYNC_MINUTES slot `now` falls in, named by its start (`2026-06-22T14:45`, UTC)."""
    epoch_minutes = int(now.timestamp() // 60)
    start = epoch_minutes - epoch_minutes % minutes
    return dt.datetime.fromtimestamp(start * 60, dt.UTC).strftime("%Y-%m-%dT%H:%M")


def scheduled_sweep(runtime: Runtime) -> SweepReport | None:
    """The background job: one sweep per slot across all replicas (a claim on the slot, as the
    nudges claim their week); None when another process has this slot's sweep."""
    from bot.models import NudgeClaim
    from bot.nudges import claims

    if runtime.tracker is None:
        return None
    now = runtime.clock.now()
    slot = sweep_slot(now, runtime.settings.trackers.sync_minutes)
    held = claims.claim(
        runtime.db,
        SWEEP_CLAIM,
        runtime.tracker.name,
        slot,
        worker=claims.new_worker_id(),
        now=now,
        lease=dt.timedelta(minutes=10),
    )
    if held is None:
        return None
    report = sweep(runtime)
    claims.settle(
        runtime.db, held, claims.FAILED if report.error else claims.SENT, now=runtime.clock.now(), error=report.error
    )
    with runtime.db.unit_of_work() as session:  # the slots' claims matter for a day at most
        session.execute(
            delete(NudgeClaim).where(
                NudgeClaim.kind == SWEEP_CLAIM,
                NudgeClaim.period < sweep_slot(now - dt.timedelta(days=2), runtime.settings.trackers.sync_minutes),
            )
        )
    runtime.logger.info("%s", report.describe())
    return report


# -- a link made by hand ----------------------------------------------------------------------------
def adopt_link(runtime: Runtime, item_id: int, url: str | None) -> str | None:
    """When `link` names an issue of the configured tracker, keep the item in step with it from now on."""
    tracker = runtime.tracker
    if tracker is None or not url:
        return None
    key = tracker.key_from_url(url)
    if key is None:
        return None
    try:
        ticket = tracker.get(key)
    except TrackerError as err:
        return f"_That is a {tracker.display} issue, but I could not read it ({escape(str(err))}); the link is kept as given._"
    if ticket is None:
        return f"_{tracker.display} has no {escape(key)} that I can see; the link is kept as given, not synced._"
    said = Announcements()
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        item = session.get(ActionItem, item_id, with_for_update=True)
        if item is None or item.link_url != url:
            return None
        item.ticket_tracker, item.ticket_key = tracker.name, ticket.key
        # What the ticket says now is the starting point; a ticket already closed closes the item.
        item.ticket_assignee, item.ticket_due = ticket.assignee, ticket.due
        item.ticket_state = OPEN
        apply_ticket(runtime, session, item, ticket, actor=ticket.closed_by, now=now, said=said)
        state = item.ticket_state
    said.post(runtime)
    return f"_Recognised {tracker.display} {escape(ticket.label)} ({state}): kept in step with this item from now on._"
