"""Getting the review to people: a direct message to whoever asked (charts and CSV in its thread,
and a button to share it), the shared copy in a channel, and the scheduled post.

The scheduled post (REVIEW_SCHEDULE monthly|quarterly to REVIEW_CHANNEL) is the review of the
period that just ended, due from 09:00 on the first day after it in the team's zone. It goes
through the nudges' claims (bot/nudges/claims.py, kind `review`, keyed by the period), so it is
posted exactly once per period whatever the number of replicas and however long one was down
within the next period. `run_scheduled` is the one code path: the background tick and
`incident-bot review` both call it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from bot.insights import periods, review, review_report
from bot.insights.review_report import Report
from bot.nudges import claims
from bot.nudges.claims import Outgoing
from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure

KIND = "review"
DUE_HOUR = 9  # local time on the first day after the period
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
_WORKER = claims.new_worker_id()


def prepare(runtime: Runtime, period: periods.Period, *, share_in: str | None = None, period_text: str = "") -> Report:
    settings = runtime.settings
    with runtime.db.unit_of_work() as session:
        records = review.load(session, period, include_private=False)
    result = review.compute(
        records, period, now=runtime.clock.now(), zone=settings.timezone, due_days=settings.action_due_days
    )
    names = runtime.gateway.user_names([owner for owner in result.items_by_owner if owner])
    return review_report.build(result, names, share_in=share_in, period_text=period_text)


def _post(runtime: Runtime, channel: str, report: Report) -> str:
    posted = runtime.gateway.post_message(channel, report.text, report.blocks)
    _attach(runtime, posted.channel, posted.ts, report)
    return posted.ts


def _attach(runtime: Runtime, channel: str, ts: str, report: Report) -> None:
    if report.files:
        runtime.gateway.upload_files(channel, report.files, thread_ts=ts)


def send_to_asker(runtime: Runtime, user_id: str, period_text: str, asked_in: str) -> periods.Period:
    """The review in a direct message to `user_id`, offering to share it where they asked."""
    period = periods.parse(period_text, now=runtime.clock.now(), zone=runtime.settings.timezone)
    report = prepare(runtime, period, share_in=asked_in, period_text=period_text)
    _post(runtime, runtime.gateway.open_dm(user_id), report)
    return period


def share(runtime: Runtime, period_text: str, channel: str) -> periods.Period:
    """The same review, computed again now, posted in `channel` (no button)."""
    period = periods.parse(period_text, now=runtime.clock.now(), zone=runtime.settings.timezone)
    _post(runtime, channel, prepare(runtime, period))
    return period


@dataclass
class Scheduled:
    outcome: str  # off | not_due | already_sent | sent | recovered | gone | failed | skipped | dry_run | no_channel
    period: periods.Period | None = None
    channel: str | None = None
    report: Report | None = None
    notes: list[str] = field(default_factory=list)


def _channel(runtime: Runtime, configured: str) -> str | None:
    if _CHANNEL_ID.match(configured):
        return configured
    try:
        return runtime.gateway.channel_id_by_name(configured.lstrip("#"))
    except SlackFailure as failure:
        runtime.logger.error("cannot look up REVIEW_CHANNEL %s: %s", configured, failure)
        return None


def due_at(period: periods.Period, runtime: Runtime) -> dt.datetime:
    zone = runtime.settings.timezone
    first_day = period.end.astimezone(zone).date()
    return dt.datetime.combine(first_day, dt.time(DUE_HOUR, 0), tzinfo=zone).astimezone(dt.UTC)


def run_scheduled(
    runtime: Runtime, *, force: bool = False, dry_run: bool = False, on_schedule: bool = True
) -> Scheduled:
    """Post the review of the period that just ended to REVIEW_CHANNEL, once per period.

    `on_schedule` (the tick) waits until it is due; `incident-bot review` posts now. With `force`
    it posts again even where this period's review is out; `dry_run` only builds it."""
    settings = runtime.settings
    if not settings.review_schedule or not settings.review_channel:
        return Scheduled("off")
    now = runtime.clock.now()
    period = periods.previous(settings.review_schedule, now, settings.timezone)
    if on_schedule and now < due_at(period, runtime):
        return Scheduled("not_due", period)
    if dry_run:
        return Scheduled("dry_run", period, settings.review_channel, prepare(runtime, period))
    channel = _channel(runtime, settings.review_channel)
    if channel is None:
        runtime.logger.error(
            "REVIEW_CHANNEL %s does not exist or I cannot see it; no review is posted", settings.review_channel
        )
        return Scheduled("no_channel", period)
    for stale in claims.mark_missed(runtime.db, kinds=(KIND,), before_period=period.key, now=now):
        # A review claimed but never posted before its period's successor ended: say so, loudly.
        runtime.logger.error(
            "the %s review to %s was never posted (%s); it is marked missed",
            stale.period,
            stale.channel_id,
            stale.last_error or "its sender stopped",
        )
    # Read the claim first: most ticks find the review out already, and building it (charts) costs.
    row = claims.states(runtime.db, (KIND,), period.key).get((KIND, channel))
    if not claims.is_open_for(row, now, force=force):
        return Scheduled("already_sent", period, channel)
    report = prepare(runtime, period)
    outgoing = Outgoing(kind=KIND, key=channel, period=period.key, text=report.text, blocks=report.blocks)
    delivery = claims.send_once(runtime.db, runtime.gateway, outgoing, worker=_WORKER, now=now, force=force)
    result = Scheduled(delivery.outcome, period, channel, report)
    if delivery.outcome == "sent" and delivery.ts:
        try:
            _attach(runtime, delivery.channel or channel, delivery.ts, report)
        except SlackFailure as failure:  # the review is out; its charts are not worth a second post
            runtime.logger.warning("the %s review's charts and CSV did not upload: %s", period.key, failure)
            result.notes.append(f"charts and CSV not uploaded: {failure.code}")
    elif delivery.outcome == "skipped":
        result.outcome = "already_sent"
    return result
