"""The App Home tab: published when someone opens it, and its Done / Snooze buttons.

`app_home_opened` is acknowledged at once (Bolt acks events first) and the view is built and
published after; the Messages tab opening is ignored. A click changes the item the same way the
nudge's buttons do, then publishes the view again, with a line on top when the click could not
be done (Home has no response_url to answer through).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot import home
from bot.actions import items as action_items
from bot.errors import UserError, report_unexpected, unexpected_error_text
from bot.models import ActionItem
from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure
from handlers.nudge_buttons import done_change, snooze_change
from handlers.replies import after_ack, body_value


def register(app: App, runtime: Runtime) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        after_ack(runtime, "publishing an App Home", _publish, runtime, event["user"], None, for_event=True)

    @app.action(home.DONE_ACTION)
    def press_done(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        after_ack(runtime, "marking an item done from the App Home", _click, runtime, body, action, done_change)

    @app.action(home.SNOOZE_ACTION)
    def press_snooze(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        after_ack(runtime, "snoozing an item from the App Home", _click, runtime, body, action, snooze_change(runtime))


def _publish(runtime: Runtime, user: str, notice: str | None) -> None:
    try:
        home.publish(runtime, user, notice=notice)
    except SlackFailure as failure:
        runtime.logger.warning("publishing the App Home of %s failed: %s", user, failure)


def _click(
    runtime: Runtime, body: dict[str, Any], action: dict[str, Any], change: Callable[[Any, ActionItem, str, Any], Any]
) -> None:
    user = body_value(body, "user", "id") or ""
    notice = None
    try:
        with runtime.db.unit_of_work() as session:
            # From the Home tab no channel is involved: the item's owner, commander and declarer see it.
            item, _ = action_items.get_visible(session, int(action.get("value", "")), user_id=user, channel_id="")
            result = change(session, item, user, runtime.clock.now())
            notice = f":white_check_mark: {result.summary}"
    except UserError as err:
        notice = f":warning: {err}"
    except Exception:  # noqa: BLE001 - logged with an id, and the person sees the id on their Home
        notice = unexpected_error_text(report_unexpected(runtime.logger, "changing an item from the App Home"))
    _publish(runtime, user, notice)
