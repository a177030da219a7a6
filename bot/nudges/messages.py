"""The nudge message: open action items grouped, each with Done / Snooze 1 week / Reassign.

Built within Slack's limits: the first items get their buttons (two blocks each), later ones are
listed as plain lines, and whatever does not fit is counted with a pointer to `/incident actions`.
After a click, `with_item_updated` rewrites just that item's line in the posted message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.actions.items import item_line
from bot.models import ActionItem, ActionStatus, Incident
from bot.slack import blocks as bk

DONE_ACTION = "nudge_done"
SNOOZE_ACTION = "nudge_snooze"
REASSIGN_ACTION = "nudge_reassign"
LINE_BLOCK = "nudge_line"  # block_id: nudge_line:<item id>:<i when the line names the incident>
ITEM_BLOCK = "nudge_item"  # block_id of the item's buttons: nudge_item:<item id>

# The order items are grouped in, and how each group is headed.
GROUP_TITLES = {
    "overdue": "Overdue",
    "due_soon": "Due within 7 days",
    "no_owner": "No owner",
    "no_due_date": "No due date",
    "later": "Later",
}
Entry = tuple[ActionItem, Incident]

MAX_ITEMS_WITH_BUTTONS = 15
_BLOCK_BUDGET = bk.MAX_BLOCKS - 2  # room for the closing "and N more" note
_TEXT_BUDGET = bk.MAX_BLOCKS_TOTAL_TEXT - 600


@dataclass(frozen=True)
class NudgeMessage:
    text: str
    blocks: list[bk.Block]
    items_shown: int
    items_total: int


def line_block_id(item_id: int, with_incident: bool) -> str:
    return f"{LINE_BLOCK}:{item_id}:{'i' if with_incident else ''}"


def _buttons_text() -> int:
    """The text Slack counts in one item's row of controls (labels and placeholder)."""
    return bk.text_size([item_buttons(ActionItem(id=0, owner_id=None))])


def item_buttons(item: ActionItem) -> bk.Block:
    value = str(item.id)
    return bk.actions(
        bk.button(":white_check_mark: Done", DONE_ACTION, value, style="primary"),
        bk.button(":zzz: Snooze 1 week", SNOOZE_ACTION, value),
        bk.users_select("Reassign…", REASSIGN_ACTION, initial_user=item.owner_id),
        block_id=f"{ITEM_BLOCK}:{item.id}",
    )


def build(
    groups: dict[str, list[Entry]],
    *,
    today: dt.date,
    heading: str,
    intro: str,
    with_incident: bool,
    list_hint: str,
) -> NudgeMessage:
    """One message for these grouped open items; `with_incident` names each item's incident (digests, DMs)."""
    counts = ", ".join(f"{len(found)} {GROUP_TITLES[name].lower()}" for name, found in groups.items() if found)
    total = sum(len(found) for found in groups.values())
    blocks: list[bk.Block] = [bk.header(heading), bk.context(intro)]
    # Sizes are added up as blocks are made (Slack counts the text of every block); walking the
    # whole message again for each item would make a long list quadratic.
    size = bk.text_size(blocks)
    shown = 0
    with_buttons = 0
    full = False
    for name, found in groups.items():
        if not found or full:
            continue
        if len(blocks) + 2 > _BLOCK_BUDGET:
            break
        title = bk.section(f"*{GROUP_TITLES[name]}* ({len(found)})")
        blocks.append(title)
        size += len(title["text"]["text"])
        plain: list[str] = []
        plain_sections = 0
        last_section = 0  # characters in the last section being packed
        for item, incident in found:
            line = bk.truncate(
                item_line(item, today, incident=incident if with_incident else None), bk.MAX_SECTION_TEXT
            )
            if with_buttons < MAX_ITEMS_WITH_BUTTONS and not plain:
                added = len(line) + _BUTTONS_TEXT
                if len(blocks) + 2 > _BLOCK_BUDGET or size + added > _TEXT_BUDGET:
                    full = True
                    break
                blocks += [bk.section(line, block_id=line_block_id(item.id, with_incident)), item_buttons(item)]
                size += added
                with_buttons += 1
                shown += 1
                continue
            # the same greedy packing as bk.sections_for_lines, counted as we go
            opens_section = not plain or last_section + 1 + len(line) > bk.MAX_SECTION_TEXT
            added = len(line) + (0 if opens_section else 1)
            if (
                len(blocks) + plain_sections + (1 if opens_section else 0) > _BLOCK_BUDGET
                or size + added > _TEXT_BUDGET
            ):
                full = True
                break
            if opens_section:
                plain_sections += 1
                last_section = len(line)
            else:
                last_section += 1 + len(line)
            plain.append(line)
            size += added
            shown += 1
        if plain:
            blocks += bk.sections_for_lines(plain)
    if shown < total:
        blocks.append(
            bk.context(
                f"…and {total - shown} more open item{'s' if total - shown != 1 else ''} not shown here: {list_hint}"
            )
        )
    text = f"{heading}: {total} open action item{'s' if total != 1 else ''} ({counts})"
    return NudgeMessage(text=text, blocks=blocks, items_shown=shown, items_total=total)


def item_ids_in(blocks: list[dict[str, Any]]) -> list[int]:
    """The ids of the items shown with their own line (and buttons) in a posted nudge."""
    ids = []
    for block in blocks:
        block_id = str(block.get("block_id", ""))
        if block_id.startswith(f"{LINE_BLOCK}:"):
            ids.append(int(block_id.split(":")[1]))
    return ids


def refreshed(blocks: list[dict[str, Any]], current: dict[int, Entry], *, today: dt.date) -> list[dict[str, Any]]:
    """The posted nudge's blocks with every item line re-read from the database.

    Rewriting all lines (not just the clicked one) keeps the message right when two people
    click at once: whichever update lands last shows both changes. Buttons go once an item is
    closed or snoozed.
    """
    updated: list[dict[str, Any]] = []
    for block in blocks:
        block_id = str(block.get("block_id", ""))
        kind, _, rest = block_id.partition(":")
        item_id = rest.split(":")[0]
        entry = current.get(int(item_id)) if item_id.isdigit() else None
        if kind == LINE_BLOCK and entry is not None:
            item, incident = entry
            with_incident = block_id.endswith(":i")
            updated.append(
                bk.section(item_line(item, today, incident=incident if with_incident else None), block_id=block_id)
            )
        elif kind == ITEM_BLOCK and entry is not None:
            item = entry[0]
            if item.status == ActionStatus.OPEN and not (item.snoozed_until and item.snoozed_until > today):
                updated.append(item_buttons(item))
        else:
            updated.append(block)
    return updated


_BUTTONS_TEXT = _buttons_text()
