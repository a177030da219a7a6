"""From fact to incident: watches (label matchers), recording facts, and putting them on timelines.

A watch is a list of matchers that must all hold: `key=value` (equal) or `key=~regex`
(the whole value matches, as Prometheus matchers do). A new fact matching an open incident's
watch lands on its timeline at the fact's own time; one delivery's facts of one status are one
entry ("12 alerts firing: A, B, … and 2 more"). Adding a watch (or declaring with one) back-fills
the matching facts of the last HOOKS_LOOKBACK. The earliest firing alert or page gives the
`detected` milestone and the earliest PagerDuty acknowledgement `acknowledged`, unless a person
set them (see `bot.timeline.milestones`).

Every write is idempotent: facts are unique by identity and a fact lands once per incident, so
repeats, retries and two replicas interpreting the same delivery leave one entry.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot import timeline
from bot.errors import UserError
from bot.models import (
    EntryKind,
    EntrySource,
    Incident,
    IncidentFact,
    IncidentStatus,
    IncidentWatch,
    Milestone,
    SourceFact,
    TimelineEntry,
)
from bot.sources.values import FIRING_STATUSES, FactDraft

Matcher = tuple[str, str, str]  # (key, "=" | "=~", value)
MAX_MATCHERS = 10
MAX_REGEX = 200
MAX_NAMES = 10
MAX_WATCHES = 20
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")
WATCH_FORM = (
    "Give labels to watch as `key=value` (all must match) or `key=~regex`, e.g. "
    "`/incident watch service=checkout` or `/incident watch alertname=~High.* env=prod`."
)


# -- matchers --------------------------------------------------------------------------------
def parse_matchers(text: str) -> list[Matcher]:
    tokens = text.split()
    if not tokens:
        raise UserError(WATCH_FORM)
    if len(tokens) > MAX_MATCHERS:
        raise UserError(f"A watch holds at most {MAX_MATCHERS} matchers. {WATCH_FORM}")
    matchers: list[Matcher] = []
    for token in tokens:
        key, op, value = token.partition("=")
        if op and value.startswith("~"):
            op, value = "=~", value[1:]
        key = key.strip()
        if not op or not _KEY.match(key) or not value:
            raise UserError(f"`{token}` is not a matcher. {WATCH_FORM}")
        if op == "=~":
            if len(value) > MAX_REGEX:
                raise UserError(f"The pattern for `{key}` is over {MAX_REGEX} characters.")
            try:
                re.compile(value)
            except re.error as err:
                raise UserError(f"`{value}` is not a regular expression ({err}). {WATCH_FORM}") from None
        matchers.append((key, op, value))
    return matchers


def matchers_text(matchers: Iterable[Sequence[str]]) -> str:
    return " ".join(f"{key}{op}{value}" for key, op, value in matchers)


def matches(matchers: Iterable[Sequence[str]], labels: Mapping[str, str]) -> bool:
    for key, op, value in matchers:
        actual = labels.get(key)
        if actual is None:
            return False
        if op == "=" and actual != value:
            return False
        if op == "=~" and re.fullmatch(value, actual) is None:
            return False
    return True


# -- inserting once, on both databases ------------------------------------------------------------
def insert_ignoring_duplicates(session: Session, model: Any, rows: list[dict[str, Any]], keys: list[str]) -> list[int]:
    """Insert rows, skipping any whose unique `keys` already exist (another replica's, a repeat's);
    returns the primary keys of the rows this call inserted."""
    return [row[0] for row in _insert_returning(session, model, rows, keys, list(model.__table__.primary_key.columns))]


def _insert_returning(
    session: Session, model: Any, rows: list[dict[str, Any]], keys: list[str], columns: list[Any]
) -> list[Any]:
    """As insert_ignoring_duplicates, returning `columns` of each inserted row."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # One cached statement run over many parameter sets (SQLAlchemy batches them as multi-row
    # VALUES with RETURNING): compiling a literal 1,000-row VALUES would cost more than the insert.
    statement = builder(model.__table__).on_conflict_do_nothing(index_elements=keys).returning(*columns)
    return list(session.connection().execute(statement, rows))


# -- watches ---------------------------------------------------------------------------------
def active_watches(session: Session, incident_id: int) -> list[IncidentWatch]:
    query = select(IncidentWatch).where(IncidentWatch.incident_id == incident_id, IncidentWatch.removed_at.is_(None))
    return list(session.scalars(query.order_by(IncidentWatch.id)))


@dataclass
class WatchAdded:
    watch: IncidentWatch
    backfilled: int  # facts put on the timeline from the last HOOKS_LOOKBACK


def add_watch(
    session: Session, incident: Incident, matchers: list[Matcher], *, by: str, now: dt.datetime, lookback: dt.timedelta
) -> WatchAdded:
    existing = active_watches(session, incident.id)
    wanted = [list(m) for m in matchers]
    for watch in existing:
        if watch.matchers == wanted:
            raise UserError(f"This incident already watches `{watch.text}`. `/incident watch` lists its watches.")
    if len(existing) >= MAX_WATCHES:
        raise UserError(
            f"An incident watches at most {MAX_WATCHES} label sets; remove one with `/incident unwatch <n>`."
        )
    watch = IncidentWatch(
        incident_id=incident.id, matchers=wanted, text=matchers_text(matchers)[:500], created_by=by, created_at=now
    )
    session.add(watch)
    session.flush()
    return WatchAdded(watch, backfill(session, incident, [wanted], now=now, lookback=lookback))


def remove_watch(session: Session, incident: Incident, number: int, *, now: dt.datetime) -> IncidentWatch:
    watches = active_watches(session, incident.id)
    if not 1 <= number <= len(watches):
        listing = f"it has {len(watches)}" if watches else "it has none"
        raise UserError(
            f"This incident has no watch {number} ({listing}). `/incident watch` lists them with their numbers."
        )
    watch = watches[number - 1]
    watch.removed_at = now
    session.flush()
    return watch


# -- recording facts -------------------------------------------------------------------------------
@dataclass
class Recorded:
    new_facts: list[Any] = field(default_factory=list)  # rows that read as SourceFact does
    # incident id -> the entries this recording added there
    landed: dict[int, list[TimelineEntry]] = field(default_factory=lambda: defaultdict(list))
    # firing facts that matched no open incident, by group (for ALERTS_CHANNEL)
    unmatched_firing: dict[str, list[SourceFact]] = field(default_factory=lambda: defaultdict(list))
    # what another part of the bot did with a delivery that holds no facts (registry.HANDOFFS)
    handed_off: str | None = None


def _fact_row(draft: FactDraft, delivery_id: int | None, now: dt.datetime) -> dict[str, Any]:
    return {
        "source": draft.source,
        "kind": draft.kind,
        "status": draft.status,
        "occurred_at": draft.occurred_at,
        "title": draft.title,
        "link": draft.link,
        "labels": dict(draft.labels),
        "identity": draft.identity,
        "group_key": draft.group_key,
        "delivery_id": delivery_id,
        "recorded_at": now,
    }


def _open_watches(session: Session) -> list[tuple[Incident, list[list[Any]]]]:
    query = (
        select(Incident, IncidentWatch)
        .join(IncidentWatch, IncidentWatch.incident_id == Incident.id)
        .where(Incident.status == IncidentStatus.OPEN, IncidentWatch.removed_at.is_(None))
        .order_by(Incident.id, IncidentWatch.id)
    )
    found: dict[int, tuple[Incident, list[list[Any]]]] = {}
    for incident, watch in session.execute(query):
        found.setdefault(incident.id, (incident, []))[1].append(watch.matchers)
    return list(found.values())


def _labels_with_history(session: Session, fact: SourceFact) -> Mapping[str, str]:
    """A PagerDuty annotation names only its incident: it takes that incident's labels."""
    pd_incident = fact.labels.get("pd_incident")
    if fact.source != "pagerduty" or "service" in fact.labels or not pd_incident:
        return fact.labels
    earlier = session.scalars(
        select(SourceFact)
        .where(SourceFact.source == "pagerduty", SourceFact.group_key == fact.group_key, SourceFact.id != fact.id)
        .order_by(SourceFact.id)
        .limit(1)
    ).first()
    return {**earlier.labels, **fact.labels} if earlier is not None else fact.labels


def record(session: Session, drafts: list[FactDraft], *, delivery_id: int | None, now: dt.datetime) -> Recorded:
    """Store new facts, and put each on the timeline of every open incident watching it."""
    result = Recorded()
    rows = {draft.identity: _fact_row(draft, delivery_id, now) for draft in drafts}  # one per identity
    # In one order everywhere: two deliveries sharing facts then wait for each other, never deadlock.
    rows = dict(sorted(rows.items()))
    # The inserted rows come back whole (they read as SourceFact does): no second query for them.
    result.new_facts = _insert_returning(
        session, SourceFact, list(rows.values()), ["identity"], list(SourceFact.__table__.columns)
    )
    if not result.new_facts:
        return result
    watching = _open_watches(session)
    by_incident: dict[int, tuple[Incident, list[SourceFact]]] = {}
    for fact in result.new_facts:
        labels = _labels_with_history(session, fact)
        hit = False
        for incident, watch_list in watching:
            if any(matches(matchers, labels) for matchers in watch_list):
                by_incident.setdefault(incident.id, (incident, []))[1].append(fact)
                hit = True
        if not hit and fact.status in FIRING_STATUSES:
            result.unmatched_firing[fact.group_key or fact.identity].append(fact)
    for incident_id, (incident, facts) in by_incident.items():
        result.landed[incident_id] = land(session, incident, facts, now=now, notified=False)
    return result


# -- landing facts on a timeline -----------------------------------------------------------------
def land(
    session: Session, incident: Incident, facts: list[SourceFact], *, now: dt.datetime, notified: bool
) -> list[TimelineEntry]:
    """Link facts to an incident (each once) and add one entry per group and status; facts
    already on its timeline are skipped."""
    rows = [
        {"incident_id": incident.id, "fact_id": f.id, "linked_at": now, "notified_at": now if notified else None}
        for f in sorted(facts, key=lambda fact: fact.id)
    ]
    links = {
        fact_id: link_id
        for link_id, fact_id in _insert_returning(
            session,
            IncidentFact,
            rows,
            ["incident_id", "fact_id"],
            [IncidentFact.__table__.c.id, IncidentFact.__table__.c.fact_id],
        )
    }
    if not links:
        return []
    groups: dict[tuple[str, str], list[SourceFact]] = defaultdict(list)
    for fact in facts:
        if fact.id in links:
            groups[(fact.group_key or fact.identity, fact.status)].append(fact)
    entries = []
    for (_, status), members in groups.items():
        members.sort(key=lambda f: (f.occurred_at, f.id))
        # A firing group happened when its first alert started; a resolution when its last one ended.
        at = members[-1].occurred_at if status == "resolved" else members[0].occurred_at
        entry = timeline.add_entry(
            session,
            incident,
            text=entry_text(members),
            author=members[0].source[:32],
            occurred_at=at,
            recorded_at=now,
            kind=EntryKind.NOTE,
            source=EntrySource.MONITORING,
            permalink=next((f.link for f in members if f.link and len(f.link) <= 500), None),
        )
        entry.origin = members[0].source[:24]
        session.execute(
            update(IncidentFact)
            .where(IncidentFact.id.in_([links[f.id] for f in members]))
            .values(entry_id=entry.id)
            .execution_options(synchronize_session=False)
        )
        entries.append(entry)
    session.flush()
    if any(_gives_milestone(fact) for fact in facts):
        refresh_machine_milestones(session, incident.id)
    return entries


def entry_text(facts: list[SourceFact]) -> str:
    first = facts[0]
    if len(facts) == 1:
        return f"{first.source} {first.status}: {_told_apart(first)}"
    noun = {"alert": "alerts", "page": "pages", "deploy": "deploys"}.get(first.kind, "events")
    names = list(dict.fromkeys(_short_name(f) for f in facts))
    shown = ", ".join(names[:MAX_NAMES])
    more = f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
    return f"{first.source} {first.status}: {len(facts)} {noun} — {shown}{more}"


def _told_apart(fact: SourceFact) -> str:
    """A lone alert's title with the label that tells it from its siblings (`HighErrorRate
    (web-2): …`): Alertmanager may notify one group's alerts one at a time, and two entries
    reading alike would leave a reviewer guessing which host fired when."""
    name = fact.labels.get("alertname")
    short = _short_name(fact)
    if not name or short == name[:100] or not fact.title.startswith(name):
        return fact.title
    distinguishing = short[len(name) :].strip(" ()")
    if distinguishing in fact.title:
        return fact.title
    return (short + fact.title[len(name) :])[:300]


def _short_name(fact: SourceFact) -> str:
    name = fact.labels.get("alertname") or fact.title
    for key in ("instance", "service", "job"):
        if fact.labels.get(key) and fact.labels.get("alertname"):
            return f"{name} ({fact.labels[key]})"[:100]
    return name[:100]


def backfill(
    session: Session, incident: Incident, watch_list: list[list[Any]], *, now: dt.datetime, lookback: dt.timedelta
) -> int:
    """Put the facts of the last `lookback` that match any of the watches on the timeline."""
    if not watch_list:
        return 0
    query = (
        select(SourceFact)
        .where(SourceFact.occurred_at >= now - lookback)
        .order_by(SourceFact.occurred_at, SourceFact.id)
    )
    found = [
        fact
        for fact in session.scalars(query)
        if any(matches(m, _labels_with_history(session, fact)) for m in watch_list)
    ]
    entries = land(session, incident, found, now=now, notified=True)
    return len(session.scalars(select(IncidentFact.id).where(IncidentFact.entry_id.in_([e.id for e in entries]))).all())


# -- milestones from machines ---------------------------------------------------------------------
def refresh_machine_milestones(session: Session, incident_id: int) -> None:
    """The earliest firing alert or page is `detected`, the earliest PagerDuty acknowledgement
    `acknowledged`; machine entries only (a person's milestone wins in `timeline.milestones`)."""
    base = (
        select(IncidentFact.entry_id)
        .join(SourceFact, SourceFact.id == IncidentFact.fact_id)
        .join(TimelineEntry, TimelineEntry.id == IncidentFact.entry_id)
        .where(IncidentFact.incident_id == incident_id, TimelineEntry.removed_at.is_(None))
        .order_by(SourceFact.occurred_at, IncidentFact.entry_id)
        .limit(1)
    )
    wanted: dict[int, Milestone] = {}
    acknowledged = session.scalar(base.where(SourceFact.kind == "page", SourceFact.status == "acknowledged"))
    if acknowledged is not None:
        wanted[acknowledged] = Milestone.ACKNOWLEDGED
    detected = session.scalar(
        base.where(SourceFact.kind.in_(("alert", "page")), SourceFact.status.in_(FIRING_STATUSES))
    )
    if detected is not None:
        wanted[detected] = Milestone.DETECTED
    machine_made = (Milestone.DETECTED, Milestone.ACKNOWLEDGED)
    marked = session.scalars(
        select(TimelineEntry).where(
            TimelineEntry.incident_id == incident_id,
            TimelineEntry.source == EntrySource.MONITORING,
            (TimelineEntry.milestone.in_(machine_made)) | (TimelineEntry.id.in_(list(wanted))),
        )
    )
    for entry in marked:
        milestone = wanted.get(entry.id)
        if entry.milestone not in (None, *machine_made):
            continue  # a person made this entry `mitigated` or `resolved` with `edit`: theirs to keep
        if entry.milestone != milestone:
            entry.milestone = milestone
            entry.kind = EntryKind.MILESTONE if milestone else EntryKind.NOTE
    session.flush()


def _gives_milestone(fact: SourceFact) -> bool:
    return (fact.kind in ("alert", "page") and fact.status in FIRING_STATUSES) or (
        fact.kind == "page" and fact.status == "acknowledged"
    )


def mark_notified(session: Session, incident_id: int, now: dt.datetime) -> list[tuple[SourceFact, IncidentFact]]:
    """Take the facts the incident channel has not heard about yet (and mark them heard)."""
    query = (
        select(SourceFact, IncidentFact)
        .join(IncidentFact, IncidentFact.fact_id == SourceFact.id)
        .where(IncidentFact.incident_id == incident_id, IncidentFact.notified_at.is_(None))
        .order_by(SourceFact.occurred_at, SourceFact.id)
    )
    pending = [(fact, link) for fact, link in session.execute(query)]
    if pending:
        session.execute(
            update(IncidentFact).where(IncidentFact.id.in_([link.id for _, link in pending])).values(notified_at=now)
        )
    return pending


def watch_on_declare(
    session: Session,
    incident: Incident,
    matcher_lists: list[list[Any]],
    *,
    by: str,
    now: dt.datetime,
    lookback: dt.timedelta,
    fact_ids: Sequence[int] = (),
) -> int:
    """The watches an incident is declared with (`service:NAME`, or an alert's labels), back-filled;
    `fact_ids` (the alert it was declared from) land whatever their age. Returns facts back-filled."""
    for matchers in matcher_lists:
        session.add(
            IncidentWatch(
                incident_id=incident.id,
                matchers=[list(m) for m in matchers],
                text=matchers_text(matchers)[:500],
                created_by=by,
                created_at=now,
            )
        )
    session.flush()
    count = 0
    if fact_ids:
        facts = list(session.scalars(select(SourceFact).where(SourceFact.id.in_(list(fact_ids)))))
        count += len(facts) if land(session, incident, facts, now=now, notified=True) else 0
    return count + backfill(
        session, incident, [[list(m) for m in ms] for ms in matcher_lists], now=now, lookback=lookback
    )
