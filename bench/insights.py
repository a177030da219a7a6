"""Related-incident search over a long history, and the periodic review of a busy period.

Fills a fresh SQLite database (or --db URL, e.g. PostgreSQL) with N past incidents (default
10,000) — titles, causes and triggers drawn from a small vocabulary so words repeat as they do in
real write-ups, services, tags, milestones — plus action items, and then times:

* `related.find` for 20 incidents (target: under 200 ms each);
* the review of 1,000 incidents and 10,000 action items: loading, computing, and building the
  message, CSV and both PNG charts (target: under 2 seconds in all).

    python bench/insights.py [--incidents 10000] [--review-incidents 1000] [--items 10000] [--db URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import migrated_database
from sqlalchemy import insert, select

from bot.db import Database
from bot.insights import related, review, review_report
from bot.insights.periods import Period
from bot.models import (
    ActionItem,
    ActionStatus,
    EntryKind,
    EntrySource,
    Fact,
    FactSection,
    Incident,
    IncidentLabel,
    IncidentSearchDocument,
    IncidentStatus,
    Milestone,
    TimelineEntry,
)

END = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
SERVICES = [
    "checkout",
    "payments",
    "search",
    "auth",
    "api",
    "billing",
    "email",
    "storage",
    "queue",
    "cdn",
    "mobile",
    "web",
    "ledger",
    "catalog",
    "reports",
]
TAGS = ["db", "pool", "deploy", "config", "dns", "cert", "capacity", "network", "cache", "cron"]
SUBJECTS = [
    "database connection pool",
    "TLS certificate",
    "DNS resolver",
    "message queue",
    "cache cluster",
    "load balancer",
    "disk volume",
    "feature flag",
    "cron job",
    "rate limiter",
    "search index",
    "CDN edge",
    "payment gateway",
    "auth token service",
    "replica lag",
]
FAILURES = [
    "exhausted",
    "expired",
    "timed out",
    "filled up",
    "misconfigured",
    "overloaded",
    "crashed",
    "stale",
    "leaked connections",
    "dropped packets",
    "returned 503",
    "ran out of memory",
]
TRIGGERS = [
    "deploy of v{n}",
    "config change {n}",
    "traffic spike after campaign {n}",
    "failover drill {n}",
    "dependency upgrade {n}",
    "schema migration {n}",
]


def fill(db: Database, count: int, items_total: int, review_count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    incidents, labels, documents, facts, entries, items = [], [], [], [], [], []
    for n in range(1, count + 1):
        # the newest `review_count` incidents fall in the reviewed quarter, the rest before it
        created = (
            END - dt.timedelta(minutes=rng.randint(1, 89 * 24 * 60))
            if n > count - review_count
            else END - dt.timedelta(days=91 + rng.randint(0, 1500))
        )
        subject, failure = rng.choice(SUBJECTS), rng.choice(FAILURES)
        title = f"{subject.capitalize()} {failure} on {rng.choice(SERVICES)}"
        cause = f"The {subject} {failure} because {rng.choice(SUBJECTS)} was {rng.choice(FAILURES)}"
        trigger = rng.choice(TRIGGERS).format(n=n)
        severity = rng.choice(["sev1", "sev2", "sev2", "sev3", "sev3", "sev3", "sev4"])
        incidents.append(
            {
                "id": n,
                "title": title,
                "severity": severity,
                "status": IncidentStatus.CLOSED,
                "incident_type": "default",
                "channel_id": f"C{n:09d}",
                "channel_name": f"inc-{n}",
                "is_private": False,
                "declared_by": "U0BENCH",
                "commander_id": "U0BENCH",
                "created_at": created,
                "closed_at": created + dt.timedelta(hours=3),
                "closed_by": "U0BENCH",
                "close_count": 1,
            }
        )
        labels.append({"incident_id": n, "kind": "service", "name": rng.choice(SERVICES)})
        labels.append({"incident_id": n, "kind": "tag", "name": rng.choice(TAGS)})
        documents.append({"incident_id": n, "document": f"{title}\n{trigger}\n{cause}", "updated_at": created})
        for section, text in ((FactSection.CAUSE, cause), (FactSection.TRIGGER, trigger)):
            facts.append(
                {"incident_id": n, "section": section, "text": text, "author_id": "U0BENCH", "recorded_at": created}
            )
        minutes = 0
        for milestone in (
            Milestone.STARTED,
            Milestone.DETECTED,
            Milestone.ACKNOWLEDGED,
            Milestone.MITIGATED,
            Milestone.RESOLVED,
        ):
            minutes += rng.randint(1, 90) if milestone != Milestone.STARTED else 0
            at = created + dt.timedelta(minutes=minutes)
            entries.append(
                {
                    "incident_id": n,
                    "occurred_at": at,
                    "recorded_at": at,
                    "author_id": "U0BENCH",
                    "text": f"{milestone.value}: alert fired" if milestone == Milestone.DETECTED else "step",
                    "kind": EntryKind.MILESTONE,
                    "milestone": milestone,
                    "source": EntrySource.COMMAND,
                }
            )
    review_ids = [i["id"] for i in incidents[-review_count:]]
    for k in range(items_total):
        incident = incidents[review_ids[k % len(review_ids)] - 1]
        created = incident["created_at"] + dt.timedelta(hours=4)
        fate = rng.random()
        status = ActionStatus.DONE if fate < 0.5 else ActionStatus.DROPPED if fate < 0.6 else ActionStatus.OPEN
        closed = created + dt.timedelta(days=rng.randint(1, 60)) if status != ActionStatus.OPEN else None
        items.append(
            {
                "incident_id": incident["id"],
                "text": f"Fix {rng.choice(SUBJECTS)} step {k}",
                "owner_id": f"U0OWNER{rng.randint(0, 40)}" if rng.random() < 0.9 else None,
                "due_date": (created + dt.timedelta(days=30)).date(),
                "priority": "P2",
                "status": status,
                "drop_reason": "superseded" if status == ActionStatus.DROPPED else None,
                "created_by": "U0BENCH",
                "created_at": created,
                "closed_at": closed,
            }
        )
    with db.unit_of_work() as session:
        for table, rows in (
            (Incident, incidents),
            (IncidentLabel, labels),
            (IncidentSearchDocument, documents),
            (Fact, facts),
            (TimelineEntry, entries),
            (ActionItem, items),
        ):
            for start in range(0, len(rows), 2000):
                session.execute(insert(table), rows[start : start + 2000])
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--review-incidents", type=int, default=1_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--db", default=None, help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    db = migrated_database(args.db)
    started = time.perf_counter()
    fill(db, args.incidents, args.items, args.review_incidents)
    print(
        f"filled {args.incidents:,} incidents and {args.items:,} action items on {db.engine.dialect.name} "
        f"in {time.perf_counter() - started:.1f} s"
    )

    rng = random.Random(3)
    with db.unit_of_work() as session:
        last = session.scalar(select(Incident.id).order_by(Incident.id.desc()).limit(1))
    timings, shown = [], 0
    for incident_id in rng.sample(range(last // 2, last + 1), 20):
        with db.unit_of_work() as session:
            began = time.perf_counter()
            found = related.find(session, incident_id)
            timings.append(time.perf_counter() - began)
            shown += len(found)
    print(
        f"related.find over {args.incidents:,} incidents: median {statistics.median(timings) * 1000:.0f} ms, "
        f"worst {max(timings) * 1000:.0f} ms (target < 200 ms); {shown / len(timings):.1f} results on average"
    )

    zone = ZoneInfo("UTC")
    period = Period(END - dt.timedelta(days=90), END, "last 90 days", "bench")
    now = END + dt.timedelta(days=1)
    for run in range(3):
        cpu = time.process_time()
        began = time.perf_counter()
        with db.unit_of_work() as session:
            records = review.load(session, period)
        loaded = time.perf_counter()
        result = review.compute(
            records, period, now=now, zone=zone, due_days={"sev1": 15, "sev2": 30, "sev3": 45, "sev4": 45}
        )
        computed = time.perf_counter()
        report = review_report.build(result, {}, share_in="C0GENERAL", period_text="last 90 days")
        built = time.perf_counter()
        print(
            f"review of {len(result.incidents):,} incidents and {result.items.created:,} items (run {run + 1}): "
            f"load {(loaded - began) * 1000:.0f} ms, compute {(computed - loaded) * 1000:.0f} ms, message + CSV + "
            f"2 charts {(built - computed) * 1000:.0f} ms, total {(built - began) * 1000:.0f} ms (target < 2,000 ms), "
            f"of which this process's CPU {(time.process_time() - cpu) * 1000:.0f} ms; "
            f"{len(report.blocks)} blocks, files " + ", ".join(f"{len(f.content) // 1024} KB" for f in report.files)
        )
    db.dispose()


if __name__ == "__main__":
    main()
