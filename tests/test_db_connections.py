"""PostgreSQL connections that died while idle in the pool (a restarted server, a dropped
connection) are replaced before use; busy connections are not pinged before every unit of work."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

import bot.db
from bot.db import Database


def kill_other_connections(url: str) -> int:
    """What a server restart does to a pool: every other connection to the database is cut."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            return len(
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            )
    finally:
        admin.dispose()


def select_one(db: Database) -> int:
    with db.unit_of_work() as session:
        return int(session.execute(text("SELECT 1")).scalar_one())


@pytest.fixture
def pg(postgres_url):
    database = Database(postgres_url)
    yield database
    database.dispose()


@pytest.fixture
def pings(pg, monkeypatch) -> list[int]:
    """One element per ping the pool sends before handing out a connection."""
    sent: list[int] = []
    real = pg.engine.dialect.do_ping

    def counted(dbapi_connection):  # noqa: ANN001, ANN202
        sent.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(pg.engine.dialect, "do_ping", counted)
    return sent


def test_a_connection_idle_past_the_threshold_is_pinged_and_replaced_when_dead(pg, pings, postgres_url, monkeypatch):
    monkeypatch.setattr(bot.db, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert select_one(pg) == 1 and pings == []  # a new connection needs no ping
    assert kill_other_connections(postgres_url) >= 1
    assert select_one(pg) == 1  # the dead pooled connection was found by its ping and replaced
    assert pings == [1]


def test_a_connection_in_steady_use_is_not_pinged_and_one_failure_renews_the_pool(pg, pings, postgres_url, monkeypatch):
    monkeypatch.setattr(bot.db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    assert select_one(pg) == 1 and select_one(pg) == 1
    assert pings == []  # no round trip before either unit of work
    kill_other_connections(postgres_url)
    with pytest.raises(OperationalError):
        select_one(pg)  # used a moment ago, so not pinged: the cut shows here, once
    assert select_one(pg) == 1  # …and SQLAlchemy has renewed the pool
