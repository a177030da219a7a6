"""Buttons on the postmortem headline message: re-render, approve. Answers go to the clicker."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.postmortem.publish import FINAL_ACTION, RERENDER_ACTION
from bot.runtime import Runtime
from handlers.postmortem_commands import mark_final, rerender
from handlers.replies import after_ack, answering_failures, send_reply


def _incident_id(action: dict[str, Any]) -> int:
    return int(action.get("value", ""))


def register(app: App, runtime: Runtime) -> None:
    @app.action(RERENDER_ACTION)
    def rerender_clicked(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        after_ack(runtime, "re-rendering a postmortem", _rerender, runtime, body.get("response_url", ""), action)

    @app.action(FINAL_ACTION)
    def final_clicked(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        after_ack(
            runtime,
            "approving a postmortem",
            _approve,
            runtime,
            body.get("response_url", ""),
            action,
            (body.get("user") or {}).get("id", ""),
        )


def _rerender(runtime: Runtime, response_url: str, action: dict[str, Any]) -> None:
    with answering_failures(runtime, response_url, "re-rendering a postmortem"):
        send_reply(runtime, response_url, rerender(runtime, _incident_id(action)))


def _approve(runtime: Runtime, response_url: str, action: dict[str, Any], user_id: str) -> None:
    with answering_failures(runtime, response_url, "approving a postmortem"):
        send_reply(runtime, response_url, mark_final(runtime, _incident_id(action), user_id))
