"""The `/incident` sub-command table: names and aliases to functions, and the help made from it.

Each area module (`incident_commands`, `timeline_commands` …) exports `COMMANDS`; this module
joins them into one table, so routing and `help` cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.runtime import Runtime
from handlers.replies import Reply


@dataclass
class CommandRequest:
    runtime: Runtime
    name: str  # the sub-command as typed, lower-cased
    args: str  # the rest, unescaped: what the user typed
    user_id: str
    channel_id: str
    channel_name: str
    response_url: str
    trigger_id: str
    incident_id: int | None = None  # set by the router for commands that need an incident

    @property
    def required_incident_id(self) -> int:
        """The incident of a command that needs one: the router sets it before the command runs."""
        if self.incident_id is None:
            raise RuntimeError(f"/incident {self.name} ran without the incident the router finds")
        return self.incident_id


class AlreadyUnderway(Exception):
    """The same request is being carried out already: str() is the answer, and nothing is done."""


@dataclass(frozen=True)
class SubCommand:
    name: str
    run: Callable[[CommandRequest], Reply | None]
    usage: str
    summary: str
    group: str
    example: str = ""
    aliases: tuple[str, ...] = ()
    needs_incident: bool = True
    hidden_in_help: bool = False
    # The short line Slack shows the author at once (the acknowledgement) while the work runs;
    # None: an empty acknowledgement. It may raise AlreadyUnderway to answer instead of working.
    ack: Callable[[CommandRequest], str | None] | None = None
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", (self.name, *self.aliases))


def acknowledging(line: str) -> Callable[[CommandRequest], str | None]:
    """The acknowledgement of a sub-command that changes something, once it was told what (with
    nothing after the name, it lists or explains at once, and needs no line)."""
    return lambda request: line if request.args.strip() else None


def build_table(*groups: list[SubCommand]) -> dict[str, SubCommand]:
    table: dict[str, SubCommand] = {}
    for group in groups:
        for command in group:
            for name in command.names:
                if name in table:
                    raise ValueError(f"sub-command name {name!r} is defined twice")
                table[name] = command
    return table


def split_command(text: str) -> tuple[str, str]:
    stripped = text.strip()
    if not stripped:
        return "", ""
    head, _, rest = stripped.partition(" ")
    return head.lower(), rest.strip()


def help_text(table: dict[str, SubCommand]) -> str:
    seen: set[str] = set()
    groups: dict[str, list[SubCommand]] = {}
    for command in table.values():
        if command.name in seen or command.hidden_in_help:
            continue
        seen.add(command.name)
        groups.setdefault(command.group, []).append(command)
    lines = ["*incident-bot* — `/incident <sub-command>`"]
    for group, commands in groups.items():
        lines.append(f"\n*{group}*")
        for command in commands:
            aliases = f" (also {', '.join(command.aliases)})" if command.aliases else ""
            example = f" — e.g. `/incident {command.example}`" if command.example else ""
            lines.append(f"• `{command.usage}`{aliases}: {command.summary}{example}")
    return "\n".join(lines)
