"""Related past incidents: the ones most like this one, each with why, found by the database's
own text search.

Candidates come from two places: the text search over the incidents' search documents (one query
function per dialect: PostgreSQL `ts_rank` over a stored, GIN-indexed tsvector; SQLite FTS5 `bm25`)
and the incidents that share a service or a tag. Each candidate gets a score between 0 and 1:

    0.35 × (a service in common) + 0.15 × (share of tags in common) + 0.5 × (text similarity)

where text similarity is the database's rank of the candidate relative to the best-ranked one,
times the share of this incident's words the candidate has (`text_similarity`). Only
incidents declared before this one count, never private ones (their detail stays in their
channel), and a candidate needs some score to be shown at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import or_, select, text, tuple_
from sqlalchemy.orm import Session

from bot.db import Database
from bot.errors import report_unexpected
from bot.insights import history
from bot.insights import labels as label_store
from bot.insights.search_index import FTS_TABLE, PG_VECTOR
from bot.models import FactSection, Incident, IncidentLabel, IncidentSearchDocument

WEIGHT_SERVICE, WEIGHT_TAGS, WEIGHT_TEXT = 0.35, 0.15, 0.5
MIN_SCORE = 0.1  # below this, a candidate shares little more than a common word
RECURRING_THRESHOLD = 0.45  # a service in common and some shared words, or nearly the same text
RECURRING_WINDOW = dt.timedelta(days=90)
DEFAULT_LIMIT = 5
TEXT_CANDIDATES = 50
LABEL_CANDIDATES = 200
MAX_QUERY_WORDS = 40
_WORD = re.compile(r"[a-z0-9]+")
# Words too common in incident write-ups to say two incidents are alike.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "for",
        "from",
        "had",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "while",
        "who",
        "will",
        "with",
        "after",
        "before",
        "during",
        "about",
        "over",
        "under",
        "again",
        "all",
        "any",
        "some",
        "more",
        "most",
        "very",
        "just",
        "only",
        "also",
        "out",
        "up",
        "down",
        "incident",
        "incidents",
        "issue",
        "issues",
        "problem",
        "problems",
        "error",
        "errors",
        "fail",
        "failed",
        "failure",
    ]
)


@dataclass(frozen=True)
class Related:
    record: history.IncidentRecord
    score: float
    same_services: tuple[str, ...]
    shared_tags: tuple[str, ...]
    shared_words: tuple[str, ...]

    @property
    def reasons(self) -> list[str]:
        found = []
        if self.same_services:
            found.append(f"same service {', '.join(self.same_services)}")
        if self.shared_tags:
            found.append(f"shared tag{'s' if len(self.shared_tags) > 1 else ''} {', '.join(self.shared_tags)}")
        if self.shared_words:
            found.append(f"shared words: {', '.join(self.shared_words)}")
        return found


@lru_cache(maxsize=8192)
def words(document: str) -> tuple[str, ...]:
    """The words a document is compared by, in order of appearance, each once."""
    found = [w for w in _WORD.findall(document.lower()) if len(w) > 2 and w not in STOP_WORDS and not w.isdigit()]
    return tuple(dict.fromkeys(found))


def stem(word: str) -> str:
    # Enough to see "pools" and "pool" as the same word in the explanation (the ranking is the database's).
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def shared_words(a: str, b: str, limit: int = 5) -> tuple[str, ...]:
    theirs = {stem(w) for w in words(b)}
    return tuple(w for w in words(a) if stem(w) in theirs)[:limit]


# -- one text query per dialect --------------------------------------------------------------
def text_ranks(session: Session, incident_id: int, document: str, limit: int = TEXT_CANDIDATES) -> dict[int, float]:
    """The database's text rank of the incidents best matching `document` (any of its words),
    larger is better: PostgreSQL's ts_rank, SQLite's bm25 negated."""
    terms = list(words(document)[:MAX_QUERY_WORDS])
    if not terms:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        return _postgres_ranks(session, incident_id, terms, limit)
    return _sqlite_ranks(session, incident_id, terms, limit)


def _postgres_ranks(session: Session, incident_id: int, terms: list[str], limit: int) -> dict[int, float]:
    query = " | ".join(terms)  # plain alphanumerics, so there is no tsquery syntax to escape
    # search_vector is the stored to_tsvector of the document, GIN-indexed (migration 0006).
    rows = session.execute(
        text(f"""
        SELECT d.incident_id, ts_rank(d.{PG_VECTOR}, q) AS rank
        FROM incident_search_documents d, to_tsquery('english', :q) AS q
        WHERE d.{PG_VECTOR} @@ q AND d.incident_id <> :id
        ORDER BY rank DESC LIMIT :limit
    """),
        {"q": query, "id": incident_id, "limit": limit},
    )
    return {row[0]: float(row[1]) for row in rows}


def _sqlite_ranks(session: Session, incident_id: int, terms: list[str], limit: int) -> dict[int, float]:
    query = " OR ".join(f'"{term}"' for term in terms)
    rows = session.execute(
        text(f"""
        SELECT rowid, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE}
        WHERE {FTS_TABLE} MATCH :q AND rowid <> :id ORDER BY rank LIMIT :limit
    """),
        {"q": query, "id": incident_id, "limit": limit},
    )
    return {row[0]: -float(row[1]) for row in rows}  # bm25 is negative, lower is better


def text_similarity(rank: float, best_rank: float, shared: int, own_words: int) -> float:
    """0..1: the database's rank relative to the best match, times the share of this incident's
    words the other one has (so the best of poor matches is still a poor match)."""
    if rank <= 0 or best_rank <= 0 or not own_words:
        return 0.0
    return min(1.0, rank / best_rank) * min(1.0, shared / own_words)


# -- ranking ---------------------------------------------------------------------------------
def _label_candidates(session: Session, incident_id: int, services: Sequence[str], tags: Sequence[str]) -> list[int]:
    wanted = [("service", s) for s in services] + [("tag", t) for t in tags]
    if not wanted:
        return []
    query = (
        select(IncidentLabel.incident_id)
        .distinct()
        .where(tuple_(IncidentLabel.kind, IncidentLabel.name).in_(wanted), IncidentLabel.incident_id != incident_id)
        .order_by(IncidentLabel.incident_id.desc())
        .limit(LABEL_CANDIDATES)
    )
    return list(session.scalars(query))


def find(session: Session, incident_id: int, *, limit: int = DEFAULT_LIMIT) -> list[Related]:
    """Up to `limit` past incidents most like this one, best first."""
    me = history.load(session, [incident_id], with_items=False).get(incident_id)
    if me is None:
        return []
    row = session.get(IncidentSearchDocument, incident_id)
    document = row.document if row else me.title
    ranks = text_ranks(session, incident_id, document)
    candidates = set(ranks) | set(_label_candidates(session, incident_id, me.services, me.tags))
    if not candidates:
        return []
    eligible = set(
        session.scalars(
            select(Incident.id).where(
                Incident.id.in_(candidates),
                Incident.is_private.is_(False),
                or_(
                    Incident.created_at < me.created_at,
                    (Incident.created_at == me.created_at) & (Incident.id < incident_id),
                ),
            )
        )
    )
    if not eligible:
        return []
    documents = dict(
        session.execute(
            select(IncidentSearchDocument.incident_id, IncidentSearchDocument.document).where(
                IncidentSearchDocument.incident_id.in_(eligible)
            )
        ).all()
    )
    own_words = len({stem(w) for w in words(document)})
    best_rank = max((ranks[i] for i in eligible if i in ranks), default=0.0)
    their_labels = label_store.of_many(session, eligible)
    scored = []
    for other in eligible:
        theirs = their_labels.get(other, label_store.Labels())
        same = tuple(s for s in me.services if s in theirs.services)
        tags = tuple(t for t in me.tags if t in theirs.tags)
        union = set(me.tags) | set(theirs.tags)
        common = shared_words(document, documents.get(other, ""), limit=MAX_QUERY_WORDS)
        similarity = text_similarity(ranks.get(other, 0.0), best_rank, len(common), own_words)
        score = (
            WEIGHT_SERVICE * bool(same)
            + WEIGHT_TAGS * (len(tags) / len(union) if union else 0.0)
            + WEIGHT_TEXT * similarity
        )
        if score >= MIN_SCORE:
            scored.append((round(score, 3), other, same, tags, common[:5]))
    # Only the best few are read in full (durations, items): the ranking needs none of that.
    records = history.load(session, [entry[1] for entry in sorted(scored, key=lambda e: (-e[0], -e[1]))[: limit * 2]])
    found = [
        Related(records[other], score, same, tags, common)
        for score, other, same, tags, common in scored
        if other in records
    ]
    found.sort(key=lambda r: (-r.score, -r.record.created_at.timestamp(), -r.record.id))
    return found[:limit]


def find_or_nothing(db: Database, incident_id: int, logger: logging.Logger) -> list[Related]:
    """`find` for work that must go on without it (declaring, the draft): a failure is logged
    with a traceback and an error id, and nothing is found."""
    try:
        with db.unit_of_work() as session:
            return find(session, incident_id)
    except Exception:  # noqa: BLE001 - any failure of the search: go on without it, logged
        report_unexpected(logger, f"finding incidents related to #{incident_id}")
        return []


def recurring(found: Sequence[Related], now: dt.datetime) -> list[Related]:
    """The related incidents that make this one a recurrence: close enough, in the last 90 days."""
    return [r for r in found if r.score >= RECURRING_THRESHOLD and r.record.created_at >= now - RECURRING_WINDOW]


def first_words(record: history.IncidentRecord, section: FactSection) -> str | None:
    texts = record.facts_in(section)
    return texts[0] if texts else None
