"""`GET /metrics`: what an SRE scrapes, parsed with prometheus_client's own parser, moving with
the requests the test sends; the bearer token; and a real Prometheus reading a series back."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import httpx
import pytest

from bot.jobs import all_jobs
from bot.observability.metrics import DatabaseGauges
from bot.settings import Settings, SettingsError
from tests.conftest import ANN, BOB
from tests.flows import declare
from tests.harness import utc
from tests.hook_steps import HOOK_ENV, alertmanager_alert, alertmanager_payload, bearer, post_hook
from tests.metrics_steps import moved, scrape, value
from tests.postmortem_steps import at, run, seed_incident, wait_until_settled

TOKEN = "m" * 24


def test_counters_move_with_the_requests_sent(bot, standin):
    before = scrape(bot)
    channel = declare(bot)
    assert "Added" in bot.command("timeline 14:05 UTC alert fired", user=ANN, channel=channel).text
    assert "25:99" in bot.command("timeline 25:99 nonsense", user=ANN, channel=channel).text  # refused
    bot.command("frobnicate", user=ANN, channel=channel)  # not a sub-command
    body, _ = bot.command_body("timeline forged", user=ANN, channel=channel)
    assert bot.post(body, "application/x-www-form-urlencoded", signed=False).status_code == 401
    standin.fail("chat.postMessage", status=429, retry_after=1, times=1)  # Slack says slow down, once
    bot.command("update Rolling back", user=ANN, channel=channel)
    bot.settle()
    after = scrape(bot)

    assert moved(before, after, "incident_bot_requests_total", surface="command", outcome="ok") == 5
    assert moved(before, after, "incident_bot_requests_total", surface="command", outcome="refused") == 1
    assert moved(before, after, "incident_bot_ack_seconds_count", surface="command") == 6
    assert moved(before, after, "incident_bot_ack_seconds_bucket", surface="command", le="+Inf") == 6
    assert moved(before, after, "incident_bot_subcommands_total", subcommand="declare", outcome="ok") == 1
    assert moved(before, after, "incident_bot_subcommands_total", subcommand="timeline", outcome="ok") == 1
    assert moved(before, after, "incident_bot_subcommands_total", subcommand="timeline", outcome="refused") == 1
    assert moved(before, after, "incident_bot_subcommands_total", subcommand="unknown", outcome="ok") == 1
    assert moved(before, after, "incident_bot_slack_api_calls_total", method="conversations.create", error="ok") == 1
    # the 429 is counted apart, and the retried call still counts once as a success
    assert moved(before, after, "incident_bot_slack_ratelimited_total", method="chat.postMessage") == 1
    assert moved(before, after, "incident_bot_slack_api_calls_total", method="chat.postMessage", error="ok") == 2
    assert ("incident_bot_after_ack_waiting", (("pool", "commands"),)) in after


def test_slack_errors_are_counted_by_method_and_code(bot, standin):
    before = scrape(bot)
    standin.fail("conversations.create", error="restricted_action", status=200, times=1)
    bot.command("declare Not allowed here", user=ANN, channel="C0GENERAL")
    after = scrape(bot)
    key = {"method": "conversations.create", "error": "restricted_action"}
    assert (
        value(after, "incident_bot_slack_api_calls_total", **key)
        - value(before, "incident_bot_slack_api_calls_total", **key)
        == 1
    )


def test_gauges_show_open_incidents_and_open_and_overdue_action_items(bot, clock):
    first = declare(bot)
    declare(bot, "Queue backs up sev3", user=BOB)
    bot.command("action Rotate the key <@U0BOB|bob> by 2026-06-01", user=ANN, channel=first)  # overdue
    bot.command("action Add a pool alert <@U0BOB|bob> by Jun 30", user=ANN, channel=first)
    samples = scrape(bot)
    assert value(samples, "incident_bot_open_incidents") == 2
    assert value(samples, "incident_bot_open_action_items") == 2
    assert value(samples, "incident_bot_overdue_action_items") == 1
    bot.command("close", user=ANN, channel=first)
    # read at most once a minute: a scrape straight after still shows what was read
    assert value(scrape(bot), "incident_bot_open_incidents") == 2


def test_database_gauges_read_at_most_once_per_interval_and_skip_a_database_that_is_down():
    now = [0.0]
    answers = [{"open_incidents": 1.0}, RuntimeError("down"), {"open_incidents": 3.0}]

    def read():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    gauges = DatabaseGauges(read, max_age=60, monotonic=lambda: now[0])
    assert gauges.values() == {"open_incidents": 1.0}
    now[0] = 59.9
    assert gauges.values() == {"open_incidents": 1.0} and gauges.reads == 1
    now[0] = 60.0
    assert gauges.values() is None and list(gauges.collect()) == []  # no stale numbers while it is down
    assert gauges.reads == 1 and len(answers) == 1  # and it is not asked again on every scrape
    now[0] = 120.0
    assert gauges.values() == {"open_incidents": 3.0}


def test_metrics_token_is_required_as_a_bearer_token_when_set(make_bot):
    bot = make_bot(METRICS_TOKEN=TOKEN)
    assert bot.get("/metrics").status_code == 401
    wrong = bot._http.get(f"{bot.url}/metrics", headers={"Authorization": "Bearer " + "x" * 24})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert (
        "incident_bot_requests_total"
        in bot._http.get(f"{bot.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    )
    assert bot.get("/healthz").status_code == 200  # health stays open to the orchestrator


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prometheus() -> str:
    found = shutil.which("prometheus") or ("/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None)
    if not found:
        pytest.skip("no prometheus binary (Debian package `prometheus`; .ci/run installs it)")
    return found


def test_a_real_prometheus_scrapes_the_bot_and_reads_a_series_back(make_bot, tmp_path):
    binary = _prometheus()
    bot = make_bot(METRICS_TOKEN=TOKEN)
    channel = declare(bot)
    bot.command("timeline 14:05 UTC alert fired", user=ANN, channel=channel)
    target = bot.url.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: incident-bot
    authorization:
      credentials: {TOKEN}
    static_configs:
      - targets: ["{target}"]
""")
    port = _free_port()
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        query = 'incident_bot_subcommands_total{subcommand="timeline",outcome="ok"}'
        deadline = time.monotonic() + 60
        result: list = []
        while time.monotonic() < deadline and not result:
            assert server.poll() is None, server.stderr.read()[-2000:]
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=2).json()
                result = answer["data"]["result"]
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.5)
        assert result, "Prometheus never stored the series"
        assert result[0]["metric"]["job"] == "incident-bot" and float(result[0]["value"][1]) >= 1
        targets = httpx.get(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        assert [t["health"] for t in targets] == ["up"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def job(name: str):
    return next(j for j in all_jobs() if j.name == name)


def test_the_background_sweeps_count_nudges_and_postmortem_retries(bot, standin, clock):
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN> by Jul 10", user=ANN, channel=channel)
    before = scrape(bot)
    clock.set(utc(2026, 6, 29, 9, 5))  # the Monday after: the weekly nudge is due
    job("weekly-nudges").run(bot.runtime)
    job("weekly-nudges").run(bot.runtime)  # a second sweep finds it sent: nothing more
    after = scrape(bot)
    assert (
        value(after, "incident_bot_nudges_total", outcome="claimed")
        - value(before, "incident_bot_nudges_total", outcome="claimed")
        == 1
    )
    assert (
        value(after, "incident_bot_nudges_total", outcome="sent")
        - value(before, "incident_bot_nudges_total", outcome="sent")
        == 1
    )


def test_a_postmortem_publication_retried_by_the_sweep_is_counted(bot, db):
    channel = seed_incident(bot)
    bot.standin.fail("files.getUploadURLExternal", status=500, times=4)  # past the client's own retries
    run(bot, at(14, 48), "close 14:47 Metrics normal", channel=channel)
    assert wait_until_settled(bot, channel).publish_state == "pending"
    before = scrape(bot)
    bot.clock.set(at(14, 49))
    assert job("publish-postmortems").run(bot.runtime) == 1
    after = scrape(bot)
    assert (
        value(after, "incident_bot_postmortem_publish_retries_total")
        - value(before, "incident_bot_postmortem_publish_retries_total")
        == 1
    )


def test_webhook_deliveries_are_counted_by_source_outcome_and_status_and_as_hook_requests(make_bot):
    bot = make_bot(**HOOK_ENV)
    body = alertmanager_payload([alertmanager_alert("HighErrorRate", utc(2026, 6, 22, 14, 30))])
    before = scrape(bot)
    assert post_hook(bot, "alertmanager", body, bearer()).status_code == 200
    assert post_hook(bot, "alertmanager", body, bearer()).json()["status"] == "duplicate"
    assert post_hook(bot, "alertmanager", body, bearer("wrong-token-0123456789")).status_code == 401
    after = scrape(bot)
    deliveries = "incident_bot_hook_deliveries_total"
    for labels, name in (
        ({"source": "alertmanager", "outcome": "accepted", "code": "200"}, deliveries),
        ({"source": "alertmanager", "outcome": "duplicate", "code": "200"}, deliveries),
        ({"source": "alertmanager", "outcome": "refused", "code": "401"}, deliveries),
        ({"surface": "hook", "outcome": "refused"}, "incident_bot_requests_total"),
    ):
        assert moved(before, after, name, **labels) == 1, labels
    assert moved(before, after, "incident_bot_requests_total", surface="hook", outcome="ok") == 2


@pytest.mark.parametrize(
    "env, named",
    [
        ({"LOG_FORMAT": "yaml"}, "LOG_FORMAT"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY"),
        ({"WEB_CONCURRENCY": "many"}, "WEB_CONCURRENCY"),
    ],
)
def test_operations_settings_are_checked_in_one_line(env, named):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", **env})
    assert str(raised.value).startswith(named) and "\n" not in str(raised.value)


def test_socket_mode_needs_no_signing_secret_but_http_mode_does():
    assert Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}).slack_app_token == "xapp-1"
    with pytest.raises(SettingsError, match="^SLACK_SIGNING_SECRET is not set$"):
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1"})
    defaults = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    assert (defaults.log_format, defaults.metrics_token) == ("plain", None)


def test_workers_default_to_the_cpus_on_postgresql_and_to_one_on_sqlite():
    import os

    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    on_postgres = Settings.from_env({**base, "DATABASE_URL": "postgresql://db/incidents"})
    assert on_postgres.web_concurrency == max(1, min(os.cpu_count() or 1, 4))
    assert Settings.from_env(base).web_concurrency == 1  # the default database is a SQLite file
    assert Settings.from_env({**base, "DATABASE_URL": "sqlite:///x.db", "WEB_CONCURRENCY": "3"}).web_concurrency == 3


def test_a_rate_limited_response_url_is_labelled_as_such_never_by_its_secret_path():
    from bot.observability.metrics import _method_of

    assert _method_of("https://slack.com/api/chat.postMessage") == "chat.postMessage"
    assert _method_of("https://hooks.slack.com/commands/T0001/1234/SeCrEtPaTh") == "response_url"


def test_requests_are_counted_by_the_surface_they_come_from(bot):
    before = scrape(bot)
    bot.event(
        {
            "type": "reaction_added",
            "user": ANN,
            "reaction": "thumbsup",
            "item_user": BOB,
            "item": {"type": "message", "channel": "C0GENERAL", "ts": "1.000001"},
        }
    )
    bot.interaction(
        {"type": "shortcut", "callback_id": "no_such_shortcut", "user": {"id": ANN}, "trigger_id": "trigger-1"}
    )
    bot.settle()
    after = scrape(bot)

    def moved(**labels: str) -> float:
        return value(after, "incident_bot_requests_total", **labels) - value(
            before, "incident_bot_requests_total", **labels
        )

    assert moved(surface="event", outcome="ok") == 1
    assert moved(surface="shortcut", outcome="unhandled") == 1  # no listener: Bolt answers 404
