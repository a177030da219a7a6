"""Background ticks: APScheduler runs each registered job every few minutes and once at start.

The scheduler promises nothing about exactly-once delivery; each job is idempotent and takes
its guarantees from the database (see `bot/nudges.py`). Jobs never overlap themselves
(max_instances=1) and a tick missed while the process was busy is coalesced, not dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.runtime import Runtime


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: int
    run: Callable[[Runtime], object]


def start_scheduler(runtime: Runtime, jobs: list[Job]) -> Callable[[], None]:
    """Start ticking the jobs in a background thread; returns a function that stops it."""
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    for job in jobs:
        scheduler.add_job(
            _guarded(runtime, job),
            IntervalTrigger(seconds=job.every_seconds),
            id=job.name,
            name=job.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,  # a late tick still runs: never silently dropped
            next_run_time=dt.datetime.now(dt.UTC),  # and one right at start
        )
    scheduler.start()
    return lambda: scheduler.shutdown(wait=False)


def _guarded(runtime: Runtime, job: Job) -> Callable[[], None]:
    def run() -> None:
        try:
            job.run(runtime)
        except Exception:
            runtime.logger.exception("background job %s failed; it runs again at the next tick", job.name)

    return run
