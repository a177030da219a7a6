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
from handlers import tracker_hooks

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


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


def build_asgi_app(app: App, db: Database, *, threads: int = 32) -> Callable[..., Any]:
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dispatch")
    slack_handler = ThreadedSlackRequestHandler(app, executor)

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
        if await tracker_hooks.serve(app, executor, scope, receive, send):  # POST /hooks/github, /hooks/jira
            return
        await slack_handler(scope, receive, send)

    return asgi
