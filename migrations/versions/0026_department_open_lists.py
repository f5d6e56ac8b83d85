"""A department's open list from its open assignments alone: each assignment keeps its ticket's
status while the ticket is open and the ticket's creation time.

- ``open_status`` (the ticket's status while open, NULL once closed) and ``ticket_created_at``
  on ``ticket_assignments`` and ``ticket_assignments_archive``, written with the ticket
  (storage/ticket_rows.write). Backfilled for the open tickets' assignments only (a few
  percent of the rows): the index below covers those alone.
- ``ix_ticket_assignments_open_list (department_code, ticket_created_at, ticket_id)`` over the
  current assignments of open tickets, including ``open_status`` on PostgreSQL: a
  department's open list (its worklist, the tickets in a status) is counted and paged from the
  index alone, newest first, and only the page's tickets are read. Before, each of the
  department's open tickets was read and sorted for a page of 50: 8,000 rows and 80 ms at
  10 M tickets.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.storage.models import UTCDateTime

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# tickets table -> its assignments table
TABLES = {
    "tickets": "ticket_assignments",
    "tickets_archive": "ticket_assignments_archive",
}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for tickets, assignments in TABLES.items():
        op.add_column(assignments, sa.Column("open_status", sa.String(24), nullable=True))
        op.add_column(assignments, sa.Column("ticket_created_at", UTCDateTime(), nullable=True))
        opened = "ticket_open" if postgres else "ticket_open = 1"
        op.execute(
            f"UPDATE {assignments} SET "
            f"open_status = (SELECT t.status FROM {tickets} AS t WHERE t.id = ticket_id), "
            f"ticket_created_at = (SELECT t.created_at FROM {tickets} AS t WHERE t.id = ticket_id) "
            f"WHERE {opened}"
        )
    # PostgreSQL reads `ticket_open = true` as `ticket_open`; SQLite needs the term as written
    op.create_index(
        "ix_ticket_assignments_open_list",
        "ticket_assignments",
        ["department_code", "ticket_created_at", "ticket_id"],
        postgresql_where=sa.text("ended_at IS NULL AND ticket_open"),
        postgresql_include=["open_status"],
        sqlite_where=sa.text("ended_at IS NULL AND ticket_open = 1"),
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_assignments_open_list", table_name="ticket_assignments")
    for assignments in TABLES.values():
        with op.batch_alter_table(assignments) as batch:
            batch.drop_column("ticket_created_at")
            batch.drop_column("open_status")
