"""Block Kit messages built within Slack's limits.

Every message the bot sends is built here, so no caller can exceed a limit by accident:
long sections are split at line breaks, headers are cut, and long lists become pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_MESSAGE_TEXT = 40000
# Slack rejects a message whose blocks hold more text than about 12,000 characters in all
# (msg_blocks_too_long); stay well under it.
MAX_BLOCKS_TOTAL_TEXT = 11000
MAX_FALLBACK_TEXT = 3000

Block = dict[str, Any]


def truncate(text: str, limit: int, marker: str = "…") -> str:
    return text if len(text) <= limit else text[: limit - len(marker)] + marker


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, MAX_HEADER_TEXT), "emoji": True}}


def divider() -> Block:
    return {"type": "divider"}


def section(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT)}}
    if block_id:
        block["block_id"] = block_id
    return block


def context(*texts: str) -> Block:
    elements = [{"type": "mrkdwn", "text": truncate(t, MAX_SECTION_TEXT)} for t in texts if t][:MAX_CONTEXT_ELEMENTS]
    return {"type": "context", "elements": elements}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError("button value over Slack's limit")
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(text, MAX_BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def actions(*elements: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)[:MAX_ACTIONS_ELEMENTS]}
    if block_id:
        block["block_id"] = block_id
    return block


def sections_for_lines(lines: Iterable[str], limit: int = MAX_SECTION_TEXT) -> list[Block]:
    """Pack lines into as few sections as fit; a single over-long line is cut."""
    blocks: list[Block] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = truncate(line, limit)
        added = len(line) + (1 if current else 0)
        if current and size + added > limit:
            blocks.append(section("\n".join(current)))
            current, size = [], 0
            added = len(line)
        current.append(line)
        size += added
    if current:
        blocks.append(section("\n".join(current)))
    return blocks


def text_size(blocks: Iterable[Block]) -> int:
    """All text inside blocks, as Slack counts it for msg_blocks_too_long."""

    def walk(node: Any) -> int:
        if isinstance(node, dict):
            return sum(len(v) if k == "text" and isinstance(v, str) else walk(v) for k, v in node.items())
        if isinstance(node, list):
            return sum(walk(item) for item in node)
        return 0

    return walk(list(blocks))


def paginate(lines: list[str], *, reserved_blocks: int = 6, reserved_text: int = 1500) -> list[list[str]]:
    """Split lines into pages that each fit one message beside `reserved` blocks and text."""
    budget_blocks = MAX_BLOCKS - reserved_blocks
    budget_text = MAX_BLOCKS_TOTAL_TEXT - reserved_text
    pages: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        line = truncate(line, MAX_SECTION_TEXT)
        candidate = current + [line]
        blocks = sections_for_lines(candidate)
        if current and (len(blocks) > budget_blocks or text_size(blocks) > budget_text):
            pages.append(current)
            current = [line]
        else:
            current = candidate
    if current or not pages:
        pages.append(current)
    return pages


def check_fits(blocks: list[Block], text: str = "") -> None:
    """Raise if a message would break Slack's limits: a bug in a builder, caught before Slack sees it."""
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"{len(blocks)} blocks, over Slack's {MAX_BLOCKS}")
    if text_size(blocks) > MAX_BLOCKS_TOTAL_TEXT + 900:
        raise ValueError("blocks hold more text than Slack accepts in one message")
    if len(text) > MAX_MESSAGE_TEXT:
        raise ValueError("message text over Slack's limit")


# -- modals ---------------------------------------------------------------------------------
MAX_VIEW_BLOCKS = 100
MAX_VIEW_TITLE = 24  # also the submit and close buttons
MAX_OPTION_TEXT = 75
MAX_OPTIONS = 100
MAX_INPUT_LABEL = 2000
MAX_INPUT_HINT = 2000
MAX_PLACEHOLDER = 150
MAX_PRIVATE_METADATA = 3000
MAX_CHECKBOX_OPTIONS = 10


def plain(text: str, limit: int) -> Block:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def option(text: str, value: str) -> Block:
    return {"text": plain(text, MAX_OPTION_TEXT), "value": value}


def checkboxes(action_id: str, options: list[Block], *, initial: list[Block] | None = None) -> Block:
    """Checkboxes (Slack takes at most 10 options); `initial` are the ones shown ticked."""
    if len(options) > MAX_CHECKBOX_OPTIONS:
        raise ValueError("more checkboxes than Slack allows")
    element: Block = {"type": "checkboxes", "action_id": action_id, "options": options}
    if initial:
        element["initial_options"] = initial
    return element


def static_select(action_id: str, options: list[Block], *, placeholder: str, initial: Block | None = None) -> Block:
    element: Block = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain(placeholder, MAX_PLACEHOLDER),
        "options": options[:MAX_OPTIONS],
    }
    if initial is not None:
        element["initial_option"] = initial
    return element


def text_input(
    action_id: str, *, placeholder: str = "", multiline: bool = False, max_length: int | None = None
) -> Block:
    element: Block = {"type": "plain_text_input", "action_id": action_id, "multiline": multiline}
    if placeholder:
        element["placeholder"] = plain(placeholder, MAX_PLACEHOLDER)
    if max_length:
        element["max_length"] = max_length
    return element


def input_block(block_id: str, label: str, element: Block, *, optional: bool = False, hint: str = "") -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, MAX_INPUT_LABEL),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, MAX_INPUT_HINT)
    return block


def modal(
    callback_id: str, title: str, blocks: list[Block], *, submit: str, close: str = "Cancel", private_metadata: str = ""
) -> Block:
    """A modal view; raises if it would break Slack's limits (a builder bug, caught before Slack sees it)."""
    if len(blocks) > MAX_VIEW_BLOCKS:
        raise ValueError(f"{len(blocks)} blocks, over a modal's {MAX_VIEW_BLOCKS}")
    if len(private_metadata) > MAX_PRIVATE_METADATA:
        raise ValueError("private_metadata over Slack's 3,000 characters")
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, MAX_VIEW_TITLE),
        "submit": plain(submit, MAX_VIEW_TITLE),
        "close": plain(close, MAX_VIEW_TITLE),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


def users_select(placeholder: str, action_id: str, *, initial_user: str | None = None) -> Block:
    """A people picker (e.g. Reassign); Slack sends the chosen user as `selected_user`."""
    element: Block = {
        "type": "users_select",
        "action_id": action_id,
        "placeholder": {"type": "plain_text", "text": truncate(placeholder, MAX_BUTTON_TEXT), "emoji": True},
    }
    if initial_user:
        element["initial_user"] = initial_user
    return element
