"""Exactly-once delivery of a reminder: one message per (kind, channel, period), whoever sends it.

The promise comes from the `nudge_claims` table and its unique key (kind, channel_id, period):

1. **Claim before sending.** A sender inserts the row (status `claimed`, a lease). Whoever inserts
   it sends; everyone else gets an integrity error and leaves the target alone.
2. **Post with message metadata** naming the kind, target and period, then **mark the row sent**.
3. **A dead sender's claim** (status `claimed` or `failed`, lease run out) is taken over with a
   compare-and-set on `attempts`, so exactly one process wins it. The winner first looks in the
   channel's history for a message carrying this period's metadata: a sender that crashed between
   posting and marking sent did deliver, and that message is recorded instead of sending again.
4. **Final states** are `sent`, `empty` (nothing left to say), `gone` (the channel is archived or
   the bot was removed: the caller routes the items elsewhere) and `missed` (the period ended
   unsent: logged and counted, see `mark_missed`).

This holds for one process or several on one database, on SQLite and PostgreSQL, because it
relies only on a unique index and a conditional UPDATE. The lease must outlast one post
including the Web API client's retries (15 s timeout, 3 retries and Retry-After waits), so the
default of ten minutes leaves a wide margin.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.db import Database, rows_changed
from bot.models import NudgeClaim
from bot.slack import blocks as bk
from bot.slack.gateway import PostedMessage, SlackFailure, SlackGateway

logger = logging.getLogger(__name__)

EVENT_TYPE = "incident_bot_reminder"
CLAIMED, SENT, FAILED, EMPTY, GONE, MISSED = "claimed", "sent", "failed", "empty", "gone", "missed"
SETTLED = (SENT, EMPTY, GONE, MISSED)
DEFAULT_LEASE = dt.timedelta(minutes=10)
RETRY_AFTER_FAILURE = dt.timedelta(minutes=5)
# A person who cannot get a direct message any more: like a gone channel, retrying does not help.
DM_UNREACHABLE = {"user_not_found", "user_disabled", "cannot_dm_bot", "user_not_visible"}
# Slack allows about one message a second in a channel.
MIN_SECONDS_BETWEEN_POSTS = 1.0

# Called after a message was posted and before it is marked sent; tests inject crashes here.
AfterPost = Callable[["Outgoing", PostedMessage], None]


def new_worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Outgoing:
    """One reminder to deliver once: the claim's key and the message."""

    kind: str
    key: str  # the claim's channel_id: a channel id, or a user id for a direct message
    period: str
    text: str
    blocks: list[bk.Block]
    dm_user: str | None = None  # post to this person's DM instead of the channel `key`

    @property
    def metadata(self) -> dict[str, Any]:
        return {"event_type": EVENT_TYPE, "event_payload": {"kind": self.kind, "key": self.key, "period": self.period}}


@dataclass(frozen=True)
class Claim:
    id: int
    attempts: int
    worker: str
    recovering: bool  # a previous sender held it: it may have posted already


class ChannelPacer:
    """Keeps this process to about one message a second per channel."""

    def __init__(self, interval: float = MIN_SECONDS_BETWEEN_POSTS):
        self.interval = interval
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_turn(self, channel: str) -> None:
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._last.get(channel, 0.0) + self.interval)
            self._last[channel] = turn
            if len(self._last) > 10000:  # forget channels long past their turn
                self._last = {c: t for c, t in self._last.items() if t > now - self.interval}
        if turn > now:
            time.sleep(turn - now)


PACER = ChannelPacer()


# -- the claim table ---------------------------------------------------------------------------
def claim(
    db: Database,
    kind: str,
    key: str,
    period: str,
    *,
    worker: str,
    now: dt.datetime,
    lease: dt.timedelta = DEFAULT_LEASE,
    force: bool = False,
) -> Claim | None:
    """Take the right to send (kind, key, period), or None when someone else has it or it is done.

    With `force`, a settled claim is taken again (to send once more); a claim held by a live
    sender is still left alone.
    """
    try:
        with db.unit_of_work() as session:
            fresh = NudgeClaim(
                kind=kind,
                channel_id=key,
                period=period,
                status=CLAIMED,
                claimed_by=worker,
                lease_until=now + lease,
                attempts=1,
            )
            session.add(fresh)
            session.flush()
            return Claim(fresh.id, 1, worker, recovering=False)
    except IntegrityError:
        pass  # it exists: see below whether it can be taken over
    with db.unit_of_work() as session:
        row = session.scalar(
            select(NudgeClaim).where(NudgeClaim.kind == kind, NudgeClaim.channel_id == key, NudgeClaim.period == period)
        )
        if row is None:
            return None
        held = row.status in (CLAIMED, FAILED)
        if held and row.lease_until > now:
            return None
        if not held and not force:
            return None
        won = rows_changed(
            session.execute(
                update(NudgeClaim)
                .where(NudgeClaim.id == row.id, NudgeClaim.attempts == row.attempts)
                .values(status=CLAIMED, claimed_by=worker, lease_until=now + lease, attempts=row.attempts + 1)
                .execution_options(synchronize_session=False)
            )
        )
        if won != 1:
            return None
        # Forcing a settled claim means "send again"; taking over a held one means "finish its job".
        return Claim(row.id, row.attempts + 1, worker, recovering=held)


def settle(
    db: Database, held: Claim, status: str, *, now: dt.datetime, message_ts: str | None = None, error: str | None = None
) -> bool:
    """Record the outcome; False when another sender took the claim over meanwhile (lease ran out)."""
    values: dict[str, Any] = {"status": status, "last_error": error}
    if status == SENT:
        values.update(message_ts=message_ts, sent_at=now)
    if status == FAILED:
        values["lease_until"] = now + RETRY_AFTER_FAILURE  # retried by any process after this
    with db.unit_of_work() as session:
        changed = rows_changed(
            session.execute(
                update(NudgeClaim)
                .where(
                    NudgeClaim.id == held.id, NudgeClaim.claimed_by == held.worker, NudgeClaim.attempts == held.attempts
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        )
    if changed != 1:
        logger.warning("claim %s was taken over by another sender before it was marked %s", held.id, status)
    return changed == 1


def states(db: Database, kinds: tuple[str, ...], period: str) -> dict[tuple[str, str], NudgeClaim]:
    """Every claim of these kinds for the period, by (kind, key)."""
    with db.unit_of_work() as session:
        rows = session.scalars(select(NudgeClaim).where(NudgeClaim.kind.in_(kinds), NudgeClaim.period == period))
        return {(row.kind, row.channel_id): row for row in rows}


def is_open_for(row: NudgeClaim | None, now: dt.datetime, *, force: bool) -> bool:
    """Whether a sweep should try to claim this target (saves an insert for most settled ones)."""
    if row is None:
        return True
    if row.status in (CLAIMED, FAILED):
        return row.lease_until <= now
    return force


def mark_missed(db: Database, *, kinds: tuple[str, ...], before_period: str, now: dt.datetime) -> list[NudgeClaim]:
    """Claims of periods before `before_period` that ended unsent (and whose sender is not alive)."""
    with db.unit_of_work() as session:
        stale = list(
            session.scalars(
                select(NudgeClaim).where(
                    NudgeClaim.kind.in_(kinds),
                    NudgeClaim.period < before_period,
                    NudgeClaim.status.in_((CLAIMED, FAILED)),
                    NudgeClaim.lease_until <= now,
                )
            )
        )
        marked = []
        for row in stale:
            changed = rows_changed(
                session.execute(
                    update(NudgeClaim)
                    .where(
                        NudgeClaim.id == row.id, NudgeClaim.attempts == row.attempts, NudgeClaim.status == row.status
                    )
                    .values(status=MISSED)
                    .execution_options(synchronize_session=False)
                )
            )
            if changed == 1:
                marked.append(row)
        return marked


def record_missed(
    db: Database, kind: str, key: str, period: str, *, worker: str, now: dt.datetime, reason: str
) -> bool:
    """Insert a `missed` row for a target nobody even claimed; True when this call recorded it."""
    try:
        with db.unit_of_work() as session:
            session.add(
                NudgeClaim(
                    kind=kind,
                    channel_id=key,
                    period=period,
                    status=MISSED,
                    claimed_by=worker,
                    lease_until=now,
                    attempts=0,
                    last_error=reason,
                )
            )
        return True
    except IntegrityError:
        return False


def missed_count(db: Database, kinds: tuple[str, ...]) -> int:
    with db.unit_of_work() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(NudgeClaim)
                .where(NudgeClaim.kind.in_(kinds), NudgeClaim.status == MISSED)
            )
            or 0
        )


# -- sending once ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delivery:
    outcome: str  # sent | recovered | skipped | gone | failed
    channel: str | None = None
    ts: str | None = None
    error: str | None = None


def send_once(
    db: Database,
    gateway: SlackGateway,
    outgoing: Outgoing,
    *,
    worker: str,
    now: dt.datetime,
    force: bool = False,
    lease: dt.timedelta = DEFAULT_LEASE,
    after_post: AfterPost | None = None,
    pacer: ChannelPacer = PACER,
) -> Delivery:
    """Claim, look for a copy a dead sender posted, post, mark sent. Crashes (BaseException) propagate."""
    held = claim(db, outgoing.kind, outgoing.key, outgoing.period, worker=worker, now=now, lease=lease, force=force)
    if held is None:
        return Delivery("skipped")
    channel: str | None = None
    try:
        channel = gateway.open_dm(outgoing.dm_user) if outgoing.dm_user else outgoing.key
        if held.recovering:
            # Newest first and without a time bound: the payload names the period exactly, and
            # this does not depend on our clock agreeing with Slack's.
            ts = gateway.find_message_with_metadata(channel, EVENT_TYPE, outgoing.metadata["event_payload"])
            if ts is not None:
                logger.info(
                    "%s %s %s was already posted (%s) by a sender that stopped; recorded it",
                    outgoing.kind,
                    outgoing.key,
                    outgoing.period,
                    ts,
                )
                settle(db, held, SENT, now=now, message_ts=ts)
                return Delivery("recovered", channel, ts)
        pacer.wait_turn(channel)
        posted = gateway.post_message(channel, outgoing.text, outgoing.blocks, metadata=outgoing.metadata)
    except SlackFailure as failure:
        if failure.channel_gone or (outgoing.dm_user and failure.code in DM_UNREACHABLE):
            settle(db, held, GONE, now=now, error=failure.code)
            return Delivery("gone", channel, error=failure.code)
        logger.warning(
            "%s to %s for %s failed (%s); retried after %s",
            outgoing.kind,
            outgoing.key,
            outgoing.period,
            failure,
            RETRY_AFTER_FAILURE,
        )
        settle(db, held, FAILED, now=now, error=str(failure))
        return Delivery("failed", channel, error=failure.code)
    except Exception as err:
        logger.exception(
            "%s to %s for %s failed unexpectedly; retried after %s",
            outgoing.kind,
            outgoing.key,
            outgoing.period,
            RETRY_AFTER_FAILURE,
        )
        settle(db, held, FAILED, now=now, error=repr(err))
        return Delivery("failed", channel, error=repr(err))
    if after_post is not None:
        after_post(outgoing, posted)
    settle(db, held, SENT, now=now, message_ts=posted.ts)
    return Delivery("sent", posted.channel, posted.ts)
