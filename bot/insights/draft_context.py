"""What the postmortem draft learns from other incidents, and the summary's first draft.

`build` turns related incidents (bot/insights/related.py) and the draft's own facts into plain
values for the templates: the services and tags, the related list, the **Recurring incident**
comparison (when a related incident of the last 90 days is above the threshold), and, when nobody
wrote a summary, one sentence assembled from the facts. Nothing is invented: a part whose fact is
missing is left out, and with nothing to say there is no sentence at all.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from bot.insights.labels import Labels
from bot.insights.related import Related, recurring
from bot.insights.related_text import open_items_phrase
from bot.models import FactSection, Milestone
from bot.postmortem.metrics import human_duration
from bot.postmortem.snapshot import DraftSource
from bot.slack.text import plain_text

SYSTEMIC_QUESTIONS = (
    (
        "What do these incidents share beyond their triggers: the same component, the same kind of change, the same "
        "missing safeguard?"
    ),
    (
        "Which action items from the earlier incidents would have prevented or shortened this one, and why were they "
        "not done, or not enough?"
    ),
    (
        "Is this a systemic gap (capacity planning, testing, review, ownership, alerting) rather than a run of "
        "one-off failures? Recurring small failures matter even when each alone is minor."
    ),
    "Which one change would break the pattern, and who owns it?",
)
MAX_OPEN_PROMISES = 10


def empty() -> dict[str, Any]:
    """The keys every draft context has, for a render without insights (tests, team templates)."""
    return {"services": [], "tags": [], "related": [], "recurring": None, "summary_draft": None}


def build(source: DraftSource, labels: Labels, found: Sequence[Related], zone: dt.tzinfo) -> dict[str, Any]:
    repeats = recurring(found, source.incident.created_at)
    return {
        "services": list(labels.services),
        "tags": list(labels.tags),
        "related": [_related_row(r, zone) for r in found],
        "recurring": _recurring(repeats, zone) if repeats else None,
        "summary_draft": summary_sentence(source, labels.services, zone),
    }


def _cell(text: str | None, limit: int = 160) -> str:
    """User text fit for one Markdown table cell: one line, no pipe breaking the row."""
    if not text:
        return "not recorded"
    flat = re.sub(r"\s+", " ", plain_text(text)).strip().replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _related_row(related: Related, zone: dt.tzinfo) -> dict[str, Any]:
    record = related.record
    times = record.key_times
    return {
        "ref": f"#{record.id}",
        "title": _cell(record.title, 200),
        "date": record.created_at.astimezone(zone).strftime("%Y-%m-%d"),
        "severity": record.severity.upper(),
        "time_to_detect": human_duration(times.time_to_detect),
        "time_to_resolve": human_duration(times.time_to_resolve),
        "reasons": "; ".join(related.reasons),
        "items": open_items_phrase(related),
    }


def _recurring(repeats: Sequence[Related], zone: dt.tzinfo) -> dict[str, Any]:
    rows, promises = [], []
    for related in repeats:
        record = related.record
        triggers = record.facts_in(FactSection.TRIGGER)
        causes = record.facts_in(FactSection.CAUSE)
        counts = {status: sum(1 for i in record.items if i.status == status) for status in ("done", "dropped", "open")}
        rows.append(
            {
                **_related_row(related, zone),
                "trigger": _cell(triggers[0] if triggers else None),
                "causes": _cell("; ".join(causes) if causes else None, 240),
                "done": counts["done"],
                "dropped": counts["dropped"],
                "open": counts["open"],
            }
        )
        for item in record.open_items:
            promises.append(
                {
                    "ref": f"A{item.id}",
                    "incident": f"#{record.id}",
                    "text": _cell(item.text, 200),
                    "due": item.due_date.isoformat() if item.due_date else "no date",
                }
            )
    return {
        "rows": rows,
        "questions": list(SYSTEMIC_QUESTIONS),
        "open_promises": promises[:MAX_OPEN_PROMISES],
        "more_promises": max(0, len(promises) - MAX_OPEN_PROMISES),
    }


# -- the summary's first draft ------------------------------------------------------------------
def _clause(text: str) -> str:
    """A fact as part of a sentence: one line, no final full stop, a leading capital lowered unless
    it starts an acronym or a name-like word (`DB`, `PgBouncer`)."""
    flat = re.sub(r"\s+", " ", plain_text(text)).strip().rstrip(".;:")
    if (
        len(flat) > 1
        and flat[0].isupper()
        and flat[1].islower()
        and not any(c.isupper() for c in flat[1:].split(" ")[0])
    ):
        flat = flat[0].lower() + flat[1:]
    return flat


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def summary_sentence(source: DraftSource, services: Sequence[str], zone: dt.tzinfo) -> str | None:
    """ "On [date], [service] was affected for [duration]: [impact]. The cause was [first cause]. We
    [mitigation], and are tracking [N] follow-ups." — with each unknown part left out."""
    times = source.key_times
    day = (times.impact_start or source.incident.created_at).astimezone(zone)
    date = f"{day.day} {day:%B %Y}"
    impacts = source.facts_in(FactSection.IMPACT)
    impact = _clause(impacts[0].text) if impacts else None
    duration = (
        human_duration(times.duration) if times.duration is not None and times.duration.total_seconds() > 0 else None
    )
    causes = source.facts_in(FactSection.CAUSE)
    mitigated = [e for e in source.entries if e.milestone == Milestone.MITIGATED]
    mitigation = _clause(mitigated[-1].text) if mitigated else None
    follow_ups = sum(1 for a in source.action_items if a.status != "dropped")
    sentences = []
    if services:
        sentences.append(
            f"On {date}, {_names(list(services))} was affected"
            + (f" for {duration}" if duration else "")
            + (f": {impact}." if impact else ".")
        )
    elif duration:
        sentences.append(f"On {date}, the incident lasted {duration}" + (f": {impact}." if impact else "."))
    elif impact:
        sentences.append(f"On {date}: {impact}.")
    if causes:
        sentences.append(f"The cause was {_clause(causes[0].text)}.")
    tracking = f"{_plural(follow_ups, 'follow-up')}" if follow_ups else None
    if mitigation:
        # "We rolled back to v2.4.0" reads well; a milestone that does not start with a past-tense
        # verb ("Error rate normal") is quoted instead of bent into a sentence.
        first = mitigation.split(" ")[0].lower()
        did = (
            f"We {mitigation}"
            if first.endswith("ed") or first in _IRREGULAR_PAST
            else f"It was mitigated ({mitigation})"
        )
        if tracking:
            did += ", and are tracking " + tracking if did.startswith("We") else ", and we are tracking " + tracking
        sentences.append(did + ".")
    elif tracking:
        sentences.append(f"We are tracking {tracking}.")
    if not sentences:
        return None
    if not sentences[0].startswith("On "):
        sentences[0] = f"On {date}, " + sentences[0][0].lower() + sentences[0][1:]
    return " ".join(sentences)


_IRREGULAR_PAST = frozenset(
    [
        "built",
        "brought",
        "bought",
        "caught",
        "chose",
        "cut",
        "did",
        "drew",
        "drove",
        "fed",
        "fought",
        "found",
        "froze",
        "gave",
        "got",
        "grew",
        "hid",
        "held",
        "kept",
        "knew",
        "laid",
        "led",
        "left",
        "lent",
        "let",
        "lost",
        "made",
        "meant",
        "met",
        "paid",
        "put",
        "ran",
        "read",
        "rebuilt",
        "redid",
        "rode",
        "rose",
        "sent",
        "set",
        "shed",
        "shook",
        "shot",
        "shut",
        "sold",
        "spent",
        "split",
        "spread",
        "stood",
        "struck",
        "swept",
        "swung",
        "took",
        "taught",
        "told",
        "threw",
        "understood",
        "undid",
        "withdrew",
        "won",
        "wound",
        "wrote",
    ]
)
