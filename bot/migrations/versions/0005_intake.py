"""intake: requests stored before they are acknowledged (issue 8)

Revision ID: 0005_intake
Revises: 0004_trackers
Create Date: 2026-11-30 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_intake"
# The lead re-chains revisions at merge; 0001's id is '0001'.
down_revision = "0004_trackers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("surface", sa.String(length=16), nullable=False),
        sa.Column("dedup_key", sa.String(length=128), nullable=False),
        sa.Column("guard_key", sa.String(length=200), nullable=True),
        sa.Column("raw_body", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum("pending", "answering", "done", name="inbox_state", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_inbox_dedup_key")),
        sa.UniqueConstraint("guard_key", name=op.f("uq_inbox_guard_key")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_state_lease", ["state", "lease_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_state_lease")
    op.drop_table("inbox")
