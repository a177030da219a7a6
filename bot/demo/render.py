"""Slack messages as a terminal shows them: Block Kit and mrkdwn turned into readable lines."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#(C[A-Z0-9]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]*))?>")
_BROADCAST = re.compile(r"<!(here|channel|everyone)[^>]*>")


def plain_text(text: str, *, user_name: Callable[[str], str], channel_name: Callable[[str], str]) -> str:
    """mrkdwn as a reader sees it: dates as their fallback, mentions as @name, links as their label."""
    text = _DATE.sub(lambda m: m.group(1), text)
    text = _USER.sub(lambda m: "@" + (m.group(2) or user_name(m.group(1))), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or channel_name(m.group(1))), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _BROADCAST.sub(lambda m: "@" + m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def message_lines(
    message: dict[str, Any], *, user_name: Callable[[str], str], channel_name: Callable[[str], str]
) -> list[str]:
    """A message's blocks as lines (its `text` when it has no blocks)."""

    def show(text: str) -> list[str]:
        return plain_text(text, user_name=user_name, channel_name=channel_name).split("\n")

    blocks = message.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not blocks:
        return show(message.get("text") or "")
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines += [f"== {line} ==" for line in show(_text_of(block.get("text")))]
        elif kind == "section":
            if block.get("text"):
                lines += show(_text_of(block["text"]))
            for field in block.get("fields") or []:
                lines += show(_text_of(field))
            accessory = block.get("accessory") or {}
            if accessory.get("type") == "button":
                lines.append(f"[{_text_of(accessory.get('text'))}]")
        elif kind == "context":
            lines += ["  " + line for el in block.get("elements", []) for line in show(_text_of(el))]
        elif kind == "actions":
            labels = [_text_of(el.get("text")) or el.get("type", "") for el in block.get("elements", [])]
            lines.append("  ".join(f"[{label}]" for label in labels))
        elif kind == "divider":
            lines.append("-" * 20)
        elif kind == "rich_text":
            lines += show(_rich_text(block))
    return lines


def _text_of(node: Any) -> str:
    if isinstance(node, dict):
        return str(node.get("text") or "")
    return str(node or "")


def _rich_text(node: Any) -> str:
    if isinstance(node, dict):
        if node.get("type") == "text":
            return str(node.get("text", ""))
        return "".join(_rich_text(child) for child in node.get("elements", []))
    return ""
