"""Accepted webhook deliveries: stored raw first, then interpreted into facts.

Storing first means a process that dies mid-way loses nothing: `sweep` interprets whatever
was stored but never interpreted. The delivery's dedup key is unique per source, so a retried
delivery (or the same one reaching two replicas) is stored once; and a fact's identity is
unique, so interpreting twice records nothing new.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select

from bot.errors import report_unexpected
from bot.models import HookDelivery
from bot.sources import registry, routing
from bot.sources.values import FactDraft

# Deliveries younger than this are left to the request that stored them.
SWEEP_GRACE = dt.timedelta(seconds=30)
MAX_ATTEMPTS = 5
# Raw deliveries are kept for a redelivery to be recognised and a failure to be looked into; the
# facts they held stay. A storm stores thousands of bodies of up to 1 MiB: they must not pile up.
KEEP_INTERPRETED = dt.timedelta(days=7)
KEEP_GIVEN_UP = dt.timedelta(days=30)
PRUNE_BATCH = 500


@dataclass(frozen=True)
class Stored:
    delivery_id: int | None  # None: the same delivery was stored before (a repeat or retry)


def store(runtime: Any, source: str, *, event: str, dedup_key: str, body: bytes) -> Stored:
    row = {
        "source": source,
        "event": event,
        "dedup_key": dedup_key,
        "payload": body.decode("utf-8"),
        "received_at": runtime.clock.now(),
        "attempts": 0,
    }
    with runtime.db.unit_of_work() as session:
        ids = routing.insert_ignoring_duplicates(session, HookDelivery, [row], ["source", "dedup_key"])
    return Stored(ids[0] if ids else None)


def interpret(runtime: Any, delivery_id: int, drafts: list[FactDraft] | None = None) -> routing.Recorded | None:
    """Record a stored delivery's facts (once); returns what landed where, None if done before.
    `drafts`: the payload's facts when the caller read them already (the live request)."""
    try:
        handed_off = _hand_off(runtime, delivery_id)
        with runtime.db.unit_of_work() as session:
            delivery = session.get(HookDelivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.interpreted_at is not None:
                return None
            now = runtime.clock.now()
            recorded = routing.Recorded(handed_off=handed_off)
            if handed_off is None:
                if drafts is None:
                    drafts = registry.SOURCES[delivery.source].interpret(json.loads(delivery.payload), delivery.event)
                recorded = routing.record(session, drafts, delivery_id=delivery.id, now=now)
            delivery.interpreted_at = now
            delivery.attempts += 1
    except Exception as err:
        _note_failure(runtime, delivery_id, err)
        raise
    return recorded


def _hand_off(runtime: Any, delivery_id: int) -> str | None:
    """A delivery another part of the bot takes (`registry.HANDOFFS`: the trackers' issue events)
    goes to it, verified and stored, before the delivery is marked done: a failure is retried by
    the sweep, so the hand-off sees each delivery at least once and dedups by the key it is given.
    Returns what it did; None when the delivery is not one to hand off."""
    with runtime.db.unit_of_work() as session:
        delivery = session.get(HookDelivery, delivery_id)
        if delivery is None or delivery.interpreted_at is not None:
            return None
        handoff = registry.handoff_for(delivery.source, delivery.event)
        payload, key = delivery.payload, delivery.dedup_key
    if handoff is None:
        return None
    return handoff(runtime, json.loads(payload), key)


def _note_failure(runtime: Any, delivery_id: int, err: Exception) -> None:
    try:
        with runtime.db.unit_of_work() as session:
            delivery = session.get(HookDelivery, delivery_id)
            if delivery is not None:
                delivery.attempts += 1
                delivery.last_error = f"{err.__class__.__name__}: {err}"[:2000]
    except Exception:
        runtime.logger.exception("could not note the failure of hook delivery %s", delivery_id)


def pending(runtime: Any, *, limit: int = 200) -> list[int]:
    cutoff = runtime.clock.now() - SWEEP_GRACE
    with runtime.db.unit_of_work() as session:
        query = (
            select(HookDelivery.id)
            .where(
                HookDelivery.interpreted_at.is_(None),
                HookDelivery.received_at <= cutoff,
                HookDelivery.attempts < MAX_ATTEMPTS,
            )
            .order_by(HookDelivery.received_at, HookDelivery.id)
            .limit(limit)
        )
        return list(session.scalars(query))


def sweep(runtime: Any) -> int:
    """Interpret deliveries a dead (or failing) process left stored but uninterpreted."""
    from bot.sources import notices

    done = 0
    for delivery_id in pending(runtime):
        try:
            recorded = interpret(runtime, delivery_id)
        except Exception:  # noqa: BLE001 - one bad delivery must not stop the sweep; logged with an id
            report_unexpected(runtime.logger, f"interpreting hook delivery {delivery_id} in the sweep")
            continue
        if recorded is not None:
            done += 1
            notices.after_recording(runtime, recorded)
    notices.flush_pending(runtime)
    if runtime.settings.alerts_channel:
        notices.retry_alert_posts(runtime)
    prune(runtime)
    return done


def prune(runtime: Any) -> int:
    """Delete raw deliveries past keeping (interpreted: KEEP_INTERPRETED; given up after
    MAX_ATTEMPTS: KEEP_GIVEN_UP), a batch at a time; returns how many went."""
    now = runtime.clock.now()
    expired = or_(
        and_(HookDelivery.interpreted_at.is_not(None), HookDelivery.received_at < now - KEEP_INTERPRETED),
        and_(
            HookDelivery.interpreted_at.is_(None),
            HookDelivery.attempts >= MAX_ATTEMPTS,
            HookDelivery.received_at < now - KEEP_GIVEN_UP,
        ),
    )
    with runtime.db.unit_of_work() as session:
        batch = list(session.scalars(select(HookDelivery.id).where(expired).limit(PRUNE_BATCH)))
        if batch:
            session.execute(
                delete(HookDelivery).where(HookDelivery.id.in_(batch)).execution_options(synchronize_session=False)
            )
    return len(batch)


def headers_of(raw: list[tuple[bytes, bytes]]) -> Mapping[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}
