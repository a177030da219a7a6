"""Alembic environment: runs on the connection `bot.migrate` hands over (already holding the lock)."""

from alembic import context

from bot.insights.search_index import include_object
from bot.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,  # the text-search indexes are the migration's alone
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `incident-bot migrate`")
run_migrations_online()
