"""Postmortem follow-ups: a closed incident whose postmortem is not final gets a daily reminder.

From `POSTMORTEM_REMINDER_DAYS` (default 3) days after the close, for up to seven days, once a
day at the nudge's time of day (`NUDGE_SCHEDULE`, in `INCIDENT_TIMEZONE`): one message in the
incident's channel and one direct message to its commander (or whoever declared it). Each is
claimed exactly once per local date the same way as the weekly nudge (`nudge_claims`), kinds
`postmortem` and `postmortem_dm`, keyed by the incident's channel. A reopened incident, or a
postmortem marked final, stops them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.slack import blocks as bk
from bot.nudges import claims
from bot.models import Incident, IncidentStatus, Postmortem
from bot.nudges.claims import DEFAULT_LEASE, AfterPost, Outgoing
from bot.nudges.weekly import local_instant
from bot.runtime import Runtime
from bot.schedule_spec import parse_weekly_schedule
from bot.slack.text import mention, safe_mrkdwn

KIND_CHANNEL = "postmortem"
KIND_DM = "postmortem_dm"
KINDS = (KIND_CHANNEL, KIND_DM)
REMINDER_DAYS_IN_A_ROW = 7


@dataclass(frozen=True)
class Reminder:
    incident: Incident
    day_number: int  # 1 … 7
    days_since_close: int


def due_reminders(session: Session, *, today: dt.date, zone: dt.tzinfo, after_days: int) -> list[Reminder]:
    """Closed incidents whose postmortem is not final and that are in their reminder week today."""
    # Closed between (after_days + 6) and after_days local days ago; a day's margin either side for the zone.
    newest = dt.datetime.combine(today - dt.timedelta(days=after_days - 1), dt.time(), tzinfo=zone)
    oldest = dt.datetime.combine(today - dt.timedelta(days=after_days + REMINDER_DAYS_IN_A_ROW), dt.time(), tzinfo=zone)
    query = (
        select(Incident)
        .outerjoin(Postmortem, Postmortem.incident_id == Incident.id)
        .where(
            Incident.status == IncidentStatus.CLOSED,
            Incident.closed_at.is_not(None),
            Incident.closed_at >= oldest,
            Incident.closed_at < newest,
            or_(Postmortem.id.is_(None), Postmortem.status != "final"),
        )
        .order_by(Incident.id)
    )
    found = []
    for incident in session.scalars(query):
        days = (today - incident.closed_at.astimezone(zone).date()).days  # type: ignore[union-attr]
        if after_days <= days < after_days + REMINDER_DAYS_IN_A_ROW:
            found.append(Reminder(incident, days - after_days + 1, days))
    return found


def reminder_message(reminder: Reminder, *, direct: bool) -> tuple[str, list[bk.Block]]:
    incident = reminder.incident
    title = safe_mrkdwn(incident.title, live_mentions=False)
    where = f" (<#{incident.channel_id}>)" if direct else ""
    days = reminder.days_since_close
    text = (f":memo: The postmortem for *{title}*{where} is not final yet, {days} day{'s' if days != 1 else ''} after "
            "the incident closed. Review the draft, fix what is wrong, and mark it final with "
            "`/incident postmortem final` in the incident's channel.")
    owner = incident.commander_id or incident.declared_by
    context = f"Reminder {reminder.day_number} of {REMINDER_DAYS_IN_A_ROW}, once a day"
    if not direct:
        context += f" · commander {mention(owner)}"
    return text, [bk.section(text), bk.context(context)]


@dataclass
class ReminderReport:
    period: str
    due: bool = True
    sent: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: int = 0
    missed: int = 0
    planned: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, target, text) for --dry-run


def run_daily(
    runtime: Runtime,
    *,
    on_schedule: bool = True,
    force: bool = False,
    dry_run: bool = False,
    worker: str | None = None,
    after_post: AfterPost | None = None,
    lease: dt.timedelta = DEFAULT_LEASE,
    pacer: claims.ChannelPacer = claims.PACER,
) -> ReminderReport:
    settings, db = runtime.settings, runtime.db
    zone = settings.timezone
    schedule = parse_weekly_schedule(settings.nudge_schedule)
    now = runtime.clock.now()
    today = now.astimezone(zone).date()
    period = today.isoformat()
    report = ReminderReport(period=period)
    worker = worker or claims.new_worker_id()
    if not dry_run:
        for row in claims.mark_missed(db, kinds=KINDS, before_period=period, now=now):
            runtime.logger.error("the %s reminder for %s on %s was never sent (%s); counted as missed",
                                 row.kind, row.channel_id, row.period, row.last_error or "the sender stopped")
            report.missed += 1
    if on_schedule and now < local_instant(today, schedule.hour, schedule.minute, zone):
        report.due = False
        return report
    with db.unit_of_work() as session:
        reminders = due_reminders(session, today=today, zone=zone, after_days=settings.postmortem_reminder_days)
    existing = {} if dry_run else claims.states(db, KINDS, period)
    for reminder in reminders:
        incident = reminder.incident
        commander = incident.commander_id or incident.declared_by
        for kind, dm_user in ((KIND_CHANNEL, None), (KIND_DM, commander)):
            text, blocks = reminder_message(reminder, direct=dm_user is not None)
            if dry_run:
                report.planned.append((kind, dm_user or incident.channel_id, text))
                continue
            if not claims.is_open_for(existing.get((kind, incident.channel_id)), now, force=force):
                report.skipped += 1
                continue
            outgoing = Outgoing(kind, incident.channel_id, period, text, blocks, dm_user=dm_user)
            try:
                delivery = claims.send_once(db, runtime.gateway, outgoing, worker=worker, now=runtime.clock.now(),
                                            force=force, lease=lease, after_post=after_post, pacer=pacer)
            except Exception:
                runtime.logger.exception("postmortem reminder %s for %s failed; the next sweep retries it", kind,
                                         incident.channel_id)
                report.failed.append(f"{kind} {incident.channel_id}")
                continue
            if delivery.outcome == "skipped":
                report.skipped += 1
            else:
                getattr(report, delivery.outcome).append(f"{kind} {incident.channel_id}")
    return report
