"""The HTTP surface: Slack's signatures, health, unexpected errors, and concurrent load."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from bot.db import Database
from bot.models import Incident, TimelineEntry
from tests.conftest import ANN, BOB, CAROL, bot_settings
from tests.flows import declare
from tests.harness import BotUnderTest, sign


def count_incidents(db) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(Incident))


def test_unsigned_wrongly_signed_and_stale_requests_get_401_and_change_nothing(bot, db, standin):
    body, _ = bot.command_body("declare Forged incident", user=ANN, channel="C0GENERAL")
    unsigned = bot.post(body, "application/x-www-form-urlencoded", signed=False)
    wrong = bot.post(
        body, "application/x-www-form-urlencoded", signed=False, headers=sign(body, secret="not-the-secret")
    )
    stale = bot.post(
        body, "application/x-www-form-urlencoded", signed=False, headers=sign(body, timestamp=int(time.time()) - 6 * 60)
    )
    tampered_headers = sign(body)
    tampered = bot.post(
        body.replace("Forged", "Other"), "application/x-www-form-urlencoded", signed=False, headers=tampered_headers
    )
    assert [r.status_code for r in (unsigned, wrong, stale, tampered)] == [401, 401, 401, 401]
    time.sleep(0.3)
    assert count_incidents(db) == 0
    assert standin.calls_to("conversations.create") == []
    # the same body, signed properly, works: the 401s were about the signature alone
    assert bot.post(body, "application/x-www-form-urlencoded").status_code == 200
    standin.wait_for("conversations.create")


def test_healthz_says_the_process_answers_and_readyz_says_whether_the_database_does(bot, standin, clock, tmp_path):
    assert bot.get("/healthz").status_code == 200
    assert bot.get("/healthz").json() == {"status": "ok"}
    assert bot.get("/readyz").json() == {"status": "ok"}
    for url in (f"sqlite:///{tmp_path}/missing-dir/x.db", "postgresql+psycopg://nobody@127.0.0.1:1/none"):
        broken = Database(url)
        down = BotUnderTest(standin=standin, clock=clock, settings=bot_settings(standin, url)).start(broken)
        try:
            assert down.get("/healthz").status_code == 200  # alive: restarting it would not bring the database
            response = down.get("/readyz")
            assert response.status_code == 503 and response.json()["status"] == "database unavailable"
        finally:
            down.stop()


def test_an_unexpected_failure_is_logged_with_an_id_that_the_user_sees(bot, standin, db, caplog):
    standin.fail("conversations.create", status=500, times=10)  # past every retry
    with caplog.at_level(logging.ERROR, logger="incident_bot"):
        result = bot.command("declare Something odd", user=ANN, channel="C0GENERAL")
    assert "Something went wrong" in result.text
    error_id = result.text.split("error id `")[1].split("`")[0]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # with its traceback
    assert "Traceback" not in result.text
    assert count_incidents(db) == 0


def test_fifty_timeline_commands_at_once_all_land_once_each(bot, db, standin):
    channel = declare(bot)
    users = [ANN, BOB, CAROL]
    texts = [f"parallel entry {n:02d}" for n in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(
            pool.map(
                lambda n: bot.command(f"timeline {texts[n]}", user=users[n % 3], channel=channel, wait=False), range(50)
            )
        )
    assert [r.http.status_code for r in results] == [200] * 50
    for result in results:
        result.wait(timeout=30)
        assert "Added" in result.text, result.text
    with db.unit_of_work() as session:
        stored = session.scalars(select(TimelineEntry.text).where(TimelineEntry.text.like("parallel entry %"))).all()
    assert sorted(stored) == texts


def test_commands_arrive_html_escaped_and_are_stored_as_typed(bot, db):
    channel = declare(bot)
    body, response_url = bot.command_body("timeline a < b && c > d", user=ANN, channel=channel)
    assert "a+%26lt%3B+b" in body  # what Slack sends: escaped
    bot.post(body, "application/x-www-form-urlencoded")
    bot.standin.wait_for_responses(1, where=lambda r: r.token == response_url.rsplit("/", 1)[-1])
    with db.unit_of_work() as session:
        assert session.scalar(select(TimelineEntry.text).order_by(TimelineEntry.id.desc())) == "a < b && c > d"


def test_a_failing_auth_test_never_holds_up_an_acknowledgement(standin, clock, db):
    standin.fail("auth.test", status=500, times=1000)  # Slack cannot say who the bot is, for now
    from tests.conftest import bot_settings as settings_for

    bot = BotUnderTest(standin=standin, clock=clock, settings=settings_for(standin, db.url)).start(db)
    try:
        result = bot.command("declare Slack is flaky sev2", user=ANN, channel="C0GENERAL")
        assert result.http.status_code == 200 and result.http.text == "Declaring *Slack is flaky*…"
        assert "Slack is flaky" in result.text  # answered, not "reinstall the app"
    finally:
        bot.stop()


def test_a_storm_of_pins_never_delays_the_answer_to_a_command(bot, standin):
    channel = declare(bot)
    messages = [standin.add_message(channel, user=BOB, text=f"finding {n}") for n in range(80)]  # > any one pool
    standin.delays["conversations.history"] = 5.0  # Slack is slow to read: every pin import waits (long enough
    # that a loaded CI machine still answers the command first when the pools are kept apart)
    for ts in messages:
        standin.react(channel, ts, "pushpin", user=BOB)
        bot.event(
            {
                "type": "reaction_added",
                "user": BOB,
                "reaction": "pushpin",
                "item_user": BOB,
                "item": {"type": "message", "channel": channel, "ts": ts},
            }
        )
    result = bot.command("timeline 14:05 UTC on-call paged", user=ANN, channel=channel)
    # answered before any pin import got past its slow read: they run on a pool of their own
    assert "Added" in result.text
    assert standin.calls_to("chat.getPermalink") == []
    bot.settle(timeout=60)
    assert len(standin.calls_to("chat.getPermalink")) == len(messages)
