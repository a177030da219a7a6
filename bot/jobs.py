"""The background jobs this bot runs, in one list (see `bot/scheduler.py` for how they tick)."""

from __future__ import annotations

from bot.observability import metrics
from bot.runtime import Runtime
from bot.scheduler import Job

# The reminder sweeps decide from the clock what is due; ticking often only makes them prompt.
REMINDER_TICK_SECONDS = 180
# Drafts Slack did not take yet; each waits its own backoff (bot/postmortem/drafts.py).
POSTMORTEM_PUBLISH_TICK_SECONDS = 15


def _publish_postmortems(runtime: Runtime) -> object:
    from bot.postmortem import publish

    tried = publish.retry_due(runtime)
    metrics.count_postmortem_retries(tried)
    return tried


def _weekly_nudges(runtime: Runtime) -> object:
    from bot.nudges import weekly as nudges

    report = nudges.run_weekly(runtime)
    metrics.count_nudge_sweep(report)
    return report


def _postmortem_reminders(runtime: Runtime) -> object:
    from bot.nudges import postmortem_reminders

    return postmortem_reminders.run_daily(runtime)


def all_jobs() -> list[Job]:
    jobs: list[Job] = [
        Job("publish-postmortems", POSTMORTEM_PUBLISH_TICK_SECONDS, _publish_postmortems),
        Job("weekly-nudges", REMINDER_TICK_SECONDS, _weekly_nudges),
        Job("postmortem-reminders", REMINDER_TICK_SECONDS, _postmortem_reminders),
    ]
    return jobs
