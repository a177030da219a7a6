"""Settings from the environment, and the `incident-bot` command as an operator runs it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pytest

from bot.settings import Settings, SettingsError
from tests.conftest import ANN
from tests.harness import BOT_TOKEN, SIGNING_SECRET, sign

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


def test_defaults():
    settings = Settings.from_env(BASE)
    assert settings.database_url == "sqlite:///incident-bot.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert (settings.port, settings.timezone.key, settings.channel_prefix, settings.create_channel) == (
        3000,
        "UTC",
        "inc-",
        True,
    )
    assert settings.pin_reactions == ("pushpin",)
    assert settings.action_due_days == {"sev1": 15, "sev2": 30, "sev3": 45, "sev4": 45}


@pytest.mark.parametrize(
    "env, named",
    [
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),
        ({"PORT": "http"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"INCIDENT_TIMEZONE": "Mars/Olympus"}, "INCIDENT_TIMEZONE"),
        ({"INCIDENT_CREATE_CHANNEL": "maybe"}, "INCIDENT_CREATE_CHANNEL"),
        ({"INCIDENT_CHANNEL_PREFIX": "Inc #"}, "INCIDENT_CHANNEL_PREFIX"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"SLACK_API_URL": "ftp://x"}, "SLACK_API_URL"),
        ({"NUDGE_SCHEDULE": "someday"}, "NUDGE_SCHEDULE"),
        ({"ACTION_DUE_DAYS": "sev1=15"}, "ACTION_DUE_DAYS"),
        ({"INCIDENT_TEMPLATES_DIR": "/no/such/dir"}, "INCIDENT_TEMPLATES_DIR"),
        ({"POSTMORTEM_TEMPLATE": "../etc/passwd"}, "POSTMORTEM_TEMPLATE"),
        ({"INCIDENT_PIN_REACTIONS": " , "}, "INCIDENT_PIN_REACTIONS"),
        ({"POSTMORTEM_REMINDER_DAYS": "0"}, "POSTMORTEM_REMINDER_DAYS"),
    ],
)
def test_a_malformed_setting_is_named_in_one_line(env, named):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**BASE, **env})
    message = str(raised.value)
    assert message.startswith(named) and "\n" not in message


def _cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "INCIDENT_", "DATABASE_URL"))}
    env.update(extra)
    return env


def _incident_bot() -> list[str]:
    script = shutil.which("incident-bot", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "bot.cli"]


def test_serve_without_a_token_stops_with_one_clear_line(tmp_path):
    result = subprocess.run(
        [*_incident_bot(), "serve"], env=_cli_env(), capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "incident-bot: SLACK_BOT_TOKEN is not set"


def test_migrate_against_an_unreachable_database_says_so_in_one_line(tmp_path):
    env = _cli_env(
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
        LOG_LEVEL="WARNING",
    )
    result = subprocess.run(
        [*_incident_bot(), "migrate"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        "incident-bot: cannot reach the database at postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/no/such/dir/bot.db"
    result = subprocess.run(
        [*_incident_bot(), "migrate"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("incident-bot: cannot reach the database at sqlite:///")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_migrates_then_answers_signed_commands_from_any_directory(standin, db_url, tmp_path):
    port = _free_port()
    env = _cli_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.base_url,
        DATABASE_URL=db_url,
        PORT=str(port),
        LOG_LEVEL="WARNING",
    )
    migrate = subprocess.run(
        [*_incident_bot(), "migrate"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert migrate.returncode == 0, migrate.stderr
    assert "database is at revision" in migrate.stdout
    server = subprocess.Popen(
        [*_incident_bot(), "serve", "--host", "127.0.0.1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.1)
        import urllib.parse

        response_url = standin.response_url()
        body = urllib.parse.urlencode(
            {
                "command": "/incident",
                "text": "declare Served for real sev1",
                "user_id": ANN,
                "channel_id": "C0GENERAL",
                "channel_name": "general",
                "response_url": response_url,
                "trigger_id": "t",
                "team_id": "T0001",
            }
        )
        answer = httpx.post(
            f"http://127.0.0.1:{port}/slack/events",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", **sign(body)},
            timeout=10,
        )
        assert answer.status_code == 200
        reply = standin.wait_for_responses(1, timeout=15)[0].payload
        assert "Served for real" in reply["text"]
    finally:
        server.terminate()
        server.wait(timeout=15)
