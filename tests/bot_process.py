"""The bot as a real process (`incident-bot serve`), to be killed the hard way and started again.

Runs the installed command against the Slack stand-in and a test database, waits until it answers
`/healthz`, and sends signed requests to it like `BotUnderTest` does (the same request builders).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.harness import BOT_TOKEN, SIGNING_SECRET, sign
from tests.slack_standin import SlackStandIn


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command() -> list[str]:
    installed = Path(sys.executable).with_name("incident-bot")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "bot.cli"]


class BotProcess:
    def __init__(self, standin: SlackStandIn, database_url: str, log_path: Path, **env: str):
        self.standin = standin
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": standin.base_url,
            "DATABASE_URL": database_url,
            "INCIDENT_TIMEZONE": "UTC",
            "LOG_LEVEL": "INFO",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=100, max_keepalive_connections=0))

    def start(self, timeout: float = 30.0) -> BotProcess:
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [*_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # its worker processes die with it
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the bot exited with {self.process.returncode}: {self.log_path.read_text()[-3000:]}"
                )
            try:
                if self.http.get(f"{self.url}/healthz").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the bot did not answer /healthz within {timeout}s")

    def kill(self) -> None:
        """SIGKILL to the process and its workers: no draining, no clean-up, as a lost node."""
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.http.close()

    def post_command(self, body: str) -> httpx.Response:
        headers: dict[str, Any] = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
        return self.http.post(f"{self.url}/slack/events", content=body.encode(), headers=headers)
