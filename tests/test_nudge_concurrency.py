"""Three processes sweeping one PostgreSQL at once, crashing after posting: one nudge per channel per week.

Each "process" is its own Runtime, Database (engine and pool) and Slack gateway (client), in its
own thread, as replicas would be. Crashes are injected through the sweep's `after_post` hook:
the message is in Slack, the claim is not marked sent, the sweep stops. Over the rounds the
clock moves past the lease, so survivors take the dead senders' claims over.
"""

from __future__ import annotations

import datetime as dt
import random
import threading

from bot.db import Database
from bot.models import Incident
from bot.nudges import claims as nudge_claims
from bot.nudges import weekly as nudges
from bot.nudges.claims import DEFAULT_LEASE
from bot.runtime import build_runtime
from tests.conftest import ANN, BOB, _truncate_all, bot_settings
from tests.harness import utc
from tests.nudge_steps import nudge_posts, seed_items

CHANNELS = 12
PROCESSES = 3
WEEKS = 4
MAX_ROUNDS = 25


class ProcessKilled(BaseException):
    """Not an Exception: like SIGKILL, nothing in the sweep gets to handle it."""


def test_three_processes_give_exactly_one_nudge_per_channel_per_week(postgres_url, standin, clock):
    _truncate_all(postgres_url)
    clock.set(utc(2026, 6, 22, 10, 0))
    seed_db = Database(postgres_url)
    channels = [f"C0RACE{number:02d}" for number in range(CHANNELS)]
    with seed_db.unit_of_work() as session:
        for number, channel in enumerate(channels):
            standin.add_channel(channel, f"inc-race-{number}")
            session.add(
                Incident(
                    title=f"Race {number}",
                    severity="sev2",
                    channel_id=channel,
                    declared_by=ANN,
                    commander_id=ANN,
                    created_at=clock.now(),
                    close_count=0,
                )
            )
    for channel in channels:
        seed_items(seed_db, channel, 2, owner=BOB, by=ANN, now=clock.now())
    seed_db.dispose()

    settings = bot_settings(standin, postgres_url)
    runtimes = [build_runtime(settings, clock=clock, db=Database(postgres_url)) for _ in range(PROCESSES)]
    randoms = [random.Random(1000 + number) for number in range(PROCESSES)]
    kills = [0] * PROCESSES

    def crash_sometimes(number: int):
        def after_post(outgoing, posted) -> None:
            if randoms[number].random() < 0.35:
                kills[number] += 1
                raise ProcessKilled()

        return after_post

    def sweep(number: int, start: threading.Barrier) -> None:
        start.wait()
        try:
            nudges.run_weekly(runtimes[number], after_post=crash_sometimes(number))
        except ProcessKilled:
            pass  # the process died mid-sweep; it "restarts" next round

    try:
        for week in range(WEEKS):
            monday = utc(2026, 6, 29, 9, 0) + dt.timedelta(weeks=week)
            period = nudges.week_period(monday, settings.timezone)
            clock.set(monday)
            for _ in range(MAX_ROUNDS):
                start = threading.Barrier(PROCESSES)
                threads = [threading.Thread(target=sweep, args=(n, start)) for n in range(PROCESSES)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=60)
                if _settled(runtimes[0], channels, period):
                    break
                clock.advance(DEFAULT_LEASE + dt.timedelta(minutes=1))  # dead senders' leases run out
            assert _settled(runtimes[0], channels, period), f"{period}: some channel never settled"
    finally:
        for runtime in runtimes:
            runtime.db.dispose()

    counts = nudge_posts(standin)
    periods = {
        nudges.week_period(utc(2026, 6, 29, 9, 0) + dt.timedelta(weeks=w), settings.timezone) for w in range(WEEKS)
    }
    assert {key for key in counts} == {(c, "weekly", p) for c in channels for p in periods}
    doubled = {key: n for key, n in counts.items() if n != 1}
    assert doubled == {}, f"channels nudged more than once in a week: {doubled}"
    assert sum(kills) >= 10, f"too few crashes to prove anything: {kills}"  # the test must have exercised recovery
    assert not standin.internal_errors


def _settled(runtime, channels: list[str], period: str) -> bool:
    states = nudge_claims.states(runtime.db, (nudges.KIND_CHANNEL,), period)
    return all(
        states.get((nudges.KIND_CHANNEL, c)) is not None and states[(nudges.KIND_CHANNEL, c)].status == "sent"
        for c in channels
    )
