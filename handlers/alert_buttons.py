"""The **Declare incident** button on alerts posted to ALERTS_CHANNEL (bot/sources/notices.py).

Declaring from an alert opens an incident as `/incident declare` does, watching the alert's
labels, with the alert on its timeline at its own time; the alert's message then says who
declared it and where.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.runtime import Runtime
from bot.sources import notices
from handlers import incident_commands
from handlers.command_table import CommandRequest
from handlers.replies import (
    after_ack,
    answering_failures,
    best_effort,
    body_value,
    send_reply,
)


def register(app: App, runtime: Runtime) -> None:
    @app.action(notices.DECLARE_ACTION)
    def declare_from_alert(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        after_ack(runtime, "declaring from an alert", _declare, runtime, body, action.get("value", ""))


def _declare(runtime: Runtime, body: dict[str, Any], value: str) -> None:
    user = body_value(body, "user", "id") or ""
    channel = body_value(body, "channel", "id") or ""
    response_url = body.get("response_url", "")
    with answering_failures(runtime, response_url, "declaring from an alert", user=user, channel=channel):
        if not value.isdigit():
            return
        post = notices.claim_alert_post(runtime, int(value), user)
        request = CommandRequest(
            runtime=runtime,
            name="declare",
            args=post.title,
            user_id=user,
            channel_id=channel,
            channel_name=str(body_value(body, "channel", "name") or ""),
            response_url=response_url,
            trigger_id=body.get("trigger_id", ""),
        )
        try:
            reply = incident_commands.declare(
                request, watches=[post.matchers] if post.matchers else [], fact_ids=list(post.fact_ids)
            )
        except BaseException:
            notices.release_alert_post(runtime, post.id)  # nothing was opened: the button works again
            raise
        post_channel, message_ts = notices.alert_post_declared(runtime, post.id, request.required_incident_id)
        with runtime.db.unit_of_work() as session:
            from bot import incidents

            incident_channel = incidents.get(session, request.required_incident_id).channel_id
        if message_ts:
            text, blocks = notices.declared_message(post, user, incident_channel)
            best_effort(
                runtime,
                "marking the alert declared",
                runtime.gateway.update_message,
                post_channel,
                message_ts,
                text,
                blocks,
            )
        send_reply(runtime, response_url, reply)
