"""Knowledge base (知识库): entries, immutable versions, audit trail, search index, gaps.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

Search reads `knowledge_index` (the published version of each entry, segmented by jieba). On
PostgreSQL a generated tsvector column over the segmented terms ('simple' configuration, title
and keywords weighted A, body C) carries a GIN index, and pg_trgm (a trusted extension, which the
database owner may create) indexes titles for partial words and typos; if this role may not
create it, search works without it. On SQLite an FTS5 table holds the same terms.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

from callcenter.storage.models import BigId, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

log = logging.getLogger("callcenter.migrations")
TRGM_INDEX = "ix_knowledge_index_title_trgm"
TSV = (
    "setweight(to_tsvector('simple', title_terms), 'A') || "
    "setweight(to_tsvector('simple', keyword_terms), 'A') || "
    "setweight(to_tsvector('simple', body_terms), 'C')"
)


def _postgres_search() -> None:
    op.execute(
        sa.text(
            "ALTER TABLE knowledge_index ADD COLUMN tsv tsvector "
            f"GENERATED ALWAYS AS ({TSV}) STORED"
        )
    )
    op.execute(sa.text("CREATE INDEX ix_knowledge_index_tsv ON knowledge_index USING gin (tsv)"))
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except DBAPIError as err:
        log.warning(
            "pg_trgm is not available to this role (%s); knowledge search works without "
            "partial-word matching on titles. A superuser can run CREATE EXTENSION pg_trgm in "
            "this database and CREATE INDEX %s ON knowledge_index USING gin (title gin_trgm_ops).",
            str(err.orig).splitlines()[0],
            TRGM_INDEX,
        )
        return
    op.create_index(
        TRGM_INDEX,
        "knowledge_index",
        ["title"],
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )


def upgrade() -> None:
    op.create_table(
        "knowledge_entries",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "department_code", sa.String(64), sa.ForeignKey("departments.code"), nullable=False
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("published_version", sa.Integer),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_entries")),
    )
    op.create_index(
        op.f("ix_knowledge_entries_department_code"), "knowledge_entries", ["department_code"]
    )
    op.create_index(op.f("ix_knowledge_entries_status"), "knowledge_entries", ["status"])
    op.create_table(
        "knowledge_versions",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("entry_id", BigId, sa.ForeignKey("knowledge_entries.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("answer_markdown", sa.Text, nullable=False),
        sa.Column("department_code", sa.String(64), nullable=False),
        sa.Column("topic_code", sa.String(64)),
        sa.Column("keywords", sa.JSON, nullable=False),
        sa.Column("basis", sa.Text),
        sa.Column("effective_from", sa.Date),
        sa.Column("effective_until", sa.Date),
        sa.Column("region", sa.String(64)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("published_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_versions")),
        sa.UniqueConstraint("entry_id", "version", name=op.f("uq_knowledge_versions_entry_id")),
    )
    op.create_index(op.f("ix_knowledge_versions_entry_id"), "knowledge_versions", ["entry_id"])
    op.create_table(
        "knowledge_events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("entry_id", BigId, sa.ForeignKey("knowledge_entries.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_events")),
    )
    op.create_index(op.f("ix_knowledge_events_entry_id"), "knowledge_events", ["entry_id"])
    op.create_index(op.f("ix_knowledge_events_at"), "knowledge_events", ["at"])
    op.create_table(
        "knowledge_index",
        sa.Column("entry_id", BigId, sa.ForeignKey("knowledge_entries.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("department_code", sa.String(64), nullable=False),
        sa.Column("topic_code", sa.String(64)),
        sa.Column("region", sa.String(64)),
        sa.Column("effective_from", sa.Date),
        sa.Column("effective_until", sa.Date),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("title_terms", sa.Text, nullable=False),
        sa.Column("keyword_terms", sa.Text, nullable=False),
        sa.Column("body_terms", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_knowledge_index")),
    )
    op.create_index(
        op.f("ix_knowledge_index_department_code"), "knowledge_index", ["department_code"]
    )
    op.create_index(op.f("ix_knowledge_index_topic_code"), "knowledge_index", ["topic_code"])
    op.create_table(
        "knowledge_terms",
        sa.Column("term", sa.String(100), nullable=False),
        sa.Column("docs", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_knowledge_terms")),
    )
    op.create_table(
        "knowledge_misses",
        sa.Column("query", sa.String(200), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("query", name=op.f("pk_knowledge_misses")),
    )
    # the entry and version a ticket was answered from (直接答复), kept after later revisions
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("knowledge_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
        )
        batch.add_column(sa.Column("knowledge_version", sa.Integer))
        # a version never changes, so its title is kept with the ticket as it was answered
        batch.add_column(sa.Column("knowledge_title", sa.String(200)))
        batch.create_index(op.f("ix_tickets_knowledge_entry_id"), ["knowledge_entry_id"])
    if op.get_bind().dialect.name == "postgresql":
        _postgres_search()
    else:
        op.execute(
            sa.text(
                "CREATE VIRTUAL TABLE knowledge_fts USING fts5("
                "title_terms, keyword_terms, body_terms, tokenize = 'unicode61', prefix = '1 2')"
            )
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text(f"DROP INDEX IF EXISTS {TRGM_INDEX}"))
    else:
        op.execute(sa.text("DROP TABLE IF EXISTS knowledge_fts"))
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index(op.f("ix_tickets_knowledge_entry_id"))
        batch.drop_column("knowledge_title")
        batch.drop_column("knowledge_version")
        batch.drop_column("knowledge_entry_id")
    op.drop_table("knowledge_misses")
    op.drop_table("knowledge_terms")
    op.drop_table("knowledge_index")
    op.drop_table("knowledge_events")
    op.drop_table("knowledge_versions")
    op.drop_table("knowledge_entries")
