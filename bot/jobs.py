"""The background jobs this bot runs, in one list (see `bot/scheduler.py` for how they tick)."""

from __future__ import annotations

from bot.observability import metrics
from bot.runtime import Runtime
from bot.scheduler import Job
from bot.settings import Settings

# The reminder sweeps decide from the clock what is due; ticking often only makes them prompt.
REMINDER_TICK_SECONDS = 180
# Drafts Slack did not take yet; each waits its own backoff (bot/postmortem/drafts.py).
POSTMORTEM_PUBLISH_TICK_SECONDS = 15
# Requests a stopped process left (bot/intake.py): looked for at start and then this often.
INTAKE_TICK_SECONDS = 10


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


def _periodic_review(runtime: Runtime) -> object:
    from bot.insights import review_delivery

    return review_delivery.run_scheduled(runtime)


def _tracker_writes(runtime: Runtime) -> object:
    from bot.trackers import outbox

    return outbox.run_due(runtime)


def _tracker_sync(runtime: Runtime) -> object:
    from bot.trackers import sync

    return sync.scheduled_sweep(runtime)


def take_over_intake(runtime: Runtime) -> list:
    from bot import intake

    now = runtime.clock.now()
    taken = intake.take_over_stale(runtime.db, runtime.worker_id, now=now, lease=runtime.intake_lease)
    for request in taken:
        try:
            if runtime.replay is None:
                raise RuntimeError("no Slack app in this process to carry requests out")
            runtime.replay(request)
        except Exception:
            runtime.logger.exception("carrying out intake %s again failed; the next sweep tries again", request.held.id)
            intake.release(runtime.db, request.held, now=now)
    intake.purge_done(runtime.db, now=now)
    return taken


def _postmortem_followups(runtime: Runtime) -> object:
    from bot.postmortem import meeting, sharing

    return meeting.sweep(runtime), sharing.sweep(runtime)


# Meeting reminders are due an hour before: a minute's tick keeps them on time.
FOLLOWUP_TICK_SECONDS = 60


# Webhook deliveries a dead process left uninterpreted; facts waiting for their channel's minute.
HOOKS_TICK_SECONDS = 15


def _hook_deliveries(runtime: Runtime) -> object:
    from bot.sources import deliveries

    return deliveries.sweep(runtime)


def all_jobs(settings: Settings | None = None) -> list[Job]:
    jobs: list[Job] = [
        Job("intake-takeover", INTAKE_TICK_SECONDS, take_over_intake),
        Job("publish-postmortems", POSTMORTEM_PUBLISH_TICK_SECONDS, _publish_postmortems),
        Job("weekly-nudges", REMINDER_TICK_SECONDS, _weekly_nudges),
        Job("postmortem-reminders", REMINDER_TICK_SECONDS, _postmortem_reminders),
        Job("periodic-review", REMINDER_TICK_SECONDS, _periodic_review),
        Job("postmortem-followups", FOLLOWUP_TICK_SECONDS, _postmortem_followups),
        Job("hook-deliveries", HOOKS_TICK_SECONDS, _hook_deliveries),
    ]
    if settings is not None and settings.trackers.kind:
        jobs += tracker_jobs()
    return jobs


# Tracker writes waiting for a retry (each has its own backoff in bot/trackers/outbox.py).
TRACKER_WRITES_TICK_SECONDS = 10
# The sweep runs once per TRACKER_SYNC_MINUTES slot (claimed across replicas); ticking every
# minute only makes a slot missed during a restart start soon after.
TRACKER_SYNC_TICK_SECONDS = 60


def tracker_jobs() -> list[Job]:
    return [
        Job("tracker-writes", TRACKER_WRITES_TICK_SECONDS, _tracker_writes),
        Job("tracker-sync", TRACKER_SYNC_TICK_SECONDS, _tracker_sync),
    ]
