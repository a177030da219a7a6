"""Sub-commands for the timeline: add an entry, show it, edit or remove an entry."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot import incidents, intake, timeline
from bot.errors import UserError
from bot.models import EntryKind, EntrySource, TimelineEntry
from bot.postmortem import late_changes
from bot.postmortem import status as pm_status
from bot.refs import Ref, entry_ref, parse_ref
from bot.slack import blocks as bk
from bot.slack.text import mention, safe_mrkdwn, slack_date
from bot.sources import routing
from bot.timegrammar import ACCEPTED_FORMS
from handlers.by_ref import EDITORS, REMOVERS
from handlers.command_table import CommandRequest, SubCommand, acknowledging
from handlers.replies import Reply

GROUP = "Timeline"
PAGE_ACTION = "timeline_page"
_KIND_MARK = {EntryKind.SYSTEM: ":gear: ", EntryKind.STATUS_UPDATE: ":mega: "}


def author_zone(request: CommandRequest) -> tuple[ZoneInfo, str | None]:
    """The author's own Slack zone; the team's zone (and a note saying so) when Slack can't tell."""
    zone = request.runtime.gateway.user_timezone(request.user_id)
    if zone is not None:
        return zone, None
    team_zone = request.runtime.settings.timezone
    return team_zone, f"I couldn't read your Slack time zone, so clock times were read in {team_zone.key}."


def timeline_command(request: CommandRequest) -> Reply:
    if not request.args.strip():
        return timeline_page(request.runtime, request.required_incident_id, 0)
    return add(request)


def add(request: CommandRequest) -> Reply:
    runtime = request.runtime
    zone, zone_note = author_zone(request)
    now = runtime.clock.now()
    draft = timeline.parse_entry_text(request.args, now=now, zone=zone)
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        entry = timeline.add_entry(
            session,
            incident,
            text=draft.text,
            author=request.user_id,
            occurred_at=draft.occurred_at,
            recorded_at=now,
            milestone=draft.milestone,
            source=EntrySource.COMMAND,
        )
        entry_id = entry.id
        # Back in review first: the note then says the draft will be re-rendered, as it will be.
        back_in_review = pm_status.after_edit(
            session, incident.id, by=request.user_id, now=now, what=entry_ref(entry_id)
        )
        draft_note = late_changes.author_note(session, incident)
        intake.complete_in(session)  # in the entry's own commit: a replay never adds it twice
    milestone = f" as the *{draft.milestone.value}* milestone" if draft.milestone else ""
    lines = [
        f":white_check_mark: Added *{entry_ref(entry_id)}*{milestone} at "
        f"{slack_date(draft.occurred_at, '{date_short_pretty} {time_secs}', fallback_zone=zone)}: {safe_mrkdwn(draft.text)}"
    ]
    lines += [note for note in (draft.note, zone_note, back_in_review, draft_note) if note]
    return Reply(text="\n".join(lines))


def entry_line(entry: TimelineEntry, zone: ZoneInfo) -> str:
    when = slack_date(entry.occurred_at, "{date_short} {time}", fallback_zone=zone)
    mark = _KIND_MARK.get(entry.kind, "")
    milestone = f"*[{entry.milestone.value}]* " if entry.milestone else ""
    link = f" <{entry.permalink}|({entry.origin or 'message'})>" if entry.permalink else ""
    return f"{when} · `{entry_ref(entry.id)}` · {mention(entry.author_id)} · {mark}{milestone}{safe_mrkdwn(entry.text)}{link}"


def timeline_page(runtime, incident_id: int, page: int) -> Reply:
    zone = runtime.settings.timezone
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, incident_id)
        title = incident.title
        lines = [entry_line(entry, zone) for entry in timeline.entries(session, incident_id)]
    pages = bk.paginate(lines)
    page = max(0, min(page, len(pages) - 1))
    count = len(lines)
    blocks: list[bk.Block] = [
        bk.section(f"*Timeline of {safe_mrkdwn(title)}* · {count} entries, in the order they happened")
    ]
    blocks += bk.sections_for_lines(pages[page]) if pages[page] else [bk.section("_No entries yet._")]
    if len(pages) > 1:
        buttons = []
        if page > 0:
            buttons.append(bk.button(":arrow_left: Earlier", f"{PAGE_ACTION}_prev", f"{incident_id}:{page - 1}"))
        if page < len(pages) - 1:
            buttons.append(bk.button("Later :arrow_right:", f"{PAGE_ACTION}_next", f"{incident_id}:{page + 1}"))
        blocks.append(bk.context(f"Page {page + 1} of {len(pages)}"))
        blocks.append(bk.actions(*buttons))
    return Reply(text=f"Timeline: {count} entries (page {page + 1} of {len(pages)})", blocks=blocks)


def _edit_timeline_entry(request: CommandRequest, ref: Ref, rest: str) -> Reply:
    runtime = request.runtime
    zone, zone_note = author_zone(request)
    now = runtime.clock.now()
    draft = timeline.parse_entry_text(rest, now=now, zone=zone, require_text=False) if rest.strip() else None
    if draft is None or (not draft.time_given and not draft.text and draft.milestone is None):
        raise UserError(
            f"Say what to change: `/incident edit {ref} 14:07` (the time), `/incident edit {ref} new text`, "
            f"or both: `/incident edit {ref} 14:07 new text`.\n{ACCEPTED_FORMS}"
        )
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        entry = timeline.edit_entry(
            session,
            incident,
            ref.number,
            editor=request.user_id,
            now=now,
            text=draft.text or None,
            occurred_at=draft.occurred_at if draft.time_given else None,
            milestone=draft.milestone,
        )
        occurred_at, text = entry.occurred_at, entry.text
        back_in_review = pm_status.after_edit(session, incident.id, by=request.user_id, now=now, what=str(ref))
        intake.complete_in(session)
    lines = [
        f":pencil2: {ref} is now at {slack_date(occurred_at, '{date_short_pretty} {time_secs}', fallback_zone=zone)}: {safe_mrkdwn(text)}"
    ]
    lines += [note for note in (draft.note, zone_note if draft.time_given else None, back_in_review) if note]
    return Reply(text="\n".join(lines))


def _remove_timeline_entry(request: CommandRequest, ref: Ref) -> Reply:
    runtime = request.runtime
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        entry = timeline.remove_entry(session, incident, ref.number, by=request.user_id, now=runtime.clock.now())
        if entry.source == EntrySource.MONITORING:  # the next alert or page takes over `detected`
            routing.refresh_machine_milestones(session, incident.id)
        text = entry.text
        back_in_review = pm_status.after_edit(
            session, incident.id, by=request.user_id, now=runtime.clock.now(), what=str(ref)
        )
        intake.complete_in(session)
    lines = [f":wastebasket: Removed {ref} (kept in its history): {safe_mrkdwn(text)}", back_in_review]
    return Reply(text="\n".join(line for line in lines if line))


EDITORS["T"] = _edit_timeline_entry
REMOVERS["T"] = _remove_timeline_entry


def _known_prefixes(table: dict) -> str:
    return "".join(table)


def edit(request: CommandRequest) -> Reply:
    token, _, rest = request.args.strip().partition(" ")
    if not token:
        raise UserError(
            "Usage: `/incident edit <id> [<when>] [<text>]`, e.g. `/incident edit T12 14:07 rollback started`."
        )
    ref = parse_ref(token, allowed=_known_prefixes(EDITORS))
    return EDITORS[ref.prefix](request, ref, rest.strip())


def remove(request: CommandRequest) -> Reply:
    token = request.args.strip()
    if not token or " " in token:
        raise UserError("Usage: `/incident remove <id>`, e.g. `/incident remove T12`.")
    ref = parse_ref(token, allowed=_known_prefixes(REMOVERS))
    return REMOVERS[ref.prefix](request, ref)


COMMANDS = [
    SubCommand(
        "timeline",
        timeline_command,
        "timeline [<when>] [<milestone>:] <text>",
        "add an entry (at a time you give, or now); with no text, show the timeline",
        GROUP,
        example="timeline 14:05 detected: 503 errors rise",
        ack=acknowledging("Adding to the timeline…"),
    ),
    SubCommand(
        "edit",
        edit,
        "edit <id> [<when>] [<text>]",
        "change an entry's time or text",
        GROUP,
        example="edit T12 14:07",
        ack=acknowledging("Changing the entry…"),
    ),
    SubCommand(
        "remove",
        remove,
        "remove <id>",
        "take an entry out (its history is kept)",
        GROUP,
        example="remove T12",
        ack=acknowledging("Removing the entry…"),
    ),
]
