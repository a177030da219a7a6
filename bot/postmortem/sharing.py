"""Sharing the postmortem: with engineering within 24 hours of resolution, stakeholders within 48.

`postmortem share engineering|stakeholders` posts a short summary with the link to the draft in
the audience's channel (`SHARE_ENGINEERING_CHANNEL`, `SHARE_STAKEHOLDERS_CHANNEL`) and records
when and by whom (`postmortems.shared_<audience>_at`/`_by`: the first share counts, so a late
share stays late in the review's numbers). A private incident's postmortem, or one with restricted
distribution (security), is never posted there (nor reminded about). Before each deadline the postmortem's owner is
reminded once, across replicas, if it is not shared yet (nudge claims, kind
`pm_share_reminder`, keyed by the incident's channel, period the audience).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import FactSection, Incident, IncidentStatus, Postmortem
from bot.nudges import claims
from bot.nudges.claims import Outgoing
from bot.postmortem import drafts, facts
from bot.postmortem import status as pm_status
from bot.postmortem.meeting import resolved_at
from bot.runtime import Runtime
from bot.slack import blocks as bk
from bot.slack.gateway import SlackFailure
from bot.slack.text import mention, plain_text, safe_mrkdwn, slack_date


@dataclass(frozen=True)
class Audience:
    name: str
    within: dt.timedelta
    setting: str  # the environment variable naming its channel


AUDIENCES = {
    "engineering": Audience("engineering", dt.timedelta(hours=24), "SHARE_ENGINEERING_CHANNEL"),
    "stakeholders": Audience("stakeholders", dt.timedelta(hours=48), "SHARE_STAKEHOLDERS_CHANNEL"),
}
KIND_REMINDER = "pm_share_reminder"
# How long before a deadline the owner hears of it.
REMIND_BEFORE = dt.timedelta(hours=4)
# After a deadline has passed this long, the reminder is no use any more.
STOP_REMINDING_AFTER = dt.timedelta(days=3)
SUMMARY_LIMIT = 600


def _restricted_variants() -> tuple[str, ...]:
    # Imported here: publishing shows the follow-up, so it imports this module's neighbours.
    from bot.postmortem.publish import RESTRICTED_VARIANTS

    return RESTRICTED_VARIANTS


def parse_audience(text: str) -> Audience:
    word = text.strip().lower()
    if word not in AUDIENCES:
        raise UserError(
            "Share with whom? `/incident postmortem share engineering` (due 24 hours after resolution) "
            "or `/incident postmortem share stakeholders` (48 hours)."
        )
    return AUDIENCES[word]


def channel_setting(runtime: Runtime, audience: Audience) -> str | None:
    return getattr(runtime.settings, f"share_{audience.name}_channel")


def shared(row: Postmortem, audience: Audience) -> tuple[dt.datetime | None, str | None]:
    return getattr(row, f"shared_{audience.name}_at"), getattr(row, f"shared_{audience.name}_by")


def deadline(resolved: dt.datetime | None, audience: Audience) -> dt.datetime | None:
    return resolved + audience.within if resolved else None


@dataclass(frozen=True)
class Shared:
    channel: str
    first: bool  # False: shared before (the first time stays recorded)
    late_by: dt.timedelta | None


def _summary(session: Session, incident: Incident, row: Postmortem) -> tuple[str, list[bk.Block]]:
    title = plain_text(incident.title)
    summaries = facts.facts(session, incident.id, FactSection.SUMMARY)
    summary = bk.truncate(summaries[-1].text, SUMMARY_LIMIT) if summaries else "_No summary written yet._"
    link = f"<{row.file_url}|Read the postmortem>" if row.file_url else f"The postmortem is in <#{incident.channel_id}>"
    state = pm_status.label(row.status)
    blocks = [
        bk.header(f":memo: Postmortem: {title}"),
        bk.section(safe_mrkdwn(summary, live_mentions=False) if summaries else summary),
        bk.context(f"*{incident.severity.upper()}* · {state} · <#{incident.channel_id}> · {link}"),
    ]
    return f"Postmortem: {bk.truncate(title, 200)}", blocks


def share(runtime: Runtime, incident_id: int, audience: Audience, *, by: str) -> Shared:
    configured = channel_setting(runtime, audience)
    if not configured:
        raise UserError(
            f"No channel is set for sharing with {audience.name}: whoever runs incident-bot sets "
            f"`{audience.setting}` (a channel id or #name)."
        )
    with runtime.db.unit_of_work() as session:
        incident = session.get(Incident, incident_id)
        if incident is None or incident.status != IncidentStatus.CLOSED:
            raise UserError("Close the incident first (`/incident close`); its postmortem is shared after that.")
        if incident.is_private:
            # Like the nudge digest: a private incident's title and summary never leave its channel.
            raise UserError(
                "This incident's channel is private, so I don't post its postmortem in a shared channel. "
                "Share it by hand with the people who may read it."
            )
        row = drafts.require(session, incident_id)
        if row.template in _restricted_variants():
            raise UserError(
                f"This postmortem has restricted distribution (`{row.template}`), so I don't post it in a "
                "shared channel. Share it by hand with the people cleared to read it."
            )
        text, blocks = _summary(session, incident, row)
    channel = configured
    if not (configured[:1] in ("C", "G") and configured.isupper()):
        found = runtime.gateway.channel_id_by_name(configured)
        if found is None:
            raise UserError(
                f"I can't find the channel #{configured} ({audience.setting}); is it archived, or "
                "private without me in it?"
            )
        channel = found
    try:
        runtime.gateway.post_message(channel, text, blocks)
    except SlackFailure as failure:
        if failure.channel_gone:
            raise UserError(
                f"I can't post in <#{channel}> ({audience.setting}): add me with `/invite @incident-bot` "
                "there, then share again."
            ) from None
        raise
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        incident = session.get(Incident, incident_id)
        row = drafts.require(session, incident_id)
        first_at, _ = shared(row, audience)
        if first_at is None:
            setattr(row, f"shared_{audience.name}_at", now)
            setattr(row, f"shared_{audience.name}_by", by)
        due = deadline(resolved_at(session, incident), audience)  # type: ignore[arg-type]
        late = (first_at or now) - due if due and (first_at or now) > due else None
    return Shared(channel, first_at is None, late)


# -- reminders before the deadlines ----------------------------------------------------------
@dataclass
class ShareReport:
    sent: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DueShare:
    incident_id: int
    channel_id: str
    title: str
    owner: str
    audience: Audience
    deadline: dt.datetime


def due_shares(session: Session, runtime: Runtime, now: dt.datetime) -> list[DueShare]:
    audiences = [a for a in AUDIENCES.values() if channel_setting(runtime, a)]
    if not audiences:
        return []
    longest = max(a.within for a in audiences) + STOP_REMINDING_AFTER
    query = (
        select(Postmortem, Incident)
        .join(Incident, Incident.id == Postmortem.incident_id)
        .where(
            Incident.status == IncidentStatus.CLOSED,
            Incident.is_private.is_(False),
            Postmortem.template.not_in(_restricted_variants()),
            Incident.closed_at >= now - longest - dt.timedelta(days=1),
        )
        .order_by(Incident.id)
    )
    found = []
    for row, incident in session.execute(query):
        resolved = resolved_at(session, incident)
        for audience in audiences:
            due = deadline(resolved, audience)
            if due is None or shared(row, audience)[0] is not None:
                continue
            if due - REMIND_BEFORE <= now < due + STOP_REMINDING_AFTER:
                found.append(
                    DueShare(
                        incident.id, incident.channel_id, incident.title, pm_status.owner_of(incident), audience, due
                    )
                )
    return found


def _reminder(due: DueShare, now: dt.datetime) -> tuple[str, list[bk.Block]]:
    title = safe_mrkdwn(due.title, live_mentions=False)
    when = slack_date(due.deadline, "{date_short_pretty} at {time}")
    state = "was due" if now >= due.deadline else "is due"
    text = (
        f":outbox_tray: The postmortem of *{title}* (<#{due.channel_id}>) is not shared with {due.audience.name} "
        f"yet; it {state} {when} ({int(due.audience.within.total_seconds() // 3600)} hours after resolution). "
        f"Share it with `/incident postmortem share {due.audience.name}` in the incident's channel."
    )
    return text, [bk.section(text), bk.context(f"You own this postmortem ({mention(due.owner)}).")]


def sweep(runtime: Runtime, *, worker: str | None = None, pacer: claims.ChannelPacer = claims.PACER) -> ShareReport:
    worker = worker or claims.new_worker_id()
    now = runtime.clock.now()
    report = ShareReport()
    with runtime.db.unit_of_work() as session:
        due = due_shares(session, runtime, now)
    for item in due:
        text, blocks = _reminder(item, now)
        outgoing = Outgoing(KIND_REMINDER, item.channel_id, item.audience.name, text, blocks, dm_user=item.owner)
        delivery = claims.send_once(
            runtime.db, runtime.gateway, outgoing, worker=worker, now=runtime.clock.now(), pacer=pacer
        )
        label = f"{item.audience.name} {item.channel_id}"
        if delivery.outcome in ("sent", "recovered"):
            report.sent.append(label)
        elif delivery.outcome == "failed":
            report.failed.append(label)
        else:
            report.skipped += 1
    return report
