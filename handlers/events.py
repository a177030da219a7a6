"""Events API listeners. Every event the manifest subscribes to has a listener here, even
the ones the bot ignores: an unanswered event gets 404, which Slack retries and may disable."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.runtime import Runtime

# Events subscribed in manifest.yml that need no work; acknowledged so Slack stays content.
IGNORED_EVENTS: tuple[str, ...] = ("member_joined_channel",)


def register(app: App, runtime: Runtime) -> None:
    for event_type in IGNORED_EVENTS:
        app.event(event_type)(_acknowledge_only)


def _acknowledge_only(body: dict[str, Any]) -> None:
    """Nothing to do; Bolt acknowledges events before listeners run."""
