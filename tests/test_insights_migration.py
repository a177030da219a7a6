"""Migration 0006 on a database that already holds incidents: their search documents are made, and
the database's own text search finds them at once (SQLite FTS5 and PostgreSQL)."""

from __future__ import annotations

import uuid

from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.db import Database, normalize_url
from bot.insights import related
from bot.migrate import alembic_config, upgrade_to_head
from tests.conftest import POSTGRES_URL


def _upgrade(db: Database, revision: str) -> None:
    config = alembic_config()
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def _old_history(db: Database) -> None:
    with db.engine.begin() as connection:
        for number, title, cause in (
            (1, "Checkout DB pool exhausted", "Leaked connections exhausted the pool"),
            (2, "Checkout pool exhausted again", "Connection pool exhausted under load"),
        ):
            connection.execute(
                text(
                    "INSERT INTO incidents (id, title, severity, status, incident_type, channel_id, is_private, declared_by,"
                    " created_at, close_count) VALUES (:id, :title, 'sev2', 'closed', 'default', :channel, false, 'U1',"
                    " :created, 1)"
                ),
                {"id": number, "title": title, "channel": f"C{number}", "created": f"2026-0{number}-01 10:00:00+00:00"},
            )
            connection.execute(
                text(
                    "INSERT INTO facts (incident_id, section, text, author_id, recorded_at) VALUES"
                    " (:id, 'cause', :cause, 'U1', '2026-06-01 10:00:00+00:00')"
                ),
                {"id": number, "cause": cause},
            )


def _check(db: Database) -> None:
    with db.unit_of_work() as session:
        document = session.execute(
            text("SELECT document FROM incident_search_documents WHERE incident_id = 1")
        ).scalar()
        assert document == "Checkout DB pool exhausted Leaked connections exhausted the pool"
        found = related.find(session, 2)
    assert [r.record.id for r in found] == [1] and "exhausted" in found[0].shared_words


def test_sqlite_history_before_the_migration_is_searchable_after_it(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/old.db")
    _upgrade(db, "0001")
    _old_history(db)
    upgrade_to_head(db.engine)
    _check(db)
    db.dispose()


def test_postgresql_history_before_the_migration_is_searchable_after_it(postgres_url):
    admin_url = make_url(normalize_url(POSTGRES_URL))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"incident_bot_insights_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        db = Database(admin_url.set(database=name).render_as_string(hide_password=False))
        _upgrade(db, "0001")
        _old_history(db)
        upgrade_to_head(db.engine)
        _check(db)
        db.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
