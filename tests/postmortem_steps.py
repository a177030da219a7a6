"""Steps the postmortem tests share: the seed's 14:02–14:47 incident entered as commands,
and reading what was published (the headline message and the Markdown file)."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from sqlalchemy import select

from bot.models import ActionItem, ActionStatus, Incident, Postmortem
from tests.conftest import ANN, CAROL
from tests.flows import declare
from tests.harness import BotUnderTest, utc

IVAN, OLGA = "U0IVAN", "U0OLGA"
SEED_DAY = (2026, 6, 22)


def at(hour: int, minute: int) -> dt.datetime:
    return utc(*SEED_DAY, hour, minute)


def run(bot: BotUnderTest, when: dt.datetime, text: str, *, user: str = CAROL, channel: str) -> str:
    """Move the clock to `when`, send one command, and return the reply's text."""
    bot.clock.set(when)
    result = bot.command(text, user=user, channel=channel)
    assert result.http.status_code == 200, result.http.text
    return result.text


def seed_incident(bot: BotUnderTest, *, milestones: bool = True) -> str:
    """The seed's outage (000_*: deploy v2.4.1 at 14:02 … metrics normal at 14:47), up to just
    before close. Returns the incident channel. CAROL is in UTC; ANN (Berlin) says `UTC`."""
    bot.standin.add_user(IVAN, name="ivan", tz="UTC")
    bot.standin.add_user(OLGA, name="olga", tz="UTC")
    bot.clock.set(at(14, 6))
    channel = declare(bot, "Checkout API returns 503 sev2", user=CAROL)
    mark = (lambda word: f"{word}: ") if milestones else (lambda word: "")
    run(bot, at(14, 7), f"timeline 14:02 {mark('started')}Deploy v2.4.1", channel=channel)
    run(bot, at(14, 7), f"timeline 14:05 UTC {mark('detected')}503 errors rise, alert fires", user=ANN, channel=channel)
    run(bot, at(14, 10), f"timeline 14:09 {mark('acknowledged')}On-call acknowledges the incident", channel=channel)
    run(bot, at(14, 24), "timeline 14:23 Root cause found: DB connection pool exhausted", channel=channel)
    run(bot, at(14, 32), f"timeline 14:31 {mark('mitigated')}Rolled back to v2.4.0", channel=channel)
    run(
        bot,
        at(14, 40),
        "summary Deploy v2.4.1 exhausted the DB connection pool; about 30% of API requests "
        "returned 503 for 45 minutes until the rollback.",
        channel=channel,
    )
    run(bot, at(14, 40), "impact ~30% of API requests returned 503", channel=channel)
    run(bot, at(14, 40), "impact SLO: spent 45 min of error budget out of 43.2", channel=channel)
    run(bot, at(14, 41), "trigger Deploy of v2.4.1", channel=channel)
    run(
        bot,
        at(14, 41),
        "cause New code opened a connection per request without returning it to the pool.",
        channel=channel,
    )
    run(bot, at(14, 41), "cause Load testing did not cover peak traffic.", channel=channel)
    run(bot, at(14, 42), "went-well The alert arrived within 3 minutes.", channel=channel)
    run(bot, at(14, 42), "went-well The rollback took under 5 minutes.", channel=channel)
    run(bot, at(14, 42), "detection The 503-rate alert fired 3 minutes after the deploy.", channel=channel)
    # the action items as the seed writes them, through the action item commands
    run(bot, at(14, 43), "action Return connections to the pool <@U0IVAN|ivan> by Jun 25 P1", channel=channel)
    run(bot, at(14, 43), "action Add a peak load test <@U0OLGA|olga> by Jun 30 P2", channel=channel)
    run(bot, at(14, 43), "action Alert on DB pool saturation <@U0IVAN|ivan> by Jun 27 P1", channel=channel)
    return channel


def incident_id(bot: BotUnderTest, channel: str) -> int:
    with bot.runtime.db.unit_of_work() as session:
        return session.scalar(select(Incident.id).where(Incident.channel_id == channel))


def add_action_items(bot: BotUnderTest, channel: str, items: list[tuple[str, str | None, dt.date | None, str]]) -> None:
    """Action items are the next issue's commands; here they are rows, as its commands would make."""
    number = incident_id(bot, channel)
    with bot.runtime.db.unit_of_work() as session:
        for text, owner, due, priority in items:
            session.add(
                ActionItem(
                    incident_id=number,
                    text=text,
                    owner_id=owner,
                    due_date=due,
                    priority=priority,
                    status=ActionStatus.OPEN,
                    created_by=CAROL,
                    created_at=bot.clock.now(),
                )
            )


def headlines(bot: BotUnderTest, channel: str) -> list[dict[str, Any]]:
    """The postmortem headline messages in the channel, oldest first (as they stand now)."""
    found = []
    for message in bot.standin.messages.get(channel, []):
        blocks = message.get("blocks") or []
        if any(block.get("block_id", "").startswith("postmortem-") for block in blocks):
            found.append(message)
    return found


def wait_for_headline(bot: BotUnderTest, channel: str, count: int = 1, timeout: float = 15.0) -> dict[str, Any]:
    bot.standin.wait_for(
        "chat.postMessage",
        count=count,
        timeout=timeout,
        where=lambda call: (
            call.params.get("channel") == channel
            and not call.failed
            and "postmortem-" in json.dumps(call.params.get("blocks"))
        ),
    )
    return headlines(bot, channel)[-1]


def draft_files(bot: BotUnderTest, channel: str, prefix: str = "postmortem-") -> list[str]:
    """The contents of the Markdown files uploaded to the channel, oldest first."""
    files = [f for f in bot.standin.files.values() if f["filename"].startswith(prefix) and channel in f["channels"]]
    return [f["content"].decode("utf-8") for f in sorted(files, key=lambda f: f["created"])]


def stored_postmortem(bot: BotUnderTest, channel: str) -> Postmortem | None:
    number = incident_id(bot, channel)
    with bot.runtime.db.unit_of_work() as session:
        return session.scalar(select(Postmortem).where(Postmortem.incident_id == number))


def wait_until_settled(bot: BotUnderTest, channel: str, timeout: float = 15.0) -> Postmortem:
    """The draft's row once its publication attempt is over (published, retrying or failed)."""
    deadline = time.monotonic() + timeout
    while True:
        row = stored_postmortem(bot, channel)
        # attempts counts claims: a row still waiting for its first attempt is not settled
        if row is not None and row.publish_attempts >= 1 and row.publish_state != "publishing":
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"publication still running: {row and row.publish_state}")
        time.sleep(0.02)


def close_and_wait(
    bot: BotUnderTest, channel: str, when: dt.datetime, text: str = "close", *, user: str = CAROL, count: int = 1
) -> tuple[str, dict[str, Any], str]:
    """Close, wait for the draft's headline; returns (reply text, headline message, file content)."""
    reply = run(bot, when, text, user=user, channel=channel)
    headline = wait_for_headline(bot, channel, count=count)
    wait_until_settled(bot, channel)
    return reply, headline, draft_files(bot, channel)[-1]
