"""Making tickets on request (`ticket A7`, `ticket all`, `postmortem final`) and checking the tracker.

Each create is stored in the outbox and tried at once; the answer says, per item, the ticket made,
that another request is making it, when the next try is, or what a person must fix.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select

from bot import incidents
from bot.actions import items as action_items
from bot.errors import UserError
from bot.models import ActionItem, ActionStatus
from bot.refs import action_ref
from bot.runtime import Runtime
from bot.settings import TrackerSettings
from bot.slack.text import escape, slack_date
from bot.trackers import outbox, registry
from bot.trackers.base import TrackerError

NO_TRACKER = (
    "No tracker is set up, so I can't make tickets. Whoever runs incident-bot sets `TRACKER=github` with "
    "`GITHUB_TOKEN` and `GITHUB_REPO`, or `TRACKER=jira` with `JIRA_URL`, `JIRA_PROJECT` and a token "
    "(see the README's *Trackers*). Until then, `/incident link A7 <url>` links a ticket made by hand."
)


@dataclass(frozen=True)
class Result:
    text: str
    in_its_channel: bool


def create_for_item(runtime: Runtime, item_id: int, *, by: str, channel_id: str) -> Result:
    _require_tracker(runtime)
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        item, incident = action_items.get_visible(session, item_id, user_id=by, channel_id=channel_id)
        in_channel = incident.channel_id == channel_id
        if item.ticket_key is not None:
            today = now.astimezone(runtime.settings.timezone).date()
            return Result(f"{action_ref(item.id)} has its ticket already: {action_items.item_line(item, today)}", False)
        if item.link_url:
            raise UserError(
                f"{action_ref(item.id)} is linked to a ticket made by hand ({escape(item.link_url)}). "
                f"`/incident link {action_ref(item.id)} none` first if it should get a new one."
            )
        write_ids = [outbox.request_create(session, item, by=by, now=now).id]
    return Result(_answer(runtime, write_ids, [item_id], heading=None), in_channel)


def create_for_incident_channel(runtime: Runtime, channel_id: str, *, by: str) -> Result:
    _require_tracker(runtime)
    with runtime.db.unit_of_work() as session:
        incident_id = incidents.require_by_channel(session, channel_id).id
    return create_for_incident(runtime, incident_id, by=by)


def create_for_incident(runtime: Runtime, incident_id: int, *, by: str, quiet_when_none: bool = False) -> Result:
    """Tickets for every item of the incident without one (dropped items and hand-made links aside)."""
    _require_tracker(runtime)
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        wanted = [
            item
            for item in action_items.for_incident(session, incident_id)
            if item.ticket_key is None and not item.link_url and item.status != ActionStatus.DROPPED
        ]
        write_ids = [outbox.request_create(session, item, by=by, now=now).id for item in wanted]
        item_ids = [item.id for item in wanted]
    if not item_ids:
        return Result(
            "" if quiet_when_none else "Every item of this incident has its ticket already (or was dropped).", True
        )
    where = registry.where(runtime.settings.trackers)
    return Result(_answer(runtime, write_ids, item_ids, heading=f":ticket: Tickets in {escape(where)}:"), True)


def _require_tracker(runtime: Runtime) -> None:
    if runtime.tracker is None:
        raise UserError(NO_TRACKER)


def _answer(runtime: Runtime, write_ids: list[int], item_ids: list[int], *, heading: str | None) -> str:
    outcomes = {o.write_id: o for o in outbox.run_due(runtime, write_ids=write_ids)}
    today = runtime.clock.now().astimezone(runtime.settings.timezone).date()
    display = runtime.tracker.display if runtime.tracker else "the tracker"
    lines = [heading] if heading else []
    with runtime.db.unit_of_work() as session:
        items = {i.id: i for i in session.scalars(select(ActionItem).where(ActionItem.id.in_(item_ids)))}
        for write_id, item_id in zip(write_ids, item_ids):
            item = items[item_id]
            ref = action_ref(item_id)
            outcome = outcomes.get(write_id)
            if item.ticket_key is not None:
                lines.append(action_items.item_line(item, today))
            elif outcome is None or outcome.state == "busy":
                lines.append(
                    f"`{ref}`: its ticket is being made by another request or retry; it shows on the item once made."
                )
            elif outcome.state == "waiting":
                when = slack_date(outcome.next_attempt_at, "{time}") if outcome.next_attempt_at else "soon"
                lines.append(
                    f"`{ref}`: {display} did not take it yet ({escape(outcome.message)}); "
                    f"I try again at {when}, and the item shows its ticket once made."
                )
            else:
                lines.append(
                    f"`{ref}`: :warning: I could not make its ticket: {escape(outcome.message)}. "
                    f"Once that is fixed, `/incident ticket {ref}` tries again."
                )
    return "\n".join(lines)


# -- the check at start-up ----------------------------------------------------------------------------
def describe_check(settings: TrackerSettings, tracker: object) -> str:
    """One line: the tracker is ready (and as whom), or what is wrong with its settings."""
    where = registry.where(settings)
    if tracker is None:
        return "tracker: none configured (set TRACKER and its settings to turn action items into tickets)"
    try:
        who = tracker.check()  # type: ignore[attr-defined]
    except TrackerError as err:
        return f"tracker: {where} is not usable: {err} — tickets wait until this is fixed"
    return f"tracker: {where}, as {who}: ready"


def check_at_start(runtime: Runtime) -> None:
    """The check call at serve start, in the background: one clear line, never fatal. Without a
    tracker there is nothing to check, and nothing is said (`incident-bot tracker check` says so)."""
    if runtime.tracker is None:
        return

    def run() -> None:
        line = describe_check(runtime.settings.trackers, runtime.tracker)
        (runtime.logger.warning if "not usable" in line else runtime.logger.info)("%s", line)

    threading.Thread(target=run, name="tracker-check", daemon=True).start()
