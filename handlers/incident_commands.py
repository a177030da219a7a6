"""Sub-commands that run an incident: declare, severity, update, role, roles, list."""

from __future__ import annotations

import datetime as dt

from bot import home, incidents, intake
from bot.errors import UserError
from bot.incident_labels import split_service_tokens
from bot.insights import labels, related
from bot.insights.related_text import context_line
from bot.runtime import Runtime
from bot.slack import blocks as bk
from bot.slack.gateway import SlackFailure
from bot.slack.text import mention, plain_text, safe_mrkdwn, slack_date, user_id_from_mention
from bot.sources import routing
from handlers.command_table import AlreadyUnderway, CommandRequest, SubCommand, acknowledging
from handlers.replies import Reply, best_effort

GROUP = "Incident"
# A second identical declare by the same person within this long is a twin, answered, not opened.
TWIN_WINDOW = dt.timedelta(minutes=1)


def declare_ack(request: CommandRequest) -> str:
    """ "Declaring *title*…", or, when this person is declaring this title already, where it is.

    Decided in the database (bot/intake.py `hold_name`): of two at once, one declares."""
    runtime = request.runtime
    title = incidents.parse_declare(request.args).title
    held = intake.being_received()
    if held is not None:
        now = runtime.clock.now()
        holder = intake.hold_name(
            runtime.db, held, incidents.declaring_key(request.user_id, title), now=now, window=TWIN_WINDOW
        )
        if holder is not None:
            with runtime.db.unit_of_work() as session:
                twin = incidents.recently_declared(session, request.user_id, title, now - 2 * TWIN_WINDOW)
                where = f"see <#{twin.channel_id}>" if twin else "its channel is being opened; I'll answer there"
            raise AlreadyUnderway(
                f"You are already declaring *{safe_mrkdwn(title)}* — {where}. I did not open a second one."
            )
    return f"Declaring *{safe_mrkdwn(title)}*…"


def declare(
    request: CommandRequest, *, watches: list[list[list[str]]] | None = None, fact_ids: list[int] | None = None
) -> Reply:
    """Open an incident; `service:NAME` words (and `watches`, from an alert) become its services and watches."""
    try:
        return _declare(request, watches=watches, fact_ids=fact_ids)
    except Exception:
        # Failed: a retry within the minute is a new attempt, not a twin.
        held = intake.current()
        if held is not None:
            best_effort_release(request, held)
        raise


def best_effort_release(request: CommandRequest, held: intake.Held) -> None:
    try:
        intake.release_name(request.runtime.db, held)
    except Exception:
        request.runtime.logger.exception("could not free the declare name of intake %s", held.id)


def _declare(request: CommandRequest, *, watches: list[list[list[str]]] | None, fact_ids: list[int] | None) -> Reply:
    runtime = request.runtime
    settings, gateway = runtime.settings, runtime.gateway
    title_text, services = split_service_tokens(request.args)
    services = [labels.check_name(name, labels.SERVICE) for name in services]
    wanted = incidents.parse_declare(title_text)
    now = runtime.clock.now()
    if settings.create_channel:
        stem = incidents.channel_stem(wanted.title, now, settings.timezone)
        channel_id, channel_name = gateway.create_channel(
            settings.channel_prefix, stem, unclaimed=lambda c: _channel_unused(runtime, c)
        )
        best_effort(runtime, "inviting the declarer", gateway.invite, channel_id, [request.user_id])
        is_private = False
    else:
        channel_id, channel_name = request.channel_id, request.channel_name
        info = best_effort(runtime, "reading the channel", gateway.channel_info, channel_id) or {}
        # When Slack cannot tell, treat the channel as private: its items then never leave it.
        is_private = bool(info.get("is_private", True)) if info else request.channel_name == "privategroup"
    with runtime.db.unit_of_work() as session:
        incident = incidents.declare(
            session,
            wanted,
            channel_id=channel_id,
            channel_name=channel_name,
            is_private=is_private,
            declared_by=request.user_id,
            declared_in=request.channel_id,
            now=now,
        )
        if services:
            labels.set_services(session, incident, services, by=request.user_id, now=now, record=False)
        request.incident_id = incident.id
        routing.watch_on_declare(
            session,
            incident,
            [[["service", "=", name]] for name in services] + (watches or []),
            by=request.user_id,
            now=now,
            lookback=settings.hooks_lookback,
            fact_ids=fact_ids or (),
        )
        incident_topic = incidents.topic(incident)
        incident_id = incident.id
        # With the incident's own commit: carried out again after a crash, it is not declared twice.
        intake.complete_in(session)
    seen_before = related.find_or_nothing(runtime.db, incident_id, runtime.logger)
    announcement = _announcement(wanted.title, wanted.severity, wanted.incident_type, request.user_id)
    if seen_before:
        announcement.append(bk.context(context_line(seen_before)))
    if settings.create_channel:
        best_effort(runtime, "setting the topic", gateway.set_topic, channel_id, incident_topic)
        announced = best_effort(
            runtime,
            "announcing",
            gateway.post_message,
            channel_id,
            f"Incident declared: {safe_mrkdwn(wanted.title)}",
            announcement,
        )
        reply = Reply(
            text=f":rotating_light: {mention(request.user_id)} declared *{safe_mrkdwn(wanted.title)}* "
            f"({wanted.severity.upper()}) — follow it in <#{channel_id}>",
            in_channel=True,
        )
        if announced is None:  # the incident exists; say plainly that Slack missed the announcement
            reply.extra.append(
                Reply(
                    text=f"The incident is open, but Slack refused the announcement in <#{channel_id}>; "
                    "the timeline works as usual."
                )
            )
        return reply
    reply = Reply(text=f"Incident declared: {safe_mrkdwn(wanted.title)}", blocks=announcement, in_channel=True)
    try:
        gateway.set_topic(channel_id, incident_topic)
    except SlackFailure as failure:
        runtime.logger.warning("setting the topic of %s failed: %s", channel_id, failure)
        reply.extra.append(Reply(text=_topic_hint(failure.code)))
    return reply


def _channel_unused(runtime: Runtime, channel_id: str) -> bool:
    with runtime.db.unit_of_work() as session:
        return incidents.channel_unused(session, channel_id)


def _topic_hint(code: str) -> str:
    if code in ("not_in_channel", "channel_not_found"):
        return (
            "I could not set this channel's topic: I'm not a member here. Add me with `/invite @incident-bot` "
            "so I can keep the topic current and read pinned messages."
        )
    return f"I could not set this channel's topic (Slack said `{code}`); the incident is open all the same."


def _announcement(title: str, severity: str, incident_type: str, declared_by: str) -> list[bk.Block]:
    kind = f" · type {incident_type}" if incident_type != "default" else ""
    return [
        bk.header(f":rotating_light: {plain_text(title)}"),  # plain_text: Slack markup as words
        bk.section(
            f"*{severity.upper()}*{kind} · declared by {mention(declared_by)}, who is commander until "
            "someone takes over with `/incident role commander @name`."
        ),
        bk.context(
            "Record what happens: `/incident timeline 14:05 alert fired` · pin a message with :pushpin: · "
            "`/incident update <text>` for status · `/incident help` for everything"
        ),
    ]


def severity(request: CommandRequest) -> Reply:
    runtime = request.runtime
    new = incidents.parse_severity(request.args)
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        previous = incidents.set_severity(session, incident, new, by=request.user_id, now=runtime.clock.now())
        incident_topic = incidents.topic(incident)
    if previous is None:
        return Reply(text=f"Severity is already {new}.")
    best_effort(runtime, "updating the topic", runtime.gateway.set_topic, request.channel_id, incident_topic)
    return Reply(
        text=f":arrows_counterclockwise: {mention(request.user_id)} changed severity from {previous} to *{new}*.",
        in_channel=True,
    )


def update(request: CommandRequest) -> Reply | None:
    runtime = request.runtime
    text = request.args.strip()
    if not text:
        raise UserError(
            "A status update needs text, e.g. `/incident update Rolled back to v2.4.0; error rate falling`."
        )
    shown = incidents.check_status_update(text)
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        entry = incidents.post_status_update(session, incident, text, by=request.user_id, now=runtime.clock.now())
        headline = f"{incident.severity.upper()} · {incident.status.value}"
    heading = f":mega: *Status update* ({headline}) from {mention(request.user_id)} · T{entry.id}"
    message = f"{heading}\n{shown}"
    try:
        # heading and text in sections of their own: the text, within its limit, is never cut
        runtime.gateway.post_message(request.channel_id, message, [bk.section(heading), bk.section(shown)])
    except SlackFailure as failure:
        if not failure.channel_gone:
            raise
        return Reply(text=message, in_channel=True)  # not a member: the response_url still reaches the channel
    return Reply(text=f"Posted and added to the timeline as T{entry.id}.")


def role(request: CommandRequest) -> Reply:
    runtime = request.runtime
    parts = request.args.split()
    if len(parts) != 2:
        raise UserError(
            "Give a role and a person: `/incident role commander @ann` (roles: commander, comms, scribe, "
            "postmortem — who owns the write-up)."
        )
    role_name, who = parts[0].lower(), parts[1]
    user_id = user_id_from_mention(who)
    if user_id is None:
        raise UserError(f"`{who}` is not a person. Mention them: `/incident role {role_name} @ann`.")
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        incidents.assign_role(session, incident, role_name, user_id, by=request.user_id, now=runtime.clock.now())
        incident_topic = incidents.topic(incident)
    best_effort(runtime, "inviting the role holder", runtime.gateway.invite, request.channel_id, [user_id])
    if role_name == "commander":
        best_effort(runtime, "updating the topic", runtime.gateway.set_topic, request.channel_id, incident_topic)
    home.refresh_later(runtime, [user_id])  # a role makes the incident (or its postmortem) theirs
    return Reply(
        text=f":busts_in_silhouette: {mention(user_id)} is now *{role_name}* (set by {mention(request.user_id)}).",
        in_channel=True,
    )


def roles(request: CommandRequest) -> Reply:
    with request.runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        held = incidents.roles_of(incident)
        title = incident.title
    lines = [f"*Roles for {safe_mrkdwn(title)}*"]
    lines += [
        f"• {name}: {mention(user) if user else '_nobody yet_'}" for name, user in held.items() if name != "postmortem"
    ]
    owner = held.get("postmortem")
    lines.append(f"• postmortem: {mention(owner) if owner else '_the commander_'} (owns the write-up)")
    return Reply(text="\n".join(lines))


def list_open(request: CommandRequest) -> Reply:
    runtime = request.runtime
    with runtime.db.unit_of_work() as session:
        open_incidents = incidents.list_open(session)
        lines = [
            f"• <#{i.channel_id}> *{safe_mrkdwn(i.title)}* · {i.severity.upper()}{_services(i)} · since "
            f"{slack_date(i.created_at, fallback_zone=runtime.settings.timezone)} · commander "
            f"{mention(i.commander_id) if i.commander_id else 'none'}"
            for i in open_incidents
        ]
    if not lines:
        return Reply(text="No open incidents. :tada:")
    pages = bk.paginate(lines, reserved_blocks=2)
    first = pages[0]
    more = len(lines) - len(first)
    blocks = [bk.section(f"*Open incidents, newest first* ({len(lines)})"), *bk.sections_for_lines(first)]
    if more:
        blocks.append(bk.context(f"…and {more} more, older ones."))
    return Reply(text=f"{len(lines)} open incidents", blocks=blocks)


def _services(incident: incidents.Incident) -> str:
    names = [label.name for label in incident.labels if label.kind == labels.SERVICE]
    return f" · {', '.join(names)}" if names else ""


COMMANDS = [
    SubCommand(
        "declare",
        declare,
        "declare <title> [sev1-4] [type:<type>] [service:<name>]",
        "open an incident and its channel",
        GROUP,
        example="declare Checkout returns 503 sev2",
        aliases=("start", "new"),
        needs_incident=False,
        ack=declare_ack,
    ),
    SubCommand(
        "severity",
        severity,
        "severity <sev1-4>",
        "change the severity",
        GROUP,
        example="severity sev1",
        ack=acknowledging("Changing the severity…"),
    ),
    SubCommand(
        "update",
        update,
        "update <text>",
        "post a status update to the channel and the timeline",
        GROUP,
        example="update Rolled back; errors falling",
        ack=acknowledging("Posting your update…"),
    ),
    SubCommand(
        "role",
        role,
        "role commander|comms|scribe|postmortem <@person>",
        "give someone a role",
        GROUP,
        example="role commander @ann",
        ack=acknowledging("Giving the role…"),
    ),
    SubCommand("roles", roles, "roles", "who holds which role", GROUP),
    SubCommand("list", list_open, "list", "open incidents, newest first", GROUP, needs_incident=False),
]
