"""The HTTP surface for webhooks: `POST /hooks/<source>`.

In order: the source must exist and have its secret set (else 404); the body may be at most
1 MiB (413, and no more than that is read); the credentials must hold (401, compared in
constant time); the body must be JSON of the source's documented shape (400 with a one-line
JSON reason). Only then is the delivery stored, raw, and interpreted into facts. Every refusal
is logged in one line and counted (`incident_bot_hook_deliveries_total`); refused deliveries store nothing.
Unknown event types of a known source are answered 200 and ignored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from bot.errors import report_unexpected
from bot.observability import metrics
from bot.runtime import Runtime
from bot.sources import deliveries, notices, registry
from bot.sources.values import PayloadError

HOOKS_PREFIX = "/hooks/"
MAX_BODY = 1024 * 1024


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def _send(send: Callable, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": raw})


async def _read_capped(scope: dict[str, Any], receive: Callable, headers: dict[str, str]) -> bytes:
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Refused(413, f"the body is over {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "the client went away before the body arrived")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise Refused(413, f"the body is over {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


HOOK_THREADS = 16


def hooks_endpoint(runtime: Runtime, executor: Executor | None = None) -> Callable[..., Any]:
    """The ASGI app for paths under /hooks/ (bot/server.py delegates to it). Deliveries get
    threads of their own: a storm of alerts never delays the acknowledgement of a Slack request."""
    executor = executor or ThreadPoolExecutor(max_workers=HOOK_THREADS, thread_name_prefix="hooks")

    async def endpoint(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        name = scope["path"][len(HOOKS_PREFIX) :].strip("/")
        source = registry.SOURCES.get(name)
        label = name if source else "unknown"
        try:
            if source is None or not source.secret(runtime.settings):
                raise Refused(404, "no such hook (unknown source, or its secret is not set)")
            if scope["method"] != "POST":
                raise Refused(405, "use POST")
            headers = dict(deliveries.headers_of(scope.get("headers", [])))
            body = await _read_capped(scope, receive, headers)
            loop = asyncio.get_running_loop()
            status, answer = await loop.run_in_executor(executor, _accept, runtime, source, headers, body)
        except Refused as refusal:
            client = (scope.get("client") or ("?", 0))[0]
            runtime.logger.warning("hook %s refused with %s from %s: %s", label, refusal.status, client, refusal.reason)
            metrics.count_hook(label, "refused", refusal.status)
            await _send(send, refusal.status, {"error": refusal.reason})
            return
        except Exception:  # noqa: BLE001 - nothing stored (the database, most likely): the sender retries a 5xx
            error_id = report_unexpected(runtime.logger, f"accepting a hook delivery from {label}")
            metrics.count_hook(label, "failed", 500)
            await _send(send, 500, {"error": "not stored; send it again later", "error_id": error_id})
            return
        metrics.count_hook(label, answer["status"], status)
        await _send(send, status, answer)

    return endpoint


def _accept(
    runtime: Runtime, source: registry.Source, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, Any]]:
    """Verify, store, interpret (on a worker thread). Raises Refused for 400/401."""
    secret = source.secret(runtime.settings) or ""
    if not source.verify(secret, headers, body):
        raise Refused(401, "missing or wrong credentials")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise Refused(400, f"the body is not JSON: {str(err).splitlines()[0][:120]}") from None
    event = source.event(headers, payload)
    try:
        drafts = source.interpret(payload, event)  # the shape check, before anything is stored
    except PayloadError as err:
        raise Refused(400, str(err)) from None
    handed_off = registry.handoff_for(source.name, event) is not None
    if not drafts and not handed_off:
        return 200, {"status": "ignored"}
    stored = deliveries.store(
        runtime, source.name, event=event, dedup_key=registry.dedup_key(source, headers, payload, body), body=body
    )
    if stored.delivery_id is None:
        return 200, {"status": "duplicate"}
    try:
        recorded = deliveries.interpret(runtime, stored.delivery_id, drafts)
    except Exception:  # noqa: BLE001 - stored: the sweep interprets it again; the sender need not retry
        error_id = report_unexpected(runtime.logger, f"interpreting {source.name} delivery {stored.delivery_id}")
        return 200, {"status": "stored", "error_id": error_id}
    if recorded is not None and (recorded.landed or recorded.unmatched_firing):
        runtime.after_ack.submit(_tell, runtime, recorded)
    if recorded is not None and recorded.handed_off is not None:
        return 200, {"status": "accepted", "result": recorded.handed_off[:300]}
    return 200, {"status": "accepted", "facts": len(recorded.new_facts) if recorded else 0}


def _tell(runtime: Runtime, recorded: Any) -> None:
    try:
        notices.after_recording(runtime, recorded)
    except Exception:  # noqa: BLE001 - a worker thread: log with an id, or the failure vanishes
        report_unexpected(runtime.logger, "telling channels about new facts")
