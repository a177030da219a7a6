"""Slack calls and response_url answers ride kept connections (bot/slack/connections.py): a burst of
commands opens a handful, not one per call; a connection Slack closed while idle is never taken for
a lost answer; and where urllib would use a proxy from the environment, the call still goes there."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bot.demo.slack_standin import SlackStandIn
from bot.slack.connections import ConnectionPool
from tests.conftest import ANN
from tests.flows import declare
from tests.hook_steps import wait_until


def slack_requests(standin) -> int:
    return len(standin.calls) + len(standin.responses)


def test_a_burst_of_commands_is_answered_over_a_few_kept_connections(bot, standin):
    channel = declare(bot)
    opened, requests = standin.connections_opened, slack_requests(standin)
    for n in range(20):
        assert "Added" in bot.command(f"timeline 14:{n:02d} UTC step {n}", user=ANN, channel=channel).text
    requests = slack_requests(standin) - requests
    opened = standin.connections_opened - opened
    # One connection per request before; now the few that were ever in use at the same moment.
    assert requests >= 20 and opened <= 4, (requests, opened)


def test_a_connection_slack_closed_while_idle_is_not_taken_for_a_lost_answer(bot, standin, caplog):
    standin.keep_alive_seconds = 0.3
    channel = declare(bot)
    opened = standin.connections_opened
    time.sleep(1.0)  # Slack's side closes every idle connection
    lookups = len(standin.calls_to("conversations.history"))
    caplog.clear()
    bot.runtime.gateway.post_message(channel, "Rollback finished")
    # Posted once, on a fresh connection: no failed send logged and retried, no look for a lost post.
    assert [m["text"] for m in standin.messages[channel]].count("Rollback finished") == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert len(standin.calls_to("conversations.history")) == lookups
    assert standin.connections_opened > opened


def test_a_connection_idle_too_long_is_closed_not_kept(standin):
    other = SlackStandIn().start()
    pool = ConnectionPool(max_idle_seconds=0.3)
    try:

        def ping(where: SlackStandIn) -> None:
            request = urllib.request.Request(
                f"{where.base_url}auth.test", data=b"{}", method="POST", headers={"Authorization": "Bearer xoxb-test"}
            )
            assert json.loads(pool.urlopen(request, timeout=5, context=None).read())["ok"] is True

        ping(standin)
        ping(standin)
        assert standin.connections_opened == 1 and standin.connections_open == 1  # kept, and used again
        time.sleep(0.5)
        ping(other)  # giving this one back closes the other host's connection, idle for too long
        wait_until(lambda: standin.connections_open == 0, timeout=5, what="the idle connection closed")
        ping(standin)
        assert standin.connections_opened == 2
    finally:
        pool.close()
        other.stop()


class _RecordingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _RecordingProxy

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append(f"{self.command} {self.path}")
        body = json.dumps({"ok": True, "user_id": "UPROXY", "team_id": "T0001"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass


def test_a_proxy_from_the_environment_is_used_as_urllib_would(bot, standin, monkeypatch):
    proxy = _RecordingProxy()
    try:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", proxy.url)
        answer = bot.runtime.gateway.call("auth.test")
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert answer["user_id"] == "UPROXY"
    assert proxy.seen == [f"POST {standin.base_url}auth.test"]
