"""sources: webhook deliveries, facts from monitoring, watches, notices, alert posts (issue 9)

Revision ID: 0007_sources
Revises: 0006_followup
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_sources"
down_revision = "0006_followup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interpreted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hook_deliveries")),
        sa.UniqueConstraint("source", "dedup_key", name="uq_hook_deliveries_source_dedup_key"),
    )
    with op.batch_alter_table("hook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_hook_deliveries_pending", ["interpreted_at", "received_at"], unique=False)

    op.create_table(
        "alert_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_identity", sa.String(length=300), nullable=False),
        sa.Column("group_key", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("fact_ids", sa.JSON(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("declared_by", sa.String(length=32), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_alert_posts_incident_id_incidents"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_posts")),
        sa.UniqueConstraint("group_identity", name=op.f("uq_alert_posts_group_identity")),
    )
    with op.batch_alter_table("alert_posts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_posts_group_key"), ["group_key"], unique=False)

    op.create_table(
        "fact_notices",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_fact_notices_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_fact_notices")),
    )
    op.create_table(
        "incident_watches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_watches_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_watches")),
    )
    with op.batch_alter_table("incident_watches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_watches_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "source_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("link", sa.String(length=1000), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("identity", sa.String(length=300), nullable=False),
        sa.Column("group_key", sa.String(length=300), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["hook_deliveries.id"],
            name=op.f("fk_source_facts_delivery_id_hook_deliveries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_facts")),
        sa.UniqueConstraint("identity", name=op.f("uq_source_facts_identity")),
    )
    with op.batch_alter_table("source_facts", schema=None) as batch_op:
        batch_op.create_index("ix_source_facts_occurred", ["occurred_at"], unique=False)

    op.create_table(
        "incident_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("fact_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["timeline_entries.id"],
            name=op.f("fk_incident_facts_entry_id_timeline_entries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["fact_id"], ["source_facts.id"], name=op.f("fk_incident_facts_fact_id_source_facts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_facts_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_facts")),
        sa.UniqueConstraint("incident_id", "fact_id", name="uq_incident_facts_incident_fact"),
    )
    with op.batch_alter_table("incident_facts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_facts_fact_id"), ["fact_id"], unique=False)
        batch_op.create_index("ix_incident_facts_pending", ["incident_id", "notified_at"], unique=False)

    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.drop_column("origin")

    with op.batch_alter_table("incident_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_facts_pending")
        batch_op.drop_index(batch_op.f("ix_incident_facts_fact_id"))

    op.drop_table("incident_facts")
    with op.batch_alter_table("source_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_source_facts_occurred")

    op.drop_table("source_facts")
    with op.batch_alter_table("incident_watches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_watches_incident_id"))

    op.drop_table("incident_watches")
    op.drop_table("fact_notices")
    with op.batch_alter_table("alert_posts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_posts_group_key"))

    op.drop_table("alert_posts")
    with op.batch_alter_table("hook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_hook_deliveries_pending")

    op.drop_table("hook_deliveries")
