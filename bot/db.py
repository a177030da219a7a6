"""The database: engine set-up for SQLite and PostgreSQL, and one session per unit of work."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, CursorResult, Engine, Result, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs (SQLAlchemy would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=20)
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_size=20, max_overflow=10, pool_timeout=30, pool_recycle=1800)
    _ping_idle_connections(engine)
    return engine


# A connection checked in this recently is not pinged before use.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_idle_connections(engine: Engine) -> None:
    # SQLAlchemy's pool_pre_ping pings every checkout: a round trip before each unit of work, about
    # a fifth of the bot's CPU per command under a burst. A connection used in the last few seconds
    # is almost surely alive, and should the server go away, SQLAlchemy invalidates the whole pool
    # at the first failure; a connection idle longer (a quiet night, a restarted server) is pinged
    # and replaced when dead, so the first command after a database restart still goes through.
    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as err:
            raise DisconnectionError("the database connection was dead") from err  # the pool opens a new one


def _configure_sqlite(engine: Engine) -> None:
    # WAL lets readers run beside the writer; BEGIN IMMEDIATE takes the write lock up front so two
    # writers queue on busy_timeout instead of failing with "database is locked" on lock upgrade.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # Within one process, writers also queue on a lock of our own: SQLite's busy handler polls
    # with growing sleeps, so under a burst one waiter can lose to newcomers for seconds — and an
    # acknowledgement waits on its request being stored (bot/intake.py). Re-entrant: a nested
    # transaction on one thread meets SQLite's own lock, as before.
    writers = threading.RLock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        writers.acquire()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writers.release()
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection):
        try:
            writers.release()
        except RuntimeError:
            pass  # a rollback of a transaction that never began (nothing to release)


class Database:
    """Owns the engine; hands out one session per unit of work (commit on success, roll back on error)."""

    def __init__(self, url: str):
        self.url = normalize_url(url)
        self.engine = create_db_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")  # shares the pool

    @contextlib.contextmanager
    def one_statement(self) -> Iterator[Connection]:
        """A connection for a single write that is its own transaction (no ORM, no explicit
        BEGIN/COMMIT: on PostgreSQL one round trip instead of three). Only for one statement:
        two statements here would each commit on their own."""
        if self.is_sqlite:  # our SQLite set-up takes its write lock in BEGIN: keep the transaction
            with self.engine.begin() as connection:
                yield connection
        else:
            with self._autocommit.connect() as connection:
                yield connection

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def rows_changed(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE changed. `execute()` is typed as returning a plain Result; an
    UPDATE runs as a CursorResult, which counts them (the claims' compare-and-set needs it)."""
    return int(cast(CursorResult[Any], result).rowcount)
