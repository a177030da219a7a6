"""How long building one person's App Home takes in a busy workspace.

Seeds a fresh database with 500 incidents (half open, half closed with a postmortem and a review
meeting to come), 10,000 action items and timeline entries by 60 people, then times `home.build`
(every query and the Block Kit view, no Slack call) for the busiest person. Prints wall time per
run, the blocks of the view, and the peak Python memory of one run.

    python bench/app_home.py [--incidents 500] [--items 10000] [--runs 5] [--db URL]
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

from bot import home
from bot.db import Database
from bot.migrate import upgrade_to_head
from bot.models import (
    ActionItem,
    ActionStatus,
    EntryKind,
    EntrySource,
    Incident,
    IncidentStatus,
    Postmortem,
    TimelineEntry,
)

NOW = dt.datetime(2026, 6, 29, 9, 0, tzinfo=dt.UTC)
USERS = [f"U{n:07d}" for n in range(60)]
BUSIEST = USERS[0]


def seed(db: Database, count: int, items: int) -> None:
    rng = random.Random(7)
    with db.unit_of_work() as session:
        incidents = []
        for n in range(count):
            closed = n % 2 == 1
            incidents.append(
                Incident(
                    title=f"Incident {n}: checkout latency after deploy",
                    severity=rng.choice(["sev1", "sev2", "sev3"]),
                    status=IncidentStatus.CLOSED if closed else IncidentStatus.OPEN,
                    channel_id=f"C{n:08d}",
                    is_private=n % 10 == 0,
                    declared_by=rng.choice(USERS),
                    commander_id=rng.choice(USERS),
                    created_at=NOW - dt.timedelta(days=3),
                    closed_at=NOW - dt.timedelta(days=1) if closed else None,
                    close_count=1 if closed else 0,
                )
            )
        session.add_all(incidents)
        session.flush()
        for incident in incidents:
            for _ in range(5):
                session.add(
                    TimelineEntry(
                        incident_id=incident.id,
                        occurred_at=NOW - dt.timedelta(days=2),
                        recorded_at=NOW - dt.timedelta(days=2),
                        author_id=rng.choice(USERS),
                        text="503 errors rise",
                        kind=EntryKind.NOTE,
                        source=EntrySource.COMMAND,
                    )
                )
            if incident.status == IncidentStatus.CLOSED:
                session.add(
                    Postmortem(
                        incident_id=incident.id,
                        status="draft",
                        template="default",
                        markdown="",
                        review=[],
                        publish_state="published",
                        publish_attempts=1,
                        meeting_at=NOW + dt.timedelta(hours=rng.randint(2, 48)),
                    )
                )
        for n in range(items):
            session.add(
                ActionItem(
                    incident_id=incidents[n % count].id,
                    text=f"Add an alert on pool saturation {n}",
                    owner_id=BUSIEST if n % 20 == 0 else rng.choice(USERS),
                    priority="P2",
                    due_date=(NOW + dt.timedelta(days=rng.randint(-10, 30))).date(),
                    status=ActionStatus.OPEN,
                    created_by=USERS[1],
                    created_at=NOW,
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    db = Database(args.db or f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    upgrade_to_head(db.engine)
    seed(db, args.incidents, args.items)
    times = []
    view = None
    for run in range(args.runs):
        if run == 0:
            tracemalloc.start()
        started = time.perf_counter()
        with db.unit_of_work() as session:
            view = home.build(session, BUSIEST, now=NOW, zone=dt.UTC)
        times.append(time.perf_counter() - started)
        if run == 0:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    assert view is not None
    print(
        f"App Home of the busiest of {len(USERS)} people ({view.items_total} open items, {args.incidents} incidents, "
        f"{args.items} items): median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
        f"over {args.runs} runs; {len(view.blocks)} blocks; peak {peak / 2**20:.1f} MiB"
    )
    db.dispose()


if __name__ == "__main__":
    main()
