"""A storm of pin reactions: many messages, each pinned by several people, each event retried.

Runs the real app under uvicorn against the Slack stand-in and fires every delivery at once
from many threads, as Slack does when an incident channel is busy and the bot was slow to
answer. Prints acknowledgement latency, how long until every message was on the timeline, and
how many entries were made per message (it must be exactly one).

    python bench/pin_storm.py [--messages 100] [--pinners 3] [--retries 2] [--concurrency 64] [--db URL]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from common import latency_line, migrated_database, running_bot
from sqlalchemy import select

from bot.models import TimelineEntry


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--pinners", type=int, default=3, help="people pinning each message")
    parser.add_argument("--retries", type=int, default=2, help="Slack retries of each delivery")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    db = migrated_database(args.db)
    people = [f"U0P{n:03d}" for n in range(args.pinners)]
    bot, standin = running_bot(db, people)
    declared = bot.command("declare Pin storm sev2", user=people[0], channel="C0GENERAL")
    channel = declared.text.split("<#")[1].split(">")[0]
    messages = [
        standin.add_message(channel, user=people[n % len(people)], text=f"finding {n}") for n in range(args.messages)
    ]
    for ts in messages:
        for person in people:
            standin.react(channel, ts, "pushpin", user=person)

    deliveries = [
        (ts, person, retry) for ts in messages for person in people for retry in [None, *range(1, args.retries + 1)]
    ]

    def deliver(delivery: tuple[str, str, int | None]) -> float:
        ts, person, retry = delivery
        event = {
            "type": "reaction_added",
            "user": person,
            "reaction": "pushpin",
            "item_user": people[0],
            "item": {"type": "message", "channel": channel, "ts": ts},
        }
        started = time.monotonic()
        response = bot.event(event, event_id=f"Ev{ts}{person}", retry_num=retry)
        assert response.status_code == 200, response.text
        return time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        acks = list(pool.map(deliver, deliveries))
    bot.settle(timeout=300)
    finished = time.monotonic()
    with db.unit_of_work() as session:
        per_message = Counter(
            session.scalars(select(TimelineEntry.source_ts).where(TimelineEntry.source_ts.is_not(None)))
        )
    bot.stop()
    standin.stop()

    print(
        f"messages={args.messages} pinners={args.pinners} retries={args.retries} deliveries={len(deliveries)} "
        f"concurrency={args.concurrency} db={db.engine.dialect.name}"
    )
    print(latency_line("ack  ", acks))
    print(
        f"every delivery handled {finished - started:.1f}s after the first ({len(deliveries) / (finished - started):.0f} deliveries/s)"
    )
    print(
        f"entries per message: {sorted(Counter(per_message.values()).items())} (want [(1, {args.messages})]); "
        f"messages missing: {len(set(messages) - set(per_message))}"
    )


if __name__ == "__main__":
    main()
