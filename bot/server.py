"""The HTTP face of the bot: Bolt behind uvicorn (ASGI), plus health, readiness and metrics.

Bolt's ASGI adapter calls the synchronous app on the event loop; we hand each dispatch to a
thread pool instead, so one slow request never holds up the acknowledgement of another.
Every request is verified on its raw bytes (bot/slack/verify.py) before Bolt parses it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.db import Database
from bot.observability import metrics
from bot.observability.endpoints import OperatorEndpoints, send_json, serve_lifespan
from bot.runtime import Runtime
from bot.slack import verify

EVENTS_PATH = "/slack/events"
HOOKS_PATH = "/hooks/"


class ThreadedSlackRequestHandler(SlackRequestHandler):
    def __init__(self, app: App, executor: ThreadPoolExecutor, *, signing_secret: str, path: str = EVENTS_PATH):
        super().__init__(app, path)
        self._executor = executor
        self._signing_secret = signing_secret

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        started = time.perf_counter()
        headers = request.get_headers()
        raw = await _raw_body(request)
        checked = verify.check(raw, headers, secret=self._signing_secret, now=time.time())  # type: ignore[arg-type]
        if isinstance(checked, verify.Refusal):
            client = str(headers.get("x-forwarded-for") or "a client")[:100]  # said by the client: capped
            verify.log_refusal(_logger, checked, client)
            metrics.count_refused(raw, checked.status, time.perf_counter() - started)
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


def build_asgi_app(
    app: App,
    db: Database,
    *,
    signing_secret: str | None,
    threads: int = 32,
    runtime: Runtime | None = None,
    slack_http: bool = True,
    on_shutdown: list[Callable[[], None]] | None = None,
) -> Callable[..., Any]:
    """The ASGI app: the operator's endpoints (`bot.observability.endpoints`), webhooks under
    /hooks/, and Slack's requests (unless in Socket Mode, where they come over the socket)."""
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dispatch")
    slack_handler = ThreadedSlackRequestHandler(app, executor, signing_secret=signing_secret or "")
    operator = OperatorEndpoints(db, executor, runtime=runtime)
    hooks = _hooks(runtime)

    async def asgi(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send, on_shutdown or [])
            return
        if scope["type"] == "http" and await operator.answer(scope, send):
            return
        if hooks is not None and scope["type"] == "http" and scope["path"].startswith(HOOKS_PATH):
            return await hooks(scope, receive, send)
        if slack_http and scope["type"] == "http" and scope["path"] == EVENTS_PATH:
            await slack_handler(scope, receive, send)
            return
        await send_json(send, 404, {"error": "not found"})

    return asgi


def _hooks(runtime: Any) -> Callable[..., Any] | None:
    if runtime is None:
        return None
    from handlers.hooks import hooks_endpoint

    return hooks_endpoint(runtime)
