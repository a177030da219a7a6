"""Sub-commands that run an incident: declare, severity, update, role, roles, list."""

from __future__ import annotations

from bot.slack import blocks as bk
from bot import incidents
from bot.errors import UserError
from bot.incident_labels import split_service_tokens
from bot.slack.gateway import SlackFailure
from bot.sources import routing
from bot.slack.text import mention, plain_text, safe_mrkdwn, slack_date, user_id_from_mention
from handlers.command_table import CommandRequest, SubCommand
from handlers.replies import Reply, best_effort

GROUP = "Incident"


def declare(request: CommandRequest, *, watches: list[list[list[str]]] | None = None,
            fact_ids: list[int] | None = None) -> Reply:
    """Open an incident; `service:NAME` words (and `watches`, from an alert) become its watches."""
    runtime = request.runtime
    settings, gateway = runtime.settings, runtime.gateway
    title_text, services = split_service_tokens(request.args)
    wanted = incidents.parse_declare(title_text)
    now = runtime.clock.now()
    if settings.create_channel:
        stem = incidents.channel_stem(wanted.title, now, settings.timezone)
        channel_id, channel_name = gateway.create_channel(settings.channel_prefix, stem)
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
        request.incident_id = incident.id
        routing.watch_on_declare(session, incident, [[["service", "=", name]] for name in services] + (watches or []),
                                 by=request.user_id, now=now, lookback=settings.hooks_lookback, fact_ids=fact_ids or ())
        incident_topic = incidents.topic(incident)
    announcement = _announcement(wanted.title, wanted.severity, wanted.incident_type, request.user_id)
    if settings.create_channel:
        best_effort(runtime, "setting the topic", gateway.set_topic, channel_id, incident_topic)
        announced = best_effort(runtime, "announcing", gateway.post_message, channel_id,
                                f"Incident declared: {safe_mrkdwn(wanted.title)}", announcement)
        reply = Reply(
            text=f":rotating_light: {mention(request.user_id)} declared *{safe_mrkdwn(wanted.title)}* "
            f"({wanted.severity.upper()}) — follow it in <#{channel_id}>",
            in_channel=True,
        )
        if announced is None:  # the incident exists; say plainly that Slack missed the announcement
            reply.extra.append(Reply(text=f"The incident is open, but Slack refused the announcement in <#{channel_id}>; "
                                          "the timeline works as usual."))
        return reply
    reply = Reply(text=f"Incident declared: {safe_mrkdwn(wanted.title)}", blocks=announcement, in_channel=True)
    try:
        gateway.set_topic(channel_id, incident_topic)
    except SlackFailure as failure:
        runtime.logger.warning("setting the topic of %s failed: %s", channel_id, failure)
        reply.extra.append(Reply(text=_topic_hint(failure.code)))
    return reply


def _topic_hint(code: str) -> str:
    if code in ("not_in_channel", "channel_not_found"):
        return ("I could not set this channel's topic: I'm not a member here. Add me with `/invite @incident-bot` "
                "so I can keep the topic current and read pinned messages.")
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
        incident = incidents.get(session, request.incident_id)  # type: ignore[arg-type]
        previous = incidents.set_severity(session, incident, new, by=request.user_id, now=runtime.clock.now())
        incident_topic = incidents.topic(incident)
    if previous is None:
        return Reply(text=f"Severity is already {new}.")
    best_effort(runtime, "updating the topic", runtime.gateway.set_topic, request.channel_id, incident_topic)
    return Reply(text=f":arrows_counterclockwise: {mention(request.user_id)} changed severity from {previous} to *{new}*.", in_channel=True)


def update(request: CommandRequest) -> Reply | None:
    runtime = request.runtime
    text = request.args.strip()
    if not text:
        raise UserError("A status update needs text, e.g. `/incident update Rolled back to v2.4.0; error rate falling`.")
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.incident_id)  # type: ignore[arg-type]
        entry = incidents.post_status_update(session, incident, text, by=request.user_id, now=runtime.clock.now())
        headline = f"{incident.severity.upper()} · {incident.status.value}"
    message = f":mega: *Status update* ({headline}) from {mention(request.user_id)} · T{entry.id}\n{safe_mrkdwn(text)}"
    try:
        runtime.gateway.post_message(request.channel_id, message, [bk.section(message)])
    except SlackFailure as failure:
        if not failure.channel_gone:
            raise
        return Reply(text=message, in_channel=True)  # not a member: the response_url still reaches the channel
    return Reply(text=f"Posted and added to the timeline as T{entry.id}.")


def role(request: CommandRequest) -> Reply:
    runtime = request.runtime
    parts = request.args.split()
    if len(parts) != 2:
        raise UserError("Give a role and a person: `/incident role commander @ann` (roles: commander, comms, scribe).")
    role_name, who = parts[0].lower(), parts[1]
    user_id = user_id_from_mention(who)
    if user_id is None:
        raise UserError(f"`{who}` is not a person. Mention them: `/incident role {role_name} @ann`.")
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.incident_id)  # type: ignore[arg-type]
        incidents.assign_role(session, incident, role_name, user_id, by=request.user_id, now=runtime.clock.now())
        incident_topic = incidents.topic(incident)
    best_effort(runtime, "inviting the role holder", runtime.gateway.invite, request.channel_id, [user_id])
    if role_name == "commander":
        best_effort(runtime, "updating the topic", runtime.gateway.set_topic, request.channel_id, incident_topic)
    return Reply(text=f":busts_in_silhouette: {mention(user_id)} is now *{role_name}* (set by {mention(request.user_id)}).", in_channel=True)


def roles(request: CommandRequest) -> Reply:
    with request.runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.incident_id)  # type: ignore[arg-type]
        held = incidents.roles_of(incident)
        title = incident.title
    lines = [f"*Roles for {safe_mrkdwn(title)}*"]
    lines += [f"• {name}: {mention(user) if user else '_nobody yet_'}" for name, user in held.items()]
    return Reply(text="\n".join(lines))


def list_open(request: CommandRequest) -> Reply:
    runtime = request.runtime
    with runtime.db.unit_of_work() as session:
        open_incidents = incidents.list_open(session)
        lines = [
            f"• <#{i.channel_id}> *{safe_mrkdwn(i.title)}* · {i.severity.upper()} · since "
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


COMMANDS = [
    SubCommand("declare", declare, "declare <title> [sev1-4] [type:<type>]", "open an incident and its channel",
               GROUP, example="declare Checkout returns 503 sev2", aliases=("start", "new"), needs_incident=False),
    SubCommand("severity", severity, "severity <sev1-4>", "change the severity", GROUP, example="severity sev1"),
    SubCommand("update", update, "update <text>", "post a status update to the channel and the timeline", GROUP,
               example="update Rolled back; errors falling"),
    SubCommand("role", role, "role commander|comms|scribe <@person>", "give someone a role", GROUP,
               example="role commander @ann"),
    SubCommand("roles", roles, "roles", "who holds which role", GROUP),
    SubCommand("list", list_open, "list", "open incidents, newest first", GROUP, needs_incident=False),
]
