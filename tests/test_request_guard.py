"""Before anything is parsed or stored: Slack's signature on the raw bytes, well-formed bodies, and
only the workspace the bot is installed in."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.parse

import pytest
from sqlalchemy import func, select

from bot.models import InboxRequest, Incident, TimelineEntry
from tests.conftest import ANN, BOB
from tests.flows import declare
from tests.harness import SIGNING_SECRET, BotUnderTest

FORM = "application/x-www-form-urlencoded"


def signed(body: bytes, *, timestamp: str | None = None, content_type: str = FORM) -> dict[str, str]:
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": content_type,
    }


def count(db, model) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model))


def _log_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and not r.name.startswith("slack_sdk")]


JUNK = {
    # name: (body, headers builder, expected status)
    "unsigned payload": (b"payload=%7Bnot-json", lambda b: {"Content-Type": FORM}, 401),
    "signed non-JSON payload": (b"payload=%7Bnot-json", lambda b: signed(b), 400),
    "signed non-UTF-8 bytes": (b"text=\xff\xfe\xfa&command=%2Fincident", lambda b: signed(b), 400),
    "unsigned non-UTF-8 bytes": (b"\xff\xfe\xfa", lambda b: {"Content-Type": FORM}, 401),
    "signed JSON array": (b'[{"type": "event_callback"}]', lambda b: signed(b, content_type="application/json"), 400),
    "signed JSON array in payload=": (b"payload=%5B1%2C2%5D", lambda b: signed(b), 400),
    "timestamp in exponent form": (b"command=%2Fincident&text=declare+x", lambda b: signed(b, timestamp="1.7e9"), 401),
    "timestamp with a sign": (
        b"command=%2Fincident&text=declare+x",
        lambda b: signed(b, timestamp=f"+{int(time.time())}"),
        401,
    ),
    "signature of another body": (
        b"command=%2Fincident&text=declare+y",
        lambda b: signed(b"command=%2Fincident&text=declare+x"),
        401,
    ),
    "over a megabyte": (b"text=" + b"a" * (1024 * 1024 + 1), lambda b: signed(b), 413),
}


@pytest.mark.parametrize("case", list(JUNK))
def test_junk_gets_a_4xx_and_one_log_line_never_a_500_or_a_traceback(case, bot, db, standin, caplog):
    body, headers, status = JUNK[case]
    with caplog.at_level(logging.INFO):
        response = bot.post_bytes(body, headers(body))
        bot.settle()
    assert response.status_code == status, response.text
    lines = _log_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].exc_info is None and "Traceback" not in caplog.text
    assert count(db, InboxRequest) == 0 and [c.method for c in standin.calls if c.method != "auth.test"] == []
    # the server is fine afterwards
    assert bot.command("list", user=ANN, channel="C0GENERAL").text.startswith("No open incidents")


def _wait_until_identity_known(bot: BotUnderTest) -> None:
    assert bot.app.identity.known.wait(5), "auth.test was never answered"


def test_a_command_from_another_workspace_is_refused_and_changes_nothing(bot, db, standin):
    _wait_until_identity_known(bot)
    body, _ = bot.command_body("declare Intruder incident sev1", user=ANN, channel="C0GENERAL")
    foreign = body.replace("team_id=T0001", "team_id=T0OTHER")
    response = bot.post(foreign, FORM)
    bot.settle()
    assert response.status_code == 200
    assert "serves another Slack workspace" in response.json()["text"]
    assert response.json()["response_type"] == "ephemeral"
    assert standin.calls_to("conversations.create") == [] and standin.responses == []
    assert count(db, Incident) == 0 and count(db, InboxRequest) == 0
    # the same command from the bot's own workspace is served
    declared = bot.command("declare Intruder incident sev1", user=ANN, channel="C0GENERAL")
    assert "declared *Intruder incident*" in declared.text


def test_events_and_clicks_from_another_workspace_are_ignored_with_200(bot, db, standin):
    channel = declare(bot)
    _wait_until_identity_known(bot)
    ts = standin.add_message(channel, user=BOB, text="the pool is exhausted")
    standin.react(channel, ts, "pushpin", user=BOB)
    event = {
        "token": "legacy",
        "team_id": "T0OTHER",
        "api_app_id": "A0001",
        "type": "event_callback",
        "event_id": "EvFOREIGN1",
        "event_time": int(time.time()),
        "event": {
            "type": "reaction_added",
            "user": BOB,
            "reaction": "pushpin",
            "item_user": BOB,
            "item": {"type": "message", "channel": channel, "ts": ts},
        },
        "authorizations": [{"team_id": "T0OTHER", "user_id": "UBOT", "is_bot": True}],
    }
    response = bot.post(json.dumps(event), "application/json")
    click = {
        "type": "block_actions",
        "team": {"id": "T0OTHER"},
        "user": {"id": BOB, "team_id": "T0OTHER"},
        "api_app_id": "A0001",
        "token": "legacy",
        "trigger_id": "t",
        "response_url": standin.response_url(),
        "actions": [{"action_id": "timeline_page_next", "value": "1:1", "type": "button"}],
        "channel": {"id": channel},
    }
    clicked = bot.post(urllib.parse.urlencode({"payload": json.dumps(click)}), FORM)
    bot.settle()
    assert (response.status_code, response.text, clicked.status_code, clicked.text) == (200, "", 200, "")
    assert standin.calls_to("conversations.history") == [] and standin.calls_to("chat.getPermalink") == []
    assert count(db, TimelineEntry) == 1  # only the declaration's own entry
    assert [r for r in standin.responses if click["response_url"].endswith(r.token)] == []
    # the same pin from this workspace is imported
    bot.event(event["event"])
    standin.wait_for("chat.getPermalink")


def test_a_sibling_workspace_of_the_same_grid_org_is_refused(standin, clock, db):
    from tests.conftest import bot_settings

    standin.enterprise_id = "E0GRID"
    bot = BotUnderTest(standin=standin, clock=clock, settings=bot_settings(standin, db.url)).start(db)
    try:
        _wait_until_identity_known(bot)
        body, _ = bot.command_body("declare Sibling incident", user=ANN, channel="C0GENERAL")
        sibling = body.replace("team_id=T0001", "team_id=T0SIBLING") + "&enterprise_id=E0GRID"
        refused = bot.post(sibling, FORM)
        assert "serves another Slack workspace" in refused.json()["text"]
        other_org = body + "&enterprise_id=E0ELSEWHERE"  # our team id, but claimed by another org
        assert "serves another Slack workspace" in bot.post(other_org, FORM).json()["text"]
        bot.settle()
        assert count(db, Incident) == 0
        ours = bot.command("declare Our own incident", user=ANN, channel="C0GENERAL")
        assert "declared *Our own incident*" in ours.text
    finally:
        bot.stop()
