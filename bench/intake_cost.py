"""What storing each request before acknowledging it costs (bot/intake.py).

Runs the real app under uvicorn against the Slack stand-in, fires bursts of concurrent signed
`/incident timeline` commands, and prints acknowledgement latency with the intake as it is
("stored") and with the intake bypassed ("not stored": the same app, but no request is kept),
on SQLite and on PostgreSQL; then the cost of one `intake.store` on its own.

    python bench/intake_cost.py [--requests 300] [--concurrency 50] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from common import migrated_database, percentile, running_bot
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import intake
from bot.db import Database, normalize_url
from handlers import intake as intake_shell

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def line(label: str, seconds: list[float]) -> str:
    return (
        f"{label:<12} p50={statistics.median(seconds) * 1000:6.1f}ms p99={percentile(seconds, 0.99) * 1000:6.1f}ms "
        f"max={max(seconds) * 1000:6.1f}ms"
    )


def ack_latencies(db: Database, requests: int, concurrency: int) -> list[float]:
    users = [f"U0B{n:04d}" for n in range(concurrency)]
    bot, standin = running_bot(db, users, tz="Europe/Berlin")
    try:
        declared = bot.command("declare Benchmark incident sev2", user=users[0], channel="C0GENERAL")
        channel = declared.text.split("<#")[1].split(">")[0]
        for user in users:  # warm the zone cache: the work is then DB-bound, like the ack
            bot.command(f"timeline warm-up {user}", user=user, channel=channel)

        def one(n: int) -> float:
            return bot.command(
                f"timeline 1m ago bench entry {n}", user=users[n % concurrency], channel=channel, wait=False
            ).acked_in

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            acks = list(pool.map(one, range(requests)))
        bot.settle(timeout=120)
        return acks
    finally:
        bot.stop()
        standin.stop()


def store_cost(db: Database, count: int = 300) -> list[float]:
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
    print(f"\n{label}: {args.requests} commands, {args.concurrency} at once")
    stores_everything = intake_shell.surface_of
    for mode, surface_of in (("not stored", lambda runtime, body: None), ("stored", stores_everything)):
        intake_shell.surface_of = surface_of  # the bypass: no request is kept (what the bot did before)
        db = migrated_database(url)
        try:
            print(line(f"ack {mode}", ack_latencies(db, args.requests, args.concurrency)))
        finally:
            intake_shell.surface_of = stores_everything
            db.dispose()
    db = migrated_database(url)
    print(line("one store", store_cost(db)) + "  (intake.store alone, one thread)")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
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
