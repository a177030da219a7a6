"""Events API listeners. Every event the manifest subscribes to has a listener here, even
the ones the bot ignores: an unanswered event gets 404, which Slack retries and may disable.

The timeline follows the conversation from here: a pin reaction puts a message on its incident's
timeline, removing the last pin takes it off, and edits and deletions of the message follow it.
Bolt acknowledges an event before its listener runs, so the work below never delays the answer;
Slack may still deliver an event twice (retries, replicas), which the import's unique key absorbs.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App, BoltContext

from bot import incidents, message_capture
from bot.message_capture import is_own_message, reaction_name, still_pinned
from bot.models import EntrySource
from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure
from handlers.capture import (
    CONFIRM_REACTION,
    OwnIds,
    import_into,
    invite_hint,
    mark_on_timeline,
    own_ids,
    tell_privately,
)
from handlers.replies import after_ack, answering_failures, best_effort

# Events subscribed in manifest.yml that need no work; acknowledged so Slack stays content.
IGNORED_EVENTS: tuple[str, ...] = ("member_joined_channel",)
# Message events that change an imported entry; every other message event is dropped.
FOLLOWED_SUBTYPES = frozenset({"message_changed", "message_deleted"})


def leads_to_work(event: dict[str, Any], runtime: Runtime) -> bool:
    """Whether the listeners below have work for this event (the intake stores only those)."""
    kind = event.get("type")
    if kind in ("reaction_added", "reaction_removed"):
        return _pinned_item(runtime, event) is not None
    return kind == "message" and event.get("subtype") in FOLLOWED_SUBTYPES


def register(app: App, runtime: Runtime) -> None:
    for event_type in IGNORED_EVENTS:
        app.event(event_type)(_acknowledge_only)

    @app.event("reaction_added")
    def on_reaction_added(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        after_ack(runtime, "handling a reaction", pin_added, runtime, event, own_ids(context, body), for_event=True)

    @app.event("reaction_removed")
    def on_reaction_removed(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        after_ack(
            runtime, "handling a removed reaction", pin_removed, runtime, event, own_ids(context, body), for_event=True
        )

    # Every message event of the subscribed channels comes here (new messages, joins, edits …);
    # only edits and deletions matter, the rest is dropped at once.
    @app.event("message")
    def on_message(event: dict[str, Any]) -> None:
        if event.get("subtype") in FOLLOWED_SUBTYPES:
            after_ack(runtime, "following a message edit", message_event, runtime, event, for_event=True)

    # Last: any other event (one added to the app's subscriptions in Slack's settings, say) is
    # acknowledged too. Bolt answers an event nobody listens to with 404, which Slack retries.
    app.event(re.compile(".*"))(_acknowledge_only)


def _acknowledge_only(body: dict[str, Any]) -> None:
    """Nothing to do; Bolt acknowledges events before listeners run."""


def _pinned_item(runtime: Runtime, event: dict[str, Any]) -> tuple[str, str] | None:
    """(channel, ts) of the message when the reaction is one of the pin reactions, else None."""
    item = event.get("item") or {}
    if item.get("type") != "message" or reaction_name(event.get("reaction", "")) not in runtime.settings.pin_reactions:
        return None
    if not item.get("channel") or not item.get("ts"):
        return None
    return item["channel"], item["ts"]


def pin_added(runtime: Runtime, event: dict[str, Any], own: OwnIds) -> None:
    target = _pinned_item(runtime, event)
    if target is None:
        return
    channel_id, ts = target
    user = event.get("user", "")
    if own.bot_user_id and event.get("item_user") == own.bot_user_id:
        return  # the bot's own announcements and updates are on the timeline already
    with answering_failures(runtime, None, "putting a pinned message on the timeline", user=user, channel=channel_id):
        with runtime.db.unit_of_work() as session:
            incident = incidents.find_by_channel(session, channel_id)
            if incident is None:
                return
            incident_id = incident.id
            existing = message_capture.find_import(session, incident_id, channel_id, ts)
            on_timeline = existing is not None and existing.removed_at is None
        if on_timeline:
            # A retry, a second person's pin: the entry is there; make sure the mark is too.
            mark_on_timeline(runtime, channel_id, ts)
            return
        try:
            message = runtime.gateway.fetch_message(channel_id, ts)
        except SlackFailure as failure:
            if not failure.channel_gone:
                raise
            tell_privately(runtime, channel_id, user, invite_hint(channel_id))
            return
        if message is None or is_own_message(message, bot_user_id=own.bot_user_id, bot_id=own.bot_id):
            return  # deleted meanwhile, or the bot's own
        if not still_pinned(message, runtime.settings.pin_reactions, bot_user_id=own.bot_user_id):
            return  # a late or retried event for a pin that was already taken away: Slack's state wins
        permalink = runtime.gateway.permalink(channel_id, ts)
        import_into(
            runtime,
            incident_id,
            message_capture.captured(channel_id, message),
            source=EntrySource.REACTION,
            by=user,
            permalink=permalink,
        )
        mark_on_timeline(runtime, channel_id, ts)


def pin_removed(runtime: Runtime, event: dict[str, Any], own: OwnIds) -> None:
    target = _pinned_item(runtime, event)
    if target is None:
        return
    channel_id, ts = target
    user = event.get("user", "")
    with answering_failures(
        runtime, None, "taking an un-pinned message off the timeline", user=user, channel=channel_id
    ):
        with runtime.db.unit_of_work() as session:
            incident = incidents.find_by_channel(session, channel_id)
            entry = message_capture.find_import(session, incident.id, channel_id, ts) if incident else None
            if (
                incident is None
                or entry is None
                or entry.removed_at is not None
                or entry.source != EntrySource.REACTION
            ):
                return
            incident_id = incident.id
        # Several people may have pinned it: it stays while anyone's pin does.
        message = runtime.gateway.fetch_message(channel_id, ts)
        if message is None:
            return  # deleted: message_deleted takes it off, with the right reason
        if still_pinned(message, runtime.settings.pin_reactions, bot_user_id=own.bot_user_id):
            return
        with runtime.db.unit_of_work() as session:
            incident = incidents.get(session, incident_id)
            removed = message_capture.unpin(session, incident, channel_id, ts, by=user, now=runtime.clock.now())
        if removed is not None:
            best_effort(
                runtime,
                "removing the confirmation reaction",
                runtime.gateway.remove_reaction,
                channel_id,
                ts,
                CONFIRM_REACTION,
            )


def message_event(runtime: Runtime, event: dict[str, Any]) -> None:
    subtype = event.get("subtype")
    channel_id = event.get("channel", "")
    if subtype == "message_changed":
        message = event.get("message") or {}
        ts = message.get("ts")
        if not ts:
            return
        with runtime.db.unit_of_work() as session:
            if message.get("subtype") == "tombstone":
                # A thread's parent deleted while its replies stay: Slack keeps a placeholder.
                message_capture.follow_deletion(
                    session, channel_id, ts, by=message_capture.SLACK, now=runtime.clock.now()
                )
            else:
                message_capture.follow_edit(session, channel_id, ts, message, now=runtime.clock.now())
    elif subtype == "message_deleted":
        ts = event.get("deleted_ts")
        if not ts:
            return
        deleted_by = (event.get("previous_message") or {}).get("user") or message_capture.SLACK
        with runtime.db.unit_of_work() as session:
            message_capture.follow_deletion(session, channel_id, ts, by=deleted_by, now=runtime.clock.now())
