"""`/incident postmortem review|approve|meeting|share …`: the follow-up after the close.

Reached through the `postmortem` sub-command (see `postmortem_commands.postmortem`), whose
first word picks one of these; `final` stays a synonym of `approve`. Each change of status or
of the meeting re-renders the draft, so its header, its Follow-up section and its message show it.
"""

from __future__ import annotations

from collections.abc import Callable

from bot import home, incidents
from bot.errors import UserError
from bot.postmortem import meeting as pm_meeting
from bot.postmortem import sharing
from bot.postmortem import status as pm_status
from bot.postmortem.metrics import human_duration
from bot.runtime import Runtime
from bot.slack import blocks as bk
from bot.slack.text import mention, safe_mrkdwn, slack_date, user_id_from_mention
from bot.timegrammar import FORWARD_FORMS, TimeGrammarError, parse_leading_when
from handlers import ticket_commands
from handlers.command_table import CommandRequest
from handlers.replies import Reply, best_effort
from handlers.timeline_commands import author_zone

MEETING_USAGE = (
    "`/incident postmortem meeting <when> [@observer…]`, e.g. `/incident postmortem meeting thu 15:00 @dana`"
)


def _mentions(text: str, usage: str) -> list[str]:
    users = []
    for token in text.split():
        user_id = user_id_from_mention(token)
        if user_id is None:
            raise UserError(
                f"`{safe_mrkdwn(token, live_mentions=False)}` is not a person: mention people with @. Usage: {usage}."
            )
        users.append(user_id)
    return users


def _rerendered(runtime: Runtime, incident_id: int, reply: Reply) -> Reply:
    """Publish the draft again so its header and message show the change; only problems are told."""
    from handlers.postmortem_commands import (
        rerender,  # the draft's publication lives there
    )

    published = rerender(runtime, incident_id)
    if not published.text.startswith(":memo:"):
        reply.extra.append(Reply(text=published.text))
    return reply


def review(request: CommandRequest, rest: str) -> Reply:
    runtime = request.runtime
    reviewers = _mentions(rest, "`/incident postmortem review @ann @bob`")
    with runtime.db.unit_of_work() as session:
        asked = pm_status.request_review(
            session,
            request.required_incident_id,
            reviewers,
            by=request.user_id,
            now=runtime.clock.now(),
        )
    title = safe_mrkdwn(asked.title, live_mentions=False)
    link = f"<{asked.file_url}|the draft>" if asked.file_url else f"the draft in <#{asked.channel_id}>"
    for reviewer in asked.added:
        text = (
            f":mag: {mention(request.user_id)} asks you to review the postmortem of *{title}* "
            f"(<#{asked.channel_id}>): read {link}. When it reads right, approve it with "
            "`/incident postmortem approve` in the incident's channel (or its Approve button)."
        )
        channel = best_effort(runtime, "opening a DM with a reviewer", runtime.gateway.open_dm, reviewer)
        if channel:
            best_effort(runtime, "asking a reviewer", runtime.gateway.post_message, channel, text, [bk.section(text)])
    home.refresh_later(runtime, [*asked.added, request.user_id])
    who = ", ".join(mention(r) for r in asked.reviewers)
    state = " The postmortem is now *In review*." if asked.moved else ""
    added = "" if asked.added else " (everyone named was asked already)"
    reply = Reply(
        text=f":mag: {mention(request.user_id)} asked {who} to review the postmortem{added}; each gets a "
        f"message with the link.{state}",
        in_channel=True,
    )
    return _rerendered(runtime, request.required_incident_id, reply) if asked.moved else reply


def approve(runtime: Runtime, incident_id: int, user_id: str) -> Reply:
    with runtime.db.unit_of_work() as session:
        pm_status.approve(session, incident_id, by=user_id, now=runtime.clock.now())
        owner = pm_status.owner_of(incidents.get(session, incident_id))
    home.refresh_later(runtime, [user_id, owner])
    reply = Reply(text=f":white_check_mark: {mention(user_id)} approved the postmortem.", in_channel=True)
    reply = _rerendered(runtime, incident_id, reply)
    reply.extra += ticket_commands.tickets_at_final(runtime, incident_id, user_id)  # TRACKER_AUTO
    return reply


def meeting(request: CommandRequest, rest: str) -> Reply:
    runtime = request.runtime
    zone, zone_note = author_zone(request)
    now = runtime.clock.now()
    try:
        parsed = parse_leading_when(rest, now=now, zone=zone, forward=True)
    except TimeGrammarError as err:
        raise UserError(f"{err}\nUsage: {MEETING_USAGE}.") from None
    if not parsed.given:
        raise UserError(f"Give the meeting's time first. Usage: {MEETING_USAGE}.\n{FORWARD_FORMS}")
    observers = _mentions(parsed.rest, MEETING_USAGE)
    with runtime.db.unit_of_work() as session:
        result = pm_meeting.set_meeting(
            session,
            request.required_incident_id,
            parsed.occurred_at,
            observers,
            by=request.user_id,
            now=now,
        )
    report = pm_meeting.invite(runtime, request.required_incident_id)
    home.refresh_later(runtime, result.invitees)
    when = slack_date(result.at, "{date_long_pretty} at {time}", fallback_zone=zone)
    verb = "moved the review meeting to" if result.previous else "set the review meeting for"
    after = ""
    if result.hours_after_resolution is not None:
        after = f" ({round(result.hours_after_resolution)} hours after resolution)"
    people = f"{len(result.invitees)} {'person' if len(result.invitees) == 1 else 'people'}"
    observed = " and the observers named" if observers else ""
    first = (
        f":spiral_calendar_pad: {mention(request.user_id)} {verb} {when}{after}. Invited: {people} — everyone "
        f"who took part{observed}; each gets a message now and a reminder an hour before."
    )
    lines = [first]
    if result.hours_after_resolution is not None and result.hours_after_resolution > 48:
        lines.append(
            ":warning: That is more than 48 hours after resolution; the review works best while memories "
            "are fresh. Move it with the same command if you can."
        )
    if report.failed:
        lines.append(f":warning: {len(report.failed)} invitation(s) did not go through yet; I'll try again shortly.")
    lines += [note for note in (parsed.note, zone_note) if note]
    return _rerendered(runtime, request.required_incident_id, Reply(text="\n".join(lines), in_channel=True))


def share(request: CommandRequest, rest: str) -> Reply:
    runtime = request.runtime
    audience = sharing.parse_audience(rest)
    result = sharing.share(runtime, request.required_incident_id, audience, by=request.user_id)
    lines = [
        f":outbox_tray: {mention(request.user_id)} shared the postmortem with {audience.name} in <#{result.channel}>."
    ]
    if not result.first:
        lines.append("It was shared there before; the first time stays recorded.")
    if result.late_by is not None:
        hours = int(audience.within.total_seconds() // 3600)
        lines.append(f"That was after the {hours}-hour deadline, by {human_duration(result.late_by)}.")
    return Reply(text=" ".join(lines), in_channel=True)


WORDS: dict[str, Callable[[CommandRequest, str], Reply]] = {
    "review": review,
    "approve": lambda request, rest: approve(request.runtime, request.required_incident_id, request.user_id),
    "final": lambda request, rest: approve(request.runtime, request.required_incident_id, request.user_id),
    "meeting": meeting,
    "share": share,
}
USAGE = (
    "`/incident postmortem review @ann` (ask for review), `postmortem approve` (also `final`), "
    "`postmortem meeting <when> [@observer…]`, `postmortem share engineering|stakeholders`"
)
