"""webhook deliveries are pruned: index their age, and the facts' link to them (the FK's SET NULL looks it up)

Revision ID: 0008_delivery_retention
Revises: 0007_sources
Create Date: 2026-12-01
"""

from alembic import op

revision = "0008_delivery_retention"
down_revision = "0007_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_hook_deliveries_received", ["received_at"], unique=False)
    with op.batch_alter_table("source_facts", schema=None) as batch_op:
        batch_op.create_index("ix_source_facts_delivery", ["delivery_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("source_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_source_facts_delivery")
    with op.batch_alter_table("hook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_hook_deliveries_received")
