"""The HTTP face of the bot: Bolt behind uvicorn (ASGI), plus `GET /healthz`.

Bolt's ASGI adapter calls the synchronous app on the event loop; we hand each dispatch to a
thread pool instead, so one slow request never holds up the acknowledgement of another.
Every request is verified on its raw bytes (bot/slack/verify.py) before Bolt parses it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from slack_bolt import App
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.db import Database
from handlers import tracker_hooks
from bot.slack import verify

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
HOOKS_PATH = "/hooks/"


class ThreadedSlackRequestHandler(SlackRequestHandler):
    def __init__(self, app: App, executor: ThreadPoolExecutor, *, signing_secret: str, path: str = EVENTS_PATH):
        super().__init__(app, path)
        self._executor = executor
        self._signing_secret = signing_secret

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        headers = request.get_headers()
        checked = verify.check(await _raw_body(request), headers, secret=self._signing_secret,  # type: ignore[arg-type]
                               now=time.time())
        if isinstance(checked, verify.Refusal):
            client = str(headers.get("x-forwarded-for") or "a client")[:100]  # said by the client: capped
            verify.log_refusal(_logger, checked, client)
            return BoltResponse(status=checked.status, body=checked.reason)
        bolt_request = BoltRequest(body=checked.body, query=request.query_string, headers=headers)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.app.dispatch, bolt_request)


_logger = logging.getLogger("incident_bot.http")


async def _raw_body(request: AsgiHttpRequest) -> bytes:
    """The body as bytes (Bolt's adapter decodes it as UTF-8 first, which raises on junk)."""
    chunks = bytearray()
    while True:
        chunk = await request.receive()
        if chunk["type"] != "http.request":
            break
        chunks.extend(chunk.get("body", b""))
        if len(chunks) > verify.MAX_BODY_BYTES or not chunk.get("more_body", False):
            break
    return bytes(chunks)


def build_asgi_app(app: App, db: Database, *, signing_secret: str, threads: int = 32,
                   runtime: Any = None) -> Callable[..., Any]:
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dispatch")
    slack_handler = ThreadedSlackRequestHandler(app, executor, signing_secret=signing_secret)
    hooks = _hooks(runtime)

    async def asgi(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH and scope["method"] in ("GET", "HEAD"):
            healthy = await asyncio.get_running_loop().run_in_executor(executor, db.is_healthy)
            body = json.dumps({"status": "ok" if healthy else "database unavailable"}).encode()
            await send({
                "type": "http.response.start",
                "status": 200 if healthy else 503,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            })
            await send({"type": "http.response.body", "body": body})
            return
        # A tracker's own deliveries (/hooks/jira, GitHub `issues` events) go to the tracker adapter;
        # every other /hooks/<source> delivery is a fact from monitoring (handlers/hooks.py).
        if await tracker_hooks.serve(app, executor, scope, receive, send):
            return
        if hooks is not None and scope["type"] == "http" and scope["path"].startswith(HOOKS_PATH):
            return await hooks(scope, receive, send)
        await slack_handler(scope, receive, send)

    return asgi


def _hooks(runtime: Any) -> Callable[..., Any] | None:
    if runtime is None:
        return None
    from handlers.hooks import hooks_endpoint

    return hooks_endpoint(runtime)
