"""Alembic migrations: one head, exactly the models' schema, and safe when replicas start at once."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bot.db import Database, normalize_url
from bot.insights.search_index import include_object
from bot.migrate import alembic_config, current_revision, head_revision
from bot.models import Base
from tests.conftest import POSTGRES_URL


def test_migrations_have_exactly_one_head():
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_migrations_produce_exactly_the_models_schema(db):
    # `db` was migrated by Alembic (never by create_all), on SQLite and on PostgreSQL
    with db.engine.connect() as connection:
        # The text-search indexes exist only in the migration (see bot/insights/search_index.py).
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include_object})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    assert current_revision(db.engine) == head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def _upgrade_in_processes(url: str, count: int) -> list[subprocess.CompletedProcess]:
    code = "import sys; from bot.db import Database; from bot.migrate import upgrade_to_head; print(upgrade_to_head(Database(sys.argv[1]).engine))"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=120), *p.communicate()) for p in processes]


def test_replicas_migrating_one_postgresql_at_once_do_not_break_each_other(postgres_url):
    admin_url = make_url(normalize_url(POSTGRES_URL))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"incident_bot_migrate_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        results = _upgrade_in_processes(url, 4)
        assert [r.returncode for r in results] == [0] * 4, [r.stderr[-2000:] for r in results]
        assert {r.stdout.strip() for r in results} == {head_revision()}
        fresh = Database(url)
        assert current_revision(fresh.engine) == head_revision()
        fresh.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_replicas_migrating_one_sqlite_file_at_once_do_not_break_each_other(tmp_path):
    url = f"sqlite:///{tmp_path}/replicas.db"
    results = _upgrade_in_processes(url, 4)
    assert [r.returncode for r in results] == [0] * 4, [r.stderr[-2000:] for r in results]
    assert current_revision(Database(url).engine) == head_revision()


@pytest.mark.parametrize("missing", ["bot.migrations", "bot.templates"])
def test_migrations_and_templates_are_package_resources(missing):
    from importlib import resources

    assert resources.files(missing).is_dir()
