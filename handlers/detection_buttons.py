"""The postmortem headline's **Add the detect action item** button (bot/postmortem/detection.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.postmortem import detection
from bot.refs import action_ref
from bot.runtime import Runtime
from bot.slack.text import mention, safe_mrkdwn
from handlers.replies import (
    Reply,
    after_ack,
    answering_failures,
    body_value,
    send_reply,
)


def register(app: App, runtime: Runtime) -> None:
    @app.action(detection.DETECT_ACTION)
    def add_detect_item(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        after_ack(runtime, "adding the proposed detect action item", _add, runtime, body, action.get("value", ""))


def _add(runtime: Runtime, body: dict[str, Any], value: str) -> None:
    response_url = body.get("response_url", "")
    user = body_value(body, "user", "id") or ""
    with answering_failures(runtime, response_url, "adding the proposed detect action item"):
        if not value.isdigit():
            return
        now = runtime.clock.now()
        with runtime.db.unit_of_work() as session:
            item = detection.add_proposed_item(
                session,
                int(value),
                by=user,
                now=now,
                today=now.astimezone(runtime.settings.timezone).date(),
                due_days=runtime.settings.action_due_days,
            )
            ref, text, due = action_ref(item.id), item.text, item.due_date
        send_reply(
            runtime,
            response_url,
            Reply(
                text=f":clipboard: {mention(user)} added action item *{ref}* (type detect, due {due:%a %d %b %Y}, no owner "
                f"yet: `/incident assign {ref} @name`): {safe_mrkdwn(text, live_mentions=False)}",
                in_channel=True,
            ),
        )
