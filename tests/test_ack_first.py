"""Acknowledgements first under load: follow-up work narrows while acks are pending, answered
requests are settled in batches, and a channel's incident is looked up once."""

from __future__ import annotations

import datetime as dt
import threading
import time

from sqlalchemy import event, select, update

from bot import intake
from bot.ack_priority import AckPriority
from bot.models import InboxRequest, InboxState
from tests.conftest import ANN

FORM = "application/x-www-form-urlencoded"
NOW = dt.datetime(2026, 6, 22, 14, 0, tzinfo=dt.UTC)


def test_follow_up_work_narrows_to_its_slots_while_an_ack_is_pending_then_widens():
    priority = AckPriority(busy_slots=2)
    running, most = [0], [0]
    lock, release = threading.Lock(), threading.Event()

    def job() -> None:
        with priority.following_up():
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            release.wait(10)
            with lock:
                running[0] -= 1

    with priority.acknowledging():
        jobs = [threading.Thread(target=job) for _ in range(6)]
        for thread in jobs:
            thread.start()
        time.sleep(0.3)
        assert running[0] == 2  # two run; four wait for the acknowledgement to go out
    deadline = time.monotonic() + 5
    while running[0] < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert running[0] == 6  # the ack went out: all of them run at once
    release.set()
    for thread in jobs:
        thread.join(5)
    assert most[0] == 6 and running[0] == 0


def test_without_pending_acks_follow_up_work_never_waits():
    priority = AckPriority(busy_slots=1)
    entered = threading.Barrier(4, timeout=5)

    def job() -> None:
        with priority.following_up():
            entered.wait()  # all four inside at once, or the barrier times out

    jobs = [threading.Thread(target=job) for _ in range(3)]
    for thread in jobs:
        thread.start()
    with priority.following_up():
        entered.wait()
    for thread in jobs:
        thread.join(5)


def stored(db, n: int, worker: str = "me") -> intake.Held:
    held = intake.store(
        db,
        surface="command",
        key=f"k{n}",
        raw_body=f"text={n}",
        content_type=FORM,
        user_id=ANN,
        worker=worker,
        now=NOW,
        lease=dt.timedelta(seconds=60),
    )
    assert held is not None
    return held


def test_answered_requests_are_settled_in_one_statement_and_only_while_still_ours(db):
    helds = [stored(db, n) for n in range(30)]
    taken = helds[7]  # another process took this one over meanwhile: its settling is not ours
    with db.unit_of_work() as session:
        session.execute(update(InboxRequest).where(InboxRequest.id == taken.id).values(claimed_by="other", attempts=2))
    updates: list[str] = []

    def seen(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("UPDATE INBOX"):
            updates.append(statement)

    marks = intake.DoneMarks(db, lambda: NOW, gather=60)  # not started: flushed by hand below
    for held in helds:
        marks.add(held)
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        marks.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    with db.unit_of_work() as session:
        states = dict(session.execute(select(InboxRequest.id, InboxRequest.state)).all())
    assert len(updates) == 1
    assert states[taken.id] is InboxState.PENDING
    assert all(states[h.id] is InboxState.DONE for h in helds if h is not taken)


def test_done_marks_settle_what_arrives_while_running_and_at_stop(db):
    marks = intake.DoneMarks(db, lambda: NOW, gather=0.01).start()
    first = stored(db, 1)
    marks.add(first)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with db.unit_of_work() as session:
            if session.get(InboxRequest, first.id).state is InboxState.DONE:
                break
        time.sleep(0.02)
    marks.stop()
    last = stored(db, 2)
    marks.add(last)  # after stop: the caller flushes (as shutdown does)
    marks.flush()
    with db.unit_of_work() as session:
        assert {session.get(InboxRequest, h.id).state for h in (first, last)} == {InboxState.DONE}


def test_a_channel_without_an_incident_is_asked_again_once_one_is_declared_there(make_bot, standin):
    bot = make_bot(INCIDENT_CREATE_CHANNEL="false")
    refused = bot.command("timeline too early", user=ANN, channel="C0GENERAL").text
    assert "incident" in refused.lower() and "Added" not in refused
    bot.command("declare Checkout returns 503", user=ANN, channel="C0GENERAL")  # in place: #general is its channel
    assert "Added" in bot.command("timeline now it counts", user=ANN, channel="C0GENERAL").text
    assert "Added" in bot.command("timeline and again", user=ANN, channel="C0GENERAL").text


def test_work_held_back_for_acknowledgements_still_counts_as_waiting():
    from prometheus_client import REGISTRY

    from bot.observability.executors import TrackedExecutor

    def waiting() -> float:
        return REGISTRY.get_sample_value("incident_bot_after_ack_waiting", {"pool": "gate-test"}) or 0.0

    priority = AckPriority(busy_slots=0)  # while an ack is pending, nothing follows up
    pool = TrackedExecutor(2, "gate-test", pool="gate-test")
    ran = threading.Event()
    with priority.acknowledging():
        pool.submit_gated(priority.following_up, ran.set)
        time.sleep(0.2)
        assert not ran.is_set() and waiting() == 1  # started on a thread, yet still waiting its turn
    assert ran.wait(5)
    pool.shutdown(wait=True)
    assert waiting() == 0
