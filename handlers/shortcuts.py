"""The message shortcut "Add to incident timeline".

Used in an incident's channel, it adds the message to that incident's timeline at once. Used
anywhere else, it opens a modal (straight away: the trigger id lives three seconds) to choose one
of the open incidents; `handlers/modals.py` takes the submission. Answers go only to the person
who used the shortcut, through the payload's response_url.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import incidents, message_capture
from bot.errors import UserError
from bot.models import EntrySource
from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure
from handlers import modals
from handlers.capture import OwnIds, confirm_shortcut, confirmation, import_into, own_ids
from handlers.replies import after_ack, answering_failures, best_effort, respond

CALLBACK_ID = "add_to_incident_timeline"


def register(app: App, runtime: Runtime) -> None:
    @app.shortcut(CALLBACK_ID)
    def on_shortcut(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        ack()
        # On a thread of its own, not behind queued background work: the trigger id for the
        # modal expires three seconds after the click.
        after_ack(runtime, "adding a message to a timeline", add_or_ask, runtime, body, own_ids(context), urgent=True)


def add_or_ask(runtime: Runtime, body: dict[str, Any], own: OwnIds) -> None:
    response_url = body.get("response_url", "")
    user = (body.get("user") or {}).get("id", "")
    channel_id = (body.get("channel") or {}).get("id", "")
    message = body.get("message") or {}
    with answering_failures(runtime, response_url, "adding a message to a timeline", user=user, channel=channel_id):
        if not message.get("ts") or not channel_id:
            raise UserError("Slack did not say which message this was; try the shortcut again.")
        if message_capture.is_own_message(message, bot_user_id=own.bot_user_id, bot_id=own.bot_id):
            raise UserError("That is one of my own messages; what it says is on the timeline already.")
        with runtime.db.unit_of_work() as session:
            incident = incidents.find_by_channel(session, channel_id)
            incident_id = incident.id if incident else None
            choices = (
                [] if incident else modals.incident_choices(incidents.list_open(session, limit=modals.MAX_CHOICES))
            )
        if incident_id is None:
            if not choices:
                raise UserError(
                    "There is no open incident to add this message to. Declare one with "
                    "`/incident declare <title> [sev1-4]`, then use the shortcut again."
                )
            # Warm the zone cache meanwhile: the modal's time is read in the user's zone, before its ack.
            runtime.after_ack.submit(
                best_effort, runtime, "reading the user's time zone", runtime.gateway.user_timezone, user
            )
            try:
                runtime.gateway.open_view(
                    body.get("trigger_id", ""),
                    modals.add_to_timeline_view(
                        channel_id=channel_id,
                        message=message,
                        response_url=response_url,
                        choices=choices,
                    ),
                )
            except SlackFailure as failure:
                if failure.code != "expired_trigger_id":
                    raise
                raise UserError(
                    "Slack took too long to open the form, so it expired. Use the shortcut again."
                ) from None
            return
        ts = message["ts"]
        result = import_into(
            runtime,
            incident_id,
            message_capture.captured(channel_id, message),
            source=EntrySource.SHORTCUT,
            by=user,
            permalink=runtime.gateway.permalink(channel_id, ts),
        )
        respond(runtime, response_url, confirm_shortcut(runtime, channel_id, ts, confirmation(result)))
