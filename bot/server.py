"""The HTTP face of the bot: Bolt behind uvicorn (ASGI), plus health, readiness and metrics.

Bolt's ASGI adapter calls the synchronous app on the event loop; we hand each dispatch to a
thread pool instead, so one slow request never holds up the acknowledgement of another.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from slack_bolt import App
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.db import Database
from bot.observability.endpoints import OperatorEndpoints, send_json, serve_lifespan
from bot.runtime import Runtime

EVENTS_PATH = "/slack/events"


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


def build_asgi_app(app: App, db: Database, *, threads: int = 32, runtime: Runtime | None = None,
                   slack_http: bool = True, on_shutdown: list[Callable[[], None]] | None = None) -> Callable[..., Any]:
    """The ASGI app: Slack's requests (unless in Socket Mode, where they come over the socket),
    and the operator's endpoints (`bot.observability.endpoints`)."""
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dispatch")
    slack_handler = ThreadedSlackRequestHandler(app, executor)
    operator = OperatorEndpoints(db, executor, runtime=runtime)

    async def asgi(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send, on_shutdown or [])
            return
        if scope["type"] == "http" and await operator.answer(scope, send):
            return
        if slack_http and scope["type"] == "http" and scope["path"] == EVENTS_PATH:
            await slack_handler(scope, receive, send)
            return
        await send_json(send, 404, {"error": "not found"})

    return asgi
