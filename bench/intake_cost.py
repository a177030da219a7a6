"""What storing each request before acknowledging it costs (bot/intake.py): one `intake.store`,
the write every acknowledgement waits for, timed alone on SQLite and on PostgreSQL.

What the whole acknowledgement costs under load, against a Bolt app that stores nothing, is
`bench/ack_vs_bolt.py` (its load generator is not the bottleneck; an earlier version of this
script fired commands from threads of the bot's own process, and mostly measured that).

    python bench/intake_cost.py [--count 2000] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
import uuid

from common import migrated_database, percentile
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import intake
from bot.db import Database, normalize_url

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def line(label: str, seconds: list[float]) -> str:
    return (
        f"{label:<12} p50={statistics.median(seconds) * 1000:6.2f}ms p99={percentile(seconds, 0.99) * 1000:6.2f}ms "
        f"max={max(seconds) * 1000:6.2f}ms"
    )


def store_cost(db: Database, count: int) -> list[float]:
    now = dt.datetime.now(dt.UTC)
    took = []
    for _n in range(count):
        started = time.monotonic()
        intake.store(
            db,
            surface="command",
            key=f"bench-{uuid.uuid4().hex}",
            raw_body="text=x" * 80,
            content_type="application/x-www-form-urlencoded",
            user_id="U0BENCH",
            worker="bench",
            now=now,
        )
        took.append(time.monotonic() - started)
    return took


def run(label: str, url: str | None, args: argparse.Namespace) -> None:
    db = migrated_database(url)
    try:
        store_cost(db, 100)  # warm the pool and the statement cache
        print(line(label, store_cost(db, args.count)) + f"  ({args.count} × intake.store, one thread, committed each)")
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--postgres", default=POSTGRES, help="a server URL; a scratch database is made on it")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    run("SQLite", None, args)
    if args.no_postgres:
        return
    admin_url = make_url(normalize_url(args.postgres))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"incident_bot_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        run("PostgreSQL", admin_url.set(database=name).render_as_string(hide_password=False), args)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
