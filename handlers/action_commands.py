"""Sub-commands for action items: action, actions [mine], done, assign, due, priority, drop, link (and reopen A7).

Items are found by their id from any channel (`actions mine` lists yours across incidents); a
private incident's items only from its own channel or by their owner and commander. A change
made in the incident's own channel is announced there; elsewhere only you see the answer.
"""

from __future__ import annotations

import datetime as dt

from bot import home, incidents, intake
from bot.actions import items as action_items
from bot.actions.due_dates import parse_due_date
from bot.actions.grammar import USAGE, parse_action, parse_priority
from bot.actions.items import Change
from bot.errors import UserError
from bot.postmortem import late_changes
from bot.refs import Ref, action_ref, parse_ref
from bot.slack import blocks as bk
from bot.slack.text import mention, safe_mrkdwn, user_id_from_mention
from handlers import ticket_commands
from handlers.by_ref import REOPENERS
from handlers.command_table import CommandRequest, SubCommand, acknowledging
from handlers.replies import Reply
from handlers.timeline_commands import author_zone

GROUP = "Action items"


def _today(request: CommandRequest) -> tuple[dt.date, str | None]:
    """Today in the author's own zone (so `tomorrow` means their tomorrow)."""
    zone, note = author_zone(request)
    return request.runtime.clock.now().astimezone(zone).date(), note


def add(request: CommandRequest) -> Reply:
    runtime = request.runtime
    if not request.args.strip():
        raise UserError(f"Usage: {USAGE}")
    today, zone_note = _today(request)
    draft = parse_action(request.args, today=today)
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        item = action_items.add(
            session,
            incident,
            draft,
            by=request.user_id,
            now=runtime.clock.now(),
            today=today,
            due_days=runtime.settings.action_due_days,
        )
        severity = incident.severity
        ref, owner, due, priority, kind, text = (
            action_ref(item.id),
            item.owner_id,
            item.due_date,
            item.priority,
            item.action_type,
            item.text,
        )
        draft_note = late_changes.author_note(session, incident)
        intake.complete_in(session)  # in the item's own commit: a replay never adds it twice
    home.refresh_later(runtime, [owner] if owner else [])  # their App Home lists it
    owner_part = f"owner {mention(owner)}" if owner else f":warning: no owner yet (`/incident assign {ref} @name`)"
    due_part = f"due {due:%a %d %b %Y}" + ("" if draft.due_date else f" (the {severity} default)")
    type_part = f" · type {kind}" if kind else ""
    lines = [
        f":clipboard: {mention(request.user_id)} added action item *{ref}*: {safe_mrkdwn(text, live_mentions=False)}",
        f"{owner_part} · {due_part} · {priority}{type_part}",
    ]
    lines += [f"_{note}_" for note in (draft.warning, zone_note if draft.due_date else None) if note]
    lines += [draft_note] if draft_note else []
    return Reply(text="\n".join(lines), in_channel=True)


def list_items(request: CommandRequest) -> Reply:
    runtime = request.runtime
    today = runtime.clock.now().astimezone(runtime.settings.timezone).date()
    if request.args.strip().lower() == "mine":
        with runtime.db.unit_of_work() as session:
            found = action_items.open_owned_by(session, request.user_id)
            ordered = action_items.listing_order([item for item, _ in found], today)
            incident_of = {item.id: incident for item, incident in found}
            lines = [action_items.item_line(item, today, incident=incident_of[item.id]) for item in ordered]
        heading = f"*Your open action items* ({len(lines)}), overdue first"
        empty = "You own no open action items. :tada:"
    elif request.args.strip():
        raise UserError(
            "Usage: `/incident actions` (this incident's items) or `/incident actions mine` (yours, everywhere)."
        )
    else:
        with runtime.db.unit_of_work() as session:
            incident = incidents.require_by_channel(session, request.channel_id)
            items = action_items.listing_order(action_items.for_incident(session, incident.id), today)
            lines = [action_items.item_line(item, today) for item in items]
            open_count = sum(1 for item in items if item.status.value == "open")
            title = incident.title
        heading = f"*Action items of {safe_mrkdwn(title, live_mentions=False)}*: {open_count} open of {len(lines)}, overdue first"
        empty = "No action items yet. Add one: `/incident action Add an alert on queue depth @ann by friday P1`."
    if not lines:
        return Reply(text=empty)
    first = bk.paginate(lines, reserved_blocks=2)[0]
    blocks = [bk.section(heading), *bk.sections_for_lines(first)]
    if len(first) < len(lines):
        blocks.append(bk.context(f"…and {len(lines) - len(first)} more (the last ones in this order)."))
    return Reply(text=heading, blocks=blocks)


# -- changes by id -----------------------------------------------------------------------------
def _split_id(request: CommandRequest, usage: str) -> tuple[int, str]:
    token, _, rest = request.args.strip().partition(" ")
    if not token:
        raise UserError(f"Usage: `/incident {usage}`.")
    return parse_ref(token, allowed="A").number, rest.strip()


def _apply(request: CommandRequest, item_id: int, change) -> Reply:
    """Find the item (if this person may see it from here), apply `change(session, item, now)`, answer."""
    runtime = request.runtime
    with runtime.db.unit_of_work() as session:
        item, _ = action_items.get_visible(session, item_id, user_id=request.user_id, channel_id=request.channel_id)
        owners = [item.owner_id or ""]
        done: Change = change(session, item, runtime.clock.now())
        owners.append(done.item.owner_id or "")
        today = runtime.clock.now().astimezone(runtime.settings.timezone).date()
        line = action_items.item_line(done.item, today)
        in_its_channel = done.incident.channel_id == request.channel_id
        where = "" if in_its_channel else f" (in <#{done.incident.channel_id}>)"
    ticket_commands.after_item_change(runtime)  # a done, drop or reopen goes on to the item's ticket
    home.refresh_later(runtime, owners)  # the old and the new owner's App Home
    return Reply(text=f":pencil2: {done.summary}{where}\n{line}", in_channel=in_its_channel)


def done(request: CommandRequest) -> Reply:
    item_id, rest = _split_id(request, "done <id>, e.g. `/incident done A7`")
    if rest:
        raise UserError("Usage: `/incident done A7` (one id).")
    return _apply(request, item_id, lambda s, item, now: action_items.mark_done(s, item, by=request.user_id, now=now))


def _reopen(request: CommandRequest, ref: Ref) -> Reply:
    return _apply(request, ref.number, lambda s, item, now: action_items.reopen(s, item, by=request.user_id, now=now))


def assign(request: CommandRequest) -> Reply:
    item_id, rest = _split_id(request, "assign <id> <@person>, e.g. `/incident assign A7 @ann`")
    owner = None if rest.lower() in ("none", "nobody") else user_id_from_mention(rest)
    if owner is None and rest.lower() not in ("none", "nobody"):
        raise UserError(
            f"Mention the new owner: `/incident assign {action_ref(item_id)} @ann` (or `none` to leave it unowned)."
        )
    return _apply(
        request, item_id, lambda s, item, now: action_items.assign(s, item, owner, by=request.user_id, now=now)
    )


def due(request: CommandRequest) -> Reply:
    item_id, rest = _split_id(request, "due <id> <date>, e.g. `/incident due A7 friday`")
    if not rest:
        raise UserError(
            f"Give the new date: `/incident due {action_ref(item_id)} 2026-07-03` (or `Jul 3`, `friday`, `in 2 weeks`)."
        )
    today, _ = _today(request)
    parsed = parse_due_date(rest, today=today)
    reply = _apply(
        request, item_id, lambda s, item, now: action_items.set_due(s, item, parsed.date, by=request.user_id, now=now)
    )
    if parsed.warning:
        reply.text += f"\n_{parsed.warning}_"
    return reply


def priority(request: CommandRequest) -> Reply:
    item_id, rest = _split_id(request, "priority <id> <P0-P3>, e.g. `/incident priority A7 P1`")
    value = parse_priority(rest) if rest else None
    if value is None:
        raise UserError(
            f"Give the priority: `/incident priority {action_ref(item_id)} P1` (P0 is the most urgent, P3 the least)."
        )
    return _apply(
        request, item_id, lambda s, item, now: action_items.set_priority(s, item, value, by=request.user_id, now=now)
    )


def drop(request: CommandRequest) -> Reply:
    item_id, reason = _split_id(request, "drop <id> <reason>, e.g. `/incident drop A7 replaced by A9`")
    if not reason:
        raise UserError(
            f"Say why it is dropped, so the reason is kept: `/incident drop {action_ref(item_id)} replaced by A9`."
        )
    return _apply(
        request, item_id, lambda s, item, now: action_items.drop(s, item, reason, by=request.user_id, now=now)
    )


def link(request: CommandRequest) -> Reply:
    item_id, rest = _split_id(request, "link <id> <url>, e.g. `/incident link A7 https://tracker.example.com/OPS-123`")
    url = action_items.parse_link(rest)
    reply = _apply(
        request, item_id, lambda s, item, now: action_items.set_link(s, item, url, by=request.user_id, now=now)
    )
    note = ticket_commands.link_note(request.runtime, item_id, url)  # an issue of our tracker: kept in step
    return Reply(text=f"{reply.text}\n{note}", in_channel=reply.in_channel) if note else reply


REOPENERS["A"] = _reopen

COMMANDS = [
    SubCommand(
        "action",
        add,
        "action <text> [@owner] [by <date>] [P0-P3] [type:<type>]",
        "add an action item (dates: `2026-06-25`, `Jun 25`, `tomorrow`, `friday`, `in 2 weeks`; "
        "types: prevent, detect, mitigate, process)",
        GROUP,
        example="action Add an alert on queue depth @ann by friday P1 type:detect",
        ack=acknowledging("Adding the action item…"),
    ),
    SubCommand(
        "actions",
        list_items,
        "actions [mine]",
        "this incident's items, open and overdue first; `mine`: your open items everywhere",
        GROUP,
        example="actions mine",
        needs_incident=False,
    ),
    SubCommand("done", done, "done <id>", "mark an item done", GROUP, example="done A7", needs_incident=False),
    SubCommand(
        "assign",
        assign,
        "assign <id> <@person>",
        "give an item a new owner",
        GROUP,
        example="assign A7 @bob",
        needs_incident=False,
    ),
    SubCommand(
        "due",
        due,
        "due <id> <date>",
        "change an item's due date",
        GROUP,
        example="due A7 in 2 weeks",
        needs_incident=False,
    ),
    SubCommand(
        "priority",
        priority,
        "priority <id> <P0-P3>",
        "change an item's priority",
        GROUP,
        example="priority A7 P1",
        needs_incident=False,
    ),
    SubCommand(
        "drop",
        drop,
        "drop <id> <reason>",
        "close an item on purpose, keeping the reason",
        GROUP,
        example="drop A7 replaced by A9",
        needs_incident=False,
    ),
    SubCommand(
        "link",
        link,
        "link <id> <url>",
        "link an item to its ticket (`none` removes it)",
        GROUP,
        example="link A7 https://tracker.example.com/OPS-123",
        needs_incident=False,
    ),
]
