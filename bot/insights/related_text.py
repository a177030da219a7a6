"""How related past incidents read in Slack: one line each, and the one context line at declare."""

from __future__ import annotations

import datetime as dt

from bot.insights.history import IncidentRecord
from bot.insights.related import Related
from bot.postmortem.metrics import human_duration
from bot.slack import blocks as bk
from bot.slack.text import safe_mrkdwn

CONTEXT_LINE_LIMIT = 3


def incident_label(record: IncidentRecord) -> str:
    return f"#{record.id}"


def open_items_phrase(related: Related) -> str:
    items = [i for i in related.record.items if i.status != "dropped"]
    still_open = len(related.record.open_items)
    if not items:
        return "no action items were recorded"
    if not still_open:
        return f"all {len(items)} of its items are done"
    verb = "is" if still_open == 1 else "are"
    return f"{still_open} of its {len(items)} items {verb} still open"


def line(related: Related, zone: dt.tzinfo) -> str:
    """`• #12 <#C…> *Checkout pool exhausted* · 2026-06-01 · SEV2 · detected in 5 minutes, resolved in
    45 minutes · same service checkout; shared words: pool · 2 of its 3 items are still open`"""
    record = related.record
    times = record.key_times
    durations = []
    if times.time_to_detect is not None:
        durations.append(f"detected in {human_duration(times.time_to_detect)}")
    if times.time_to_resolve is not None:
        durations.append(f"resolved in {human_duration(times.time_to_resolve)}")
    elif record.status == "open":
        durations.append("still open")
    parts = [
        f"{incident_label(record)} <#{record.channel_id}> *{safe_mrkdwn(record.title, live_mentions=False)}*",
        record.created_at.astimezone(zone).strftime("%Y-%m-%d"),
        record.severity.upper(),
        *([", ".join(durations)] if durations else []),
        "; ".join(related.reasons),
        open_items_phrase(related),
    ]
    return "• " + " · ".join(p for p in parts if p)


def context_line(found: list[Related]) -> str:
    """One line for the declare announcement: the closest few, each with why and what is still open."""
    shown = []
    for related in found[:CONTEXT_LINE_LIMIT]:
        record = related.record
        why = related.reasons[0] if related.reasons else "similar"
        shown.append(f"{incident_label(record)} <#{record.channel_id}> ({why}; {open_items_phrase(related)})")
    more = f" and {len(found) - CONTEXT_LINE_LIMIT} more" if len(found) > CONTEXT_LINE_LIMIT else ""
    return bk.truncate(f":repeat: Seen before? {' · '.join(shown)}{more} — `/incident related` for detail", 2900)


def blocks_for(found: list[Related], title: str, zone: dt.tzinfo) -> tuple[str, list[bk.Block]]:
    if not found:
        text = (
            f"No past incidents look like *{safe_mrkdwn(title, live_mentions=False)}* yet. Naming its service "
            "(`/incident service checkout`) and adding its trigger and causes helps find them."
        )
        return text, [bk.section(text)]
    lines = [line(r, zone) for r in found]
    head = f"*Past incidents like {safe_mrkdwn(title, live_mentions=False)}*, closest first"
    return head, [bk.section(head), *bk.sections_for_lines(lines)]
