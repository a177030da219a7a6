"""The background jobs this bot runs, in one list (see `bot/scheduler.py` for how they tick)."""

from __future__ import annotations

from bot.scheduler import Job


def all_jobs() -> list[Job]:
    jobs: list[Job] = []
    return jobs
