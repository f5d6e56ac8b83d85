"""Ticket views at city scale, fourth part: an open ticket's lead department on its row.

- ``open_lead_department`` on ``tickets`` (and ``tickets_archive``): while the ticket is open,
  the department of its current lead assignment (NULL: none, or the ticket is closed), written
  with the ticket (storage/ticket_rows.write). Backfilled here for the open tickets only: a
  few percent of the rows (a backfill of every ticket's lead rewrote every row and every index
  entry, the content-gram GIN index's included, and ran past 10 minutes at 10 M tickets).
- PostgreSQL: ``ix_tickets_open_due (due_at, id)`` over open tickets now also holds it, so
  ``/tickets/sla`` counts its 10,000 most urgent tickets by lead department and colour from the
  index alone. Before, each of them probed the open assignments' index for its lead: 30,000
  buffers and 24 ms at 10 M tickets.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.domain.tickets import OPEN_STATUSES

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_OPEN = ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES))
# tickets table -> its assignments table
TABLES = {
    "tickets": "ticket_assignments",
    "tickets_archive": "ticket_assignments_archive",
}


def _open_due(include: list[str]) -> None:
    op.drop_index("ix_tickets_open_due", table_name="tickets")
    op.create_index(
        "ix_tickets_open_due",
        "tickets",
        ["due_at", "id"],
        postgresql_where=sa.text(f"status IN ({_OPEN})"),
        postgresql_include=include,
    )


def upgrade() -> None:
    for tickets, assignments in TABLES.items():
        op.add_column(tickets, sa.Column("open_lead_department", sa.String(64), nullable=True))
        # the ticket's lead: its first assignment still running in the lead role (domain
        # Ticket.lead); archived tickets are closed and keep NULL
        lead = (
            f"SELECT a.department_code FROM {assignments} AS a WHERE a.ticket_id = {tickets}.id "
            "AND a.ended_at IS NULL AND a.role = 'lead' ORDER BY a.id LIMIT 1"
        )
        op.execute(
            f"UPDATE {tickets} SET open_lead_department = ({lead}) "
            f"WHERE status IN ({_OPEN}) AND id IN (SELECT ticket_id FROM {assignments} "
            "WHERE ended_at IS NULL AND role = 'lead')"
        )
    if op.get_bind().dialect.name == "postgresql":
        _open_due(["status", "warn_at", "open_lead_department"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _open_due(["status", "warn_at"])
    for tickets in TABLES:
        with op.batch_alter_table(tickets) as batch:
            batch.drop_column("open_lead_department")
