"""Sub-commands for the postmortem: facts (summary, impact, cause …), close/resolve, reopen,
postmortem [final|public] and type. Fact ids (`F3`) are edited and removed through `edit`/`remove`."""

from __future__ import annotations

from bot import incidents, timeline
from bot.errors import UserError
from bot.models import FactSection, Milestone
from bot.postmortem import close as closing
from bot.postmortem import drafts, late_changes, publish
from bot.postmortem import facts as fact_store
from bot.postmortem import status as pm_status
from bot.postmortem.facts import COMMAND_SECTIONS, SECTION_LABELS
from bot.postmortem.render import known_variants
from bot.refs import Ref, fact_ref, parse_ref
from bot.runtime import Runtime
from bot.slack import blocks as bk
from bot.slack.text import mention, safe_mrkdwn, slack_date
from handlers import followup_commands
from handlers.by_ref import EDITORS, REMOVERS, REOPENERS
from handlers.command_table import CommandRequest, SubCommand
from handlers.replies import Reply, best_effort, send_reply
from handlers.timeline_commands import author_zone

GROUP = "Postmortem"


# -- facts -----------------------------------------------------------------------------------
def _fact_command(section: FactSection):
    def run(request: CommandRequest) -> Reply:
        if not request.args.strip():
            return _list_facts(request, section)
        runtime = request.runtime
        with runtime.db.unit_of_work() as session:
            incident = incidents.get(session, request.required_incident_id)
            earlier = fact_store.facts(session, incident.id, section) if section == FactSection.SUMMARY else []
            fact = fact_store.add_fact(
                session, incident, section, request.args, author=request.user_id, now=runtime.clock.now()
            )
            ref, text = fact_ref(fact.id), fact.text
            back_in_review = pm_status.after_edit(
                session, incident.id, by=request.user_id, now=runtime.clock.now(), what=ref
            )
            draft_note = late_changes.author_note(session, incident)
        note = "".join(f"\n{line}" for line in (back_in_review, draft_note) if line)
        if section == FactSection.SUMMARY:
            replaces = f" It replaces {fact_ref(earlier[-1].id)} in the draft." if earlier else ""
            return Reply(text=f":memo: Summary set as *{ref}*.{replaces}\n{safe_mrkdwn(text)}{note}")
        return Reply(text=f":memo: Added *{ref}* to _{SECTION_LABELS[section]}_: {safe_mrkdwn(text)}{note}")

    return run


def _list_facts(request: CommandRequest, section: FactSection) -> Reply:
    with request.runtime.db.unit_of_work() as session:
        found = [(f.id, f.text) for f in fact_store.facts(session, request.required_incident_id, section)]
    name = fact_store.command_for(section)
    if not found:
        return Reply(text=f"Nothing recorded under _{SECTION_LABELS[section]}_ yet. Add it: `/incident {name} <text>`.")
    lines = [f"*{SECTION_LABELS[section].capitalize()}* ({len(found)})"]
    lines += [f"• `{fact_ref(fid)}` {safe_mrkdwn(text)}" for fid, text in found]
    lines.append(
        f"Change one with `/incident edit {fact_ref(found[-1][0])} <text>`, take one out with `/incident remove <id>`."
    )
    pages = bk.paginate(lines, reserved_blocks=1)
    blocks = bk.sections_for_lines(pages[0])
    if len(pages) > 1:
        blocks.append(
            bk.context(f"…and {len(lines) - len(pages[0])} more lines; the full list is in the postmortem draft.")
        )
    return Reply(text=f"{SECTION_LABELS[section]}: {len(found)} facts", blocks=blocks)


def _edit_fact(request: CommandRequest, ref: Ref, rest: str) -> Reply:
    runtime = request.runtime
    if not rest.strip():
        raise UserError(f"Give the new text: `/incident edit {ref} <text>`.")
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        fact = fact_store.edit_fact(
            session, incident, ref.number, rest, editor=request.user_id, now=runtime.clock.now()
        )
        section, text = fact.section, fact.text
        back_in_review = pm_status.after_edit(
            session, incident.id, by=request.user_id, now=runtime.clock.now(), what=str(ref)
        )
    note = f"\n{back_in_review}" if back_in_review else ""
    return Reply(text=f":pencil2: {ref} (_{SECTION_LABELS[section]}_) now reads: {safe_mrkdwn(text)}{note}")


def _remove_fact(request: CommandRequest, ref: Ref) -> Reply:
    runtime = request.runtime
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        fact = fact_store.remove_fact(session, incident, ref.number, by=request.user_id, now=runtime.clock.now())
        section, text = fact.section, fact.text
        back_in_review = pm_status.after_edit(
            session, incident.id, by=request.user_id, now=runtime.clock.now(), what=str(ref)
        )
    note = f"\n{back_in_review}" if back_in_review else ""
    return Reply(
        text=f":wastebasket: Removed {ref} from _{SECTION_LABELS[section]}_ (kept in its history): {safe_mrkdwn(text)}{note}"
    )


EDITORS["F"] = _edit_fact
REMOVERS["F"] = _remove_fact


# -- close and reopen ------------------------------------------------------------------------
def close(request: CommandRequest) -> Reply | None:
    """Close at once, answer, then render and publish the draft in this same (acknowledged) thread."""
    runtime = request.runtime
    zone, zone_note = author_zone(request)
    now = runtime.clock.now()
    draft = timeline.parse_entry_text(request.args, now=now, zone=zone, require_text=False)
    if draft.milestone not in (None, Milestone.RESOLVED):
        raise UserError(
            f"`close` records the *resolved* milestone; record `{draft.milestone.value}:` with "
            f"`/incident timeline <when> {draft.milestone.value}: <text>`, then close."
        )
    with runtime.db.unit_of_work() as session:
        result = closing.close(
            session,
            request.required_incident_id,
            by=request.user_id,
            now=now,
            resolved_at=draft.occurred_at,
            text=draft.text,
            time_given=draft.time_given,
        )
        topic = incidents.topic(incidents.get(session, request.required_incident_id))
    if not result.closed:
        when = slack_date(result.closed_at, fallback_zone=zone) if result.closed_at else "earlier"
        by = mention(result.closed_by) if result.closed_by else "someone"
        return Reply(
            text=f"This incident is already closed (by {by}, {when}). `/incident postmortem` re-renders the "
            "draft; `/incident reopen` reopens the incident."
        )
    best_effort(runtime, "updating the topic", runtime.gateway.set_topic, request.channel_id, topic)
    resolved = slack_date(result.resolved_at, fallback_zone=zone) if result.resolved_at else "now"
    how = (
        f"resolved at {resolved} (`T{result.entry_id}`)"
        if result.milestone_added
        else (f"the `resolved` milestone already on the timeline stands ({resolved})")
    )
    lines = [
        f":white_check_mark: {mention(request.user_id)} closed the incident; {how}. "
        "The postmortem draft follows in a few seconds."
    ]
    lines += [note for note in (draft.note, zone_note if draft.time_given else None) if note]
    send_reply(runtime, request.response_url, Reply(text="\n".join(lines), in_channel=True))
    outcome = publish.publish(runtime, request.required_incident_id)
    _tell_publication(runtime, request.response_url, outcome)
    return None


def _tell_publication(runtime: Runtime, response_url: str, outcome: publish.Outcome) -> None:
    """After the draft was published (or not): tell the person who asked only what needs action."""
    lines = []
    if outcome.state in ("retrying", "failed"):
        lines.append(publish.describe_failure(outcome, runtime.settings.timezone))
    lines += [f":warning: {problem}" for problem in outcome.problems]
    if lines:
        send_reply(runtime, response_url, Reply(text="\n".join(lines)))


def reopen(request: CommandRequest) -> Reply:
    runtime = request.runtime
    token = request.args.strip()
    if token:
        if not REOPENERS:
            raise UserError("`reopen` with no id reopens the incident; nothing else can be reopened yet.")
        if " " in token:
            raise UserError(
                "Usage: `/incident reopen` (the incident) or `/incident reopen <id>`, e.g. `/incident reopen A7`."
            )
        ref = parse_ref(token, allowed="".join(REOPENERS))
        return REOPENERS[ref.prefix](request, ref)
    with runtime.db.unit_of_work() as session:
        result = closing.reopen(session, request.required_incident_id, by=request.user_id, now=runtime.clock.now())
        topic = incidents.topic(incidents.get(session, request.required_incident_id))
    if not result.reopened:
        return Reply(text="This incident is open already. `/incident close [<when>] [<text>]` closes it.")
    best_effort(runtime, "updating the topic", runtime.gateway.set_topic, request.channel_id, topic)
    if result.headline:
        publish.withdraw_headline(runtime, *result.headline)
    removed = ", ".join(f"`T{i}`" for i in result.removed_entries)
    taken = (
        f" The resolved milestone ({removed}) was taken out of the key times (kept in its history)." if removed else ""
    )
    return Reply(
        text=f":leftwards_arrow_with_hook: {mention(request.user_id)} reopened the incident.{taken} "
        "Closing it again makes a new postmortem draft.",
        in_channel=True,
    )


# -- the draft -------------------------------------------------------------------------------
def rerender(runtime: Runtime, incident_id: int) -> Reply:
    """Render from what is stored now and publish again: a new file, the headline updated."""
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, incident_id)
        if incident.status.value != "closed":
            # a draft of an open incident would stand in the channel beside the real one later
            raise UserError(
                "The postmortem draft is made when the incident closes: `/incident close [<when>] [<text>]`."
            )
        drafts.request_publication(session, incident_id, incident.incident_type, now)
    outcome = publish.publish(runtime, incident_id)
    lines = []
    if outcome.state == "published":
        where = f"<{outcome.file_url}|the new file>" if outcome.file_url else "the channel"
        notes = (
            f"{outcome.findings} wording-review note{'s' if outcome.findings != 1 else ''}"
            if outcome.findings
            else "no wording-review notes"
        )
        lines.append(f":memo: Re-rendered the postmortem from what is stored now and published it: {where} ({notes}).")
    elif outcome.state == "busy":
        lines.append("Another publication of this draft is running; it will show the latest facts.")
    else:
        lines.append(publish.describe_failure(outcome, runtime.settings.timezone))
    lines += [f":warning: {problem}" for problem in outcome.problems]
    return Reply(text="\n".join(lines))


def mark_final(runtime: Runtime, incident_id: int, user_id: str) -> Reply:
    """`postmortem final` and the Approve button: approval, by a reviewer or the commander; with
    TRACKER_AUTO, every item without a ticket gets one (see followup_commands.approve)."""
    return followup_commands.approve(runtime, incident_id, user_id)


def postmortem(request: CommandRequest) -> Reply:
    runtime = request.runtime
    first, _, rest = request.args.strip().partition(" ")
    word = first.lower()
    if word == "":
        return rerender(runtime, request.required_incident_id)
    if word in followup_commands.WORDS:
        return followup_commands.WORDS[word](request, rest.strip())
    if word == "public" and not rest.strip():
        uploaded, draft = publish.publish_public_summary(runtime, request.required_incident_id)
        where = f"<{uploaded.permalink}|the file>" if uploaded.permalink else "a file in this channel"
        lines = [
            f":page_facing_up: A customer-facing summary (no names, no timeline detail) is in {where}. "
            "Review it before it goes out."
        ]
        if draft.names_blanked:
            count = draft.names_blanked
            lines.append(
                f":warning: I replaced {count} name{'s' if count != 1 else ''} or mention"
                f"{'s' if count != 1 else ''} with “the team”: comms, check that every sentence still "
                "reads right and that no other internal name is left."
            )
        lines += [f":warning: {problem}" for problem in draft.problems]
        return Reply(text="\n".join(lines))
    raise UserError(
        "Usage: `/incident postmortem` (re-render and publish the draft), `/incident postmortem public` "
        f"(a customer-facing summary), {followup_commands.USAGE}."
    )


def incident_type(request: CommandRequest) -> Reply:
    runtime = request.runtime
    choices = known_variants(runtime.settings.templates_dir)
    wanted = request.args.strip().lower()
    if not wanted:
        with runtime.db.unit_of_work() as session:
            current = incidents.get(session, request.required_incident_id).incident_type
        return Reply(
            text=f"This incident's type is *{current}*; it picks the postmortem template. "
            f"Types: {', '.join(choices)} — e.g. `/incident type security`."
        )
    if wanted not in choices:
        raise UserError(f"`{wanted}` is not a type. Use one of {', '.join(choices)}, e.g. `/incident type security`.")
    with runtime.db.unit_of_work() as session:
        previous = closing.set_type(
            session,
            request.required_incident_id,
            wanted,
            by=request.user_id,
            now=runtime.clock.now(),
        )
        has_draft = drafts.get(session, request.required_incident_id) is not None
    if previous is None:
        return Reply(text=f"The type is already *{wanted}*.")
    hint = " Run `/incident postmortem` to re-render the draft with it." if has_draft else ""
    return Reply(
        text=f":label: Type changed from {previous} to *{wanted}*: the postmortem uses the `{wanted}` template.{hint}"
    )


_FACT_SUMMARIES = {
    FactSection.SUMMARY: "the postmortem's summary (the last one given counts); with no text, these list what is recorded",
    FactSection.IMPACT: "who and what was affected, with numbers",
    FactSection.CAUSE: "a root cause or contributing factor",
    FactSection.TRIGGER: "what set the incident off",
    FactSection.WENT_WELL: "something that went well",
    FactSection.WENT_WRONG: "something that went wrong",
    FactSection.LUCKY: "where we got lucky",
    FactSection.DETECTION: "how the incident was detected",
}
_FACT_EXAMPLES = {
    FactSection.CAUSE: "cause New code did not return DB connections to the pool",
    FactSection.WENT_WELL: "went-well The alert fired within 3 minutes",
}

COMMANDS = [
    *[
        SubCommand(
            name,
            _fact_command(section),
            f"{name} [<text>]",
            _FACT_SUMMARIES[section],
            GROUP,
            example=_FACT_EXAMPLES.get(section, ""),
        )
        for name, section in COMMAND_SECTIONS.items()
    ],
    SubCommand(
        "close",
        close,
        "close [<when>] [<text>]",
        "close the incident (records the resolved milestone) and post the postmortem draft",
        GROUP,
        example="close 14:47 Metrics normal",
        aliases=("resolve",),
        ack=lambda request: "Closing the incident and drafting its postmortem…",
    ),
    SubCommand("reopen", reopen, "reopen [<id>]", "reopen the incident (or, with an id, an item)", GROUP),
    SubCommand(
        "postmortem",
        postmortem,
        "postmortem [review @people|approve|meeting <when> [@observers]|share engineering|stakeholders|public]",
        "re-render and publish the draft; ask for review, approve (also `final`), set the review meeting, "
        "share it; `public` writes a customer-facing summary",
        GROUP,
        example="postmortem meeting thu 15:00",
    ),
    SubCommand(
        "type",
        incident_type,
        "type <name>",
        "set the incident's type, which picks the postmortem template",
        GROUP,
        example="type security",
    ),
]
