"""How long computing the weekly nudges takes: 10,000 open action items across 500 channels.

Seeds a fresh database, then times what one sweep computes before it talks to Slack: the one
query for the week's items (`nudges.plan_week`), grouping, and building every channel's Block Kit
message and the team digest. Prints wall time per run and the peak Python memory of one run.

    python bench/nudge_compute.py [--channels 500] [--items 10000] [--runs 5] [--db URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.db import Database  # noqa: E402
from bot.migrate import upgrade_to_head  # noqa: E402
from bot.models import ActionItem, ActionStatus, Incident, IncidentStatus  # noqa: E402
from bot.nudges import weekly as nudges  # noqa: E402

NOW = dt.datetime(2026, 6, 29, 9, 0, tzinfo=dt.UTC)
USERS = [f"U{n:07d}" for n in range(60)]


def seed(db: Database, channels: int, items: int) -> None:
    rng = random.Random(7)
    with db.unit_of_work() as session:
        incidents = [
            Incident(
                title=f"Incident {n}: checkout latency after deploy",
                severity=rng.choice(["sev1", "sev2", "sev3"]),
                status=rng.choice([IncidentStatus.OPEN, IncidentStatus.CLOSED]),
                channel_id=f"C{n:08d}",
                is_private=n % 10 == 0,
                declared_by=USERS[0],
                commander_id=rng.choice(USERS),
                created_at=NOW - dt.timedelta(days=60),
                close_count=0,
            )
            for n in range(channels)
        ]
        session.add_all(incidents)
        session.flush()
        session.add_all(
            ActionItem(
                incident_id=incidents[n % channels].id,
                text=f"Add an alert on queue depth for service {n} and page the owning team",
                owner_id=rng.choice(USERS + [None]),
                priority=rng.choice(["P0", "P1", "P2", "P3"]),
                due_date=(NOW + dt.timedelta(days=rng.randint(-30, 60))).date(),
                action_type=rng.choice([None, "prevent", "detect"]),
                status=ActionStatus.OPEN,
                created_by=USERS[0],
                created_at=NOW - dt.timedelta(days=30),
            )
            for n in range(items)
        )


def compute(db: Database) -> int:
    """Everything a sweep computes before posting; returns the number of messages built."""
    today = NOW.date()
    with db.unit_of_work() as session:
        plan = nudges.plan_week(session, cutoff=NOW, nudge_date=today)
    messages = [nudges.channel_message(entries, today=today, period="2026-W27") for entries in plan.channels.values()]
    messages.append(nudges.digest_message(plan.digest, today=today, period="2026-W27"))
    return len(messages)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=500)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default=None, help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        db = Database(args.db or f"sqlite:///{folder}/bench.db")
        upgrade_to_head(db.engine)
        seed(db, args.channels, args.items)
        compute(db)  # warm up: connections, statement cache, imports
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            built = compute(db)
            timings.append(time.perf_counter() - started)
        tracemalloc.start()
        compute(db)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.dispose()

    print(f"database: {db.engine.dialect.name}; {args.items} open items across {args.channels} channels")
    print(f"messages built per run: {built} ({args.channels} channels + the digest)")
    print(
        f"compute time: median {statistics.median(timings) * 1000:.0f} ms, "
        f"best {min(timings) * 1000:.0f} ms, worst {max(timings) * 1000:.0f} ms over {args.runs} runs"
    )
    print(f"peak Python memory during one run: {peak / 1024 / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
