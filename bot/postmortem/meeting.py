"""The postmortem's review meeting: when it is, who is invited, and telling each of them once.

`postmortem meeting <when> [@observer…]` sets (or moves) the meeting. Invited are everyone who
took part — the roles, the postmortem's owner, whoever declared the incident, wrote on its
timeline, put a message on it (pin or shortcut) or added facts — plus the observers named. Each invitee gets one direct message per
meeting time (`pm_meeting_invite`) and one reminder an hour before (`pm_meeting_reminder`),
exactly once across replicas through the nudge claims (key `<user>/<incident>`, period the
meeting's UTC time): moving the meeting is a new period, so everyone hears of the new time once,
and the old time's reminder never fires because only the current time is swept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from bot import timeline
from bot.errors import UserError
from bot.models import (
    EntryKind,
    Fact,
    Incident,
    IncidentStatus,
    Milestone,
    NudgeClaim,
    Postmortem,
    PostmortemPerson,
    TimelineEntry,
)
from bot.nudges import claims
from bot.nudges.claims import Outgoing
from bot.postmortem import drafts
from bot.postmortem import status as pm_status
from bot.runtime import Runtime
from bot.slack import blocks as bk
from bot.slack.text import safe_mrkdwn, slack_date

KIND_INVITE = "pm_meeting_invite"
KIND_REMINDER = "pm_meeting_reminder"
KINDS = (KIND_INVITE, KIND_REMINDER)
REMIND_BEFORE = dt.timedelta(hours=1)
# The write-ups ask for the review within 48 hours of resolution.
REVIEW_WITHIN = dt.timedelta(hours=48)
# A meeting set further out than this is a typo more often than a plan.
FURTHEST = dt.timedelta(days=120)


def _is_person(user_id: str | None) -> bool:
    # Alerts imported from other bots carry a bot id (B…) as their author: nobody to invite.
    return bool(user_id) and user_id[0] in "UW"  # type: ignore[index]


def resolved_at(session: Session, incident: Incident) -> dt.datetime | None:
    """The resolution: the `resolved` milestone, else the close."""
    entry = timeline.milestones(session, incident.id).get(Milestone.RESOLVED)
    return entry.occurred_at if entry is not None else incident.closed_at


def participants(session: Session, incident: Incident) -> list[str]:
    """Everyone who took part, in a stable order: roles, owner, declarer, timeline and fact authors, pinners."""
    found: dict[str, None] = {}
    for user in (
        incident.commander_id,
        incident.postmortem_owner_id,
        incident.comms_id,
        incident.scribe_id,
        incident.declared_by,
    ):
        if _is_person(user):
            found[user] = None  # type: ignore[index]
    entry_authors = session.scalars(
        select(TimelineEntry.author_id)
        .where(
            TimelineEntry.incident_id == incident.id,
            TimelineEntry.kind != EntryKind.SYSTEM,
            TimelineEntry.removed_at.is_(None),
        )
        .order_by(TimelineEntry.id)
    )
    fact_authors = session.scalars(
        select(Fact.author_id).where(Fact.incident_id == incident.id, Fact.removed_at.is_(None)).order_by(Fact.id)
    )
    pinners = pm_status.people(session, incident.id, pm_status.PINNER)
    for user in [*entry_authors, *fact_authors, *pinners]:
        if _is_person(user):
            found[user] = None
    return list(found)


def took_part(user_id: str) -> ColumnElement[bool]:
    """The same rule as `participants`, as a condition on incidents (for listing someone's incidents)."""
    return or_(
        Incident.commander_id == user_id,
        Incident.postmortem_owner_id == user_id,
        Incident.comms_id == user_id,
        Incident.scribe_id == user_id,
        Incident.declared_by == user_id,
        Incident.id.in_(
            select(TimelineEntry.incident_id).where(
                TimelineEntry.author_id == user_id,
                TimelineEntry.kind != EntryKind.SYSTEM,
                TimelineEntry.removed_at.is_(None),
            )
        ),
        Incident.id.in_(select(Fact.incident_id).where(Fact.author_id == user_id, Fact.removed_at.is_(None))),
        Incident.id.in_(
            select(PostmortemPerson.incident_id).where(
                PostmortemPerson.user_id == user_id, PostmortemPerson.role == pm_status.PINNER
            )
        ),
    )


def invitees(session: Session, incident: Incident) -> list[str]:
    everyone = dict.fromkeys(participants(session, incident))
    everyone.update(dict.fromkeys(pm_status.people(session, incident.id, pm_status.OBSERVER)))
    return list(everyone)


def period_of(meeting_at: dt.datetime) -> str:
    return meeting_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")


def claim_key(user_id: str, incident_id: int) -> str:
    return f"{user_id}/{incident_id}"


@dataclass(frozen=True)
class MeetingSet:
    at: dt.datetime
    previous: dt.datetime | None
    invitees: list[str]
    observers_added: list[str]
    hours_after_resolution: float | None


def set_meeting(
    session: Session, incident_id: int, at: dt.datetime, observers: list[str], *, by: str, now: dt.datetime
) -> MeetingSet:
    incident = session.get(Incident, incident_id)
    if incident is None or incident.status != IncidentStatus.CLOSED:
        raise UserError("Close the incident first (`/incident close`); the review meeting comes after that.")
    row = drafts.require(session, incident_id)
    if at - now > FURTHEST:
        raise UserError(
            f"That is more than {FURTHEST.days} days away; the review works best within 48 hours of "
            "resolution. Give a nearer time, e.g. `/incident postmortem meeting thu 15:00`."
        )
    previous = row.meeting_at
    row.meeting_at, row.meeting_set_by = at, by
    added = pm_status.add_people(session, incident_id, observers, pm_status.OBSERVER, by=by, now=now)
    # Kept on the postmortem (who set it), not on the timeline: that is the account of the incident.
    resolved = resolved_at(session, incident)
    hours = (at - resolved).total_seconds() / 3600 if resolved else None
    return MeetingSet(at, previous, invitees(session, incident), added, hours)


# -- telling the invitees ----------------------------------------------------------------------
@dataclass(frozen=True)
class Meeting:
    incident_id: int
    channel_id: str
    title: str
    at: dt.datetime
    invitees: list[str]
    file_url: str | None


def _message(meeting: Meeting, kind: str, *, moved: bool = False) -> tuple[str, list[bk.Block]]:
    title = safe_mrkdwn(meeting.title, live_mentions=False)
    when = slack_date(meeting.at, "{date_long_pretty} at {time}")
    draft = f" Read <{meeting.file_url}|the draft> first." if meeting.file_url else ""
    if kind == KIND_REMINDER:
        text = f":alarm_clock: In an hour: the postmortem review of *{title}* (<#{meeting.channel_id}>), {when}.{draft}"
    else:
        verb = "moved to" if moved else "is"
        text = (
            f":spiral_calendar_pad: You're invited: the postmortem review of *{title}* (<#{meeting.channel_id}>) "
            f"{verb} {when}.{draft} I'll remind you an hour before."
        )
    return text, [bk.section(text), bk.context("Blameless review: we look at the system, not at people.")]


def upcoming(session: Session, now: dt.datetime, *, incident_id: int | None = None) -> list[Meeting]:
    """Meetings still to come (or starting now), with their invitees."""
    query = (
        select(Postmortem, Incident)
        .join(Incident, Incident.id == Postmortem.incident_id)
        .where(
            Postmortem.meeting_at.is_not(None), Postmortem.meeting_at > now, Incident.status == IncidentStatus.CLOSED
        )
        .order_by(Postmortem.meeting_at)
    )
    if incident_id is not None:
        query = query.where(Postmortem.incident_id == incident_id)
    found = []
    for row, incident in session.execute(query):
        found.append(
            Meeting(
                incident.id,
                incident.channel_id,
                incident.title,
                row.meeting_at,  # type: ignore[arg-type]
                invitees(session, incident),
                row.file_url,
            )
        )
    return found


def upcoming_for(session: Session, user_id: str, now: dt.datetime) -> list[Meeting]:
    """The meetings to come this person is invited to (one query; invitees not listed)."""
    observer = Incident.id.in_(
        select(PostmortemPerson.incident_id).where(
            PostmortemPerson.user_id == user_id, PostmortemPerson.role == pm_status.OBSERVER
        )
    )
    query = (
        select(Postmortem, Incident)
        .join(Incident, Incident.id == Postmortem.incident_id)
        .where(
            Postmortem.meeting_at.is_not(None),
            Postmortem.meeting_at > now,
            Incident.status == IncidentStatus.CLOSED,
            or_(took_part(user_id), observer),
        )
        .order_by(Postmortem.meeting_at)
    )
    return [
        Meeting(incident.id, incident.channel_id, incident.title, row.meeting_at, [], row.file_url)  # type: ignore[arg-type]
        for row, incident in session.execute(query)
    ]


def _invited_before(runtime: Runtime, meeting: Meeting) -> set[str]:
    """Claim keys of invitees told of an earlier time of this meeting: they hear it moved."""
    with runtime.db.unit_of_work() as session:
        keys = session.scalars(
            select(NudgeClaim.channel_id).where(
                NudgeClaim.kind == KIND_INVITE,
                NudgeClaim.channel_id.like(f"%/{meeting.incident_id}"),
                NudgeClaim.period != period_of(meeting.at),
                NudgeClaim.status == claims.SENT,
            )
        )
        return set(keys)


@dataclass
class MeetingReport:
    sent: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: list[str] = field(default_factory=list)


def _tell(
    runtime: Runtime, meeting: Meeting, kind: str, report: MeetingReport, worker: str, pacer: claims.ChannelPacer
) -> None:
    existing = claims.states(runtime.db, (kind,), period_of(meeting.at))
    earlier = _invited_before(runtime, meeting) if kind == KIND_INVITE else set()
    for user in meeting.invitees:
        key = claim_key(user, meeting.incident_id)
        if not claims.is_open_for(existing.get((kind, key)), runtime.clock.now(), force=False):
            report.skipped += 1
            continue
        text, blocks = _message(meeting, kind, moved=key in earlier)
        outgoing = Outgoing(kind, key, period_of(meeting.at), text, blocks, dm_user=user)
        delivery = claims.send_once(
            runtime.db, runtime.gateway, outgoing, worker=worker, now=runtime.clock.now(), pacer=pacer
        )
        if delivery.outcome in ("sent", "recovered"):
            report.sent.append(f"{kind} {key}")
        elif delivery.outcome == "failed":
            report.failed.append(f"{kind} {key}")
        else:
            report.skipped += 1


def invite(
    runtime: Runtime, incident_id: int, *, worker: str | None = None, pacer: claims.ChannelPacer = claims.PACER
) -> MeetingReport:
    """Tell every invitee of this incident's meeting once (right after it was set)."""
    report = MeetingReport()
    with runtime.db.unit_of_work() as session:
        meetings = upcoming(session, runtime.clock.now(), incident_id=incident_id)
    for meeting in meetings:
        _tell(runtime, meeting, KIND_INVITE, report, worker or claims.new_worker_id(), pacer)
    return report


def sweep(runtime: Runtime, *, worker: str | None = None, pacer: claims.ChannelPacer = claims.PACER) -> MeetingReport:
    """The background job: invitations nobody sent yet (a crash, a new participant) and the
    reminders of meetings starting within the hour."""
    worker = worker or claims.new_worker_id()
    now = runtime.clock.now()
    report = MeetingReport()
    with runtime.db.unit_of_work() as session:
        meetings = upcoming(session, now)
    for meeting in meetings:
        _tell(runtime, meeting, KIND_INVITE, report, worker, pacer)
        if meeting.at - REMIND_BEFORE <= now:
            _tell(runtime, meeting, KIND_REMINDER, report, worker, pacer)
    return report
