"""Fixtures: every test that takes `db` runs on SQLite and on PostgreSQL.

PostgreSQL comes from INCIDENT_BOT_TEST_POSTGRES_URL (default: the local server's `test`
database). Each test run creates a database of its own on that server, so runs never meet;
the PostgreSQL leg is skipped, with the reason shown, only when no server answers.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.clock import SettableClock
from bot.db import Database, normalize_url
from bot.migrate import upgrade_to_head
from bot.models import Base
from bot.settings import Settings
from tests.harness import BOT_TOKEN, SIGNING_SECRET, BotUnderTest, utc
from tests.slack_standin import SlackStandIn

POSTGRES_URL = os.environ.get("INCIDENT_BOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

ANN, BOB, CAROL = "U0ANN", "U0BOB", "U0CAROL"


def _postgres_admin_engine():
    url = make_url(normalize_url(POSTGRES_URL))
    return create_engine(url, isolation_level="AUTOCOMMIT"), url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    engine, url = _postgres_admin_engine()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as err:  # no server: skip the leg, say why
        pytest.skip(
            f"PostgreSQL at {url.render_as_string(hide_password=True)} does not answer: {err.__class__.__name__}"
        )
    name = f"incident_bot_test_{uuid.uuid4().hex[:10]}"
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    test_url = url.set(database=name).render_as_string(hide_password=False)
    migrated = Database(test_url)
    upgrade_to_head(migrated.engine)
    migrated.dispose()
    yield test_url
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    database = Database(f"sqlite:///{path}")
    upgrade_to_head(database.engine)
    database.dispose()
    return str(path)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "bot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    _truncate_all(url)
    return url


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def db(db_url) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    stand_in = SlackStandIn().start()
    stand_in.add_user(ANN, name="ann", tz="Europe/Berlin")
    stand_in.add_user(BOB, name="bob", tz="America/New_York")
    stand_in.add_user(CAROL, name="carol", tz="UTC")
    stand_in.add_channel("C0GENERAL", "general")
    yield stand_in
    stand_in.stop()


@pytest.fixture
def clock() -> SettableClock:
    # 2026-06-22 14:50 UTC, a Monday: just after the seed's 14:02–14:47 outage.
    return SettableClock(utc(2026, 6, 22, 14, 50))


def bot_settings(standin: SlackStandIn, db_url: str, **env: str) -> Settings:
    values = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": standin.base_url,
        "DATABASE_URL": db_url,
        "INCIDENT_TIMEZONE": "UTC",
        **env,
    }
    return Settings.from_env(values)


@pytest.fixture
def make_bot(standin, clock, db) -> Iterator:
    started: list[BotUnderTest] = []

    def make(**env: str) -> BotUnderTest:
        bot = BotUnderTest(standin=standin, clock=clock, settings=bot_settings(standin, db.url, **env)).start(db)
        started.append(bot)
        return bot

    yield make
    for bot in started:
        bot.stop()


@pytest.fixture
def bot(make_bot) -> BotUnderTest:
    return make_bot()
