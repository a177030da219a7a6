"""How long a postmortem draft of a long incident takes to read, review and render.

Builds an incident with N timeline entries (default 2,000), facts and action items in a fresh
SQLite database (or --db), then times each stage of making the draft several times and prints
the median and worst: reading the snapshot, the wording review, building the context, rendering
the Jinja2 template, and the headline message. No Slack calls (names come from a fixed map).

    python bench/postmortem_render.py [--entries 2000] [--repeat 7] [--db URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import migrated_database  # noqa: E402

from bot import timeline  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.models import ActionItem, EntrySource, FactSection, Incident, IncidentStatus, Milestone  # noqa: E402
from bot.postmortem import facts, snapshot  # noqa: E402
from bot.postmortem.publish import Draft, headline  # noqa: E402
from bot.postmortem.render import ContextInputs, build_context, render  # noqa: E402
from bot.postmortem.review import load_vocabulary, review  # noqa: E402

START = dt.datetime(2026, 6, 22, 8, 0, tzinfo=dt.UTC)
USERS = [f"U0USER{i}" for i in range(12)]


def build(db: Database, entries: int) -> int:
    with db.unit_of_work() as session:
        incident = Incident(
            title="Shard rebalance storm",
            severity="sev1",
            status=IncidentStatus.CLOSED,
            incident_type="default",
            channel_id="C0BENCH",
            channel_name="inc-bench",
            declared_by=USERS[0],
            commander_id=USERS[0],
            created_at=START,
            closed_at=START + dt.timedelta(hours=9),
            closed_by=USERS[0],
            close_count=1,
        )
        session.add(incident)
        session.flush()
        milestones = {
            0: Milestone.STARTED,
            20: Milestone.DETECTED,
            30: Milestone.ACKNOWLEDGED,
            entries // 2: Milestone.MITIGATED,
            entries - 1: Milestone.RESOLVED,
        }
        for i in range(entries):
            when = START + dt.timedelta(seconds=15 * i)
            timeline.add_entry(
                session,
                incident,
                text=f"step {i}: rebalanced shard {i % 97}; <@{USERS[i % 12]}> "
                "watched the queue depth fall and the p99 recover " * 2,
                author=USERS[i % 12],
                occurred_at=when,
                recorded_at=when,
                milestone=milestones.get(i),
                source=EntrySource.COMMAND,
            )
        for i, section in enumerate(FactSection):
            for j in range(5):
                facts.add_fact(
                    session,
                    incident,
                    section,
                    f"{section.value} fact {j}: the balancer had no rate limit and should have been throttled",
                    author=USERS[(i + j) % 12],
                    now=START,
                )
        for i in range(30):
            session.add(
                ActionItem(
                    incident_id=incident.id,
                    text=f"Add a rate limit to balancer stage {i}",
                    owner_id=USERS[i % 12] if i % 5 else None,
                    due_date=dt.date(2026, 7, 1 + i % 28),
                    priority="P1",
                    created_by=USERS[0],
                    created_at=START,
                )
            )
        return incident.id


def timed(function, repeat: int):
    durations, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        durations.append(time.perf_counter() - started)
    return result, durations


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--db", default=None, help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    db = migrated_database(args.db)
    incident_id = build(db, args.entries)
    zone = ZoneInfo("Europe/Berlin")
    names = {user: user.lower() for user in USERS}
    vocabulary, _ = load_vocabulary(None)

    def read():
        with db.unit_of_work() as session:
            return snapshot.load(session, incident_id)

    source, read_times = timed(read, args.repeat)
    findings, review_times = timed(
        lambda: review(
            source,
            vocabulary,
            names=names,
            due_days={"sev1": 15, "sev2": 30, "sev3": 45, "sev4": 45},
            zone=zone,
            reference_date=dt.date(2026, 6, 22),
        ),
        args.repeat,
    )
    inputs = ContextInputs(
        zone=zone,
        names=names,
        findings=findings,
        due_days={"sev1": 15},
        review_days=3,
        now=START + dt.timedelta(hours=9),
    )
    context, context_times = timed(lambda: build_context(source, inputs), args.repeat)
    rendered, render_times = timed(lambda: render("default", context, None), args.repeat)
    (_, blocks), headline_times = timed(
        lambda: headline(Draft(rendered, findings, source, []), "draft", None, True), args.repeat
    )
    total = [sum(parts) for parts in zip(read_times, review_times, context_times, render_times, headline_times)]

    print(
        f"postmortem draft of {args.entries} timeline entries, {len(source.facts)} facts, "
        f"{len(source.action_items)} action items on {db.engine.dialect.name}; {args.repeat} runs each"
    )
    print(
        f"markdown: {len(rendered.markdown):,} characters; review: {len(findings)} findings; "
        f"headline: {len(blocks)} blocks"
    )
    for label, values in (
        ("read snapshot", read_times),
        ("wording review", review_times),
        ("build context", context_times),
        ("render template", render_times),
        ("headline blocks", headline_times),
        ("total", total),
    ):
        print(f"  {label:16} median {statistics.median(values) * 1000:8.1f} ms   worst {max(values) * 1000:8.1f} ms")
    db.dispose()


if __name__ == "__main__":
    main()
