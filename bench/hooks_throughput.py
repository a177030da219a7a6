"""Webhook throughput: one Alertmanager notification of 1,000 alerts, then a steady stream of
deliveries, through the real app (uvicorn, the hooks endpoint, the database) — none may be lost.

Prints the latency of the big notification (new, then repeated as Alertmanager repeats it), the
stream's answer latency, and how many deliveries and facts were stored against how many were sent.

    python bench/hooks_throughput.py [--alerts 1000] [--rate 50] [--seconds 60] [--db URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from common import latency_line, migrated_database
from sqlalchemy import func, select
from tests.slack_standin import SlackStandIn

from bot.clock import SystemClock
from bot.models import HookDelivery, SourceFact
from tests.conftest import bot_settings
from tests.harness import BotUnderTest
from tests.hook_steps import (
    HOOK_ENV,
    alertmanager_alert,
    alertmanager_payload,
    bearer,
    generic_headers,
    post_hook,
)


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=1000, help="alerts in the one big notification")
    parser.add_argument("--rate", type=int, default=50, help="deliveries a second in the stream")
    parser.add_argument("--seconds", type=int, default=60, help="how long the stream runs")
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    db = migrated_database(args.db)
    standin = SlackStandIn().start()
    standin.add_user("U0BENCH", tz="UTC")
    standin.add_channel("C0GENERAL", "general")
    bot = BotUnderTest(
        standin=standin,
        clock=SystemClock(),  # type: ignore[arg-type]
        settings=bot_settings(standin, db.url, **HOOK_ENV),
    ).start(db)
    declared = bot.command("declare Hook storm service:checkout sev2", user="U0BENCH", channel="C0GENERAL")
    assert "<#" in declared.text, declared.text
    now = dt.datetime.now(dt.UTC)

    # 1. One notification of many alerts (a new group each round), then the same body repeated.
    big, repeat = [], []
    for round_ in range(5):
        alerts = [
            alertmanager_alert(f"Big{round_}x{i}", now - dt.timedelta(minutes=5), instance=f"host-{i}")
            for i in range(args.alerts)
        ]
        body = json.dumps(alertmanager_payload(alerts, group_key=f'{{}}:{{round="{round_}"}}')).encode()
        started = time.perf_counter()
        response = post_hook(bot, "alertmanager", body, bearer())
        big.append(time.perf_counter() - started)
        assert response.status_code == 200 and response.json()["facts"] == args.alerts, response.text
        started = time.perf_counter()
        assert post_hook(bot, "alertmanager", body, bearer()).json()["status"] == "duplicate"
        repeat.append(time.perf_counter() - started)
    print(f"one notification of {args.alerts} alerts ({len(body) // 1024} KiB), 5 rounds")
    print(latency_line("  new:     ", big))
    print(latency_line("  repeated:", repeat))

    # 2. A steady stream: `rate` deliveries a second (generic events, each a new fact).
    facts_before, deliveries_before = count(db, SourceFact), count(db, HookDelivery)
    total = args.rate * args.seconds
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def deliver(n: int) -> None:
        body = json.dumps(
            {
                "text": f"event {n}",
                "occurred_at": now.isoformat(),
                "kind": "change",
                "labels": {"service": "checkout"},
                "dedup_key": f"stream-{n}",
            }
        ).encode()
        started = time.perf_counter()
        try:
            response = post_hook(bot, "generic", body, generic_headers(body))
            ok = response.status_code == 200 and response.json()["status"] == "accepted"
            detail = f"{response.status_code} {response.text[:80]}"
        except Exception as err:  # noqa: BLE001 - a bench counts every failure
            ok, detail = False, repr(err)
        with lock:
            latencies.append(time.perf_counter() - started)
            if not ok:
                failures.append(detail)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for n in range(total):
            due = started + n / args.rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(deliver, n)
    elapsed = time.perf_counter() - started
    stored = count(db, HookDelivery) - deliveries_before
    facts = count(db, SourceFact) - facts_before
    print(f"stream: {total} deliveries in {elapsed:.1f}s ({total / elapsed:.1f}/s asked {args.rate}/s)")
    print(latency_line("  answer:  ", latencies))
    print(
        f"  stored deliveries {stored}/{total}, facts {facts}/{total}, refused or failed {len(failures)}, "
        f"lost {total - facts}"
    )
    for failure in failures[:5]:
        print(f"  failure: {failure}")
    bot.stop()
    standin.stop()


if __name__ == "__main__":
    main()
