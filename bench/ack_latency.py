"""How fast /incident is acknowledged under concurrent load while Slack itself is slow.

Runs the real app under uvicorn against the Slack stand-in, with users.info and
response_url answers slowed down, fires bursts of concurrent signed commands, and prints
acknowledgement and reply latencies and the process's peak memory. Slack's limit is 3 s.

    python bench/ack_latency.py [--requests 200] [--concurrency 50] [--slack-delay 1.0] [--db URL]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.clock import SystemClock  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade_to_head  # noqa: E402
from tests.conftest import bot_settings  # noqa: E402
from tests.harness import BotUnderTest  # noqa: E402
from tests.slack_standin import SlackStandIn  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--slack-delay", type=float, default=1.0, help="seconds Slack takes per users.info call")
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    url = args.db or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    db = Database(url)
    upgrade_to_head(db.engine)
    standin = SlackStandIn().start()
    users = [f"U0B{n:04d}" for n in range(args.requests)]  # every user new: a users.info cache miss each
    for user in users:
        standin.add_user(user, tz="Europe/Berlin")
    standin.add_channel("C0GENERAL", "general")
    bot = BotUnderTest(standin=standin, clock=SystemClock(), settings=bot_settings(standin, url)).start(db)  # type: ignore[arg-type]
    declared = bot.command("declare Benchmark incident sev2", user=users[0], channel="C0GENERAL")
    channel = declared.text.split("<#")[1].split(">")[0]
    standin.delays["users.info"] = args.slack_delay

    def one(n: int):
        return bot.command(f"timeline 1m ago bench entry {n}", user=users[n], channel=channel, wait=False)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        results = list(pool.map(one, range(args.requests)))
    acks = [r.acked_in for r in results]
    reply_started = time.monotonic()
    for result in results:
        result.wait(timeout=120)
    finished = time.monotonic()
    bot.stop()
    standin.stop()

    print(f"requests={args.requests} concurrency={args.concurrency} slack_delay={args.slack_delay}s db={db.engine.dialect.name}")
    print(f"ack   p50={statistics.median(acks)*1000:.0f}ms p95={percentile(acks, 0.95)*1000:.0f}ms max={max(acks)*1000:.0f}ms "
          f"(Slack allows 3000ms); over 3s: {sum(a > 3 for a in acks)}")
    print(f"all replies delivered {finished - started:.1f}s after the first request "
          f"({finished - reply_started:.1f}s after the last ack)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (bot, stand-in and load generator in one process)")


if __name__ == "__main__":
    main()
