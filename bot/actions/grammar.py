"""The grammar of `/incident action <text> [<@owner>] [by <date>] [P0-P3] [type:<type>]`.

The options come after the text, in any order. They are read from the end: trailing tokens that
are an owner mention, a priority, a type or `by <date>` are options; the first token that is none
of these ends them, and everything before it is the item's text. So words inside the text ("ask
<@U1> about quotas", "done by hand") stay text. An option that is almost right (`P5`,
`type:prevnt`, `by Jun 31`) is refused with the right form; nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bot.actions.due_dates import looks_like_due_date, parse_due_date
from bot.errors import UserError
from bot.slack.text import user_id_from_mention

PRIORITIES = ("P0", "P1", "P2", "P3")
DEFAULT_PRIORITY = "P2"
ACTION_TYPES = ("prevent", "detect", "mitigate", "process")
MAX_ACTION_TEXT = 500
# `by in 2 weeks` and `by Jun 25 2027` are the longest date phrases: three words.
_MAX_DATE_WORDS = 3

USAGE = (
    "`/incident action <text> [@owner] [by <date>] [P0-P3] [type:prevent|detect|mitigate|process]`, "
    "e.g. `/incident action Add an alert on queue depth @ann by friday P1 type:detect`"
)

_PRIORITY = re.compile(r"^p(\d)$", re.IGNORECASE)


@dataclass(frozen=True)
class ActionDraft:
    text: str
    owner_id: str | None
    due_date: dt.date | None  # None: not given (the severity's default applies)
    priority: str | None  # None: not given
    action_type: str | None
    warning: str | None = None


def parse_priority(token: str) -> str:
    match = _PRIORITY.match(token.strip())
    if not match or f"P{match.group(1)}" not in PRIORITIES:
        raise UserError(f"`{token.strip()}` is not a priority. Use P0 (most urgent), P1, P2 or P3.")
    return f"P{match.group(1)}"


def parse_action_type(word: str) -> str:
    value = word.strip().lower()
    if value not in ACTION_TYPES:
        raise UserError(f"`{value or ' '}` is not an action type. Use `type:` with one of {', '.join(ACTION_TYPES)}.")
    return value


def parse_action(text: str, *, today: dt.date) -> ActionDraft:
    """Split `<text> [options]` into the item's text and its options; raises UserError on bad input."""
    tokens = text.split()
    end = len(tokens)
    owner: str | None = None
    priority: str | None = None
    action_type: str | None = None
    due: dt.date | None = None
    warning: str | None = None
    while end > 0:
        token = tokens[end - 1]
        if _PRIORITY.match(token):
            if priority is not None:
                raise UserError(f"Two priorities given ({token.upper()} and {priority}); give one.")
            priority = parse_priority(token)
            end -= 1
        elif token.lower().startswith("type:"):
            if action_type is not None:
                raise UserError("Two types given; give one `type:`.")
            action_type = parse_action_type(token[5:])
            end -= 1
        elif (user := user_id_from_mention(token)) is not None:
            if owner is not None:
                raise UserError("An action item has one owner; mention one person (others can be named in the text).")
            owner = user
            end -= 1
        elif due is None and (start := _date_phrase_start(tokens, end)) is not None:
            parsed = parse_due_date(" ".join(tokens[start + 1 : end]), today=today)
            due, warning = parsed.date, parsed.warning
            end = start
        else:
            break
    body = " ".join(tokens[:end]).strip()
    if not body:
        raise UserError(f"An action item needs a description. Usage: {USAGE}")
    if len(body) > MAX_ACTION_TEXT:
        raise UserError(
            f"That description is {len(body)} characters; keep it under {MAX_ACTION_TEXT} and link the ticket for detail."
        )
    return ActionDraft(
        text=body, owner_id=owner, due_date=due, priority=priority, action_type=action_type, warning=warning
    )


def _date_phrase_start(tokens: list[str], end: int) -> int | None:
    """The index of the `by` that opens a date phrase ending at `end`, if there is one."""
    for length in range(1, _MAX_DATE_WORDS + 1):
        start = end - length - 1
        if start < 0:
            return None
        if tokens[start].lower() == "by" and looks_like_due_date(" ".join(tokens[start + 1 : end])):
            return start
    return None
