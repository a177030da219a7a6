"""Steps the nudge tests share: find posted nudges, count them per channel and week, seed many items."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import select

from bot import incidents
from bot.actions import items as action_items
from bot.actions.grammar import ActionDraft
from bot.models import ActionItem
from bot.nudges.claims import EVENT_TYPE
from tests.harness import BOT_TOKEN, SIGNING_SECRET, reply_text
from tests.slack_standin import SlackStandIn


def is_nudge(message: dict[str, Any]) -> bool:
    return ((message.get("metadata") or {}).get("event_type")) == EVENT_TYPE


def posted_nudges(standin: SlackStandIn, channel: str, kind: str | None = None) -> list[dict[str, Any]]:
    """The reminders the bot posted in a channel, oldest first (as they are now, after any chat.update)."""
    found = [m for m in standin.messages.get(channel, []) if is_nudge(m)]
    return [m for m in found if kind is None or m["metadata"]["event_payload"]["kind"] == kind]


def dm_nudges(standin: SlackStandIn, user: str) -> list[dict[str, Any]]:
    channel = standin.dm_channel(user)
    return posted_nudges(standin, channel) if channel else []


def nudge_posts(standin: SlackStandIn) -> Counter:
    """Successful chat.postMessage calls that carried a reminder, by (channel, kind, period)."""
    counts: Counter = Counter()
    for call in standin.calls_to("chat.postMessage"):
        metadata = call.params.get("metadata") or {}
        if call.failed or metadata.get("event_type") != EVENT_TYPE:
            continue
        payload = metadata["event_payload"]
        counts[(call.params["channel"], payload["kind"], payload["period"])] += 1
    return counts


def text_of(message: dict[str, Any]) -> str:
    return reply_text(message)


def block_texts(message: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in message.get("blocks") or [] if b.get("type") == "section"]


def button_rows(message: dict[str, Any]) -> list[str]:
    return [b["block_id"] for b in message.get("blocks") or [] if b.get("type") == "actions"]


def items(db) -> list[ActionItem]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(ActionItem).order_by(ActionItem.id)))


def item_named(db, text: str) -> ActionItem:
    [found] = [item for item in items(db) if item.text == text]
    return found


def seed_items(
    db,
    channel: str,
    count: int,
    *,
    owner: str | None,
    by: str,
    now: dt.datetime,
    due: dt.date | None = None,
    prefix: str = "Item",
) -> None:
    """Many items at once through the service (the commands are tested elsewhere)."""
    with db.unit_of_work() as session:
        incident = incidents.require_by_channel(session, channel)
        for number in range(count):
            draft = ActionDraft(f"{prefix} {number} needs a careful follow-up", owner, due, None, None)
            action_items.add(
                session,
                incident,
                draft,
                by=by,
                now=now,
                today=now.date(),
                due_days={"sev1": 15, "sev2": 30, "sev3": 45, "sev4": 45},
            )


def cli_env(standin: SlackStandIn, db_url: str, **more: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": standin.base_url,
        "DATABASE_URL": db_url,
        "INCIDENT_TIMEZONE": "UTC",
        **more,
    }
