"""Acknowledged means stored: the Bolt app stores each request that leads to work before Bolt
acknowledges it, and carries out again what a stopped process left (see bot/intake.py).

`IncidentApp.dispatch` is the one door every request comes through (HTTP, Socket Mode and
replays): it refuses other workspaces' requests, stores the request, then lets Bolt run the
listener with the stored request in reach. The app runs with `process_before_response`, so the
listener (which only acknowledges and hands its work to `after_ack`) has finished when Slack
gets the answer: a request whose listener started no work is settled on the spot.

Bolt's own signature check is off: the HTTP server verifies every request on its raw bytes
first (bot/slack/verify.py), and a stored request replayed later must not fail the check for
being older than five minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from typing import Any

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_bolt.request.payload_utils import (
    is_block_actions,
    is_event,
    is_shortcut,
    is_slash_command,
    is_view_submission,
)
from slack_bolt.response import BoltResponse

from bot import intake
from bot.errors import report_unexpected
from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure
from bot.slack.text import safe_mrkdwn
from handlers import events
from handlers.authorization import BotIdentity
from handlers.request_guard import refuse_foreign

REPLAY = "incident_bot_replay"  # request context key: a stored request carried out again
# A response_url takes answers for 30 minutes; after that the author gets a direct message.
RESPONSE_URL_LIFETIME = dt.timedelta(minutes=29)
CANNOT_STORE = (
    ":warning: I can't take requests right now (my database does not answer), so nothing was done. "
    "Try again in a minute."
)


def surface_of(runtime: Runtime, body: dict[str, Any]) -> str | None:
    """What kind of request this is, when it leads to work; None for those that don't."""
    if is_slash_command(body):
        return "command"
    if is_event(body):
        return "event" if events.leads_to_work(body.get("event") or {}, runtime) else None
    if is_block_actions(body):
        return "action"
    if is_view_submission(body):
        return "view"
    if is_shortcut(body):
        return "shortcut"
    return None  # URL verification, option loads, closed modals …


class IncidentApp(App):
    def __init__(self, runtime: Runtime, identity: BotIdentity, **kwargs: Any):
        super().__init__(process_before_response=True, request_verification_enabled=False, **kwargs)
        self._runtime = runtime
        self.identity = identity

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        with self._runtime.ack_priority.acknowledging():
            return self._dispatch(req)

    def _dispatch(self, req: BoltRequest) -> BoltResponse:
        runtime = self._runtime
        held: intake.Held | None = req.context.get(REPLAY)
        if held is None:
            refusal = refuse_foreign(req, self.identity)
            if refusal is not None:
                return refusal
            surface = surface_of(runtime, req.body)
            if surface is None:
                return super().dispatch(req)
            try:
                held = _store(runtime, req, surface)
            except Exception:  # noqa: BLE001 — whatever it is, nothing was stored: say so, never a 500
                report_unexpected(runtime.logger, "storing a request before acknowledging it")
                if surface == "command":
                    return BoltResponse(status=200, body={"response_type": "ephemeral", "text": CANNOT_STORE})
                return BoltResponse(status=503, body="")  # Slack re-sends events; a click shows an error
            if held is None:  # stored already: Slack re-delivered an event we have
                return BoltResponse(status=200, body="")
        with intake.receiving(held):
            response = super().dispatch(req)
        if not held.handed_off:  # the listener found nothing to do (e.g. a modal with errors)
            runtime.settle(held)
        return response


def _store(runtime: Runtime, req: BoltRequest, surface: str) -> intake.Held | None:
    # Socket Mode hands Bolt a parsed body: store it as JSON, which Bolt reads back the same way.
    raw = req.raw_body or json.dumps(req.body)
    content_type = _content_type(req) if req.raw_body else "application/json"
    event_id = req.body.get("event_id") if surface == "event" else None
    return intake.store(
        runtime.db,
        surface=surface,
        key=intake.dedup_key(surface, raw, event_id),
        raw_body=raw,
        content_type=content_type,
        user_id=req.context.user_id,
        worker=runtime.worker_id,
        now=runtime.clock.now(),
        lease=runtime.intake_lease,
    )


def _content_type(req: BoltRequest) -> str | None:
    values = req.headers.get("content-type") or []
    return values[0] if values else None


def install(app: App, runtime: Runtime) -> None:
    """Keep this process's leases alive, and let the take-over job replay through this app."""
    keeper = intake.LeaseKeeper(runtime.db, runtime.worker_id, runtime.clock.now, runtime.intake_lease).start()
    marks = runtime.done_marks = intake.DoneMarks(runtime.db, runtime.clock.now).start()

    def stop() -> None:
        marks.stop()  # settles what was answered, while our leases still cover it
        keeper.stop()

    runtime.stop_intake = stop
    runtime.replay = lambda taken: replay(app, runtime, taken)


def replay(app: App, runtime: Runtime, taken: intake.Taken) -> None:
    """Carry out a request a stopped process left: again, or only its answer when its effect is in."""
    held = taken.held
    what = describe(taken)
    if taken.gave_up:
        runtime.logger.error("gave up on %s (intake %s) after %s attempts", what, held.id, held.attempts - 1)
        tell_author(
            runtime,
            taken,
            f":warning: I could not carry out {what}: it failed every time I tried. "
            "Nothing more will happen; check, then try again.",
        )
        intake.mark_done(runtime.db, held, now=runtime.clock.now())
        return
    if taken.state is intake.InboxState.ANSWERING:
        tell_author(runtime, taken, f":white_check_mark: Done: {what} (I restarted before I could confirm it).")
        intake.mark_done(runtime.db, held, now=runtime.clock.now())
        return
    runtime.logger.info("carrying out %s (intake %s) again: the process that took it stopped", what, held.id)
    held.summary = what
    request = BoltRequest(
        body=taken.raw_body, headers={"content-type": taken.content_type or ""}, context={REPLAY: held}
    )
    app.dispatch(request)  # IncidentApp.dispatch: not stored again; settled if no work starts


def _body(taken: intake.Taken) -> dict[str, Any]:
    raw = taken.raw_body
    if raw.startswith("{"):
        return json.loads(raw)
    form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
    return json.loads(form["payload"]) if "payload" in form else form


def describe(taken: intake.Taken) -> str:
    body = _body(taken)
    if taken.surface == "command":
        typed = f"{body.get('command', '/incident')} {body.get('text', '')}".strip()
        return f"`{safe_mrkdwn(typed[:200])}`"
    return {"action": "your button press", "view": "your form", "shortcut": "your shortcut"}.get(
        taken.surface, "an event"
    )


def tell_author(runtime: Runtime, taken: intake.Taken, text: str) -> None:
    """Through the request's response_url while it lives, else by direct message."""
    body = _body(taken)
    response_url = body.get("response_url")
    user = taken.held.user_id
    try:
        if response_url and runtime.clock.now() - taken.held.received_at < RESPONSE_URL_LIFETIME:
            runtime.gateway.respond(response_url, text)
        elif user:
            runtime.gateway.post_message(runtime.gateway.open_dm(user), text)
    except SlackFailure:
        runtime.logger.exception("could not tell %s: %s", user or "the author", text)
