"""The words each incident is found by, and the database-only objects that index them.

`refresh` rewrites an incident's search document (title, trigger, causes, summary) and is called
by the code that writes those: declaring, and adding, editing or removing a fact. The database
indexes the document itself (migration 0006): PostgreSQL a generated tsvector column with a GIN
index, SQLite an FTS5 table that triggers keep in step. Those objects are not SQLAlchemy models, so schema
comparisons skip them through `is_database_only`, the one place that names them.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Fact, FactSection, Incident, IncidentSearchDocument

FTS_TABLE = "incident_search_fts"
PG_INDEX = "ix_incident_search_documents_fts"
PG_VECTOR = "search_vector"  # PostgreSQL's generated tsvector column, indexed by PG_INDEX
SEARCHED_SECTIONS = (FactSection.TRIGGER, FactSection.CAUSE, FactSection.SUMMARY)
# FTS5 makes shadow tables named after its virtual table (_data, _idx, _docsize, _config, _content).
_DATABASE_ONLY = re.compile(rf"^({FTS_TABLE}(_\w+)?|{PG_INDEX}|{PG_VECTOR})$")


def is_database_only(name: str | None) -> bool:
    """Whether a table or index is one of the text-search objects that only the migration knows."""
    return bool(name) and bool(_DATABASE_ONLY.match(name or ""))


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's `include_object` hook: leave the text-search objects out of schema comparisons."""
    return not (reflected and compare_to is None and is_database_only(name))


def document_for(session: Session, incident: Incident) -> str:
    facts = session.scalars(
        select(Fact.text)
        .where(Fact.incident_id == incident.id, Fact.removed_at.is_(None), Fact.section.in_(SEARCHED_SECTIONS))
        .order_by(Fact.recorded_at, Fact.id)
    )
    return " ".join([incident.title, *facts])  # the same shape as migration 0006's back-fill


def refresh(session: Session, incident_id: int, *, now: dt.datetime) -> None:
    """Bring the incident's search document up to date (within the caller's transaction)."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        return
    session.flush()  # facts written in this unit of work are part of the document
    document = document_for(session, incident)
    row = session.get(IncidentSearchDocument, incident_id)
    if row is None:
        session.add(IncidentSearchDocument(incident_id=incident_id, document=document, updated_at=now))
    elif row.document != document:
        row.document = document
        row.updated_at = now
    session.flush()
