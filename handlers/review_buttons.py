"""The review's "Share in the channel where I asked" button: post the same review there."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App

from bot.errors import UserError
from bot.insights import review_delivery
from bot.insights.review_report import SHARE_ACTION
from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure
from handlers.replies import after_ack, answering_failures, body_value


def register(app: App, runtime: Runtime) -> None:
    @app.action(SHARE_ACTION)
    def press_share(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        after_ack(runtime, "sharing a review", _share, runtime, body, action)


def _share(runtime: Runtime, body: dict[str, Any], action: dict[str, Any]) -> None:
    response_url = body_value(body, "response_url")
    with answering_failures(runtime, response_url, "sharing a review"):
        try:
            wanted = json.loads(action.get("value") or "{}")
            period_text, channel = str(wanted["period"]), str(wanted["channel"])
        except (ValueError, KeyError, TypeError):
            raise UserError("This button is out of date; ask again with `/incident review`.") from None
        try:
            period = review_delivery.share(runtime, period_text, channel)
        except SlackFailure as failure:
            if not failure.channel_gone:
                raise
            raise UserError(
                f"I can't post in <#{channel}>: I'm not a member there. Add me with "
                "`/invite @incident-bot`, then press Share again."
            ) from None
        runtime.gateway.respond(
            response_url, f":white_check_mark: Shared the review of {period.label} in <#{channel}>."
        )
