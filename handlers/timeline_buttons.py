"""Buttons on the timeline listing: earlier and later pages, shown only to whoever asked."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from bot.runtime import Runtime
from handlers.replies import after_ack, answering_failures, send_reply
from handlers.timeline_commands import PAGE_ACTION, timeline_page


def register(app: App, runtime: Runtime) -> None:
    @app.action(re.compile(f"^{PAGE_ACTION}_(prev|next)$"))
    def turn_page(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        after_ack(
            runtime,
            "turning a timeline page",
            _show_page,
            runtime,
            body.get("response_url", ""),
            action.get("value", ""),
        )


def _show_page(runtime: Runtime, response_url: str, value: str) -> None:
    with answering_failures(runtime, response_url, "turning a timeline page"):
        incident_id, _, page = value.partition(":")
        reply = timeline_page(runtime, int(incident_id), int(page))
        reply.replace_original = True
        send_reply(runtime, response_url, reply)
