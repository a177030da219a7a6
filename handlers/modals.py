"""The "Add to incident timeline" modal: built when the shortcut is used outside an incident's
channel, and its submission — which open incident, optionally a corrected time (the timeline's own
`<when>` grammar, in the user's zone) and a note.

Problems the user can fix (a time that cannot be read) are shown in the modal itself
(`response_action="errors"`) before anything is stored; the work after that runs once the modal
is closed, and its outcome reaches the user through the shortcut's response_url.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App

from bot import incidents, message_capture
from bot.message_capture import CapturedMessage, Outcome
from bot.models import EntrySource, Incident
from bot.refs import entry_ref
from bot.runtime import Runtime
from bot.slack import blocks as bk
from bot.slack.gateway import SlackFailure
from bot.slack.text import incoming, safe_mrkdwn, slack_date, unescape_incoming
from bot.timegrammar import TimeGrammarError, parse_leading_when
from handlers.capture import confirm_shortcut, confirmation, import_into, invite_hint
from handlers.replies import after_ack, answering_failures, body_value, respond

CALLBACK_ID = "add_to_timeline_modal"
INCIDENT_BLOCK, INCIDENT_ACTION = "incident", "incident_choice"
WHEN_BLOCK, WHEN_ACTION = "when", "when_text"
NOTE_BLOCK, NOTE_ACTION = "note", "note_text"
MAX_CHOICES = bk.MAX_OPTIONS
MAX_NOTE = 2000
_PREVIEW = 300
TIME_EXAMPLES = "e.g. 14:05, 10m ago, yesterday 23:40 or 14:05 UTC"


def register(app: App, runtime: Runtime) -> None:
    @app.view(CALLBACK_ID)
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit(runtime, ack, body, view)


def incident_choices(open_incidents: list[Incident]) -> list[tuple[int, str]]:
    return [(i.id, f"#{i.channel_name or i.channel_id} · {i.title} ({i.severity.upper()})") for i in open_incidents]


def add_to_timeline_view(
    *, channel_id: str, message: dict[str, Any], response_url: str, choices: list[tuple[int, str]]
) -> dict[str, Any]:
    author = message_capture.author_of(message)
    text = message_capture.entry_text(message)
    metadata = {"c": channel_id, "ts": message["ts"], "u": author, "r": response_url, "x": text}
    encoded = json.dumps(metadata, separators=(",", ":"))
    if len(encoded) > bk.MAX_PRIVATE_METADATA:
        # Too long to carry: read again from Slack on submission (possible where the bot is a member).
        metadata["x"] = None
        encoded = json.dumps(metadata, separators=(",", ":"))
    options = [bk.option(label, str(incident_id)) for incident_id, label in choices]
    posted = slack_date(message_capture.posted_at(message["ts"]), "{date_short_pretty} {time}")
    preview = safe_mrkdwn(bk.truncate(text, _PREVIEW)) or "_(no text)_"
    blocks = [
        bk.context(f"<@{author}> · {posted}", preview),
        bk.input_block(
            INCIDENT_BLOCK,
            "Incident",
            bk.static_select(
                INCIDENT_ACTION,
                options,
                placeholder="Choose an open incident",
                initial=options[0] if len(options) == 1 else None,
            ),
        ),
        bk.input_block(
            WHEN_BLOCK,
            "Time (leave empty for when it was posted)",
            bk.text_input(WHEN_ACTION, placeholder=TIME_EXAMPLES, max_length=60),
            optional=True,
            hint="Clock times are read in your own Slack time zone.",
        ),
        bk.input_block(
            NOTE_BLOCK,
            "Note",
            bk.text_input(NOTE_ACTION, multiline=True, max_length=MAX_NOTE),
            optional=True,
            hint="Added to the timeline beside the message, in your name.",
        ),
    ]
    return bk.modal(CALLBACK_ID, "Add to timeline", blocks, submit="Add", private_metadata=encoded)


def _field(view: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    return body_value(view, "state", "values", block_id, action_id) or {}


def _time_error(err: TimeGrammarError) -> str:
    """The grammar's first line as plain text: modal errors show no mrkdwn."""
    first = str(err).split("\n", 1)[0].replace("`", "")
    return bk.truncate(unescape_incoming(first), 150 - len(TIME_EXAMPLES) - 8) + f" Try {TIME_EXAMPLES}."


def _read_again(runtime: Runtime, channel_id: str, ts: str) -> str | None:
    """The message's entry text from Slack; None when it is gone or the bot cannot read the channel."""
    try:
        fetched = runtime.gateway.fetch_message(channel_id, ts)
    except SlackFailure as failure:
        if failure.channel_gone:
            return None
        raise
    return message_capture.entry_text(fetched) if fetched is not None else None


@dataclass(frozen=True)
class Submission:
    """A valid submission: what to add where, as read from the modal before its ack."""

    user: str
    incident_id: int
    incident_channel: str
    channel_id: str
    ts: str
    author_id: str
    text: str | None  # None: too long to carry in the modal, read again from Slack
    response_url: str | None
    when_text: str
    occurred_at: dt.datetime | None
    time_note: str | None
    note: str


def submit(runtime: Runtime, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    """Check the modal's fields (errors go back into the modal, nothing stored), then ack and add."""
    submission, errors = read_submission(runtime, body, view)
    if submission is None:
        ack(response_action="errors", errors=errors)
        return
    ack()
    after_ack(runtime, "adding a message from the modal", add_submitted, runtime, submission)


def read_submission(
    runtime: Runtime, body: dict[str, Any], view: dict[str, Any]
) -> tuple[Submission | None, dict[str, str]]:
    user = body_value(body, "user", "id") or ""
    meta = json.loads(view.get("private_metadata") or "{}")
    chosen = body_value(_field(view, INCIDENT_BLOCK, INCIDENT_ACTION), "selected_option", "value") or ""
    when_text = incoming(_field(view, WHEN_BLOCK, WHEN_ACTION).get("value") or "").strip()
    note = incoming(_field(view, NOTE_BLOCK, NOTE_ACTION).get("value") or "").strip()

    errors: dict[str, str] = {}
    occurred_at = time_note = None
    if when_text:
        # Read before the ack: from the cache (warmed when the modal opened), or from Slack only if it
        # answers within a second, so the modal's ack stays well inside Slack's three.
        own_zone = runtime.gateway.user_timezone_soon(user, within_seconds=1.0)
        zone = own_zone or runtime.settings.timezone
        try:
            parsed = parse_leading_when(when_text, now=runtime.clock.now(), zone=zone)
        except TimeGrammarError as err:
            errors[WHEN_BLOCK] = _time_error(err)
        else:
            if not parsed.given or parsed.rest:
                errors[WHEN_BLOCK] = f"Give only a time here, {TIME_EXAMPLES}."
            occurred_at, time_note = parsed.occurred_at, parsed.note
            if own_zone is None:
                time_note = f"I couldn't read your Slack time zone, so the time was read in {zone.key}."
    incident_channel = None
    if chosen.isdigit():
        with runtime.db.unit_of_work() as session:
            incident = session.get(Incident, int(chosen))
            incident_channel = incident.channel_id if incident else None
    if incident_channel is None:
        errors[INCIDENT_BLOCK] = "Choose one of the open incidents."
    if errors or incident_channel is None:
        return None, errors
    return Submission(
        user=user,
        incident_id=int(chosen),
        incident_channel=incident_channel,
        channel_id=meta["c"],
        ts=meta["ts"],
        author_id=meta.get("u") or user,
        text=meta.get("x"),
        response_url=meta.get("r") or None,
        when_text=when_text,
        occurred_at=occurred_at,
        time_note=time_note,
        note=note,
    ), {}


def add_submitted(runtime: Runtime, sub: Submission) -> None:
    with answering_failures(
        runtime,
        sub.response_url,
        "adding a message to a timeline from the modal",
        user=sub.user,
        channel=sub.channel_id,
    ):
        text = sub.text if sub.text is not None else _read_again(runtime, sub.channel_id, sub.ts)
        if text is None:
            _tell(runtime, sub, invite_hint(sub.channel_id))
            return
        message = CapturedMessage(channel_id=sub.channel_id, ts=sub.ts, author_id=sub.author_id, text=text)
        result = import_into(
            runtime,
            sub.incident_id,
            message,
            source=EntrySource.SHORTCUT,
            by=sub.user,
            permalink=runtime.gateway.permalink(sub.channel_id, sub.ts),
            occurred_at=sub.occurred_at,
        )
        ref = entry_ref(result.entry_id)
        lines = [confirmation(result, sub.incident_channel)]
        if result.outcome is Outcome.ALREADY and sub.occurred_at is not None:
            lines.append(
                f"Its time was left as it was; to change it: `/incident edit {ref} {sub.when_text}` in <#{sub.incident_channel}>."
            )
        elif sub.time_note:
            lines.append(sub.time_note)
        if sub.note:
            with runtime.db.unit_of_work() as session:
                incident = incidents.get(session, sub.incident_id)
                note_id = message_capture.add_note(
                    session, incident, result, sub.note, by=sub.user, now=runtime.clock.now()
                )
            lines.append(f"Your note is *{entry_ref(note_id)}*.")
        _tell(runtime, sub, confirm_shortcut(runtime, sub.channel_id, sub.ts, "\n".join(lines)))


def _tell(runtime: Runtime, sub: Submission, text: str) -> None:
    if sub.response_url:
        respond(runtime, sub.response_url, text)
