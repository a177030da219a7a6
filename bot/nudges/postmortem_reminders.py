"""Postmortem follow-ups: a closed incident whose postmortem is not approved gets a daily reminder.

They follow the postmortem's status: a *draft* not sent for review is reminded of from
`POSTMORTEM_REMINDER_DAYS` (default 3) days after the close; a postmortem *in review* but not
approved from `POSTMORTEM_REVIEW_REMINDER_DAYS` (default 2) days after the review was asked for.
Each for up to seven days, once a day at the nudge's time of day (`NUDGE_SCHEDULE`, in
`INCIDENT_TIMEZONE`): one message in the incident's channel and one direct message to the
postmortem's owner (the `postmortem` role, else the commander, else whoever declared it). Each is
claimed exactly once per local date the same way as the weekly nudge (`nudge_claims`), kinds
`postmortem` and `postmortem_dm`, keyed by the incident's channel. A reopened incident, or an
approved postmortem, stops them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.models import Incident, IncidentStatus, Postmortem
from bot.nudges import claims
from bot.nudges.claims import DEFAULT_LEASE, AfterPost, Outgoing
from bot.nudges.weekly import local_instant
from bot.postmortem import status as pm_status
from bot.runtime import Runtime
from bot.schedule_spec import parse_weekly_schedule
from bot.slack import blocks as bk
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
    stage: str = pm_status.DRAFT  # draft: not sent for review; review: not approved
    days_in_review: int = 0

    @property
    def owner(self) -> str:
        return pm_status.owner_of(self.incident)


# A closed incident older than this has had all its reminders whatever the settings (60 + 60 + 7 days).
_LOOK_BACK_DAYS = 130


def due_reminders(
    session: Session, *, today: dt.date, zone: dt.tzinfo, after_days: int, review_days: int = 2
) -> list[Reminder]:
    """Closed incidents whose postmortem is not approved and that are in a reminder week today:
    a draft counted from the close, a review from when it was asked for."""
    oldest = dt.datetime.combine(today - dt.timedelta(days=_LOOK_BACK_DAYS), dt.time(), tzinfo=zone)
    query = (
        select(Incident, Postmortem)
        .outerjoin(Postmortem, Postmortem.incident_id == Incident.id)
        .where(
            Incident.status == IncidentStatus.CLOSED,
            Incident.closed_at.is_not(None),
            Incident.closed_at >= oldest,
            or_(Postmortem.id.is_(None), Postmortem.status != pm_status.APPROVED),
        )
        .order_by(Incident.id)
    )
    found = []
    for incident, row in session.execute(query):
        days = (today - incident.closed_at.astimezone(zone).date()).days  # type: ignore[union-attr]
        if row is not None and row.status == pm_status.REVIEW:
            asked = (row.status_changed_at or incident.closed_at).astimezone(zone).date()  # type: ignore[union-attr]
            in_review = (today - asked).days
            if review_days <= in_review < review_days + REMINDER_DAYS_IN_A_ROW:
                found.append(Reminder(incident, in_review - review_days + 1, days, pm_status.REVIEW, in_review))
        elif after_days <= days < after_days + REMINDER_DAYS_IN_A_ROW:
            found.append(Reminder(incident, days - after_days + 1, days))
    return found


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def reminder_message(reminder: Reminder, *, direct: bool) -> tuple[str, list[bk.Block]]:
    incident = reminder.incident
    title = safe_mrkdwn(incident.title, live_mentions=False)
    where = f" (<#{incident.channel_id}>)" if direct else ""
    if reminder.stage == pm_status.REVIEW:
        text = (
            f":memo: The postmortem for *{title}*{where} is not final yet: it has been in review for "
            f"{_days(reminder.days_in_review)} and nobody approved it. Ask its reviewers to read it; a reviewer or "
            "the commander approves it with `/incident postmortem approve` in the incident's channel."
        )
    else:
        text = (
            f":memo: The postmortem for *{title}*{where} is not final yet, {_days(reminder.days_since_close)} "
            "after the incident closed: it is still a draft. Fix what is wrong, then ask for review with "
            "`/incident postmortem review @name` in the incident's channel."
        )
    context = f"Reminder {reminder.day_number} of {REMINDER_DAYS_IN_A_ROW}, once a day"
    if not direct:
        context += f" · owner {mention(reminder.owner)}"
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
            runtime.logger.error(
                "the %s reminder for %s on %s was never sent (%s); counted as missed",
                row.kind,
                row.channel_id,
                row.period,
                row.last_error or "the sender stopped",
            )
            report.missed += 1
    if on_schedule and now < local_instant(today, schedule.hour, schedule.minute, zone):
        report.due = False
        return report
    with db.unit_of_work() as session:
        reminders = due_reminders(
            session,
            today=today,
            zone=zone,
            after_days=settings.postmortem_reminder_days,
            review_days=settings.postmortem_review_reminder_days,
        )
    existing = {} if dry_run else claims.states(db, KINDS, period)
    for reminder in reminders:
        incident = reminder.incident
        for kind, dm_user in ((KIND_CHANNEL, None), (KIND_DM, reminder.owner)):
            text, blocks = reminder_message(reminder, direct=dm_user is not None)
            if dry_run:
                report.planned.append((kind, dm_user or incident.channel_id, text))
                continue
            if not claims.is_open_for(existing.get((kind, incident.channel_id)), now, force=force):
                report.skipped += 1
                continue
            outgoing = Outgoing(kind, incident.channel_id, period, text, blocks, dm_user=dm_user)
            try:
                delivery = claims.send_once(
                    db,
                    runtime.gateway,
                    outgoing,
                    worker=worker,
                    now=runtime.clock.now(),
                    force=force,
                    lease=lease,
                    after_post=after_post,
                    pacer=pacer,
                )
            except Exception:
                runtime.logger.exception(
                    "postmortem reminder %s for %s failed; the next sweep retries it", kind, incident.channel_id
                )
                report.failed.append(f"{kind} {incident.channel_id}")
                continue
            if delivery.outcome == "skipped":
                report.skipped += 1
            else:
                getattr(report, delivery.outcome).append(f"{kind} {incident.channel_id}")
    return report
