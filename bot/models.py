"""The database schema: incidents, their timeline, postmortem facts and drafts, action items, nudges.

Every timestamp is timezone-aware UTC (`UtcDateTime`). Schema changes happen only through
Alembic migrations in `bot/migrations`; `tests/test_migrations.py` holds the two in step.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator):
    """Stores aware datetimes as UTC; SQLite drops the zone, so it is put back on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the bot stores aware UTC only")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings with a CHECK: adding a value later is a small migration, not an ALTER TYPE.
    return Enum(cls, name=name, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])


class IncidentStatus(str, enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class EntryKind(str, enum.Enum):
    NOTE = "note"
    MILESTONE = "milestone"
    STATUS_UPDATE = "status_update"
    SYSTEM = "system"


class EntrySource(str, enum.Enum):
    COMMAND = "command"
    SYSTEM = "system"
    REACTION = "reaction"
    SHORTCUT = "shortcut"
    # Bookkeeping about action items: on the live timeline, not in the postmortem's account of the incident.
    ACTION_ITEM = "action_item"
    # A fact from the team's monitoring (alert, page, deploy …); `origin` names the tool.
    MONITORING = "monitoring"


class Milestone(str, enum.Enum):
    STARTED = "started"
    DETECTED = "detected"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


class FactSection(str, enum.Enum):
    SUMMARY = "summary"
    IMPACT = "impact"
    CAUSE = "cause"
    TRIGGER = "trigger"
    WENT_WELL = "went_well"
    WENT_WRONG = "went_wrong"
    LUCKY = "lucky"
    DETECTION = "detection"


class ActionStatus(str, enum.Enum):
    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[IncidentStatus] = mapped_column(
        _enum(IncidentStatus, "incident_status"), default=IncidentStatus.OPEN
    )
    incident_type: Mapped[str] = mapped_column(String(40), default="default")
    channel_id: Mapped[str] = mapped_column(String(32), unique=True)
    channel_name: Mapped[str | None] = mapped_column(String(100))
    is_private: Mapped[bool] = mapped_column(default=False)
    declared_in_channel_id: Mapped[str | None] = mapped_column(String(32))
    declared_by: Mapped[str] = mapped_column(String(32))
    commander_id: Mapped[str | None] = mapped_column(String(32))
    comms_id: Mapped[str | None] = mapped_column(String(32))
    scribe_id: Mapped[str | None] = mapped_column(String(32))
    # Owns the write-up and gets its reminders; None means the commander (issue 12).
    postmortem_owner_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(32))
    # Bumped on every close/reopen so a draft can be tied to the close that asked for it.
    close_count: Mapped[int] = mapped_column(Integer, default=0)

    entries: Mapped[list[TimelineEntry]] = relationship(back_populates="incident", passive_deletes=True)
    # Services and tags (insights, issue 11), read by the topic and `list`.
    labels: Mapped[list[IncidentLabel]] = relationship(order_by="IncidentLabel.id", viewonly=True)

    __table_args__ = (
        CheckConstraint("severity IN ('sev1','sev2','sev3','sev4')", name="severity_known"),
        Index("ix_incidents_status_created", "status", "created_at"),
    )


class TimelineEntry(Base):
    __tablename__ = "timeline_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    author_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind, "entry_kind"))
    milestone: Mapped[Milestone | None] = mapped_column(_enum(Milestone, "milestone"))
    source: Mapped[EntrySource] = mapped_column(_enum(EntrySource, "entry_source"))
    # Where an imported message came from; unique per incident so a message lands once.
    source_channel_id: Mapped[str | None] = mapped_column(String(32))
    source_ts: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(String(500))
    # For monitoring entries: the tool the fact came from (alertmanager, pagerduty …).
    origin: Mapped[str | None] = mapped_column(String(24))
    removed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(32))

    incident: Mapped[Incident] = relationship(back_populates="entries")

    __table_args__ = (
        UniqueConstraint("incident_id", "source_channel_id", "source_ts", name="uq_timeline_entries_source_message"),
        Index("ix_timeline_entries_incident_occurred", "incident_id", "occurred_at"),
        Index("ix_timeline_entries_source", "source_channel_id", "source_ts"),
    )


class Fact(Base):
    """A postmortem fact captured during the incident (`summary`, `cause`, `went-well` …)."""

    __tablename__ = "facts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    section: Mapped[FactSection] = mapped_column(_enum(FactSection, "fact_section"))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    removed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(32))


class ActionItem(Base):
    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str | None] = mapped_column(String(32), index=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    priority: Mapped[str] = mapped_column(String(2), default="P2")
    action_type: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[ActionStatus] = mapped_column(_enum(ActionStatus, "action_status"), default=ActionStatus.OPEN)
    link_url: Mapped[str | None] = mapped_column(String(1000))
    drop_reason: Mapped[str | None] = mapped_column(Text)
    snoozed_until: Mapped[dt.date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(32))
    # Its ticket in the tracker (issue 10). The ticket_* values are what the tracker said last: a
    # difference from them is a change made in the tracker, so the bot's own writes never echo back.
    ticket_tracker: Mapped[str | None] = mapped_column(String(16))
    ticket_key: Mapped[str | None] = mapped_column(String(100))
    ticket_state: Mapped[str | None] = mapped_column(String(16))  # open | closed | gone
    ticket_assignee: Mapped[str | None] = mapped_column(String(200))
    ticket_due: Mapped[dt.date | None] = mapped_column(Date)
    ticket_synced_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        CheckConstraint("priority IN ('P0','P1','P2','P3')", name="priority_known"),
        Index("ix_action_items_status_due", "status", "due_date"),
        Index("ix_action_items_ticket", "ticket_tracker", "ticket_key"),
    )


class Revision(Base):
    """One change to a timeline entry, fact or action item: who, when, and the fields before and after."""

    __tablename__ = "revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_entries.id", ondelete="CASCADE"), index=True)
    fact_id: Mapped[int | None] = mapped_column(ForeignKey("facts.id", ondelete="CASCADE"), index=True)
    action_item_id: Mapped[int | None] = mapped_column(ForeignKey("action_items.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(24))  # edit, remove, restore, done, reopen, assign …
    changed_by: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN entry_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN fact_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN action_item_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_subject",
        ),
    )


class Postmortem(Base):
    """The latest rendered draft of an incident's postmortem and the state of its publication."""

    __tablename__ = "postmortems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    # draft -> review -> final ("Approved"); every change is kept in postmortem_status_changes.
    status: Mapped[str] = mapped_column(String(8), default="draft")
    template: Mapped[str] = mapped_column(String(60), default="default")
    markdown: Mapped[str] = mapped_column(Text, default="")
    review: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rendered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    finalized_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    finalized_by: Mapped[str | None] = mapped_column(String(32))
    # Publication is retried until it succeeds: pending -> published (or failed after giving up).
    publish_state: Mapped[str] = mapped_column(String(12), default="pending")
    publish_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    file_id: Mapped[str | None] = mapped_column(String(32))
    file_url: Mapped[str | None] = mapped_column(String(500))  # the file's permalink, for the headline
    canvas_id: Mapped[str | None] = mapped_column(String(32))
    published_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # Changes (entries, facts, items) made after close, counted so the draft is re-rendered once
    # they stop coming (issue 8): stale while changes_seen > changes_rendered.
    changes_seen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    changes_rendered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stale_since: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_change_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # The follow-up (issue 12): when the status last changed, the review meeting, and when the
    # write-up was shared with each audience (late shares are counted from these).
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    meeting_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    meeting_set_by: Mapped[str | None] = mapped_column(String(32))
    shared_engineering_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    shared_engineering_by: Mapped[str | None] = mapped_column(String(32))
    shared_stakeholders_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    shared_stakeholders_by: Mapped[str | None] = mapped_column(String(32))


class NudgeClaim(Base):
    """A claim on sending one reminder (`kind`) to one channel for one period (ISO week or day).

    The unique key is what makes a nudge exactly-once across processes: whoever inserts the row
    sends; a claim whose lease ran out is taken over after checking Slack for the sent message.
    """

    __tablename__ = "nudge_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # weekly | digest | postmortem
    channel_id: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(16))  # 2026-W47 or 2026-11-22
    status: Mapped[str] = mapped_column(String(12), default="claimed")  # claimed | sent | failed | empty
    claimed_by: Mapped[str] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("kind", "channel_id", "period", name="uq_nudge_claims_kind_channel_period"),)


# --- insights (issue 11) ---
class IncidentLabel(Base):
    """A service the incident touched (`service checkout`) or a tag (`tag db pool`): what related
    incidents and the periodic review group by. Names are stored lower-case."""

    __tablename__ = "incident_labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # service | tag
    name: Mapped[str] = mapped_column(String(40))

    __table_args__ = (
        UniqueConstraint("incident_id", "kind", "name", name="uq_incident_labels_incident_kind_name"),
        Index("ix_incident_labels_kind_name", "kind", "name"),
        CheckConstraint("kind IN ('service','tag')", name="kind_known"),
    )


class IncidentSearchDocument(Base):
    """The words an incident is found by (title, trigger, causes, summary), kept current by the code
    that writes them (bot/insights/search_index.py). The text-search indexes over it are the
    database's own and live only in the migration: a GIN index on to_tsvector on PostgreSQL, an
    FTS5 table kept in step by triggers on SQLite."""

    __tablename__ = "incident_search_documents"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    document: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


# --- trackers (issue 10) ---
class TrackerWrite(Base):
    """One write to the tracker (create, close, reopen, comment), stored before it is tried.

    The outbox: a worker claims a row (lease), calls the tracker, records the outcome; transient
    failures wait their backoff, a failure a person must fix is told once in the incident's
    channel. `dedup_key` (`create:<item id>`) makes one ticket per item across processes.
    """

    __tablename__ = "tracker_writes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_item_id: Mapped[int] = mapped_column(ForeignKey("action_items.id", ondelete="CASCADE"), index=True)
    op: Mapped[str] = mapped_column(String(16))  # create | close | reopen | comment
    dedup_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | done | failed
    requested_by: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    done_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    told_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())  # the failure was said in the channel

    __table_args__ = (Index("ix_tracker_writes_status_next", "status", "next_attempt_at"),)


class TrackerDelivery(Base):
    """A webhook delivery already handled (GitHub's X-GitHub-Delivery, Jira's webhook identifier)."""

    __tablename__ = "tracker_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    delivery_id: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("source", "delivery_id", name="uq_tracker_deliveries_source_delivery"),)


# --- intake (issue 8) ---
class InboxState(str, enum.Enum):
    PENDING = "pending"  # stored and acknowledged; its work has not finished
    ANSWERING = "answering"  # the work's effect is committed; its author may not have been told yet
    DONE = "done"


class InboxRequest(Base):
    """A Slack request that leads to work, stored (committed) before it is acknowledged.

    The process that stored it holds a lease it keeps renewing; a row whose lease ran out belongs
    to a process that died, and is taken over by exactly one other (a conditional UPDATE on
    `attempts`) and carried out from the stored body. `dedup_key` is the event id for events (Slack
    re-delivers them) and a hash of the body otherwise; `guard_key` lets one request hold a name for
    a while (a declare by one person of one title) so that a twin is recognised in the database.
    """

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    surface: Mapped[str] = mapped_column(String(16))  # command | event | action | view | shortcut
    dedup_key: Mapped[str] = mapped_column(String(128), unique=True)
    guard_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    raw_body: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(100))
    user_id: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    state: Mapped[InboxState] = mapped_column(_enum(InboxState, "inbox_state"), default=InboxState.PENDING)
    claimed_by: Mapped[str] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    done_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_inbox_state_lease", "state", "lease_until"),)


# --- the follow-up: status history, reviewers and observers, the checklist (issue 12) ---
class PostmortemStatusChange(Base):
    """One change of a postmortem's status (draft, review, final): who, when, and why when the bot did it."""

    __tablename__ = "postmortem_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(8))
    changed_by: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str | None] = mapped_column(Text)


class PostmortemPerson(Base):
    """Someone asked to review the postmortem (`reviewer`), to attend its meeting (`observer`), or who
    put a message on the incident's timeline (`pinner`)."""

    __tablename__ = "postmortem_people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(12))  # reviewer | observer | pinner
    added_by: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("incident_id", "user_id", "role", name="uq_postmortem_people_person_role"),)


class ChecklistTick(Base):
    """The state of one communication checklist item of a postmortem, and who set it when."""

    __tablename__ = "postmortem_checklist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(24))
    checked: Mapped[bool] = mapped_column(default=False)
    changed_by: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("incident_id", "item", name="uq_postmortem_checklist_incident_item"),)


# --- sources: facts from monitoring (issue 9) ---
class HookDelivery(Base):
    """One accepted webhook delivery, stored raw before it is interpreted.

    `dedup_key` is unique per source, so a retried or repeated delivery is stored once;
    `interpreted_at` stays empty until its facts are recorded (a sweep finishes what a dead
    process left)."""

    __tablename__ = "hook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(24))
    event: Mapped[str] = mapped_column(String(64), default="")  # e.g. GitHub's X-GitHub-Event
    dedup_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    interpreted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("source", "dedup_key", name="uq_hook_deliveries_source_dedup_key"),
        Index("ix_hook_deliveries_pending", "interpreted_at", "received_at"),
        Index("ix_hook_deliveries_received", "received_at"),  # pruning looks for the oldest, every sweep
    )


class SourceFact(Base):
    """Something the team's tools saw happen: an alert firing or resolving, a page, a deploy.

    `identity` is unique: Alertmanager's (fingerprint, status, startsAt), PagerDuty's event id …
    so the same fact never lands twice however often it is delivered."""

    __tablename__ = "source_facts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(12))  # alert | page | deploy | change | note
    status: Mapped[str] = mapped_column(String(24))  # firing | resolved | triggered | acknowledged …
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    title: Mapped[str] = mapped_column(String(300))
    link: Mapped[str | None] = mapped_column(String(1000))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    identity: Mapped[str] = mapped_column(String(300), unique=True)
    # Facts of one delivery that belong together (one Alertmanager group notification).
    group_key: Mapped[str | None] = mapped_column(String(300))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("hook_deliveries.id", ondelete="SET NULL"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_source_facts_occurred", "occurred_at"),
        Index("ix_source_facts_delivery", "delivery_id"),  # pruning a delivery sets its facts' link to NULL
    )


class IncidentWatch(Base):
    """Label matchers an open incident listens to (`service=checkout`, `env=~prod.*`)."""

    __tablename__ = "incident_watches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    matchers: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[key, "=" | "=~", value], …]
    text: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    removed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class IncidentFact(Base):
    """A fact that landed on an incident's timeline (unique: a fact lands once per incident)."""

    __tablename__ = "incident_facts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    fact_id: Mapped[int] = mapped_column(ForeignKey("source_facts.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_entries.id", ondelete="SET NULL"))
    linked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    # Empty until the incident channel was told about it (at most one message a minute).
    notified_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("incident_id", "fact_id", name="uq_incident_facts_incident_fact"),
        Index("ix_incident_facts_pending", "incident_id", "notified_at"),
    )


class FactNotice(Base):
    """When an incident channel was last told about new facts: the debounce every replica shares."""

    __tablename__ = "fact_notices"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    last_sent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class AlertPost(Base):
    """A firing alert group or page matching no incident, posted once to ALERTS_CHANNEL."""

    __tablename__ = "alert_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_identity: Mapped[str] = mapped_column(String(300), unique=True)
    group_key: Mapped[str] = mapped_column(String(300), index=True)
    source: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(300))
    matchers: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the watch a declared incident gets
    fact_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    # Whoever pressed Declare first (claimed before declaring, so two clicks make one incident).
    declared_by: Mapped[str | None] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
