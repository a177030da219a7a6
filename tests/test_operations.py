"""`incident-bot serve` as an SRE runs it: JSON logs that leak nothing, health and readiness in
HTTP and Socket Mode (readiness failing while the database is down, and recovering), several
worker processes sharing the port, and one line instead of a traceback when something is unreachable."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.db import Database
from bot.models import TimelineEntry
from bot.observability.logging import MAX_MESSAGE
from tests.conftest import ANN, BOB, CAROL, bot_settings
from tests.harness import BOT_TOKEN, SIGNING_SECRET, BotUnderTest, sign
from tests.hook_steps import HOOKS_TOKEN, generic_headers
from tests.test_settings_and_cli import _cli_env, _incident_bot
from tests.test_socket_mode import SocketModeEndpoint


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    def __init__(self, process: subprocess.Popen, port: int, log):
        self.process = process
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64))

    def command(self, standin, text: str, *, user: str = ANN, channel: str = "C0GENERAL") -> tuple[httpx.Response, str]:
        response_url = standin.response_url()
        body = urllib.parse.urlencode(
            {
                "command": "/incident",
                "text": text,
                "user_id": user,
                "channel_id": channel,
                "channel_name": "general",
                "response_url": response_url,
                "trigger_id": "t",
                "team_id": "T0001",
                "api_app_id": "A0001",
            }
        )
        answer = self.http.post(
            f"{self.url}/slack/events",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", **sign(body)},
        )
        return answer, response_url.rsplit("/", 1)[-1]


@contextlib.contextmanager
def serving(tmp_path, **env: str) -> Iterator[Served]:
    port = _free_port()
    log = tmp_path / f"serve-{port}.log"  # a file, not a pipe: a chatty server never blocks on it
    with open(log, "w") as sink:
        process = subprocess.Popen(
            [*_incident_bot(), "serve", "--host", "127.0.0.1"],
            env=_cli_env(PORT=str(port), **env),
            cwd=tmp_path,
            stdout=sink,
            stderr=sink,
            text=True,
            start_new_session=True,
        )  # a group: no worker outlives the test
    served = Served(process, port, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if served.http.get(f"{served.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise AssertionError(f"serve stopped: {log.read_text()[-3000:]}")
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.1)
        yield served
    finally:
        served.http.close()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # any worker left behind


def test_json_logs_parse_name_the_request_and_leak_no_token_nor_long_text(standin, db_url, tmp_path):
    env = dict(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.base_url,
        DATABASE_URL=db_url,
        LOG_FORMAT="json",
        LOG_LEVEL="DEBUG",
        WEB_CONCURRENCY="1",
    )
    leaked_token = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUv"
    long_text = "word " * 400
    with serving(tmp_path, **env) as served:
        _, token = served.command(standin, "declare Logs outage sev2")
        standin.wait_for_responses(1, timeout=15, where=lambda r: r.token == token)
        channel = standin.wait_for("conversations.create")[0]
        channel_id = next(cid for cid, info in standin.channels.items() if info["name"] == channel.params["name"])
        # the bot echoes a status update to Slack, and at DEBUG the SDK logs what it sends
        for text in (f"update {leaked_token} {SIGNING_SECRET} rollback", f"update {long_text}"):
            answer, token = served.command(standin, text, channel=channel_id, user=BOB)
            assert answer.status_code == 200
            standin.wait_for_responses(1, timeout=15, where=lambda r: r.token == token)
        standin.fail("conversations.create", status=500, times=10)  # past every retry: an unexpected error
        _, token = served.command(standin, "declare Something odd", user=CAROL)
        reply = standin.wait_for_responses(1, timeout=30, where=lambda r: r.token == token)[0].payload["text"]
        error_id = reply.split("error id `")[1].split("`")[0]
        time.sleep(0.5)
    served.process.wait(timeout=20)
    output = served.log.read_text()
    lines = [line for line in output.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert leaked_token not in output and "AbCdEfGhIjKlMnOpQrStUv" not in output
    assert SIGNING_SECRET not in output
    assert all(len(r["message"]) <= MAX_MESSAGE + 40 for r in records)
    assert any("xoxb-[redacted] [redacted] rollback" in r["message"] for r in records)  # passed through, blanked
    assert any("word word" in r["message"] and "more characters]" in r["message"] for r in records)  # cut short
    failure = [r for r in records if r.get("error_id") == error_id]
    assert failure and failure[0]["level"] == "ERROR" and "traceback" in failure[0]
    assert (failure[0]["team"], failure[0]["channel"], failure[0]["user"]) == ("T0001", "C0GENERAL", CAROL)
    assert failure[0]["subcommand"] == "declare"


def test_start_up_at_info_warns_of_nothing_and_keeps_migrations_quiet(standin, db_url, tmp_path):
    env = dict(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.base_url,
        DATABASE_URL=db_url,
        LOG_LEVEL="INFO",
        WEB_CONCURRENCY="1",
    )
    with serving(tmp_path, **env) as served:
        standin.wait_for("auth.test", timeout=15)  # the bot learnt who it is: start-up is over
        time.sleep(0.3)
    served.process.wait(timeout=20)
    output = served.log.read_text()
    assert " INFO " in output  # it does log at INFO …
    assert " WARNING " not in output and " ERROR " not in output  # … but no warning about what we pass to Bolt
    assert "alembic" not in output and "apscheduler" not in output


def test_socket_mode_opens_port_for_health_readiness_and_metrics_but_not_for_slack(standin, db_url, tmp_path):
    response_url = standin.response_url()
    command = {
        "envelope_id": "env-1",
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "team_id": "T0001",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": ANN,
            "command": "/incident",
            "text": "declare Socket health sev3",
            "response_url": response_url,
            "trigger_id": "trigger-1",
            "api_app_id": "A0001",
        },
    }
    endpoint = SocketModeEndpoint([command])
    standin.socket_mode_url = endpoint.url
    # no SLACK_SIGNING_SECRET: Socket Mode has nothing to verify
    env = dict(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN="xapp-1-test",
        SLACK_API_URL=standin.base_url,
        DATABASE_URL=db_url,
        LOG_LEVEL="WARNING",
        HOOKS_TOKEN=HOOKS_TOKEN,
    )
    try:
        with serving(tmp_path, **env) as served:
            assert endpoint.acked.wait(30)
            standin.wait_for_responses(1, timeout=15, where=lambda r: r.token == response_url.rsplit("/", 1)[-1])
            assert served.http.get(f"{served.url}/readyz").json() == {"status": "ok"}
            metrics = served.http.get(f"{served.url}/metrics").text
            assert 'incident_bot_requests_total{outcome="ok",surface="command"} 1.0' in metrics
            # unsigned HTTP requests must not reach the app that trusts the socket
            body = "command=/incident&text=declare+forged"
            forged = served.http.post(
                f"{served.url}/slack/events",
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert forged.status_code == 404
            # webhooks from monitoring are served on the same port in Socket Mode
            event = json.dumps(
                {
                    "text": "Deploy v2.4.1",
                    "occurred_at": "2026-06-22T14:00:00Z",
                    "source": "ci",
                    "kind": "deploy",
                    "labels": {"service": "checkout"},
                    "dedup_key": "d-1",
                }
            ).encode()
            hook = served.http.post(
                f"{served.url}/hooks/generic",
                content=event,
                headers={"Content-Type": "application/json", **generic_headers(event)},
            )
            assert hook.status_code == 200 and hook.json()["status"] == "accepted"
            unsigned = served.http.post(
                f"{served.url}/hooks/generic", content=event, headers={"Content-Type": "application/json"}
            )
            assert unsigned.status_code == 401
        served.process.wait(timeout=20)
        # nothing about what the bot itself passes to Bolt; the one warning is the refused unsigned hook's
        warnings = [line for line in served.log.read_text().splitlines() if "WARNING" in line]
        assert len(warnings) == 1 and "hook generic refused with 401" in warnings[0], warnings
    finally:
        endpoint.close()


def test_socket_mode_with_slack_unreachable_says_so_in_one_line(db_url, tmp_path):
    env = _cli_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN="xapp-1-test",
        SLACK_API_URL="http://127.0.0.1:1/api/",
        DATABASE_URL=db_url,
        PORT=str(_free_port()),
    )  # at the default level, INFO
    result = subprocess.run(
        [*_incident_bot(), "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line, and nothing else
    assert result.stderr.startswith("incident-bot: cannot reach Slack at http://127.0.0.1:1/api/ for Socket Mode")


def test_nudge_dry_run_with_the_database_down_says_so_in_one_line(tmp_path):
    env = _cli_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="s",
        LOG_LEVEL="WARNING",
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
    )
    result = subprocess.run(
        [*_incident_bot(), "nudge", "--dry-run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(
        "incident-bot: the database does not answer at postgresql://nobody@127.0.0.1:1/none"
    )


def test_version():
    result = subprocess.run([*_incident_bot(), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("incident-bot 0.")


class TcpProxy:
    """A plug between the bot and PostgreSQL that a test can pull (the database "goes down")."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = _free_port()
        self._connections: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._connections += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept(); close() alone would not
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self._connections = []


def _wait_for_status(bot: BotUnderTest, path: str, status: int, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = bot.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_readyz_fails_while_the_database_is_down_and_recovers_after(postgres_url, standin, clock):
    url = make_url(postgres_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    db = Database(proxied)
    bot = BotUnderTest(standin=standin, clock=clock, settings=bot_settings(standin, proxied)).start(db)
    try:
        assert bot.get("/readyz").json() == {"status": "ok"}
        proxy.stop()
        down = _wait_for_status(bot, "/readyz", 503)
        assert down.status_code == 503 and down.json() == {"status": "database unavailable"}
        assert bot.get("/healthz").status_code == 200  # alive all along
        proxy.start()
        assert _wait_for_status(bot, "/readyz", 200).json() == {"status": "ok"}
    finally:
        bot.stop()
        db.dispose()
        proxy.stop()


def test_readyz_fails_until_the_schema_is_at_head(standin, clock, tmp_path):
    from bot.migrate import upgrade_to_head

    db = Database(f"sqlite:///{tmp_path}/empty.db")
    bot = BotUnderTest(standin=standin, clock=clock, settings=bot_settings(standin, db.url)).start(db)
    try:
        behind = bot.get("/readyz")
        assert behind.status_code == 503 and "run incident-bot migrate" in behind.json()["status"]
        upgrade_to_head(db.engine)
        assert bot.get("/readyz").json() == {"status": "ok"}
    finally:
        bot.stop()
        db.dispose()


def test_several_workers_share_the_port_and_200_concurrent_commands_land_once_each(standin, db_url, tmp_path):
    env = dict(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.base_url,
        DATABASE_URL=db_url,
        LOG_LEVEL="WARNING",
        WEB_CONCURRENCY="3",
    )
    with serving(tmp_path, **env) as served:
        _, token = served.command(standin, "declare Many workers sev2")
        standin.wait_for_responses(1, timeout=15, where=lambda r: r.token == token)
        created = standin.wait_for("conversations.create", timeout=15)[0]
        channel = next(cid for cid, info in standin.channels.items() if info["name"] == created.params["name"])
        texts = [f"worker entry {n:03d}" for n in range(200)]
        with ThreadPoolExecutor(max_workers=32) as pool:
            sent = list(pool.map(lambda t: served.command(standin, f"timeline {t}", channel=channel), texts))
        assert [answer.status_code for answer, _ in sent] == [200] * 200
        tokens = {token for _, token in sent}
        replies = standin.wait_for_responses(200, timeout=120, where=lambda r: r.token in tokens)
        assert [r.payload["text"] for r in replies if "Added" not in r.payload["text"]] == []
        # Summed over every worker's files. A sub-command is counted once its answer is sent, so the
        # last few may be counted a moment after their answers arrived here: read until they are.
        wanted = 'incident_bot_subcommands_total{outcome="ok",subcommand="timeline"} 200.0'
        deadline = time.monotonic() + 15
        while wanted not in (metrics := served.http.get(f"{served.url}/metrics").text) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert wanted in metrics, [line for line in metrics.splitlines() if "subcommands_total" in line]
    db = Database(db_url)
    try:
        with db.unit_of_work() as session:
            stored = session.scalars(select(TimelineEntry.text).where(TimelineEntry.text.like("worker entry %"))).all()
            declared = session.scalar(
                select(func.count()).select_from(TimelineEntry).where(TimelineEntry.text.like("%Many workers%"))
            )
    finally:
        db.dispose()
    assert sorted(stored) == texts  # every one once
    assert declared == 1


@pytest.fixture(autouse=True)
def _no_stray_multiproc_dir(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
