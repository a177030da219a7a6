"""Socket Mode: with SLACK_APP_TOKEN set, `incident-bot serve` takes Slack's requests over a
WebSocket instead of HTTP, acknowledges them on the socket, and answers as in HTTP mode."""

from __future__ import annotations

import json
import threading

import pytest

from tests.conftest import ANN
from tests.harness import BOT_TOKEN, SIGNING_SECRET
from tests.test_settings_and_cli import _cli_env, _incident_bot

websockets_server = pytest.importorskip("websockets.sync.server")


class SocketModeEndpoint:
    """Slack's side of a Socket Mode connection: says hello, delivers envelopes, collects acks."""

    def __init__(self, envelopes: list[dict]):
        self.envelopes = envelopes
        self.acks: list[dict] = []
        self.acked = threading.Event()
        self._done = threading.Event()
        self._server = websockets_server.serve(self._session, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _session(self, connection) -> None:
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "connection_info": {"app_id": "A0001"},
                    "debug_info": {"host": "standin"},
                }
            )
        )
        for envelope in self.envelopes:
            connection.send(json.dumps(envelope))
        while not self._done.is_set():
            try:
                message = connection.recv(timeout=0.2)
            except TimeoutError:
                continue
            except Exception:
                return
            self.acks.append(json.loads(message))
            if len(self.acks) >= len(self.envelopes):
                self.acked.set()

    def close(self) -> None:
        self._done.set()
        self._server.shutdown()


def test_serve_in_socket_mode_acknowledges_on_the_socket_and_answers(standin, db_url, tmp_path):
    response_url = standin.response_url()
    command = {
        "envelope_id": "env-declare-1",
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "legacy",
            "team_id": "T0001",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": ANN,
            "command": "/incident",
            "text": "declare Socket mode outage sev2",
            "response_url": response_url,
            "trigger_id": "trigger-1",
            "api_app_id": "A0001",
        },
    }
    endpoint = SocketModeEndpoint([command])
    standin.socket_mode_url = endpoint.url
    env = _cli_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_APP_TOKEN="xapp-1-test",
        SLACK_API_URL=standin.base_url,
        DATABASE_URL=db_url,
        LOG_LEVEL="WARNING",
    )
    import subprocess

    server = subprocess.Popen(
        [*_incident_bot(), "serve"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert endpoint.acked.wait(30), "no acknowledgement came back on the socket"
        assert endpoint.acks[0]["envelope_id"] == "env-declare-1"
        reply = standin.wait_for_responses(1, timeout=15, where=lambda r: r.token == response_url.rsplit("/", 1)[-1])
        assert "Socket mode outage" in reply[0].payload["text"]
        assert standin.calls_to("apps.connections.open")[0].headers.get("Authorization", "").endswith("xapp-1-test")
        assert standin.wait_for("conversations.create")[0].params["name"].endswith("socket-mode-outage")
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        endpoint.close()
