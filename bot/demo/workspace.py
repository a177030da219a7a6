"""A workspace for the demo: the real app and server, a Slack stand-in, a temporary SQLite file.

`DemoWorkspace` sends what Slack would send (signed slash commands, reaction events) to the
bot listening on a loopback port, waits until the bot has finished answering, and reports what
changed in the stand-in since the last look: the messages each person would see.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
import socket
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from slack_sdk.signature import SignatureVerifier

from bot.clock import Clock
from bot.db import Database
from bot.demo.render import message_lines, plain_text
from bot.demo.slack_standin import SlackStandIn
from bot.migrate import upgrade_to_head
from bot.runtime import Runtime, build_runtime
from bot.server import build_asgi_app
from bot.settings import Settings

TEAM = "T0001"  # the stand-in's workspace
GENERAL = "C0GENERAL"
# The methods whose calls a person would notice in Slack, and how to say so.
_VISIBLE = (
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "reactions.add",
    "conversations.create",
    "conversations.setTopic",
    "files.completeUploadExternal",
    "conversations.canvases.create",
    "canvases.edit",
    "views.open",
)


@dataclass
class Seen:
    """One thing a person would notice: who sees it, and its lines."""

    audience: str
    lines: list[str]


class DemoWorkspace:
    def __init__(self, clock: Clock, *, directory: Path | None = None):
        self.directory = directory or Path(tempfile.mkdtemp(prefix="incident-bot-demo-"))
        self.clock = clock
        self.standin = SlackStandIn(team_id=TEAM).start()
        self.standin.add_channel(GENERAL, "general")
        self.standin.system_messages = False  # joins and topic changes are noise in a terminal
        self.secret = secrets.token_hex(16)
        self.settings = Settings.from_env(
            {
                "SLACK_BOT_TOKEN": "xoxb-demo",
                "SLACK_SIGNING_SECRET": self.secret,
                "SLACK_API_URL": self.standin.base_url,
                "DATABASE_URL": f"sqlite:///{self.directory}/demo.db",
                "INCIDENT_TIMEZONE": "UTC",
                "LOG_LEVEL": "WARNING",
            }
        )
        self.db = Database(self.settings.database_url)
        upgrade_to_head(self.db.engine)
        self._seen_calls = 0
        self._seen_responses = 0
        self._asked: dict[str, str] = {}  # response_url token -> who typed the command
        self.runtime: Runtime | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> DemoWorkspace:
        from handlers import create_app

        self.runtime = build_runtime(self.settings, clock=self.clock, db=self.db)
        self.app = create_app(self.runtime)
        asgi = build_asgi_app(
            self.app,
            self.db,
            signing_secret=self.settings.slack_signing_secret,
            threads=self.settings.listener_threads,
            runtime=self.runtime,
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the demo server did not start")
            time.sleep(0.01)
        self._http = httpx.Client(timeout=30)
        return self

    def stop(self) -> None:
        self._http.close()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self.runtime is not None:
            self.runtime.shutdown()
        self.standin.stop()

    def remove_database(self, *, keep_directory: bool) -> None:
        self.db.dispose()
        for path in self.directory.glob("demo.db*"):
            path.unlink(missing_ok=True)
        if not keep_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    # -- people and what they do ---------------------------------------------------------------
    def add_person(self, user_id: str, name: str, tz: str = "UTC") -> None:
        self.standin.add_user(user_id, name=name, tz=tz)

    def command(self, text: str, *, user: str, channel: str) -> int:
        """`/incident <text>` typed by `user` in `channel`, signed as Slack signs it; returns the HTTP status."""
        response_url = self.standin.response_url()
        token = response_url.rsplit("/", 1)[-1]
        self._asked[token] = user
        form = {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "example",
            "channel_id": channel,
            "channel_name": self.channel_name(channel),
            "user_id": user,
            "user_name": self.user_name(user),
            "command": "/incident",
            "text": as_slack_sends(text),
            "api_app_id": "A0DEMO",
            "response_url": response_url,
            "trigger_id": f"trigger-{time.monotonic_ns()}",
        }
        status = self._post(urllib.parse.urlencode(form), "application/x-www-form-urlencoded")
        self.standin.wait_for_responses(1, timeout=15, where=lambda r: r.token == token)
        self.settle()
        return status

    def say_and_pin(self, text: str, *, author: str, pinner: str, channel: str, at: dt.datetime) -> int:
        """`author` writes a message at `at`; `pinner` reacts to it with :pushpin:."""
        ts = f"{at.timestamp():.6f}"
        self.standin.add_message(channel, user=author, text=text, ts=ts)
        self.standin.react(channel, ts, "pushpin", user=pinner)
        event = {
            "type": "reaction_added",
            "user": pinner,
            "reaction": "pushpin",
            "item_user": author,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": f"{time.time():.6f}",
        }
        payload = {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": "A0DEMO",
            "type": "event_callback",
            "event": event,
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": self.standin.bot_user_id, "is_bot": True}],
        }
        status = self._post(json.dumps(payload), "application/json")
        self.settle()
        return status

    def _post(self, body: str, content_type: str) -> int:
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": str(SignatureVerifier(self.secret).generate_signature(timestamp=stamp, body=body)),
        }
        return self._http.post(f"{self.url}/slack/events", content=body.encode(), headers=headers).status_code

    def settle(self, timeout: float = 15.0) -> None:
        """Wait until everything acknowledged so far is fully handled (listeners, then after-ack work)."""
        assert self.runtime is not None
        for pool in (self.app.listener_runner.listener_executor, self.runtime.after_ack, self.runtime.after_ack_events):
            drain(pool, timeout)
        if self.runtime.done_marks is not None:
            self.runtime.done_marks.flush()

    # -- reading the workspace -----------------------------------------------------------------
    def user_name(self, user_id: str) -> str:
        return str(self.standin.users.get(user_id, {}).get("name") or user_id)

    def channel_name(self, channel_id: str) -> str:
        return str(self.standin.channels.get(channel_id, {}).get("name") or channel_id)

    def incident_channel(self) -> str | None:
        """The newest channel the bot created."""
        created = [c for c in self.standin.calls_to("conversations.create") if not c.failed]
        if not created:
            return None
        name = created[-1].params.get("name")
        return next((cid for cid, info in self.standin.channels.items() if info.get("name") == name), None)

    def postmortem_files(self) -> list[dict[str, Any]]:
        # shared into a channel: the upload is complete (a file exists, empty, from the upload URL on)
        files = [
            f
            for f in list(self.standin.files.values())
            if str(f.get("filename", "")).startswith("postmortem-") and f.get("channels")
        ]
        return sorted(files, key=lambda f: f["created"])

    def news(self) -> list[Seen]:
        """What people would have noticed since the last call, in the order it happened."""
        with self.standin._lock:
            calls = self.standin.calls[self._seen_calls :]
            responses = self.standin.responses[self._seen_responses :]
            self._seen_calls += len(calls)
            self._seen_responses += len(responses)
        events: list[tuple[float, Seen]] = []
        for call in calls:
            seen = None if call.failed or call.method not in _VISIBLE else self._describe_call(call.method, call.params)
            if seen is not None:
                events.append((call.at, seen))
        for response in responses:
            if response.rejected:
                continue
            payload = response.payload
            who = self.user_name(self._asked.get(response.token, ""))
            audience = "everyone in the channel" if payload.get("response_type") == "in_channel" else f"only {who}"
            verb = " (replacing the earlier answer)" if payload.get("replace_original") else ""
            events.append((response.at, Seen(audience + verb, self._lines(payload))))
        return [seen for _, seen in sorted(events, key=lambda pair: pair[0])]

    def _describe_call(self, method: str, params: dict[str, Any]) -> Seen | None:
        where = f"#{self.channel_name(str(params.get('channel') or params.get('channel_id') or ''))}"
        if method == "chat.postMessage":
            return Seen(f"{where}, everyone", self._lines(params))
        if method == "chat.update":
            return Seen(f"{where}, a message changes to", self._lines(params))
        if method == "chat.postEphemeral":
            return Seen(f"{where}, only {self.user_name(str(params.get('user')))}", self._lines(params))
        if method == "reactions.add":
            return Seen(where, [f"the bot reacts :{params.get('name')}: on the message"])
        if method == "conversations.create":
            return Seen("the workspace", [f"new channel #{params.get('name')}"])
        if method == "conversations.setTopic":
            return Seen(where, [f"topic: {self.plain(str(params.get('topic') or ''))}"])
        if method == "files.completeUploadExternal":
            names = [f.get("title") or f.get("id") for f in _json_list(params.get("files"))]
            return Seen(where, [f"file shared: {', '.join(str(n) for n in names)}"])
        if method in ("conversations.canvases.create", "canvases.edit"):
            return Seen(where, ["the channel's canvas now holds the draft"])
        if method == "views.open":
            return Seen("a form opens", self._lines(params.get("view") or {}))
        return None

    def plain(self, text: str) -> str:
        return plain_text(text, user_name=self.user_name, channel_name=self.channel_name)

    def _lines(self, message: dict[str, Any]) -> list[str]:
        return message_lines(message, user_name=self.user_name, channel_name=self.channel_name)


def _json_list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def as_slack_sends(text: str) -> str:
    """What Slack does to typed text before sending it: escape & < > but keep its own markup
    (mentions, channel links, <!…> broadcasts and links)."""
    import re

    out, position = [], 0
    for match in re.finditer(
        r"<(@[UW][A-Z0-9]+(\|[^>]*)?|#C[A-Z0-9]+(\|[^>]*)?|![a-z^A-Z0-9|@ -]+|https?://[^>]+)>", text
    ):
        out.append(text[position : match.start()].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
        out.append(match.group(0))
        position = match.end()
    out.append(text[position:].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return "".join(out)


def drain(executor: Any, timeout: float) -> None:
    """Occupy every worker of a ThreadPoolExecutor at once: then all work queued before is done."""
    workers = executor._max_workers
    barrier = threading.Barrier(workers + 1, timeout=timeout)
    for _ in range(workers):
        executor.submit(barrier.wait)
    barrier.wait()
