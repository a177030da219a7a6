"""The communication checklist's checkboxes on the postmortem message: each tick is recorded.

Slack sends the whole set of ticked boxes; the service records each box that changed with who
and when, and the clicker is told what was recorded (only them). The boxes themselves already
show the new state in Slack; the draft shows it in its Communication section at its next render.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.errors import UserError
from bot.postmortem import checklist
from bot.runtime import Runtime
from handlers.replies import after_ack, answering_failures, body_value


def _incident_id(action: dict[str, Any]) -> int:
    raw = str(action.get("block_id", "")).rpartition("-")[2]
    if not raw.isdigit():
        raise UserError("This checklist belongs to no postmortem I know; run `/incident postmortem` to post it again.")
    return int(raw)


def record(runtime: Runtime, body: dict[str, Any], action: dict[str, Any]) -> None:
    user = body_value(body, "user", "id") or ""
    response_url = body.get("response_url", "")
    with answering_failures(runtime, response_url, "recording a checklist tick"):
        selected = {option.get("value", "") for option in action.get("selected_options") or []}
        with runtime.db.unit_of_work() as session:
            changed = checklist.apply_selection(
                session, _incident_id(action), selected, by=user, now=runtime.clock.now()
            )
        if changed and response_url:
            done = "; ".join(f"{t.label}: {'ticked' if t.checked else 'unticked'}" for t in changed)
            runtime.gateway.respond(response_url, f":ballot_box_with_check: Recorded — {done}.")


def register(app: App, runtime: Runtime) -> None:
    @app.action(checklist.ACTION)
    def ticked(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        after_ack(runtime, "recording a checklist tick", record, runtime, body, action)
