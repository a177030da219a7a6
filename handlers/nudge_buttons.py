"""The buttons on a nudge: Done, Snooze 1 week, Reassign (a people picker).

Each click changes the item (kept as a revision and on the timeline, like the sub-commands) and
then rewrites the nudge message in place (chat.update) from what the database says now. A click
that cannot be done (the item was closed meanwhile) is answered to the clicker only, and the
message is still refreshed so it stops offering the stale buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot import home
from bot.actions import items as action_items
from bot.errors import UserError
from bot.models import ActionItem
from bot.nudges import messages as nudge_messages
from bot.nudges import weekly as nudges
from bot.runtime import Runtime
from bot.schedule_spec import parse_weekly_schedule
from handlers import ticket_commands
from handlers.replies import after_ack, answering_failures, best_effort, body_value


def done_change(session: Any, item: ActionItem, user: str, now: Any) -> Any:
    """What a Done button does (on a nudge or on the App Home)."""
    return action_items.mark_done(session, item, by=user, now=now)


def snooze_change(runtime: Runtime) -> Callable[[Any, ActionItem, str, Any], Any]:
    """What a Snooze button does: quiet until the next weekly nudge but one."""
    settings = runtime.settings
    schedule = parse_weekly_schedule(settings.nudge_schedule)
    return lambda session, item, user, now: action_items.snooze(
        session, item, nudges.snooze_until(now, schedule, settings.timezone), by=user, now=now
    )


def register(app: App, runtime: Runtime) -> None:
    @app.action(nudge_messages.DONE_ACTION)
    def press_done(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        _click(runtime, body, action, "marking an item done from a nudge", done_change)

    @app.action(nudge_messages.SNOOZE_ACTION)
    def press_snooze(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        _click(runtime, body, action, "snoozing an item from a nudge", snooze_change(runtime))

    @app.action(nudge_messages.REASSIGN_ACTION)
    def pick_owner(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        new_owner = action.get("selected_user")
        if not new_owner:
            return
        _click(
            runtime,
            body,
            action,
            "reassigning an item from a nudge",
            lambda session, item, user, now: action_items.assign(session, item, new_owner, by=user, now=now),
        )


def _item_id(action: dict[str, Any]) -> int:
    # Buttons carry the id as their value; the people picker only has its block's id.
    raw = action.get("value") or str(action.get("block_id", "")).rpartition(":")[2]
    return int(raw)


def _click(
    runtime: Runtime,
    body: dict[str, Any],
    action: dict[str, Any],
    what: str,
    change: Callable[[Any, ActionItem, str, Any], object],
) -> None:
    after_ack(runtime, what, _change_and_refresh, runtime, body, action, what, change)


def _change_and_refresh(
    runtime: Runtime,
    body: dict[str, Any],
    action: dict[str, Any],
    what: str,
    change: Callable[[Any, ActionItem, str, Any], object],
) -> None:
    user = body_value(body, "user", "id") or ""
    channel = body_value(body, "container", "channel_id") or body_value(body, "channel", "id") or ""
    message = body.get("message") or {}
    response_url = body.get("response_url")
    with answering_failures(runtime, response_url, what, user=user, channel=channel):
        refusal: str | None = None
        now = runtime.clock.now()
        with runtime.db.unit_of_work() as session:
            item, _ = action_items.get_visible(session, _item_id(action), user_id=user, channel_id=channel)
            owners = [item.owner_id or ""]
            try:
                change(session, item, user, now)  # refusals come before any change
            except UserError as err:
                refusal = str(err)
            owners.append(item.owner_id or "")
        ticket_commands.after_item_change(runtime)  # Done closes the item's ticket too
        _refresh_message(runtime, channel, message)
        home.refresh_later(runtime, owners)  # the old and the new owner's App Home
        if refusal:
            raise UserError(refusal)


def _refresh_message(runtime: Runtime, channel: str, message: dict[str, Any]) -> None:
    blocks = message.get("blocks") or []
    ts = message.get("ts")
    if not ts or not blocks:
        return
    today = runtime.clock.now().astimezone(runtime.settings.timezone).date()
    with runtime.db.unit_of_work() as session:
        current = action_items.entries_by_ids(session, nudge_messages.item_ids_in(blocks))
        new_blocks = nudge_messages.refreshed(blocks, current, today=today)
    best_effort(
        runtime,
        "updating the nudge message",
        runtime.gateway.update_message,
        channel,
        ts,
        message.get("text") or "Open action items",
        new_blocks,
    )
