"""insights: services and tags, and the incidents' text-search documents with each database's own index

PostgreSQL: a generated tsvector column (to_tsvector('english', document)) with a GIN index,
queried with ts_rank.
SQLite: an FTS5 table over the documents (external content), kept in step by triggers, queried
with bm25. Neither index is in the SQLAlchemy models (tests/test_migrations.py ignores them).

Revision ID: 0003_insights
Revises: 0002_hardening
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_insights"
down_revision = "0002_hardening"
branch_labels = None
depends_on = None

FTS_TABLE = "incident_search_fts"
PG_INDEX = "ix_incident_search_documents_fts"
PG_VECTOR = "search_vector"


def upgrade() -> None:
    op.create_table(
        "incident_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.CheckConstraint("kind IN ('service','tag')", name=op.f("ck_incident_labels_kind_known")),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_labels_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_labels")),
        sa.UniqueConstraint("incident_id", "kind", "name", name="uq_incident_labels_incident_kind_name"),
    )
    with op.batch_alter_table("incident_labels", schema=None) as batch_op:
        batch_op.create_index("ix_incident_labels_kind_name", ["kind", "name"], unique=False)

    op.create_table(
        "incident_search_documents",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_search_documents_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_search_documents")),
    )

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # A stored tsvector: ranking reads it instead of parsing every matching document again.
        op.execute(
            f"ALTER TABLE incident_search_documents ADD COLUMN {PG_VECTOR} tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english', document)) STORED"
        )
        op.execute(f"CREATE INDEX {PG_INDEX} ON incident_search_documents USING GIN ({PG_VECTOR})")
        aggregate = "string_agg(f.text, ' ' ORDER BY f.id)"
    else:
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(document, content='incident_search_documents', "
            "content_rowid='incident_id', tokenize='porter unicode61')"
        )
        # The FTS5 documentation's recipe for an external-content table: the index follows every write.
        op.execute(f"""CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON incident_search_documents BEGIN
            INSERT INTO {FTS_TABLE}(rowid, document) VALUES (new.incident_id, new.document); END""")
        op.execute(f"""CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON incident_search_documents BEGIN
            INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, document) VALUES ('delete', old.incident_id, old.document); END""")
        op.execute(f"""CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE ON incident_search_documents BEGIN
            INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, document) VALUES ('delete', old.incident_id, old.document);
            INSERT INTO {FTS_TABLE}(rowid, document) VALUES (new.incident_id, new.document); END""")
        aggregate = "group_concat(f.text, ' ')"
    # Incidents from before this revision become searchable at once.
    op.execute(f"""
        INSERT INTO incident_search_documents (incident_id, document, updated_at)
        SELECT i.id, i.title || coalesce(' ' || (
            SELECT {aggregate} FROM facts f
            WHERE f.incident_id = i.id AND f.removed_at IS NULL AND f.section IN ('trigger', 'cause', 'summary')
        ), ''), i.created_at
        FROM incidents i
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        op.execute(f"ALTER TABLE incident_search_documents DROP COLUMN IF EXISTS {PG_VECTOR}")
    else:
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    op.drop_table("incident_search_documents")
    with op.batch_alter_table("incident_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_labels_kind_name")
    op.drop_table("incident_labels")
