"""hardening (issue 8): postmortem drafts know about changes made after they were rendered

Revision ID: 0002_hardening
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_hardening"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changes_seen", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("changes_rendered", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("stale_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_change_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.drop_column("last_change_at")
        batch_op.drop_column("stale_since")
        batch_op.drop_column("changes_rendered")
        batch_op.drop_column("changes_seen")
