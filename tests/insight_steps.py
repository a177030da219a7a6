"""Steps the insights tests share: a past incident entered as commands on a given day."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from bot.models import ActionItem, Incident
from tests.conftest import CAROL
from tests.flows import declare
from tests.harness import BotUnderTest


def run(bot: BotUnderTest, text: str, *, channel: str, user: str = CAROL) -> str:
    result = bot.command(text, user=user, channel=channel)
    assert result.http.status_code == 200, result.http.text
    return result.text


def past_incident(
    bot: BotUnderTest,
    start: dt.datetime,
    title: str,
    *,
    trigger: str | None = None,
    causes: tuple[str, ...] = (),
    detect_after: int | None = None,
    ack_after: int | None = None,
    mitigate_after: int | None = None,
    resolve_after: int | None = None,
    tags: str = "",
    items: tuple[str, ...] = (),
    detection: str | None = None,
    user: str = CAROL,
) -> str:
    """Declare at `start` (the impact start too), add the facts and milestones (minutes after the
    start), and close at the resolution when one is given. Returns the channel."""
    bot.clock.set(start)
    channel = declare(bot, title, user=user)
    run(bot, f"timeline {start:%Y-%m-%d %H:%M} UTC started: impact begins", channel=channel)
    if tags:
        run(bot, f"tag {tags}", channel=channel)
    if trigger:
        run(bot, f"trigger {trigger}", channel=channel)
    for cause in causes:
        run(bot, f"cause {cause}", channel=channel)
    if detection:
        run(bot, f"detection {detection}", channel=channel)
    for word, after in (("detected", detect_after), ("acknowledged", ack_after), ("mitigated", mitigate_after)):
        if after is not None:
            at = start + dt.timedelta(minutes=after)
            bot.clock.set(max(bot.clock.now(), at))
            run(bot, f"timeline {at:%Y-%m-%d %H:%M} UTC {word}: {word} it", channel=channel)
    for item in items:
        run(bot, f"action {item}", channel=channel)
    if resolve_after is not None:
        at = start + dt.timedelta(minutes=resolve_after)
        bot.clock.set(max(bot.clock.now(), at))
        run(bot, f"close {at:%Y-%m-%d %H:%M} UTC all good", channel=channel)
    return channel


def incident_in(db, channel: str) -> Incident:
    with db.unit_of_work() as session:
        return session.scalar(select(Incident).where(Incident.channel_id == channel))


def make_private(db, channel: str) -> None:
    with db.unit_of_work() as session:
        session.execute(update(Incident).where(Incident.channel_id == channel).values(is_private=True))


def items_of(db, channel: str) -> list[ActionItem]:
    incident = incident_in(db, channel)
    with db.unit_of_work() as session:
        return list(
            session.scalars(select(ActionItem).where(ActionItem.incident_id == incident.id).order_by(ActionItem.id))
        )
