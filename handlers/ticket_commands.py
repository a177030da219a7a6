"""Sub-commands for tickets: `ticket <id>` and `ticket all` make tickets in the configured tracker.

The service side (bot.trackers.service) stores each create in the outbox and tries it at once;
this module only parses and words the answer. `tickets_at_final` is the hook `postmortem final`
calls, and `after_item_change` the one that carries a Slack-side close or reopen to the ticket soon.
"""

from __future__ import annotations

from bot.errors import UserError
from bot.refs import parse_ref
from bot.runtime import Runtime
from bot.trackers import outbox, service, sync
from handlers.command_table import CommandRequest, SubCommand
from handlers.replies import Reply

GROUP = "Action items"
USAGE = (
    "Usage: `/incident ticket A7` (one item) or `/incident ticket all` (every item of this incident without a ticket)."
)


def ticket(request: CommandRequest) -> Reply:
    runtime = request.runtime
    arg = request.args.strip()
    if not arg:
        raise UserError(USAGE)
    if arg.lower() == "all":
        result = service.create_for_incident_channel(runtime, request.channel_id, by=request.user_id)
    else:
        token, _, rest = arg.partition(" ")
        if rest.strip():
            raise UserError(USAGE)
        result = service.create_for_item(
            runtime, parse_ref(token, allowed="A").number, by=request.user_id, channel_id=request.channel_id
        )
    return Reply(text=result.text, in_channel=result.in_its_channel)


def tickets_at_final(runtime: Runtime, incident_id: int, user_id: str) -> list[Reply]:
    """`postmortem final` with TRACKER_AUTO: tickets for every item without one (answers as `ticket all`)."""
    if runtime.tracker is None or not runtime.settings.trackers.auto:
        return []
    result = service.create_for_incident(runtime, incident_id, by=user_id, quiet_when_none=True)
    return [Reply(text=result.text, in_channel=True)] if result.text else []


def after_item_change(runtime: Runtime) -> None:
    """A Slack-side done, drop or reopen queued a ticket write: carry it out soon, off this thread."""
    outbox.kick(runtime)


def link_note(runtime: Runtime, item_id: int, url: str | None) -> str | None:
    return sync.adopt_link(runtime, item_id, url)


COMMANDS = [
    SubCommand(
        "ticket",
        ticket,
        "ticket <id>|all",
        "make the item's ticket in the team's tracker (GitHub or Jira); `all`: every item of this incident without one",
        GROUP,
        example="ticket A7",
        needs_incident=False,
    ),
]
