"""The HTTP surface for tracker webhooks: `POST /hooks/github` (`issues` events) and `POST /hooks/jira`.

Each delivery is size-capped (1 MiB, else 413), verified over its raw bytes before it is parsed
(GitHub: X-Hub-Signature-256 with GITHUB_WEBHOOK_SECRET; Jira: X-Hub-Signature with
JIRA_WEBHOOK_SECRET; else 401), parsed (400 when it is not a JSON object), and handled once
(X-GitHub-Delivery / X-Atlassian-Webhook-Identifier). `read_capped`, `verify_and_parse` and
`dispatch_github` are plain functions so another /hooks surface can reuse them.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.errors import report_unexpected
from bot.observability import metrics
from bot.runtime import Runtime
from bot.trackers import inbound

PATHS = ("/hooks/github", "/hooks/jira")
GITHUB_EVENTS = ("issues",)  # the GitHub events a tracker needs
_runtimes: weakref.WeakKeyDictionary[App, Runtime] = weakref.WeakKeyDictionary()


def register(app: App, runtime: Runtime) -> None:
    """Remember the runtime behind this Bolt app, for the HTTP surface below."""
    _runtimes[app] = runtime


class TooLarge(Exception):
    pass


async def read_capped(receive: Callable, limit: int = inbound.MAX_BODY) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > limit:
            raise TooLarge
        if not message.get("more_body"):
            return bytes(body)


def verify_and_parse(secret: str | None, body: bytes, signature: str | None) -> tuple[int, Any]:
    """(status, payload): 401 when the signature does not match, 400 when it is not a JSON object."""
    if not inbound.verify_hub_signature(secret, body, signature):
        return 401, None
    try:
        payload = json.loads(body)
    except ValueError:
        return 400, None
    return (200, payload) if isinstance(payload, dict) else (400, None)


def dispatch_github(runtime: Runtime, event_type: str, payload: dict[str, Any], delivery_id: str | None) -> str:
    if event_type == "ping":
        return "pong"
    if event_type != "issues":
        return f"{event_type} events are not used here"
    return inbound.handle_github_issues_event(runtime, payload, delivery_id=delivery_id)


def handle(runtime: Runtime, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
    """One delivery, synchronously (runs on a worker thread): (HTTP status, what happened)."""
    trackers = runtime.settings.trackers
    if path == "/hooks/github":
        status, payload = verify_and_parse(
            runtime.settings.github_webhook_secret, body, headers.get("x-hub-signature-256")
        )
        if status != 200:
            return status, "bad signature" if status == 401 else "not a JSON object"
        return 200, dispatch_github(
            runtime, headers.get("x-github-event", ""), payload, headers.get("x-github-delivery")
        )
    status, payload = verify_and_parse(trackers.jira_webhook_secret, body, headers.get("x-hub-signature"))
    if status != 200:
        return status, "bad signature" if status == 401 else "not a JSON object"
    return 200, inbound.handle_jira_webhook(runtime, payload, delivery_id=headers.get("x-atlassian-webhook-identifier"))


async def serve(app: App, executor: Any, scope: dict[str, Any], receive: Callable, send: Callable) -> bool:
    """Answer the request if it is a tracker webhook; False when it is not ours."""
    runtime = _runtimes.get(app)
    if scope.get("type") != "http" or scope.get("path") not in PATHS or runtime is None:
        return False
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    if scope["path"] == "/hooks/github" and headers.get("x-github-event") not in GITHUB_EVENTS:
        return False  # deployments and the rest are facts from monitoring (handlers/hooks.py)
    if scope.get("method") != "POST":
        await _answer(send, 405, "POST only")
        return True
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > inbound.MAX_BODY:
        await _answer(send, 413, "too large")
        return True
    try:
        body = await read_capped(receive)
    except TooLarge:
        await _answer(send, 413, "too large")
        return True

    def work() -> tuple[int, str]:
        try:
            return handle(runtime, scope["path"], headers, body)
        except Exception:  # noqa: BLE001 - the sender gets a 500 with an error id, the log the traceback
            error_id = report_unexpected(runtime.logger, f"handling a webhook on {scope['path']}")
            return 500, f"error {error_id}"

    status, text = await asyncio.get_running_loop().run_in_executor(executor, work)
    metrics.count_hook(scope["path"].rsplit("/", 1)[-1], "accepted" if status == 200 else "refused")
    await _answer(send, status, text)
    return True


async def _answer(send: Callable, status: int, text: str) -> None:
    body = json.dumps({"result": text}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
