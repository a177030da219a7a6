"""The review as people receive it: a Slack message within Slack's limits, the CSV of the same
numbers and the two charts. Nobody is pinged: owners are shown by name, not mentioned."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass

from bot.insights import charts
from bot.insights.detection import MONITORING, PEOPLE, UNKNOWN
from bot.insights.review import (
    MEASURE_LABELS,
    MEASURES,
    IncidentRow,
    ItemTally,
    Review,
    Spread,
    minutes,
)
from bot.postmortem.metrics import human_duration
from bot.settings import SEVERITIES
from bot.slack import blocks as bk
from bot.slack.gateway import FileToUpload
from bot.slack.text import safe_mrkdwn

SHARE_ACTION = "review_share"
MAX_INCIDENT_LINES = 20
MAX_OWNER_LINES = 10
MAX_DROPPED_LINES = 8
MAX_WAITING_LINES = 10
TITLE_LIMIT = 60
TAIL_RESERVE = 600  # the closing context line and the Share button


@dataclass(frozen=True)
class Report:
    text: str
    blocks: list[bk.Block]
    files: list[FileToUpload]


def _minutes_text(value: float | None) -> str:
    if value is None:
        return "—"
    return human_duration(dt.timedelta(minutes=round(value))) if value >= 1 else "under a minute"


def spread_line(label: str, found: Spread) -> str:
    if not found.count:
        return f"• Time to {label}: not recorded for any incident"
    if found.count == 1:
        return f"• Time to {label}: {_minutes_text(found.median)} (1 incident)"
    return (
        f"• Time to {label}: median *{_minutes_text(found.median)}* · middle half {_minutes_text(found.p25)} – "
        f"{_minutes_text(found.p75)} · range {_minutes_text(found.low)} – {_minutes_text(found.high)} "
        f"({found.count} incidents)"
    )


def _share_button(channel: str, period_text: str) -> bk.Block:
    value = json.dumps({"period": period_text, "channel": channel})
    return bk.actions(bk.button("Share in the channel where I asked", SHARE_ACTION, value))


def incident_line(row: IncidentRow, tally: ItemTally | None) -> str:
    durations = " · ".join(_minutes_text(minutes(row.durations[m])) for m in MEASURES)
    services = f" · {', '.join(row.services)}" if row.services else ""
    items = ""
    if tally is not None and tally.created:
        parts = [
            f"{n} {label}"
            for n, label in (
                (tally.done_on_time, "on time"),
                (tally.done_late, "late"),
                (tally.overdue, "overdue"),
                (tally.open_not_due, "open"),
                (tally.dropped, "dropped"),
            )
            if n
        ]
        items = f" — {tally.created} item{'s' if tally.created != 1 else ''}: {', '.join(parts)}"
    return (
        f"• #{row.id} {row.declared} {row.severity.upper()}{services} <#{row.channel_id}> {_title(row.title)} — "
        f"{row.detected_by} — {durations}{items}"
    )


def _refs(ids: tuple[int, ...] | list[int], limit: int = 8) -> str:
    shown = ", ".join(f"#{i}" for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _share(review: Review) -> str:
    share = review.items.share_within_policy
    counted = review.items.created - review.items.dropped
    if share is None:
        return "no items to judge"
    return f"*{share:.0%}* ({review.items.within_policy} of {counted} not dropped)"


def _title(text: str) -> str:
    flat = " ".join(text.split())
    return safe_mrkdwn(flat if len(flat) <= TITLE_LIMIT else flat[: TITLE_LIMIT - 1] + "…", live_mentions=False)


def build(review: Review, names: Mapping[str, str], *, share_in: str | None = None, period_text: str = "") -> Report:
    """The message (with a Share button when `share_in` names the channel asked from) and files."""
    count = len(review.incidents)
    by_severity = ", ".join(
        f"{sev.upper()} {n}" for sev in SEVERITIES if (n := sum(1 for r in review.incidents if r.severity == sev))
    )
    head = f"Incident review: {review.period.label}"
    blocks: list[bk.Block] = [bk.header(f":bar_chart: {head}")]
    if not count:
        text = f"No incidents were declared in {review.period.label}."
        blocks.append(bk.section(text))
        if share_in:
            blocks.append(_share_button(share_in, period_text))
        return Report(f"{head}: no incidents", blocks, [])
    lines = [f"*{count} incident{'s' if count != 1 else ''}* ({by_severity}). Medians and spreads, no averages:"]
    lines += [spread_line(MEASURE_LABELS[m], review.spreads[m]) for m in MEASURES]
    blocks.append(bk.section("\n".join(lines)))

    found = review.detected_by
    detection = [
        (
            f"*Detection*: found by monitoring {found.get(MONITORING, 0)}, by people {found.get(PEOPLE, 0)}, "
            f"not recorded {found.get(UNKNOWN, 0)}."
        )
    ]
    detection.append(
        f"• SEV1/SEV2 detected after more than 5 minutes: {len(review.monitoring_gaps)}"
        + (f" ({_refs(review.monitoring_gaps)})" if review.monitoring_gaps else "")
    )
    detection.append(
        f"• Detected after more than 30 minutes: {len(review.slow_detection)}"
        + (f" ({_refs(review.slow_detection)})" if review.slow_detection else "")
    )
    blocks.append(bk.section("\n".join(detection)))

    items = review.items
    item_lines = [
        (
            f"*Action items*: {items.created} created · {items.done_on_time} done on time · "
            f"{items.done_late} done late · {items.overdue} overdue · {items.open_not_due} open, not yet due · "
            f"{items.dropped} dropped · {items.unowned} open without an owner"
        ),
        f"Done within the severity's due-date policy: {_share(review)}",
    ]
    owners = sorted(review.items_by_owner.items(), key=lambda pair: (-pair[1].created, names.get(pair[0] or "", "~")))
    for owner, tally in owners[:MAX_OWNER_LINES]:
        who = f"@{names.get(owner, owner)}" if owner else "_nobody_"
        item_lines.append(
            f"• {who}: {tally.created} created, {tally.done_on_time} on time, {tally.done_late} late, "
            f"{tally.overdue} overdue, {tally.dropped} dropped"
        )
    if len(owners) > MAX_OWNER_LINES:
        item_lines.append(f"…and {len(owners) - MAX_OWNER_LINES} more owners in the CSV")
    for item_id, incident_id, reason in review.dropped_reasons[:MAX_DROPPED_LINES]:
        item_lines.append(f"• Dropped A{item_id} (#{incident_id}): {_title(reason)}")
    blocks += bk.sections_for_lines(item_lines)

    theme_lines = (
        ["*Recurring themes*"]
        + [
            f"• {theme.kind} *{safe_mrkdwn(theme.name)}*: {len(theme.incident_ids)} incidents ({_refs(theme.incident_ids)})"
            for theme in review.themes
        ]
        if review.themes
        else ["*Recurring themes*: none — no service or cause word came back in two incidents."]
    )
    blocks += bk.sections_for_lines(theme_lines)

    waiting = [f"*Postmortems not final*: {len(review.waiting)}"] + [
        f"• #{w.incident_id} <#{w.channel_id}> {_title(w.title)} — closed {w.closed_on}, waiting {w.days} "
        f"day{'s' if w.days != 1 else ''}{'' if w.has_draft else ' (no draft yet)'}"
        for w in review.waiting[:MAX_WAITING_LINES]
    ]
    blocks += bk.sections_for_lines(waiting)

    shares = [
        f"*Postmortems shared late*: {len(review.late_shares)} (engineering within 24 hours of resolution, "
        "stakeholders within 48)"
    ] + [
        f"• #{s.incident_id} {_title(s.title)} — {s.audience}: "
        + (
            f"shared {human_duration(s.shared_at - s.deadline)} late"
            if s.shared_at
            else f"not shared, due {s.deadline:%Y-%m-%d %H:%M} UTC"
        )
        for s in review.late_shares[:MAX_WAITING_LINES]
    ]
    blocks += bk.sections_for_lines(shares)

    # Every incident is in the CSV; the message lists as many as fit beside the rest (newest last).
    budget = bk.MAX_BLOCKS_TOTAL_TEXT - bk.text_size(blocks) - TAIL_RESERVE
    incident_lines = ["*Every incident* (detect · acknowledge · mitigate · resolve; action items)"]
    for row in review.incidents[:MAX_INCIDENT_LINES]:
        line = incident_line(row, review.items_by_incident.get(row.id))
        if sum(len(x) + 1 for x in incident_lines) + len(line) > budget:
            break
        incident_lines.append(line)
    shown = len(incident_lines) - 1
    if count > shown:
        incident_lines.append(f"…and {count - shown} more in the CSV")
    blocks += bk.sections_for_lines(incident_lines)
    blocks.append(bk.context("Charts and the CSV of these numbers are in the thread. Private incidents are left out."))
    if share_in:
        blocks.append(_share_button(share_in, period_text))
    text = f"{head}: {count} incidents, {items.created} action items"
    stem = review.period.key.replace(" ", "-")
    files = [
        FileToUpload(
            f"review-{stem}-durations.png",
            charts.durations_chart(review.incidents, f"Time to detect and resolve, {review.period.label}"),
            "Time to detect and to resolve per incident",
        ),
        FileToUpload(
            f"review-{stem}-action-items.png",
            charts.items_chart(review.weeks, f"Action items open vs done, week by week, {review.period.label}"),
            "Action items open versus done, week by week",
        ),
        FileToUpload(f"review-{stem}.csv", review_csv(review, names).encode("utf-8"), f"{head} (CSV)"),
    ]
    return Report(text, blocks, files)


CSV_COLUMNS = (
    "row",
    "incident",
    "declared",
    "title",
    "severity",
    "services",
    "detected_by",
    "owner",
    "minutes_to_detect",
    "minutes_to_acknowledge",
    "minutes_to_mitigate",
    "minutes_to_resolve",
    "items_created",
    "done_on_time",
    "done_late",
    "overdue",
    "open_not_due",
    "dropped",
    "unowned",
    "done_within_policy",
)


def _cell(value: object) -> object:
    # Text from people goes into a spreadsheet: never let it start a formula.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def review_csv(review: Review, names: Mapping[str, str]) -> str:
    """One row per incident, per owner and the totals, in one table (filter on `row`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)

    def tally_cells(tally) -> list[object]:
        return [
            tally.created,
            tally.done_on_time,
            tally.done_late,
            tally.overdue,
            tally.open_not_due,
            tally.dropped,
            tally.unowned,
            tally.within_policy,
        ]

    for row in review.incidents:
        durations = [_number(minutes(row.durations[m])) for m in MEASURES]
        writer.writerow(
            [
                _cell(v)
                for v in [
                    "incident",
                    row.id,
                    row.declared.isoformat(),
                    row.title,
                    row.severity,
                    " ".join(row.services),
                    row.detected_by,
                    "",
                    *durations,
                    *tally_cells(review.items_by_incident[row.id]),
                ]
            ]
        )
    for owner, tally in sorted(review.items_by_owner.items(), key=lambda pair: pair[0] or "~"):
        who = names.get(owner, owner) if owner else "nobody"
        writer.writerow([_cell(v) for v in ["owner", "", "", "", "", "", "", who, "", "", "", "", *tally_cells(tally)]])
    medians = [_number(review.spreads[m].median) for m in MEASURES]
    writer.writerow(["total (durations: median)", "", "", "", "", "", "", "", *medians, *tally_cells(review.items)])
    return out.getvalue()
