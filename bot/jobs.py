"""The background jobs this bot runs, in one list (see `bot/scheduler.py` for how they tick)."""

from __future__ import annotations

from bot.runtime import Runtime
from bot.scheduler import Job

# Drafts Slack did not take yet; each waits its own backoff (bot/postmortem/drafts.py).
POSTMORTEM_PUBLISH_TICK_SECONDS = 15


def _publish_postmortems(runtime: Runtime) -> object:
    from bot.postmortem import publish

    return publish.retry_due(runtime)


def all_jobs() -> list[Job]:
    jobs: list[Job] = [Job("publish-postmortems", POSTMORTEM_PUBLISH_TICK_SECONDS, _publish_postmortems)]
    return jobs
