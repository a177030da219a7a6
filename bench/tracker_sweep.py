"""How long the reconcile sweep takes over 2,000 open items with tickets, and how many calls it makes.

Seeds a fresh database with 2,000 open action items whose tickets live in the GitHub stand-in
(and then the Jira Cloud stand-in); 5% of the tickets were closed and 5% reassigned in the tracker
since the last read. Times one sweep (`bot.trackers.sync.sweep`, the code `incident-bot tracker sync`
and the scheduler run), checks that every change was brought in, and prints the tracker calls it
made against the tracker's limits, then times a second sweep with nothing new.

    python bench/tracker_sweep.py [--items 2000] [--db URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.slack_standin import SlackStandIn

from bench.common import migrated_database
from bot.clock import SettableClock
from bot.models import ActionItem, ActionStatus, Incident, IncidentStatus
from bot.runtime import build_runtime
from bot.trackers import sync
from tests.conftest import bot_settings
from tests.github_standin import GitHubStandIn
from tests.jira_standin import JiraStandIn
from tests.tracker_steps import github_env, jira_env

NOW = dt.datetime(2026, 6, 29, 9, 0, tzinfo=dt.UTC)
GITHUB_LIMIT_PER_HOUR = 5000  # a token's primary REST limit
JIRA_CLOUD_NOTE = "Jira Cloud meters by cost per hour; 1 search page of 100 costs about one call"


def seed(db, tracker: str, keys: list[str], url_of) -> None:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        session.query(ActionItem).delete()
        session.query(Incident).delete()
        incidents = [
            Incident(
                title=f"Incident {n}",
                severity="sev2",
                status=IncidentStatus.CLOSED,
                channel_id=f"C{n:08d}",
                declared_by="U0000001",
                created_at=NOW - dt.timedelta(days=20),
                close_count=1,
            )
            for n in range(100)
        ]
        session.add_all(incidents)
        session.flush()
        session.add_all(
            ActionItem(
                incident_id=incidents[n % 100].id,
                text=f"Item {n}",
                owner_id="U0ANN",
                priority="P2",
                status=ActionStatus.OPEN,
                created_by="U0000001",
                created_at=NOW - dt.timedelta(days=10),
                due_date=(NOW + dt.timedelta(days=20)).date(),
                ticket_tracker=tracker,
                ticket_key=key,
                ticket_state="open",
                ticket_assignee=None,
                link_url=url_of(key),
            )
            for n, key in enumerate(keys)
        )


def run(label: str, db, slack: SlackStandIn, env: dict[str, str], tracker_calls, limit_line) -> None:  # type: ignore[no-untyped-def]
    runtime = build_runtime(bot_settings(slack, db.url, **env), clock=SettableClock(NOW), db=db)
    before = tracker_calls()
    started = time.perf_counter()
    report = sync.sweep(runtime)
    took = time.perf_counter() - started
    calls = tracker_calls() - before
    print(
        f"{label}: first sweep {took:.2f}s ({report.calls_seconds:.2f}s reading tickets) — {report.checked} tickets, "
        f"{report.changes} changes brought in, {calls} tracker calls; {limit_line()}"
    )
    started = time.perf_counter()
    again = sync.sweep(runtime)
    print(
        f"{label}: second sweep {time.perf_counter() - started:.2f}s — {again.changes} changes "
        f"({tracker_calls() - before - calls} calls)"
    )
    assert again.changes == 0
    runtime.after_ack.shutdown(wait=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--db", default=None, help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    db = migrated_database(args.db)
    slack = SlackStandIn().start()
    slack.add_user("U0ANN", name="ann")
    slack.add_user("U0BOB", name="bob")
    for n in range(100):
        slack.add_channel(f"C{n:08d}", f"inc-{n}")
    changed = max(1, args.items // 20)

    github = GitHubStandIn().start()
    for n in range(args.items):
        github._create(body={"title": f"Item {n}", "labels": ["incident", "P2"]})
    for number in range(1, changed + 1):
        github.close_as(number, "octo-ann")
    for number in range(changed + 1, 2 * changed + 1):
        github.assign_as(number, "octo-bob", "octo-ann")
    seed(db, "github", [str(n) for n in range(1, args.items + 1)], lambda k: f"{github.base_url}acme/ops/issues/{k}")
    run(
        "GitHub",
        db,
        slack,
        github_env(github),
        lambda: len(github.calls),
        lambda: f"{github.rate_limit - github.remaining} of {GITHUB_LIMIT_PER_HOUR} requests this hour used",
    )
    github.stop()

    jira = JiraStandIn(cloud=True).start()
    for n in range(args.items):
        jira._create(body={"fields": {"project": {"key": "OPS"}, "summary": f"Item {n}"}})
    for n in range(1, changed + 1):
        jira.transition_as(f"OPS-{n}", "Done", "acc-ann")
    for n in range(changed + 1, 2 * changed + 1):
        jira.assign_as(f"OPS-{n}", "acc-bob", "acc-ann")
    seed(db, "jira", [f"OPS-{n}" for n in range(1, args.items + 1)], lambda k: f"{jira.site}browse/{k}")
    run(
        "Jira Cloud",
        db,
        slack,
        jira_env(jira, TRACKER_USERS="U0BOB=acc-bob"),
        lambda: len(jira.calls),
        lambda: JIRA_CLOUD_NOTE,
    )
    jira.stop()
    slack.stop()


if __name__ == "__main__":
    main()
