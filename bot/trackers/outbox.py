"""The tracker outbox: every write to the tracker is stored before it is tried, then carried out
exactly once — through tracker outages, lost answers, restarts and several replicas.

A worker claims a pending write with a conditional UPDATE (a lease), calls the tracker outside
any transaction, and records the outcome. Transient failures (5xx, 429 with Retry-After, time-outs,
a dropped connection) wait their backoff; a failure a person must fix (bad token, unknown project,
refused fields) is told once in the incident's channel. A create tried before (its outcome unknown:
the process died after sending, or the answer was lost) first looks for the item's marker in the
tracker. `create:<item id>` is unique, so two `ticket all` at once or two replicas make one ticket.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from bot.actions import items as action_items
from bot.db import rows_changed
from bot.errors import report_unexpected
from bot.models import ActionItem, ActionStatus, Incident, TrackerWrite
from bot.refs import action_ref
from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure
from bot.slack.text import escape
from bot.trackers import tickets
from bot.trackers.base import CLOSED, Comment, Ticket, TrackerError

LEASE = dt.timedelta(minutes=2)  # far longer than one call's time-out: a live worker never loses its claim
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600
MARKER_LOOKBACK = dt.timedelta(hours=1)  # a ticket made for a write was made after the write was stored
PENDING, DONE, FAILED = "pending", "done", "failed"
SAFE_URL_CHARS = set(" <>|\"'")


@dataclass(frozen=True)
class Outcome:
    write_id: int
    item_id: int
    op: str
    state: str  # done | waiting | failed | busy
    ticket: Ticket | None = None
    message: str = ""
    next_attempt_at: dt.datetime | None = None


# -- asking for writes (inside the caller's unit of work) ------------------------------------------
def request_create(session: Session, item: ActionItem, *, by: str, now: dt.datetime) -> TrackerWrite:
    """The item's one create write: made if missing, found if there (two requests at once make one),
    and made pending again when it had failed and someone asks again."""
    key = f"create:{item.id}"
    write = session.scalar(select(TrackerWrite).where(TrackerWrite.dedup_key == key))
    if write is None:
        try:
            with session.begin_nested():
                write = TrackerWrite(
                    action_item_id=item.id,
                    op="create",
                    dedup_key=key,
                    payload={},
                    status=PENDING,
                    requested_by=by,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
                session.add(write)
        except IntegrityError:  # another request stored it first
            write = session.scalar(select(TrackerWrite).where(TrackerWrite.dedup_key == key))
            assert write is not None
    if write.status == FAILED or (write.status == DONE and item.ticket_key is None):
        write.status, write.next_attempt_at, write.told_at, write.requested_by = PENDING, now, None, by
    return write


def item_changed(
    session: Session, item: ActionItem, action: str, *, by: str, now: dt.datetime, reason: str | None = None
) -> None:
    """A change made in Slack (done, drop, reopen) that the ticket must follow, with who and why."""
    if item.ticket_key is None or item.ticket_state == "gone":
        return  # no ticket yet: a pending create closes the new ticket itself if the item is closed by then
    op = "reopen" if action == "reopen" else "close"
    session.add(
        TrackerWrite(
            action_item_id=item.id,
            op=op,
            payload={"action": action, "by": by, "reason": reason},
            status=PENDING,
            requested_by=by,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


# -- carrying them out -------------------------------------------------------------------------------
def run_due(runtime: Runtime, *, write_ids: list[int] | None = None, limit: int = 200) -> list[Outcome]:
    """Try every write that is due (or just these), oldest first; each item's writes in order."""
    if runtime.tracker is None:
        return []
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        query = (
            select(TrackerWrite.id)
            .where(
                TrackerWrite.status == PENDING,
                TrackerWrite.next_attempt_at <= now,
                or_(TrackerWrite.lease_until.is_(None), TrackerWrite.lease_until < now),
            )
            .order_by(TrackerWrite.id)
            .limit(limit)
        )
        if write_ids is not None:
            query = query.where(TrackerWrite.id.in_(write_ids))
        due = list(session.scalars(query))
    return [run_one(runtime, write_id) for write_id in due]


def _claim(session: Session, write_id: int, token: str, now: dt.datetime) -> bool:
    older = aliased(TrackerWrite)
    earlier_pending = exists().where(
        older.action_item_id == TrackerWrite.action_item_id, older.id < TrackerWrite.id, older.status == PENDING
    )
    result = session.execute(
        update(TrackerWrite)
        .where(
            TrackerWrite.id == write_id,
            TrackerWrite.status == PENDING,
            TrackerWrite.next_attempt_at <= now,
            or_(TrackerWrite.lease_until.is_(None), TrackerWrite.lease_until < now),
            ~earlier_pending,
        )
        .values(claimed_by=token, lease_until=now + LEASE, attempts=TrackerWrite.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return rows_changed(result) == 1


def run_one(runtime: Runtime, write_id: int) -> Outcome:
    tracker = runtime.tracker
    assert tracker is not None
    token = uuid.uuid4().hex
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        if not _claim(session, write_id, token, now):
            write = session.get(TrackerWrite, write_id)
            return Outcome(
                write_id,
                write.action_item_id if write else 0,
                write.op if write else "?",
                "busy",
                message="another worker has it",
            )
        write = session.get(TrackerWrite, write_id)
        assert write is not None
        session.refresh(write)
        item = session.get(ActionItem, write.action_item_id)
        assert item is not None
        incident = session.get(Incident, item.incident_id)
        assert incident is not None
        job: dict[str, Any] = {
            "op": write.op,
            "attempts": write.attempts,
            "created_at": write.created_at,
            "payload": dict(write.payload or {}),
            "key": item.ticket_key,
            "item_id": item.id,
            "owner_id": item.owner_id,
        }
        if write.op == "create":
            job["marker"] = tickets.marker(item, incident)
            job["has_ticket"] = item.ticket_key is not None
    try:
        ticket = _perform(runtime, job, write_id)
    except TrackerError as err:
        return _record_failure(runtime, write_id, token, err)
    except Exception:  # noqa: BLE001 - any bug in one write: logged with an id, retried like an outage
        error_id = report_unexpected(runtime.logger, f"carrying out tracker write {write_id}")
        return _record_failure(runtime, write_id, token, TrackerError(f"unexpected error {error_id}"))
    return _record_success(runtime, write_id, token, ticket)


def _perform(runtime: Runtime, job: dict[str, Any], write_id: int) -> Ticket | None:
    tracker = runtime.tracker
    assert tracker is not None
    if job["op"] == "create":
        if job["has_ticket"]:
            return None  # linked by hand meanwhile: nothing to make
        if job["attempts"] > 1:  # tried before, outcome unknown: it may exist already
            found = tracker.find_by_marker(job["marker"], since=job["created_at"] - MARKER_LOOKBACK)
            if found is not None:
                runtime.logger.info(
                    "tracker write %s: found %s by its marker; not creating it again", write_id, found.key
                )
                return found
        owner_name = runtime.gateway.user_name(job["owner_id"]) if job["owner_id"] else None
        assignee = tickets.assignee_for(tracker, runtime.settings.trackers, runtime.gateway, job["owner_id"])
        with runtime.db.unit_of_work() as session:
            item = session.get(ActionItem, job["item_id"])
            assert item is not None
            incident = session.get(Incident, item.incident_id)
            assert incident is not None
            new = tickets.new_ticket(session, item, incident, owner_name=owner_name, assignee=assignee)
        return tracker.create(new)
    if job["key"] is None:
        return None  # the link was removed: nothing to follow
    payload = job["payload"]
    who = runtime.gateway.user_name(payload["by"]) if payload.get("by") else "someone"
    # tried before: the comment may be there already (its answer lost); the adapter looks first
    since = job["created_at"] - MARKER_LOOKBACK if job["attempts"] > 1 else None
    if job["op"] == "reopen":
        return tracker.reopen(job["key"], Comment(f"Reopened in Slack by {who}.", f"change-{write_id}", since))
    what = (
        f"Dropped in Slack by {who}: {payload.get('reason')}"
        if payload.get("action") == "drop"
        else f"Marked done in Slack by {who}."
    )
    return tracker.close(
        job["key"], Comment(what, f"change-{write_id}", since), dropped=payload.get("action") == "drop"
    )


def _mine(session: Session, write_id: int, token: str) -> TrackerWrite | None:
    write = session.get(TrackerWrite, write_id)
    # A worker that outlived its lease may find its write taken over; the newer worker records it.
    if write is None or write.status != PENDING or write.claimed_by != token:
        return None
    return write


def _safe_url(url: str) -> str | None:
    return (
        url
        if url.startswith(("https://", "http://")) and not (set(url) & SAFE_URL_CHARS) and len(url) <= 1000
        else None
    )


def _record_success(runtime: Runtime, write_id: int, token: str, ticket: Ticket | None) -> Outcome:
    tracker = runtime.tracker
    assert tracker is not None
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        write = _mine(session, write_id, token)
        if write is None:
            return Outcome(write_id, 0, "?", "busy", message="taken over by another worker")
        write.status, write.done_at, write.lease_until, write.last_error = DONE, now, None, None
        item = session.get(ActionItem, write.action_item_id)
        assert item is not None
        follow_up = False
        if ticket is not None and write.op == "create" and item.ticket_key is None:
            _attach(session, item, ticket, tracker.name, tracker.display, by=write.requested_by, now=now)
            if item.status != ActionStatus.OPEN and ticket.state != CLOSED:  # closed in Slack while being made
                item_changed(
                    session,
                    item,
                    "drop" if item.status == ActionStatus.DROPPED else "done",
                    by=item.closed_by or write.requested_by,
                    now=now,
                    reason=item.drop_reason,
                )
                follow_up = True
        elif ticket is not None and write.op in ("close", "reopen") and item.ticket_key == ticket.key:
            item.ticket_state, item.ticket_synced_at = ticket.state, now  # ours: not a change to bring back
        outcome = Outcome(write_id, item.id, write.op, "done", ticket=ticket)
    if follow_up:
        kick(runtime)  # the close queued behind the create
    return outcome


def _attach(
    session: Session, item: ActionItem, ticket: Ticket, tracker_name: str, display: str, *, by: str, now: dt.datetime
) -> None:
    def apply() -> None:
        item.ticket_tracker, item.ticket_key, item.link_url = tracker_name, ticket.key, _safe_url(ticket.url)
        item.ticket_state, item.ticket_assignee, item.ticket_due = ticket.state, ticket.assignee, ticket.due
        item.ticket_synced_at = now

    action_items.apply_tracker_change(
        session, item, "ticket", apply, by=by, now=now, summary=f"has its ticket {escape(ticket.label)} in {display}"
    )


def retry_delay(attempts: int, retry_after: float | None) -> dt.timedelta:
    backoff = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=max(backoff, retry_after or 0))


def _record_failure(runtime: Runtime, write_id: int, token: str, err: TrackerError) -> Outcome:
    now = runtime.clock.now()
    tell: tuple[str, str] | None = None
    with runtime.db.unit_of_work() as session:
        write = _mine(session, write_id, token)
        if write is None:
            return Outcome(write_id, 0, "?", "busy", message="taken over by another worker")
        write.lease_until, write.last_error = None, str(err)[:2000]
        item = session.get(ActionItem, write.action_item_id)
        assert item is not None
        if err.needs_person:
            write.status = FAILED
            if write.told_at is None:
                write.told_at = now
                incident = session.get(Incident, item.incident_id)
                assert incident is not None
                tell = (incident.channel_id, failure_text(runtime, write.op, item, str(err)))
            outcome = Outcome(write_id, item.id, write.op, "failed", message=str(err))
        else:
            write.next_attempt_at = now + retry_delay(write.attempts, err.retry_after)
            outcome = Outcome(
                write_id, item.id, write.op, "waiting", message=str(err), next_attempt_at=write.next_attempt_at
            )
    runtime.logger.warning(
        "tracker write %s (%s of %s) %s: %s",
        write_id,
        outcome.op,
        action_ref(outcome.item_id),
        "needs a person" if err.needs_person else "will be retried",
        err,
    )
    if tell:
        try:
            runtime.gateway.post_message(*tell)
        except SlackFailure as failure:
            runtime.logger.warning("could not tell %s about a tracker failure: %s", tell[0], failure)
    return outcome


def failure_text(runtime: Runtime, op: str, item: ActionItem, error: str) -> str:
    tracker = runtime.tracker
    display = tracker.display if tracker else "the tracker"
    ref = action_ref(item.id)
    doing = {
        "create": f"create the {display} ticket for *{ref}*",
        "close": f"close {display} ticket {escape(item.ticket_key or '')} of *{ref}*",
        "reopen": f"reopen {display} ticket {escape(item.ticket_key or '')} of *{ref}*",
    }.get(op, f"update *{ref}*'s ticket")
    again = f"`/incident ticket {ref}`" if op == "create" else "closing or reopening the item again"
    return (
        f":warning: I could not {doing}: {escape(error)}. Someone who runs incident-bot needs to fix this; "
        f"then {again} tries again."
    )


# -- prompt work ---------------------------------------------------------------------------------------
_kick_lock = threading.Lock()
_kicks: dict[int, list[bool]] = {}  # runtime id -> [running, asked again]


def kick(runtime: Runtime) -> None:
    """Carry out due writes soon, off the caller's thread; kicks while one runs fold into one more pass."""
    if runtime.tracker is None:
        return
    with _kick_lock:
        state = _kicks.setdefault(id(runtime), [False, False])
        if state[0]:
            state[1] = True
            return
        state[0] = True

    def drain() -> None:
        while True:
            try:
                run_due(runtime)
            except Exception:  # noqa: BLE001 - a background pass must not die silently; the next kick or tick retries
                report_unexpected(runtime.logger, "carrying out tracker writes")
            with _kick_lock:
                if state[1]:
                    state[1] = False
                    continue
                state[0] = False
                return

    try:
        runtime.after_ack.submit(drain)
    except RuntimeError:  # shutting down: the scheduler's next tick, or the next start, picks them up
        with _kick_lock:
            state[0] = False
