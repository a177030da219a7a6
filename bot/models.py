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
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


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
    status: Mapped[IncidentStatus] = mapped_column(_enum(IncidentStatus, "incident_status"), default=IncidentStatus.OPEN)
    incident_type: Mapped[str] = mapped_column(String(40), default="default")
    channel_id: Mapped[str] = mapped_column(String(32), unique=True)
    channel_name: Mapped[str | None] = mapped_column(String(100))
    is_private: Mapped[bool] = mapped_column(default=False)
    declared_in_channel_id: Mapped[str | None] = mapped_column(String(32))
    declared_by: Mapped[str] = mapped_column(String(32))
    commander_id: Mapped[str | None] = mapped_column(String(32))
    comms_id: Mapped[str | None] = mapped_column(String(32))
    scribe_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(32))
    # Bumped on every close/reopen so a draft can be tied to the close that asked for it.
    close_count: Mapped[int] = mapped_column(Integer, default=0)

    entries: Mapped[list[TimelineEntry]] = relationship(back_populates="incident", passive_deletes=True)

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

    __table_args__ = (
        CheckConstraint("priority IN ('P0','P1','P2','P3')", name="priority_known"),
        Index("ix_action_items_status_due", "status", "due_date"),
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
    status: Mapped[str] = mapped_column(String(8), default="draft")  # draft | final
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

    __table_args__ = (Index("ix_source_facts_occurred", "occurred_at"),)


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
