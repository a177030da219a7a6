"""Putting a Slack message on a timeline from a listener, shared by the pin reaction, the message
shortcut and its modal: the import in one unit of work (Web API calls outside it), the quiet
confirmation (the bot's own small reaction on the message) and the words for a channel the bot
is not in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot import incidents, message_capture
from bot.message_capture import CapturedMessage, ImportResult, Outcome
from bot.models import EntrySource
from bot.postmortem import status as pm_status
from bot.refs import entry_ref
from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure
from bot.slack.text import slack_date

# The bot's mark on a message that is on a timeline: seen by everyone, notifies no one.
CONFIRM_REACTION = "memo"


@dataclass(frozen=True)
class OwnIds:
    """Who the bot is in this workspace, to recognise its own messages."""

    bot_user_id: str | None
    bot_id: str | None


def own_ids(context: Any, body: dict[str, Any] | None = None) -> OwnIds:
    """From Bolt's context (auth.test, learnt in the background); until that answered, an event's
    own `authorizations` name the bot's user."""
    bot_user_id = context.get("bot_user_id")
    if not bot_user_id and body:
        bot_user_id = next((a.get("user_id") for a in body.get("authorizations") or [] if a.get("is_bot")), None)
    return OwnIds(bot_user_id=bot_user_id, bot_id=context.get("bot_id"))


def invite_hint(channel_id: str) -> str:
    """For a message the bot could not read."""
    return (
        f"I'm not a member of <#{channel_id}>, so I can't read that message. "
        "Add me there with `/invite @incident-bot`, then try again."
    )


def not_following_hint(channel_id: str) -> str:
    """For a message added by shortcut from a channel the bot is not in."""
    return (
        f"I'm not a member of <#{channel_id}>, so I won't see if that message is edited or deleted. "
        "Add me there with `/invite @incident-bot` to keep the entry in step."
    )


def tell_privately(runtime: Runtime, channel_id: str, user: str, text: str) -> None:
    """An ephemeral note in the channel; where the bot cannot post (not a member), a direct message."""
    try:
        runtime.gateway.post_ephemeral(channel_id, user, text)
        return
    except SlackFailure as failure:
        if not failure.channel_gone:
            runtime.logger.warning("could not tell %s in %s: %s", user, channel_id, failure)
            return
    try:
        runtime.gateway.post_message(runtime.gateway.open_dm(user), text)
    except SlackFailure as failure:
        runtime.logger.warning("could not tell %s directly either: %s", user, failure)


def import_into(
    runtime: Runtime,
    incident_id: int,
    message: CapturedMessage,
    *,
    source: EntrySource,
    by: str,
    permalink: str | None,
    occurred_at: Any = None,
) -> ImportResult:
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, incident_id)
        result = message_capture.import_message(
            session,
            incident,
            message,
            source=source,
            by=by,
            now=runtime.clock.now(),
            permalink=permalink,
            occurred_at=occurred_at,
        )
        if result.outcome != Outcome.ALREADY:  # the timeline changed: an approved postmortem is reviewed again
            pm_status.after_edit(session, incident_id, by=by, now=runtime.clock.now(), what=entry_ref(result.entry_id))
            # Whoever put a message on the timeline took part, and is invited to the review meeting.
            pm_status.add_people(session, incident_id, [by], pm_status.PINNER, by=by, now=runtime.clock.now())
        return result


def mark_on_timeline(runtime: Runtime, channel_id: str, ts: str) -> None:
    """Put the bot's confirmation reaction on the message; a failure is logged, as the import
    itself has succeeded."""
    try:
        runtime.gateway.add_reaction(channel_id, ts, CONFIRM_REACTION)
    except SlackFailure as failure:
        runtime.logger.warning("confirmation reaction on %s/%s failed: %s", channel_id, ts, failure)


def follows(runtime: Runtime, channel_id: str) -> bool:
    """Whether the bot is in the channel, and so sees its edits, deletions and pins.
    Direct messages count as followed: there is no one to invite there."""
    if channel_id.startswith("D"):
        return True
    try:
        return bool(runtime.gateway.channel_info(channel_id).get("is_member", True))
    except SlackFailure as failure:
        if failure.channel_gone:  # a private channel the bot is not in looks like no channel at all
            return False
        runtime.logger.warning("could not tell whether the bot is in %s: %s", channel_id, failure)
        return True


def confirm_shortcut(runtime: Runtime, channel_id: str, ts: str, text: str) -> str:
    """The reply to whoever used the shortcut, with the mark on the message where the bot is a member
    and, where it is not, how to add it."""
    if follows(runtime, channel_id):
        if not channel_id.startswith("D"):
            mark_on_timeline(runtime, channel_id, ts)
        return text
    return text + "\n" + not_following_hint(channel_id)


def confirmation(result: ImportResult, channel_of_incident: str | None = None) -> str:
    ref = entry_ref(result.entry_id)
    where = f" of <#{channel_of_incident}>" if channel_of_incident else ""
    when = slack_date(result.occurred_at, "{date_short_pretty} {time_secs}")
    if result.outcome is Outcome.ALREADY:
        return f":memo: That message is already on the timeline{where} as *{ref}* (at {when})."
    if result.outcome is Outcome.RESTORED:
        return f":memo: That message is back on the timeline{where} as *{ref}*, at {when}."
    return f":memo: Added to the timeline{where} as *{ref}*, at {when}."
