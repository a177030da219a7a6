"""Steps the follow-up tests share: a small closed incident, DMs to a person, the draft's status."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from bot.models import PostmortemStatusChange
from tests.conftest import ANN, BOB, CAROL
from tests.flows import declare
from tests.harness import BotUnderTest, reply_text, utc
from tests.postmortem_steps import (
    close_and_wait,
    draft_files,
    headlines,
    incident_id,
    run,
    stored_postmortem,
)

DAN = "U0DAN"  # takes no part in the incident


def t(hour: int, minute: int, day: int = 22) -> dt.datetime:
    return utc(2026, 6, day, hour, minute)


def closed_incident(bot: BotUnderTest, title: str = "Checkout returns 503 sev2") -> str:
    """CAROL declares (and so commands); ANN and BOB write on the timeline and add a fact; CAROL
    closes at 15:00 (resolved 14:47). Returns the incident's channel, with its draft published."""
    if DAN not in bot.standin.users:
        bot.standin.add_user(DAN, name="dan", tz="UTC")
    bot.clock.set(t(14, 0))
    channel = declare(bot, title, user=CAROL)
    run(bot, t(14, 5), "timeline 14:02 UTC started: deploy v2.4.1", user=ANN, channel=channel)
    run(bot, t(14, 10), "timeline 14:08 UTC detected: alert fired", user=BOB, channel=channel)
    run(bot, t(14, 20), "summary Deploy v2.4.1 exhausted the DB pool", user=ANN, channel=channel)
    close_and_wait(bot, channel, t(15, 0), "close 14:47 Metrics normal", user=CAROL)
    return channel


def dms(bot: BotUnderTest, user: str) -> list[str]:
    """The texts of the messages the bot sent to this person directly, oldest first."""
    channel = bot.standin.dm_channel(user)
    return [reply_text(m) for m in bot.standin.messages.get(channel, [])] if channel else []


def history(bot: BotUnderTest, channel: str) -> list[tuple[str, str, str | None]]:
    number = incident_id(bot, channel)
    with bot.runtime.db.unit_of_work() as session:
        rows = session.scalars(
            select(PostmortemStatusChange)
            .where(PostmortemStatusChange.incident_id == number)
            .order_by(PostmortemStatusChange.id)
        )
        return [(r.status, r.changed_by, r.reason) for r in rows]


def status(bot: BotUnderTest, channel: str) -> str:
    return stored_postmortem(bot, channel).status  # type: ignore[union-attr]


def latest_draft(bot: BotUnderTest, channel: str) -> str:
    return draft_files(bot, channel)[-1]


def headline_text(bot: BotUnderTest, channel: str) -> str:
    return reply_text(headlines(bot, channel)[-1])


def headline(bot: BotUnderTest, channel: str) -> dict[str, Any]:
    return headlines(bot, channel)[-1]
