"""The database: engine set-up for SQLite and PostgreSQL, and one session per unit of work."""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
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
    return create_engine(url, pool_size=20, max_overflow=10, pool_pre_ping=True, pool_timeout=30)


def _configure_sqlite(engine: Engine) -> None:
    # WAL lets readers run beside the writer; BEGIN IMMEDIATE takes the write lock up front so two
    # writers queue on busy_timeout instead of failing with "database is locked" on lock upgrade.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
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
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        writers.acquire()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writers.release()
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection):  # type: ignore[no-untyped-def]
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
