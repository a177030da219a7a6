"""The HTTP face of the bot: Bolt behind uvicorn (ASGI), plus `GET /healthz`.

Bolt's ASGI adapter calls the synchronous app on the event loop; we hand each dispatch to a
thread pool instead, so one slow request never holds up the acknowledgement of another.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from slack_bolt import App
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.db import Database

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
HOOKS_PATH = "/hooks/"


class ThreadedSlackRequestHandler(SlackRequestHandler):
    def __init__(self, app: App, executor: ThreadPoolExecutor, path: str = EVENTS_PATH):
        super().__init__(app, path)
        self._executor = executor

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        bolt_request = BoltRequest(
            body=await request.get_raw_body(), query=request.query_string, headers=request.get_headers()
        )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.app.dispatch, bolt_request)


def build_asgi_app(app: App, db: Database, *, threads: int = 32, runtime: Any = None) -> Callable[..., Any]:
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dispatch")
    slack_handler = ThreadedSlackRequestHandler(app, executor)
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
        if hooks is not None and scope["type"] == "http" and scope["path"].startswith(HOOKS_PATH):
            return await hooks(scope, receive, send)  # webhooks from monitoring (handlers/hooks.py)
        await slack_handler(scope, receive, send)

    return asgi


def _hooks(runtime: Any) -> Callable[..., Any] | None:
    if runtime is None:
        return None
    from handlers.hooks import hooks_endpoint

    return hooks_endpoint(runtime)
