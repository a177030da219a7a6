"""The `/incident` slash command: acknowledge at once, then route to the sub-command table."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.errors import UserError
from bot.observability.instrument import counted_subcommand as counted
from bot.runtime import Runtime
from bot.slack.blocks import sections_for_lines
from bot.slack.text import unescape_incoming
from handlers import (
    action_commands,
    incident_commands,
    insights_commands,
    postmortem_commands,
    ticket_commands,
    timeline_commands,
    watch_commands,
)
from handlers.command_table import (
    AlreadyUnderway,
    CommandRequest,
    SubCommand,
    build_table,
    help_text,
    split_command,
)
from handlers.replies import Reply, after_ack, answering_failures, send_reply


def _help(request: CommandRequest) -> Reply:
    text = help_text(TABLE)
    return Reply(text=text, blocks=sections_for_lines(text.split("\n")))


HELP = SubCommand(name="help", run=_help, usage="help", summary="this list", group="Incident", needs_incident=False)

TABLE: dict[str, SubCommand] = build_table(
    incident_commands.COMMANDS,
    timeline_commands.COMMANDS,
    postmortem_commands.COMMANDS,
    action_commands.COMMANDS,
    insights_commands.COMMANDS,
    ticket_commands.COMMANDS,
    watch_commands.COMMANDS,
    [HELP],
)


def command_request(runtime: Runtime, body: dict[str, Any]) -> CommandRequest:
    name, args = split_command(unescape_incoming(body.get("text") or ""))
    return CommandRequest(
        runtime=runtime,
        name=name,
        args=args,
        user_id=body.get("user_id", ""),
        channel_id=body.get("channel_id", ""),
        channel_name=body.get("channel_name", ""),
        response_url=body.get("response_url", ""),
        trigger_id=body.get("trigger_id", ""),
    )


def acknowledgement(request: CommandRequest) -> tuple[str | None, bool]:
    """The line shown to the author at once, and whether to go on with the work."""
    command = TABLE.get(request.name)
    if command is None or command.ack is None:
        return None, True
    try:
        return command.ack(request), True
    except AlreadyUnderway as underway:
        return str(underway), False
    except UserError:
        return None, True  # the work says what is wrong, with the usual wording


def handle(runtime: Runtime, body: dict[str, Any]) -> None:
    """Run one `/incident …` request after it was acknowledged; every outcome is answered."""
    request = command_request(runtime, body)
    name = request.name
    command = TABLE.get(name)
    if command is None:
        prefix = f"I don't know `{name}`. " if name else ""
        reply = _help(request)
        reply.text = prefix + reply.text
        if prefix:
            reply.blocks = [*sections_for_lines([prefix.strip()]), *(reply.blocks or [])]
        with answering_failures(runtime, request.response_url, "showing help"), counted(name and "unknown" or "help"):
            send_reply(runtime, request.response_url, reply)
        return
    with answering_failures(runtime, request.response_url, f"running /incident {name}"), counted(command.name):
        if command.needs_incident:
            request.incident_id = runtime.channel_incidents.require(runtime.db, request.channel_id)
        answer = command.run(request)
        if answer is not None:
            send_reply(runtime, request.response_url, answer)


def register(app: App, runtime: Runtime) -> None:
    @app.command("/incident")
    def incident_command(ack: Ack, body: dict[str, Any]) -> None:
        # A short visible line at most (e.g. "Declaring *Checkout 503s*…"), so Slack never times
        # out; the answer follows through response_url.
        text, go_on = acknowledgement(command_request(runtime, body))
        ack(text or "")
        if go_on:
            after_ack(runtime, "running /incident", handle, runtime, body)
