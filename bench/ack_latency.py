"""How fast /incident is acknowledged under concurrent load while Slack itself is slow.

Runs the real app under uvicorn against the Slack stand-in, with users.info and
response_url answers slowed down, fires bursts of concurrent signed commands, and prints
acknowledgement and reply latencies and the process's peak memory. Slack's limit is 3 s.

    python bench/ack_latency.py [--requests 200] [--concurrency 50] [--slack-delay 1.0] [--db URL]
"""

from __future__ import annotations

import argparse
import resource
import time
from concurrent.futures import ThreadPoolExecutor

from common import latency_line, migrated_database, running_bot


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--slack-delay", type=float, default=1.0, help="seconds Slack takes per users.info call")
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    db = migrated_database(args.db)
    users = [f"U0B{n:04d}" for n in range(args.requests)]  # every user new: a users.info cache miss each
    bot, standin = running_bot(db, users, tz="Europe/Berlin")
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

    print(
        f"requests={args.requests} concurrency={args.concurrency} slack_delay={args.slack_delay}s db={db.engine.dialect.name}"
    )
    print(f"{latency_line('ack  ', acks)} (Slack allows 3000ms); over 3s: {sum(a > 3 for a in acks)}")
    print(
        f"all replies delivered {finished - started:.1f}s after the first request "
        f"({finished - reply_started:.1f}s after the last ack)"
    )
    print(
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (bot, stand-in and load generator in one process)"
    )


if __name__ == "__main__":
    main()
