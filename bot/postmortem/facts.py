"""Postmortem facts captured during the incident (`cause …`, `went-well …`): add, edit, remove.

Each fact belongs to one section of the draft and has a short id (`F3`). Edits and removals
keep the old version in `revisions`, as timeline entries do.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import NotFound, UserError
from bot.insights import search_index
from bot.models import Fact, FactSection, Incident, Revision
from bot.permissions import require_may_change
from bot.postmortem import late_changes
from bot.refs import fact_ref

MAX_FACT_TEXT = 3500

# The sub-command that fills each section, and how the section is called in replies.
COMMAND_SECTIONS: dict[str, FactSection] = {
    "summary": FactSection.SUMMARY,
    "impact": FactSection.IMPACT,
    "cause": FactSection.CAUSE,
    "trigger": FactSection.TRIGGER,
    "went-well": FactSection.WENT_WELL,
    "went-wrong": FactSection.WENT_WRONG,
    "lucky": FactSection.LUCKY,
    "detection": FactSection.DETECTION,
}
SECTION_LABELS: dict[FactSection, str] = {
    FactSection.SUMMARY: "summary",
    FactSection.IMPACT: "impact",
    FactSection.CAUSE: "root causes and contributing factors",
    FactSection.TRIGGER: "trigger",
    FactSection.WENT_WELL: "what went well",
    FactSection.WENT_WRONG: "what went wrong",
    FactSection.LUCKY: "where we got lucky",
    FactSection.DETECTION: "detection",
}


def command_for(section: FactSection) -> str:
    return next(name for name, value in COMMAND_SECTIONS.items() if value == section)


def check_text(text: str, section: FactSection) -> str:
    text = text.strip()
    if not text:
        name = command_for(section)
        raise UserError(f"Say what to record, e.g. `/incident {name} {_EXAMPLES[section]}`.")
    if len(text) > MAX_FACT_TEXT:
        raise UserError(f"That is {len(text)} characters; the limit is {MAX_FACT_TEXT}. Split it into several facts.")
    return text


_EXAMPLES = {
    FactSection.SUMMARY: "Checkout returned 503 for 45 minutes after deploy v2.4.1 exhausted the DB pool.",
    FactSection.IMPACT: "About 30% of API requests returned 503 for 45 minutes.",
    FactSection.CAUSE: "New code opened a DB connection per request without returning it to the pool.",
    FactSection.TRIGGER: "Deploy of v2.4.1 at 14:02.",
    FactSection.WENT_WELL: "The alert arrived within 3 minutes.",
    FactSection.WENT_WRONG: "The runbook did not mention the pool size.",
    FactSection.LUCKY: "The incident started outside peak hours.",
    FactSection.DETECTION: "The 5xx-rate alert fired 3 minutes after the deploy.",
}


def add_fact(
    session: Session, incident: Incident, section: FactSection, text: str, *, author: str, now: dt.datetime
) -> Fact:
    fact = Fact(
        incident_id=incident.id,
        section=section,
        text=check_text(text, section),
        author_id=author,
        recorded_at=now,
    )
    session.add(fact)
    session.flush()
    late_changes.note_change(session, incident, now)
    search_index.refresh(session, incident.id, now=now)
    return fact


def get_fact(session: Session, fact_id: int, incident: Incident) -> Fact:
    fact = session.get(Fact, fact_id)
    if fact is None or fact.removed_at is not None or fact.incident_id != incident.id:
        raise NotFound(
            f"There is no postmortem fact {fact_ref(fact_id)} in this incident. "
            "`/incident cause` (or `impact`, `went-well` …) with no text lists them with their ids."
        )
    return fact


def facts(session: Session, incident_id: int, section: FactSection | None = None) -> list[Fact]:
    """Facts still standing, in the order they were recorded."""
    query = select(Fact).where(Fact.incident_id == incident_id, Fact.removed_at.is_(None))
    if section is not None:
        query = query.where(Fact.section == section)
    return list(session.scalars(query.order_by(Fact.recorded_at, Fact.id)))


def _require_may_change(incident: Incident, fact: Fact, user_id: str) -> None:
    require_may_change(incident, fact.author_id, user_id, what="fact", ref=fact_ref(fact.id))


def _snapshot(fact: Fact) -> dict[str, object]:
    return {"section": fact.section.value, "text": fact.text}


def edit_fact(session: Session, incident: Incident, fact_id: int, text: str, *, editor: str, now: dt.datetime) -> Fact:
    fact = get_fact(session, fact_id, incident)
    _require_may_change(incident, fact, editor)
    new_text = check_text(text, fact.section)
    before = _snapshot(fact)
    fact.text = new_text
    session.add(
        Revision(
            fact_id=fact.id, action="edit", changed_by=editor, changed_at=now, before=before, after=_snapshot(fact)
        )
    )
    session.flush()
    search_index.refresh(session, incident.id, now=now)
    return fact


def remove_fact(session: Session, incident: Incident, fact_id: int, *, by: str, now: dt.datetime) -> Fact:
    fact = get_fact(session, fact_id, incident)
    _require_may_change(incident, fact, by)
    fact.removed_at = now
    fact.removed_by = by
    session.add(
        Revision(fact_id=fact.id, action="remove", changed_by=by, changed_at=now, before=_snapshot(fact), after={})
    )
    session.flush()
    search_index.refresh(session, incident.id, now=now)
    return fact


def history(session: Session, fact_id: int) -> list[Revision]:
    query = select(Revision).where(Revision.fact_id == fact_id).order_by(Revision.changed_at, Revision.id)
    return list(session.scalars(query))
