"""trackers: action items' tickets, the tracker outbox, webhook deliveries (issue 10)

Revision ID: 0004_trackers
Revises: 0003_insights
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_trackers"
down_revision = "0003_insights"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("action_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ticket_tracker", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("ticket_key", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("ticket_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("ticket_assignee", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("ticket_due", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("ticket_synced_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_action_items_ticket", ["ticket_tracker", "ticket_key"], unique=False)

    op.create_table(
        "tracker_writes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_item_id", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_item_id"],
            ["action_items.id"],
            name=op.f("fk_tracker_writes_action_item_id_action_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracker_writes")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_tracker_writes_dedup_key")),
    )
    with op.batch_alter_table("tracker_writes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tracker_writes_action_item_id"), ["action_item_id"], unique=False)
        batch_op.create_index("ix_tracker_writes_status_next", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "tracker_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracker_deliveries")),
        sa.UniqueConstraint("source", "delivery_id", name="uq_tracker_deliveries_source_delivery"),
    )


def downgrade() -> None:
    op.drop_table("tracker_deliveries")
    with op.batch_alter_table("tracker_writes", schema=None) as batch_op:
        batch_op.drop_index("ix_tracker_writes_status_next")
        batch_op.drop_index(batch_op.f("ix_tracker_writes_action_item_id"))
    op.drop_table("tracker_writes")
    with op.batch_alter_table("action_items", schema=None) as batch_op:
        batch_op.drop_index("ix_action_items_ticket")
        for column in (
            "ticket_synced_at",
            "ticket_due",
            "ticket_assignee",
            "ticket_state",
            "ticket_key",
            "ticket_tracker",
        ):
            batch_op.drop_column(column)
