"""The intake: every Slack request that leads to work is stored before it is acknowledged.

Slack never re-sends a command or a click, and re-sends an event only when it got no answer, so
"acknowledged" has to mean "stored". The `inbox` table holds each such request (`store`, inside
the acknowledgement's time); the work then runs from it, and the row is settled:

- `pending` → the work has not finished. The process that stored the row holds a lease on it
  and keeps renewing it (`LeaseKeeper`, one UPDATE for all its rows); when the process dies, the
  lease runs out and `take_over_stale` hands the row to exactly one other process (a conditional
  UPDATE on `attempts`, on SQLite and PostgreSQL alike), which carries it out again from the
  stored body.
- `answering` → the work's effect is committed (`complete_in` marks it in the *same* transaction
  as the effect, so a replay never does it twice); only the answer to its author may be missing,
  so a take-over tells the author instead of doing the work again.
- `done` → answered (`mark_done`), or nothing to do. A process settles its answered requests in
  batches (`DoneMarks`: one UPDATE for all answered within 50 ms) rather than a transaction each.

A slow process whose lease ran out and was taken over finds out at `complete_in`, which raises
`LeaseLost`: its transaction rolls back, so the effect still happens once.

The request being carried out on this thread is in a context variable (`current()`), set while
the work runs (`working_on`), so the services deep inside need no extra argument to find it.
This module knows nothing of Bolt; `handlers/intake.py` stores and replays Slack's requests.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import delete, insert, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Database, rows_changed
from bot.models import InboxRequest, InboxState

logger = logging.getLogger(__name__)

DEFAULT_LEASE = dt.timedelta(seconds=60)
# A request that took its process down this many times is given up (logged), not replayed forever.
MAX_ATTEMPTS = 5
# Done rows are kept this long: long enough to absorb any re-delivery of an event by Slack.
KEEP_DONE = dt.timedelta(days=3)
_OPEN = (InboxState.PENDING, InboxState.ANSWERING)


class LeaseLost(BaseException):
    """Another process took this request over (our lease ran out): drop our work, theirs counts.

    A BaseException so that handlers' "tell the user something went wrong" does not catch it."""


@dataclass
class Held:
    """A stored request this process is carrying out."""

    id: int
    worker: str
    attempts: int
    user_id: str | None
    received_at: dt.datetime
    replay: bool = False  # carried out again after the process that stored it stopped
    summary: str | None = None  # what was asked, in words, for answers that reach the author late
    handed_off: bool = False  # work was started for it (else it is settled as having none)


@dataclass(frozen=True)
class Taken:
    """A request taken over from a process that stopped: what to do with it."""

    held: Held
    state: InboxState  # pending: carry it out; answering: only tell its author
    surface: str
    raw_body: str
    content_type: str | None
    gave_up: bool  # it failed MAX_ATTEMPTS times: tell the author, don't try again


def dedup_key(surface: str, raw_body: str, event_id: str | None = None) -> str:
    """Events: Slack's event id (its re-deliveries carry the same one). Others: the body's hash
    (each carries a fresh trigger id or action timestamp, so two presses never share it)."""
    if event_id:
        return f"event:{event_id}"[:128]
    return f"{surface}:{hashlib.sha256(raw_body.encode()).hexdigest()}"


# -- the request on this thread ----------------------------------------------------------------
_receiving: contextvars.ContextVar[Held | None] = contextvars.ContextVar("intake_receiving", default=None)
_working: contextvars.ContextVar[Held | None] = contextvars.ContextVar("intake_working", default=None)


@contextlib.contextmanager
def receiving(held: Held | None) -> Iterator[None]:
    """While a stored request is being dispatched (before its ack): work started now is for it."""
    token = _receiving.set(held)
    try:
        yield
    finally:
        _receiving.reset(token)


def being_received() -> Held | None:
    """The stored request being dispatched on this thread (before its ack), if any."""
    return _receiving.get()


def hand_off() -> Held | None:
    """The stored request being dispatched on this thread, claimed for one piece of work."""
    held = _receiving.get()
    if held is None or held.handed_off:
        return None
    held.handed_off = True
    return held


@contextlib.contextmanager
def working_on(held: Held | None) -> Iterator[None]:
    token = _working.set(held)
    try:
        yield
    finally:
        _working.reset(token)


def current() -> Held | None:
    """The stored request whose work runs on this thread, if any."""
    return _working.get()


# -- the table ---------------------------------------------------------------------------------
# Built once: a statement made per call (`.values(...)`) is hashed for the compiled cache every time.
_STORE = insert(InboxRequest).returning(InboxRequest.id)


def store(
    db: Database,
    *,
    surface: str,
    key: str,
    raw_body: str,
    content_type: str | None,
    user_id: str | None,
    worker: str,
    now: dt.datetime,
    lease: dt.timedelta = DEFAULT_LEASE,
) -> Held | None:
    """Commit the request; None when it is stored already (a re-delivered event)."""
    try:
        # A Core INSERT … RETURNING on a bare connection, no ORM session: this runs before every
        # acknowledgement, and the ORM's machinery cost more CPU than the statement itself.
        with db.one_statement() as connection:
            row_id = connection.execute(
                _STORE,
                {
                    "surface": surface,
                    "dedup_key": key,
                    "raw_body": raw_body,
                    "content_type": content_type,
                    "user_id": user_id,
                    "received_at": now,
                    "state": InboxState.PENDING,
                    "claimed_by": worker,
                    "lease_until": now + lease,
                    "attempts": 1,
                },
            ).scalar_one()
            return Held(row_id, worker, 1, user_id, now)
    except IntegrityError:
        return None


def _mine(held: Held):
    return (InboxRequest.id == held.id, InboxRequest.claimed_by == held.worker, InboxRequest.attempts == held.attempts)


def complete_in(session: Session) -> None:
    """Mark the current request's effect as done, in the session that commits the effect.

    Raises `LeaseLost` (rolling the effect back) when another process took the request over."""
    held = current()
    if held is None:
        return
    changed = rows_changed(
        session.connection().execute(  # Core: the ORM's bulk-update layer costs more than the UPDATE
            update(InboxRequest)
            .where(*_mine(held), InboxRequest.state == InboxState.PENDING)
            .values(state=InboxState.ANSWERING)
        )
    )
    if changed != 1:
        raise LeaseLost(f"intake {held.id} was taken over by another process")


def mark_done(db: Database, held: Held, *, now: dt.datetime) -> bool:
    """Settle the request; False when another process holds it now (it settles it instead)."""
    return mark_all_done(db, [held], now=now) == 1


def mark_all_done(db: Database, held: list[Held], *, now: dt.datetime) -> int:
    """Settle these requests in one statement; returns how many were still ours to settle."""
    with db.one_statement() as connection:
        return rows_changed(
            connection.execute(
                update(InboxRequest)
                .where(
                    tuple_(InboxRequest.id, InboxRequest.claimed_by, InboxRequest.attempts).in_(
                        [(h.id, h.worker, h.attempts) for h in held]
                    ),
                    InboxRequest.state.in_(_OPEN),
                )
                .values(state=InboxState.DONE, done_at=now)
            )
        )


def release(db: Database, held: Held, *, now: dt.datetime) -> None:
    """Give the request back (its lease ends now): the next take-over sweep tries it again."""
    with db.unit_of_work() as session:
        session.execute(
            update(InboxRequest)
            .where(*_mine(held), InboxRequest.state.in_(_OPEN))
            .values(claimed_by="", lease_until=now)
            .execution_options(synchronize_session=False)
        )


def renew(db: Database, worker: str, *, now: dt.datetime, lease: dt.timedelta = DEFAULT_LEASE) -> int:
    """Push out the lease of every open request this process holds; returns how many."""
    with db.one_statement() as connection:
        return rows_changed(
            connection.execute(
                update(InboxRequest)
                .where(InboxRequest.claimed_by == worker, InboxRequest.state.in_(_OPEN))
                .values(lease_until=now + lease)
            )
        )


def _pid_namespace() -> str:
    """Which process-id space this process lives in (Linux), so that a pid seen in a claim is
    only ever looked up in the space it came from; "0" where that cannot be told."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


def new_worker_id() -> str:
    """host:pid-namespace:pid:tag — who holds a lease, and enough to tell, on this host, if it died."""
    return f"{socket.gethostname()[:30]}:{_pid_namespace()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _place_of(worker: str) -> str:
    return ":".join(worker.split(":")[:2])  # host and pid namespace


def died_on_this_host(worker: str, *, me: str) -> bool:
    """Whether `worker` was a process of this host (and pid namespace) that is gone.

    Such a claim need not wait for its lease: a bot restarted on the same machine (or in the same
    container, where the new process often gets the old one's pid) picks up at once. Anything
    unsure (another host or namespace, a pid now used by some other process) is left to the lease."""
    parts = worker.split(":")
    if (
        worker == me
        or len(parts) != 4
        or _place_of(worker) != _place_of(me)
        or parts[1] == "0"
        or not parts[2].isdigit()
    ):
        return False
    pid = int(parts[2])
    if pid == os.getpid():
        return worker not in _LIVE_WORKERS  # an earlier life of this pid, or a runtime of ours
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, run by another user
    return False


def take_over_stale(
    db: Database, worker: str, *, now: dt.datetime, lease: dt.timedelta = DEFAULT_LEASE, limit: int = 200
) -> list[Taken]:
    """Take every open request whose lease ran out, or whose process died on this host; each is
    won by exactly one caller."""
    with db.unit_of_work() as session:
        candidates = session.execute(
            select(
                InboxRequest.id,
                InboxRequest.attempts,
                InboxRequest.state,
                InboxRequest.claimed_by,
                InboxRequest.lease_until,
            )
            .where(
                InboxRequest.state.in_(_OPEN),
                or_(
                    InboxRequest.lease_until <= now,
                    InboxRequest.claimed_by.startswith(_place_of(worker) + ":", autoescape=True),
                ),
            )
            .order_by(InboxRequest.id)
            .limit(limit)
        ).all()
    taken: list[Taken] = []
    for row_id, attempts, state, holder, lease_until in candidates:
        expired = lease_until <= now
        if not expired and not died_on_this_host(holder, me=worker):
            continue
        # Compare-and-set: nobody took it meanwhile (attempts), and an expired lease was not renewed.
        still = (InboxRequest.lease_until <= now,) if expired else (InboxRequest.claimed_by == holder,)
        with db.unit_of_work() as session:
            won = rows_changed(
                session.execute(
                    update(InboxRequest)
                    .where(
                        InboxRequest.id == row_id,
                        InboxRequest.attempts == attempts,
                        InboxRequest.state == state,
                        *still,
                    )
                    .values(claimed_by=worker, attempts=attempts + 1, lease_until=now + lease)
                    .execution_options(synchronize_session=False)
                )
            )
            if won != 1:
                continue  # another process got there first
            row = session.get(InboxRequest, row_id)
            assert row is not None
            held = Held(row.id, worker, attempts + 1, row.user_id, row.received_at, replay=True)
            gave_up = state is InboxState.PENDING and attempts >= MAX_ATTEMPTS
            taken.append(Taken(held, state, row.surface, row.raw_body, row.content_type, gave_up))
    return taken


def hold_name(db: Database, held: Held, key: str, *, now: dt.datetime, window: dt.timedelta) -> int | None:
    """Let this request hold `key` (e.g. one person declaring one title) for `window`.

    Returns None when it holds it, or the id of the request that has held it for less than
    `window`. Decided by the unique index on `guard_key`, so two at once cannot both win."""
    for _ in range(3):
        try:
            with db.unit_of_work() as session:
                session.execute(
                    update(InboxRequest)
                    .where(InboxRequest.id == held.id)
                    .values(guard_key=key)
                    .execution_options(synchronize_session=False)
                )
            return None
        except IntegrityError:
            pass
        with db.unit_of_work() as session:
            holder = session.execute(
                select(InboxRequest.id, InboxRequest.received_at).where(InboxRequest.guard_key == key)
            ).first()
            if holder is None:
                continue  # released meanwhile: try again
            if holder.id == held.id:
                return None
            if holder.received_at > now - window:
                return int(holder.id)
            # An old holder: free the name (only if nobody else freed and took it meanwhile).
            session.execute(
                update(InboxRequest)
                .where(InboxRequest.id == holder.id, InboxRequest.guard_key == key)
                .values(guard_key=None)
                .execution_options(synchronize_session=False)
            )
    return None


def release_name(db: Database, held: Held) -> None:
    with db.unit_of_work() as session:
        session.execute(
            update(InboxRequest)
            .where(InboxRequest.id == held.id)
            .values(guard_key=None)
            .execution_options(synchronize_session=False)
        )


def purge_done(db: Database, *, now: dt.datetime) -> int:
    with db.unit_of_work() as session:
        return rows_changed(
            session.execute(
                delete(InboxRequest)
                .where(InboxRequest.state == InboxState.DONE, InboxRequest.done_at < now - KEEP_DONE)
                .execution_options(synchronize_session=False)
            )
        )


# Workers alive in this process (a process may hold several runtimes: tests, benchmarks).
_LIVE_WORKERS: set[str] = set()


class LeaseKeeper:
    """Renews this process's leases a few times per lease: while it runs, nothing of ours is taken."""

    def __init__(self, db: Database, worker: str, now: Callable[[], dt.datetime], lease: dt.timedelta):
        self._db, self._worker, self._now, self.lease = db, worker, now, lease
        self._stop = threading.Event()

    def start(self) -> LeaseKeeper:
        _LIVE_WORKERS.add(self._worker)
        threading.Thread(target=self._run, name="intake-lease", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        _LIVE_WORKERS.discard(self._worker)

    def _run(self) -> None:
        while not self._stop.wait(self.lease.total_seconds() / 4):
            try:
                renew(self._db, self._worker, now=self._now(), lease=self.lease)
            except Exception:
                logger.exception("renewing intake leases failed; trying again shortly")


class DoneMarks:
    """Settles this process's answered requests in batches, off the threads that answered them.

    Under a burst, one UPDATE then settles everything answered within `gather` instead of a
    transaction per request. A request answered in the last instant before a crash stays open;
    its take-over then tells its author once more that it was done (the work is not repeated)."""

    BATCH = 500

    def __init__(self, db: Database, now: Callable[[], dt.datetime], gather: float = 0.05):
        self._db, self._now, self._gather = db, now, gather
        self._waiting: list[Held] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="intake-done", daemon=True)

    def start(self) -> DoneMarks:
        self._thread.start()
        return self

    def add(self, held: Held) -> None:
        with self._lock:
            self._waiting.append(held)
        self._wake.set()

    def flush(self) -> None:
        """Settle everything answered so far, now."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), self.BATCH):
            batch = waiting[start : start + self.BATCH]
            try:
                mark_all_done(self._db, batch, now=self._now())
            except Exception:  # tried again with the next batch; if we die first, a take-over only answers again
                logger.exception("settling %s answered requests failed; trying again later", len(batch))
                with self._lock:
                    self._waiting[:0] = batch

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            self._stop.wait(self._gather)  # let the rest of a burst join this batch
            self.flush()
