"""The weekly nudge: every channel with open action items hears about them once a week.

What is due comes from the clock passed in, never from when a job happened to tick:

* **Period** = the ISO week in `INCIDENT_TIMEZONE` (`2026-W26`). Its nudge is due from the
  scheduled local time (`NUDGE_SCHEDULE`, default `mon 09:00`) converted with the zone's rules
  for that very week, so a daylight-saving week sends at 09:00 local, once. A process that was
  down at that time sends at its first sweep later in the same week.
* **Targets**: each incident channel with open items that existed at the scheduled time (so a
  brand-new incident is not nudged the minute its first item is filed); the digest channel
  (`NUDGE_CHANNEL`) with every item of non-private incidents; and, when an incident channel is
  archived or the bot was removed from it, direct messages to the owners (or the commander for
  unowned items) for items the digest does not carry: all items of private incidents, and all
  items when there is no digest. Snoozed items stay out until their snooze ends.
* **Exactly once**: each target goes through `nudge_claims.send_once`. A week that ends unsent
  is marked `missed`, logged and counted (`missed_count`), never forgotten silently; so is every
  week in which no process swept at all, however many there were (up to `MAX_WEEKS_BACK`).

`run_weekly` is the one code path, used by the scheduler's tick and by `incident-bot nudge`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.db import Database
from bot.models import ActionItem, ActionStatus, Incident, NudgeClaim
from bot.nudges import claims
from bot.nudges import messages as nudge_messages
from bot.nudges.claims import DEFAULT_LEASE, AfterPost, Outgoing
from bot.nudges.messages import GROUP_TITLES, Entry, NudgeMessage
from bot.runtime import Runtime
from bot.schedule_spec import WeeklySchedule, parse_weekly_schedule
from bot.slack.gateway import SlackFailure
from bot.slack.text import safe_mrkdwn

logger = logging.getLogger(__name__)

KIND_CHANNEL = "weekly"
KIND_DIGEST = "digest"
KIND_DM = "dm"
WEEKLY_KINDS = (KIND_CHANNEL, KIND_DIGEST, KIND_DM)
DUE_SOON_DAYS = 7
# How far back a sweep looks for weeks that were never sent (a year of downtime is counted in full).
MAX_WEEKS_BACK = 52
LIST_HINT = "`/incident actions` in the incident's channel lists them all"


# -- periods -----------------------------------------------------------------------------------
def week_period(instant: dt.datetime, zone: ZoneInfo) -> str:
    year, week, _ = instant.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def _monday(period: str) -> dt.date:
    year, week = period.split("-W")
    return dt.date.fromisocalendar(int(year), int(week), 1)


def _shift_period(period: str, weeks: int) -> str:
    year, week, _ = (_monday(period) + dt.timedelta(days=7 * weeks)).isocalendar()
    return f"{year}-W{week:02d}"


def previous_period(period: str) -> str:
    return _shift_period(period, -1)


def next_period(period: str) -> str:
    return _shift_period(period, 1)


def local_instant(day: dt.date, hour: int, minute: int, zone: ZoneInfo) -> dt.datetime:
    """A local wall-clock time as UTC, by the zone's rules on that day.

    fold=0 takes the first of a time that happens twice; a time skipped by the spring change
    comes out as the instant that far past the last moment before it (02:30 → 03:30).
    """
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone).replace(fold=0).astimezone(dt.UTC)


def week_start(period: str, zone: ZoneInfo) -> dt.datetime:
    return local_instant(_monday(period), 0, 0, zone)


def scheduled_at(period: str, schedule: WeeklySchedule, zone: ZoneInfo) -> dt.datetime:
    day = _monday(period) + dt.timedelta(days=schedule.weekday)
    return local_instant(day, schedule.hour, schedule.minute, zone)


def next_nudge_at(now: dt.datetime, schedule: WeeklySchedule, zone: ZoneInfo) -> dt.datetime:
    this_week = scheduled_at(week_period(now, zone), schedule, zone)
    if now < this_week:
        return this_week
    return scheduled_at(week_period(now + dt.timedelta(days=7), zone), schedule, zone)


def snooze_until(now: dt.datetime, schedule: WeeklySchedule, zone: ZoneInfo) -> dt.date:
    """The day after the next nudge: the item sits out exactly that one nudge."""
    return next_nudge_at(now, schedule, zone).astimezone(zone).date() + dt.timedelta(days=1)


# -- grouping ----------------------------------------------------------------------------------
def group_of(item: ActionItem, today: dt.date) -> str:
    """Overdue and due-soon come first, whoever owns the item; then unowned, undated, later."""
    if item.due_date is not None and item.due_date < today:
        return "overdue"
    if item.due_date is not None and item.due_date <= today + dt.timedelta(days=DUE_SOON_DAYS):
        return "due_soon"
    if item.owner_id is None:
        return "no_owner"
    if item.due_date is None:
        return "no_due_date"
    return "later"


def group_items(entries: list[Entry], today: dt.date) -> dict[str, list[Entry]]:
    groups: dict[str, list[Entry]] = {name: [] for name in GROUP_TITLES}
    for entry in entries:
        groups[group_of(entry[0], today)].append(entry)
    for found in groups.values():
        found.sort(key=lambda e: (e[0].due_date or dt.date.max, e[0].priority, e[0].id))
    return groups


# -- what is due this week ---------------------------------------------------------------------
@dataclass
class WeeklyPlan:
    channels: dict[str, list[Entry]]  # incident channel -> its items
    digest: list[Entry]  # items of non-private incidents


def plan_week(session: Session, *, cutoff: dt.datetime, nudge_date: dt.date) -> WeeklyPlan:
    """Open items filed by `cutoff` and not snoozed past `nudge_date`, by channel (two queries)."""
    query = (
        select(ActionItem)
        .where(
            ActionItem.status == ActionStatus.OPEN,
            ActionItem.created_at <= cutoff,
            or_(ActionItem.snoozed_until.is_(None), ActionItem.snoozed_until <= nudge_date),
        )
        .order_by(ActionItem.incident_id, ActionItem.id)
    )
    found = list(session.scalars(query))
    incident_ids = sorted({item.incident_id for item in found})
    by_id = {
        incident.id: incident for incident in session.scalars(select(Incident).where(Incident.id.in_(incident_ids)))
    }
    channels: dict[str, list[Entry]] = {}
    digest: list[Entry] = []
    for item in found:
        incident = by_id[item.incident_id]
        channels.setdefault(incident.channel_id, []).append((item, incident))
        if not incident.is_private:
            digest.append((item, incident))
    return WeeklyPlan(channels, digest)


def _week_label(period: str) -> str:
    return f"week {int(period.split('-W')[1])}"


def channel_message(entries: list[Entry], *, today: dt.date, period: str) -> NudgeMessage:
    incident = entries[0][1]
    return nudge_messages.build(
        group_items(entries, today),
        today=today,
        with_incident=False,
        heading=f":bell: Open action items, {_week_label(period)}",
        intro=(
            f"*{safe_mrkdwn(incident.title, live_mentions=False)}* ({incident.severity.upper()}, {incident.status.value}). "
            "*Done* closes an item, *Snooze 1 week* keeps it out of the next nudge, *Reassign* picks a new owner."
        ),
        list_hint="`/incident actions` lists them all",
    )


def digest_message(entries: list[Entry], *, today: dt.date, period: str) -> NudgeMessage:
    incidents = len({incident.id for _, incident in entries})
    return nudge_messages.build(
        group_items(entries, today),
        today=today,
        with_incident=True,
        heading=f":bell: Team digest of open action items, {_week_label(period)}",
        intro=f"{len(entries)} open items across {incidents} incident{'s' if incidents != 1 else ''} (private incidents are left out).",
        list_hint=LIST_HINT,
    )


def dm_message(entries: list[Entry], *, today: dt.date, period: str) -> NudgeMessage:
    return nudge_messages.build(
        group_items(entries, today),
        today=today,
        with_incident=True,
        heading=f":bell: Your open action items, {_week_label(period)}",
        intro="Their incident channel is archived or I was removed from it, so they come to you directly.",
        list_hint="`/incident actions mine` lists yours",
    )


# -- the sweep ---------------------------------------------------------------------------------
@dataclass
class PlannedMessage:
    kind: str
    target: str
    message: NudgeMessage


@dataclass
class SweepReport:
    period: str
    due_at: dt.datetime
    due: bool = True
    sent: list[str] = field(default_factory=list)  # "weekly C123", "dm U1" …
    recovered: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: int = 0  # already sent this period, or another sender holds it
    missed: int = 0  # targets of past periods found unsent during this sweep
    waiting_for_dms: bool = False  # fallback DMs wait until every channel's outcome is known
    planned: list[PlannedMessage] = field(default_factory=list)  # --dry-run
    # --dry-run: targets a real run would leave alone, as "C123 (weekly): already sent this week (use --force)"
    not_planned: list[str] = field(default_factory=list)


# Per database: the periods whose past weeks were already checked for unclaimed channels.
_accounted: weakref.WeakKeyDictionary[Database, set[str]] = weakref.WeakKeyDictionary()
_accounted_lock = threading.Lock()


def run_weekly(
    runtime: Runtime,
    *,
    on_schedule: bool = True,
    force: bool = False,
    dry_run: bool = False,
    worker: str | None = None,
    after_post: AfterPost | None = None,
    lease: dt.timedelta = DEFAULT_LEASE,
    pacer: claims.ChannelPacer = claims.PACER,
) -> SweepReport:
    """Send this week's nudges that are due and not yet sent.

    `on_schedule=False` (the CLI) sends now even before the scheduled time, for every channel
    with open items; `force` sends again to targets already sent this week; `dry_run` sends and
    records nothing and returns the messages in `planned`.
    """
    settings, db = runtime.settings, runtime.db
    zone = settings.timezone
    schedule = parse_weekly_schedule(settings.nudge_schedule)
    now = runtime.clock.now()
    period = week_period(now, zone)
    due_at = scheduled_at(period, schedule, zone)
    report = SweepReport(period=period, due_at=due_at)
    worker = worker or claims.new_worker_id()
    if not dry_run:  # a dry run records nothing, so it does not mark past weeks missed either
        report.missed = _account_for_past_weeks(runtime, period, schedule=schedule, now=now, worker=worker)
    if on_schedule and now < due_at:
        report.due = False
        return report
    today = now.astimezone(zone).date()
    with db.unit_of_work() as session:
        plan = plan_week(session, cutoff=due_at if on_schedule else now, nudge_date=due_at.astimezone(zone).date())
    # read on a dry run too, so it shows what a real run would do, not every channel with items
    existing = claims.states(db, WEEKLY_KINDS, period)

    def deliver(kind: str, key: str, message: NudgeMessage, dm_user: str | None = None) -> None:
        row = existing.get((kind, key))
        if not claims.is_open_for(row, now, force=force):
            report.skipped += 1
            if dry_run:
                report.not_planned.append(f"{key} ({kind}): {_why_not_sent(row)}")
            return
        if dry_run:
            report.planned.append(PlannedMessage(kind, key, message))
            return
        outgoing = Outgoing(kind, key, period, message.text, message.blocks, dm_user=dm_user)
        try:
            # the lease starts when this target is claimed, not when a long sweep began
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
            runtime.logger.exception("weekly nudge %s %s for %s failed; the next sweep retries it", kind, key, period)
            report.failed.append(f"{kind} {key}")
            return
        bucket = {"sent": report.sent, "recovered": report.recovered, "gone": report.gone, "failed": report.failed}
        if delivery.outcome == "skipped":
            report.skipped += 1
        else:
            bucket[delivery.outcome].append(f"{kind} {key}")
        if delivery.outcome == "gone":
            runtime.logger.warning(
                "channel %s cannot take the nudge (%s); its items go to the fallback", key, delivery.error
            )

    for channel_id, entries in plan.channels.items():
        deliver(KIND_CHANNEL, channel_id, channel_message(entries, today=today, period=period))

    digest_id = _digest_channel(runtime)
    if digest_id and plan.digest:
        deliver(KIND_DIGEST, digest_id, digest_message(plan.digest, today=today, period=period))

    if dry_run:
        return report
    _fallback_dms(runtime, plan, period=period, digest_id=digest_id, report=report, deliver=deliver, today=today)
    return report


def _why_not_sent(row: NudgeClaim | None) -> str:
    if row is not None and row.status in (claims.CLAIMED, claims.FAILED):
        return "being sent by another process right now"
    return "already sent this week (use --force)"


def _fallback_dms(
    runtime: Runtime,
    plan: WeeklyPlan,
    *,
    period: str,
    digest_id: str | None,
    report: SweepReport,
    deliver: Callable[..., None],
    today: dt.date,
) -> None:
    """DM the items of channels found gone that the digest does not carry.

    Waits until no channel or digest claim of the period is in flight, so each person's DM is
    built knowing every gone channel of the week.
    """
    outcome = claims.states(runtime.db, (KIND_CHANNEL, KIND_DIGEST), period)
    if any(row.status == claims.CLAIMED for row in outcome.values()):
        report.waiting_for_dms = True
        return
    gone = {key for (kind, key), row in outcome.items() if kind == KIND_CHANNEL and row.status == claims.GONE}
    if not gone:
        return
    digest_row = outcome.get((KIND_DIGEST, digest_id)) if digest_id else None
    digest_carries_public = digest_row is not None and digest_row.status != claims.GONE
    # One DM per person and gone channel: a channel found gone after a person's DM went out
    # still reaches them, instead of waiting for a claim that already settled.
    per_person_channel: dict[tuple[str, str], list[Entry]] = {}
    for channel_id in sorted(gone):
        for item, incident in plan.channels.get(channel_id, []):
            if incident.is_private or not digest_carries_public:
                person = item.owner_id or incident.commander_id or incident.declared_by
                per_person_channel.setdefault((person, channel_id), []).append((item, incident))
    for (person, channel_id), entries in per_person_channel.items():
        deliver(KIND_DM, f"{person}/{channel_id}", dm_message(entries, today=today, period=period), dm_user=person)


_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_digest_ids: dict[str, str] = {}


def _digest_channel(runtime: Runtime) -> str | None:
    """NUDGE_CHANNEL as a channel id (a `#name` is looked up once)."""
    configured = runtime.settings.nudge_channel
    if not configured:
        return None
    if _CHANNEL_ID.match(configured):
        return configured
    if configured not in _digest_ids:
        try:
            found = runtime.gateway.channel_id_by_name(configured.lstrip("#"))
        except SlackFailure as failure:
            runtime.logger.error("cannot look up NUDGE_CHANNEL %s: %s", configured, failure)
            return None
        if found is None:  # not remembered: the next sweep looks again
            runtime.logger.error("NUDGE_CHANNEL %s does not exist or I cannot see it; no digest is sent", configured)
            return None
        _digest_ids[configured] = found
    return _digest_ids[configured]


def _account_for_past_weeks(
    runtime: Runtime, period: str, *, schedule: WeeklySchedule, now: dt.datetime, worker: str
) -> int:
    """Log and count nudges of past weeks that were never sent: stale claims, and unclaimed channels.

    Every past week is checked, not just the last one: a team whose bot was down for a month has
    four weeks missed, each logged and counted once (the `missed` rows make this idempotent).
    """
    db, zone = runtime.db, runtime.settings.timezone
    count = 0
    for row in claims.mark_missed(db, kinds=WEEKLY_KINDS, before_period=period, now=now):
        runtime.logger.error(
            "the %s nudge to %s for %s was never sent (last error: %s); counted as missed",
            row.kind,
            row.channel_id,
            row.period,
            row.last_error or "the sender stopped",
        )
        count += 1
    with _accounted_lock:
        if period in _accounted.get(db, ()):
            return count
    with db.unit_of_work() as session:
        unclaimed = unclaimed_past_weeks(session, period, schedule=schedule, zone=zone)
    for past, channel_id in unclaimed:
        if claims.record_missed(
            db, KIND_CHANNEL, channel_id, past, worker=worker, now=now, reason="no process swept during the week"
        ):
            runtime.logger.error(
                "the weekly nudge to %s for %s was never sent: no process ran the sweep that "
                "week after its scheduled time; counted as missed",
                channel_id,
                past,
            )
            count += 1
    with _accounted_lock:
        _accounted.setdefault(db, set()).add(period)
    return count


def unclaimed_past_weeks(
    session: Session, period: str, *, schedule: WeeklySchedule, zone: ZoneInfo
) -> list[tuple[str, str]]:
    """(week, channel) pairs before `period` whose channel had items waiting and no claim, oldest first.

    The walk starts at the latest of: the week the oldest relevant item was filed, the last week
    with any recorded claim (weeks before it were checked by the sweeps of that time), and
    MAX_WEEKS_BACK weeks ago. An item was waiting in a week if it was filed by that week's
    scheduled time, not snoozed past it, and still open when the week ended.
    """
    earliest = _shift_period(period, -MAX_WEEKS_BACK)
    window_start = week_start(earliest, zone)
    this_week = week_start(period, zone)
    rows = session.execute(
        select(
            Incident.channel_id,
            ActionItem.created_at,
            ActionItem.status,
            ActionItem.closed_at,
            ActionItem.snoozed_until,
        )
        .join(Incident, ActionItem.incident_id == Incident.id)
        .where(
            ActionItem.created_at < this_week,
            or_(ActionItem.status == ActionStatus.OPEN, ActionItem.closed_at >= window_start),
        )
    ).all()
    if not rows:
        return []
    last_recorded = session.scalar(
        select(func.max(NudgeClaim.period)).where(NudgeClaim.kind.in_(WEEKLY_KINDS), NudgeClaim.period < period)
    )
    first = max(earliest, week_period(min(row.created_at for row in rows), zone), last_recorded or earliest)
    claimed = set(
        session.execute(
            select(NudgeClaim.channel_id, NudgeClaim.period).where(
                NudgeClaim.kind == KIND_CHANNEL, NudgeClaim.period >= first, NudgeClaim.period < period
            )
        ).all()
    )
    found: list[tuple[str, str]] = []
    past = first
    while past < period:
        due = scheduled_at(past, schedule, zone)
        due_day, ended = due.astimezone(zone).date(), week_start(next_period(past), zone)
        waiting = {
            row.channel_id
            for row in rows
            if row.created_at <= due
            and (row.status == ActionStatus.OPEN or (row.closed_at is not None and row.closed_at >= ended))
            and (row.snoozed_until is None or row.snoozed_until <= due_day)
        }
        found += [(past, channel_id) for channel_id in sorted(waiting) if (channel_id, past) not in claimed]
        past = next_period(past)
    return found


def missed_count(runtime: Runtime) -> int:
    return claims.missed_count(runtime.db, WEEKLY_KINDS)
