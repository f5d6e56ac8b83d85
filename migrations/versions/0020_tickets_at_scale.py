"""Tickets at city scale: partial indexes over open tickets and open assignments, keyset order,
the (phone, time) index, and a character-gram content index (PostgreSQL GIN, SQLite FTS5).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.domain.ticket_search import grams
from callcenter.domain.tickets import OPEN_STATUSES

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_OPEN = ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES))

# the same keys as domain/ticket_search.grams: single characters and overlapping pairs, lower case
# (repeats are left in: GIN keeps each key once)
PG_GRAMS = """
CREATE OR REPLACE FUNCTION ticket_grams(body text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$
  SELECT string_to_array(l, NULL)
    || ARRAY(SELECT substr(l, i, 2) FROM generate_series(1, length(l) - 1) AS i)
  FROM lower(body) AS l
$$
"""


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    where_open = sa.text(f"status IN ({_OPEN})")
    op.create_index(
        "ix_tickets_open_due",
        "tickets",
        ["due_at", "id"],
        postgresql_where=where_open,
        sqlite_where=where_open,
    )
    op.create_index("ix_tickets_created_id", "tickets", ["created_at", "id"])
    op.create_index("ix_tickets_phone_created", "tickets", ["caller_phone", "created_at"])
    op.create_index(
        "ix_ticket_assignments_current",
        "ticket_assignments",
        ["department_code", "ticket_id"],
        postgresql_where=sa.text("ended_at IS NULL"),
        sqlite_where=sa.text("ended_at IS NULL"),
    )
    if postgres:
        op.execute(PG_GRAMS)
        op.execute(
            "CREATE INDEX ix_tickets_content_grams ON tickets USING gin (ticket_grams(content))"
        )
        return
    op.execute("CREATE VIRTUAL TABLE ticket_fts USING fts5(grams)")
    rows = bind.execute(sa.text("SELECT id, content FROM tickets")).all()
    if rows:
        bind.execute(
            sa.text("INSERT INTO ticket_fts(rowid, grams) VALUES (:id, :grams)"),
            [{"id": i, "grams": " ".join(sorted(grams(content or "")))} for i, content in rows],
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_tickets_content_grams")
        op.execute("DROP FUNCTION IF EXISTS ticket_grams(text)")
        # the per-day ticket number sequences (storage/tickets.py)
        op.execute(
            "DO $$ DECLARE s record; BEGIN "
            "FOR s IN SELECT sequencename FROM pg_sequences "
            "WHERE schemaname = current_schema() AND sequencename LIKE 'ticket\\_no\\_%' "
            "LOOP EXECUTE format('DROP SEQUENCE %I', s.sequencename); END LOOP; END $$"
        )
    else:
        op.execute("DROP TABLE IF EXISTS ticket_fts")
    op.drop_index("ix_ticket_assignments_current", table_name="ticket_assignments")
    op.drop_index("ix_tickets_phone_created", table_name="tickets")
    op.drop_index("ix_tickets_created_id", table_name="tickets")
    op.drop_index("ix_tickets_open_due", table_name="tickets")
