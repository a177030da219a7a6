"""The operator's HTTP endpoints, in HTTP and Socket Mode alike.

`GET /healthz`: the process answers. `GET /readyz`: the database answers and the schema is at
head. `GET /metrics`: Prometheus' text format (a bearer token when METRICS_TOKEN is set).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from bot.db import Database
from bot.observability import health, metrics

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"


class OperatorEndpoints:
    def __init__(self, db: Database, executor: Executor, *, runtime: Any = None):
        self.db = db
        self.executor = executor
        self.token = runtime.settings.metrics_token if runtime is not None else None
        self.gauges = None
        if runtime is not None:
            self.gauges = metrics.DatabaseGauges(
                lambda: health.operational_counts(runtime.db, runtime.clock, runtime.settings.timezone)
            )

    async def answer(self, scope: dict[str, Any], send: Callable) -> bool:
        """Answer the request if it is one of ours; False leaves it to the caller."""
        path, method = scope["path"], scope["method"]
        if path not in (HEALTH_PATH, READY_PATH, METRICS_PATH):
            return False
        if method not in ("GET", "HEAD"):
            await send_json(send, 405, {"error": "use GET"})
            return True
        loop = asyncio.get_running_loop()
        if path == HEALTH_PATH:
            await send_json(send, 200, {"status": "ok"})
        elif path == READY_PATH:
            ready = await loop.run_in_executor(self.executor, health.readiness, self.db)
            await send_json(send, 200 if ready.ready else 503, {"status": ready.status})
        else:
            headers = dict(scope.get("headers") or [])
            if not metrics.authorized(self.token, headers.get(b"authorization", b"").decode("latin-1")):
                await send_json(
                    send,
                    401,
                    {"error": "metrics need Authorization: Bearer <METRICS_TOKEN>"},
                    extra=[(b"www-authenticate", b"Bearer")],
                )
                return True
            body, content_type = await loop.run_in_executor(self.executor, metrics.exposition, self.gauges)
            await send_body(send, 200, body, content_type)
        return True


async def send_body(
    send: Callable, status: int, body: bytes, content_type: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Callable, status: int, value: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send_body(send, status, json.dumps(value).encode(), "application/json", extra)


async def serve_lifespan(receive: Callable, send: Callable, on_shutdown: list[Callable[[], None]]) -> None:
    """ASGI lifespan: nothing to start; at shutdown, finish acknowledged work (worker processes)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for stop in on_shutdown:
                await asyncio.get_running_loop().run_in_executor(None, stop)
            await send({"type": "lifespan.shutdown.complete"})
            return
