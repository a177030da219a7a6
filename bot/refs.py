"""Short public ids: `T12` for a timeline entry, `F3` for a postmortem fact, `A7` for an action item."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import UserError

PREFIXES = {"T": "timeline entry", "F": "postmortem fact", "A": "action item"}
_REF = re.compile(r"^([TFA])(\d{1,9})$", re.IGNORECASE)


@dataclass(frozen=True)
class Ref:
    prefix: str
    number: int

    def __str__(self) -> str:
        return f"{self.prefix}{self.number}"


def entry_ref(entry_id: int) -> str:
    return f"T{entry_id}"


def fact_ref(fact_id: int) -> str:
    return f"F{fact_id}"


def action_ref(item_id: int) -> str:
    return f"A{item_id}"


def parse_ref(token: str, *, allowed: str = "TFA") -> Ref:
    match = _REF.match(token.strip())
    if not match or match.group(1).upper() not in allowed:
        kinds = ", ".join(f"`{p}12` for a {PREFIXES[p]}" for p in allowed)
        raise UserError(f"`{token}` is not an id. Ids look like {kinds}.")
    return Ref(match.group(1).upper(), int(match.group(2)))
