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

from sqlalchemy import select

from bot.errors import report_unexpected
from bot.models import HookDelivery
from bot.sources import registry, routing
from bot.sources.github import GITHUB_EVENT_HANDLERS
from bot.sources.values import FactDraft

# Deliveries younger than this are left to the request that stored them.
SWEEP_GRACE = dt.timedelta(seconds=30)
MAX_ATTEMPTS = 5


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
        handled = _hand_to_registered(runtime, delivery_id)
        with runtime.db.unit_of_work() as session:
            delivery = session.get(HookDelivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.interpreted_at is not None:
                return None
            now = runtime.clock.now()
            recorded = routing.Recorded()
            if not handled:
                if drafts is None:
                    drafts = registry.SOURCES[delivery.source].interpret(json.loads(delivery.payload), delivery.event)
                recorded = routing.record(session, drafts, delivery_id=delivery.id, now=now)
            delivery.interpreted_at = now
            delivery.attempts += 1
    except Exception as err:
        _note_failure(runtime, delivery_id, err)
        raise
    return recorded


def _hand_to_registered(runtime: Any, delivery_id: int) -> bool:
    """A GitHub event another part of the bot registered for (the trackers' `issues`) goes to it,
    verified and stored, before the delivery is marked done: a failure is retried by the sweep, so
    the handler sees each delivery at least once and dedups by the key it is given."""
    with runtime.db.unit_of_work() as session:
        delivery = session.get(HookDelivery, delivery_id)
        if delivery is None or delivery.interpreted_at is not None or delivery.source != "github":
            return False
        handler = GITHUB_EVENT_HANDLERS.get(delivery.event)
        payload, key = delivery.payload, delivery.dedup_key
    if handler is None:
        return False
    handler(runtime, json.loads(payload), key)
    return True


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
    return done


def headers_of(raw: list[tuple[bytes, bytes]]) -> Mapping[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}
