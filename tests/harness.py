"""Drives the real bot the way Slack does: signed HTTP requests into the running ASGI app.

`BotUnderTest` runs the real app (Bolt, handlers, services, database) under uvicorn on a free
loopback port, with its Web API pointed at the Slack stand-in, and a clock the test can set.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from slack_sdk.signature import SignatureVerifier

from bot.clock import SettableClock
from bot.db import Database
from bot.demo.workspace import as_slack_sends, drain
from bot.runtime import Runtime, build_runtime
from bot.server import build_asgi_app
from bot.settings import Settings
from handlers import create_app
from tests.slack_standin import SlackStandIn

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


@dataclass
class BotUnderTest:
    standin: SlackStandIn
    clock: SettableClock
    settings: Settings
    runtime: Runtime = field(init=False)
    url: str = field(init=False)
    _server: uvicorn.Server = field(init=False)
    _thread: threading.Thread = field(init=False)
    _http: httpx.Client = field(init=False)
    app: Any = field(init=False)  # the Bolt App

    def start(self, db: Database) -> BotUnderTest:
        self.runtime = build_runtime(self.settings, clock=self.clock, db=db)
        app = self.app = create_app(self.runtime)
        asgi = build_asgi_app(
            app,
            db,
            signing_secret=self.settings.slack_signing_secret,
            threads=self.settings.listener_threads,
            runtime=self.runtime,
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            asgi, log_level="warning", lifespan="off", limit_concurrency=1000, backlog=2048, timeout_keep_alive=120
        )  # the pooled test client never meets a half-closed connection
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        # One pooled client: building one per request costs more CPU than the bot's own work.
        self._http = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=200, max_keepalive_connections=200))
        return self

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every request answered so far is fully handled: Bolt's listeners first, then
        the work they handed on after their ack. For asserting that something did NOT happen."""
        drain(self.app.listener_runner.listener_executor, timeout)
        drain(self.runtime.after_ack, timeout)
        drain(self.runtime.after_ack_events, timeout)
        if self.runtime.done_marks is not None:
            self.runtime.done_marks.flush()

    def stop(self) -> None:
        self.app.identity.stop()
        if self.runtime.stop_intake is not None:
            self.runtime.stop_intake()
        self._http.close()
        self._server.should_exit = True
        self._thread.join(timeout=10)

    # -- raw requests ------------------------------------------------------------------------
    def post(
        self, body: str, content_type: str, *, headers: dict[str, str] | None = None, signed: bool = True
    ) -> httpx.Response:
        all_headers = {"Content-Type": content_type, **(sign(body) if signed else {}), **(headers or {})}
        return self._http.post(f"{self.url}/slack/events", content=body.encode(), headers=all_headers)

    def post_bytes(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """Exactly these bytes and headers, nothing added (for junk and hand-made signatures)."""
        return self._http.post(f"{self.url}/slack/events", content=body, headers=headers)

    def get(self, path: str) -> httpx.Response:
        return self._http.get(f"{self.url}{path}")

    # -- what Slack sends --------------------------------------------------------------------
    def command_body(
        self, text: str, *, user: str, channel: str, channel_name: str = "general", command: str = "/incident"
    ) -> tuple[str, str]:
        return command_body(self.standin, text, user=user, channel=channel, channel_name=channel_name, command=command)

    def command(
        self,
        text: str,
        *,
        user: str,
        channel: str,
        channel_name: str = "general",
        wait: bool = True,
        timeout: float = 10.0,
    ) -> CommandResult:
        body, response_url = self.command_body(text, user=user, channel=channel, channel_name=channel_name)
        started = time.monotonic()
        http = self.post(body, "application/x-www-form-urlencoded")
        acked_in = time.monotonic() - started
        result = CommandResult(http=http, response_url=response_url, acked_in=acked_in, standin=self.standin)
        if wait:
            result.wait(timeout=timeout)
        return result

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None
    ) -> httpx.Response:
        payload = {
            "token": "legacy",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "type": "event_callback",
            "event": event,
            "event_id": event_id or f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0001", "user_id": self.standin.bot_user_id, "is_bot": True}],
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return self.post(json.dumps(payload), "application/json", headers=headers)

    def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        payload = {"team": {"id": "T0001", "domain": "example"}, "api_app_id": "A0001", "token": "legacy", **payload}
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded")

    def click(
        self,
        message_payload: dict[str, Any],
        action_id: str,
        *,
        user: str,
        channel: str,
        value: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> tuple[httpx.Response, str]:
        """Press the button `action_id` found in a message or response payload's blocks."""
        button = find_element(message_payload.get("blocks") or [], action_id)
        action = {**button, "action_ts": f"{time.time():.6f}", "block_id": button.get("block_id", "b")}
        if value is not None:
            action["value"] = value
        action.update(extra or {})
        response_url = self.standin.response_url()
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower()},
            "trigger_id": f"trigger-{time.monotonic_ns()}",
            "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel, "message_ts": message_payload.get("ts", "")},
            "message": message_payload,
            "response_url": response_url,
            "actions": [action],
        }
        return self.interaction(payload), response_url


@dataclass
class CommandResult:
    http: httpx.Response
    response_url: str
    acked_in: float
    standin: SlackStandIn
    replies: list[dict[str, Any]] = field(default_factory=list)

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        token = self.response_url.rsplit("/", 1)[-1]
        found = self.standin.wait_for_responses(count, timeout=timeout, where=lambda r: r.token == token)
        self.replies = [r.payload for r in found]
        return self.replies

    @property
    def text(self) -> str:
        return "\n".join(reply_text(r) for r in self.replies)

    @property
    def first(self) -> dict[str, Any]:
        return self.replies[0]


def command_body(
    standin: SlackStandIn,
    text: str,
    *,
    user: str,
    channel: str,
    channel_name: str = "general",
    command: str = "/incident",
) -> tuple[str, str]:
    """The form Slack posts for a slash command, and its fresh response_url."""
    response_url = standin.response_url()
    form = {
        "token": "legacy",
        "team_id": "T0001",
        "team_domain": "example",
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        # Slack HTML-escapes & < > in command text; mentions arrive as <@U…|name> (should_escape)
        "text": as_slack_sends(text),
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"trigger-{time.monotonic_ns()}",
    }
    return urllib.parse.urlencode(form), response_url


def reply_text(payload: dict[str, Any]) -> str:
    """All readable text of a message: its text and every text inside its blocks."""
    parts = [payload.get("text") or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    blocks = payload.get("blocks") or []
    walk(json.loads(blocks) if isinstance(blocks, str) else blocks)
    return "\n".join(parts)


def find_element(blocks: list[dict[str, Any]] | str, action_id: str) -> dict[str, Any]:
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id", "")}
        accessory = block.get("accessory")
        if accessory and accessory.get("action_id") == action_id:
            return {**accessory, "block_id": block.get("block_id", "")}
    raise AssertionError(f"no element {action_id!r} in blocks: {json.dumps(blocks)[:2000]}")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)
