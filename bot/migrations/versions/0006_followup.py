"""the follow-up: postmortem owner, status history, reviewers and observers, meeting, sharing, checklist

Revision ID: 0006_followup
Revises: 0005_intake
Create Date: 2026-11-30 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_followup"
down_revision = "0005_intake"
branch_labels = None
depends_on = None

_POSTMORTEM_COLUMNS = (
    ("status_changed_at", sa.DateTime(timezone=True)),
    ("meeting_at", sa.DateTime(timezone=True)),
    ("meeting_set_by", sa.String(length=32)),
    ("shared_engineering_at", sa.DateTime(timezone=True)),
    ("shared_engineering_by", sa.String(length=32)),
    ("shared_stakeholders_at", sa.DateTime(timezone=True)),
    ("shared_stakeholders_by", sa.String(length=32)),
)


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("postmortem_owner_id", sa.String(length=32), nullable=True))
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        for name, kind in _POSTMORTEM_COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))

    op.create_table(
        "postmortem_status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("changed_by", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_postmortem_status_changes_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem_status_changes")),
    )
    with op.batch_alter_table("postmortem_status_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_postmortem_status_changes_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "postmortem_people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("added_by", sa.String(length=32), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_postmortem_people_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem_people")),
        sa.UniqueConstraint("incident_id", "user_id", "role", name="uq_postmortem_people_person_role"),
    )
    op.create_table(
        "postmortem_checklist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=24), nullable=False),
        sa.Column("checked", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_postmortem_checklist_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem_checklist")),
        sa.UniqueConstraint("incident_id", "item", name="uq_postmortem_checklist_incident_item"),
    )


def downgrade() -> None:
    op.drop_table("postmortem_checklist")
    op.drop_table("postmortem_people")
    with op.batch_alter_table("postmortem_status_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postmortem_status_changes_incident_id"))
    op.drop_table("postmortem_status_changes")
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        for name, _ in reversed(_POSTMORTEM_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("postmortem_owner_id")
