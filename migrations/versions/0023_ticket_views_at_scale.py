"""Ticket views at city scale, third part: statistics read a period's assignments only.

- ``callbacks_satisfied``, ``callbacks_basically_satisfied``, ``callbacks_dissatisfied`` on
  ``ticket_assignments`` (and its archive): how many of the ticket's callbacks judged the
  assignment's department, per result, written with the ticket (storage/ticket_rows.write). The
  monthly statistics count a period's callbacks from the period's assignments instead of looking
  up each assignment's callbacks (20,000 index probes a month at 1 M tickets). Backfilled here.
- ``previous_lead_at`` on the same tables: for a lead assignment, when the previous lead
  assignment of the same ticket to the same department was dispatched (NULL: none). A period's
  statistics take a (ticket, department)'s callbacks once, from its first assignment in the
  period, in the same single pass.
- ``ticket_open`` on ``ticket_assignments`` (and its archive): whether the ticket is open
  (status in OPEN_STATUSES), written with the ticket. ``ix_ticket_assignments_open``
  ``(department_code, ticket_id) WHERE ended_at IS NULL AND ticket_open`` holds a department's
  open tickets: its open list, its worklist and its SLA view read them instead of its whole
  history; ``ix_ticket_assignments_open_ticket (ticket_id, role, department_code)`` under the
  same condition gives the SLA view each open ticket's lead by an index-only probe.
- PostgreSQL: ``ix_tickets_open_due (due_at, id)`` over open tickets also holds ``status`` and
  ``warn_at``: the SLA view colours the 10,000 most urgent tickets from the index alone.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.domain.tickets import OPEN_STATUSES
from callcenter.storage.models import UTCDateTime

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

# result -> column (storage/ticket_rows.CALLBACK_COLUMNS, spelled out: a migration is frozen)
COUNTS = {
    "satisfied": "callbacks_satisfied",
    "basically_satisfied": "callbacks_basically_satisfied",
    "dissatisfied": "callbacks_dissatisfied",
}
# assignments table -> the callbacks table of the same tickets
TABLES = {
    "ticket_assignments": "ticket_callbacks",
    "ticket_assignments_archive": "ticket_callbacks_archive",
}


_OPEN = ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES))
# assignments table -> its tickets table
TICKETS = {
    "ticket_assignments": "tickets",
    "ticket_assignments_archive": "tickets_archive",
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
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        _open_due(["status", "warn_at"])
    for assignments, tickets in TICKETS.items():
        op.add_column(
            assignments,
            sa.Column("ticket_open", sa.Boolean(), nullable=False, server_default=sa.false()),
        )
        op.execute(
            f"UPDATE {assignments} SET ticket_open = {'true' if postgres else '1'} "
            f"WHERE ticket_id IN (SELECT id FROM {tickets} WHERE status IN ({_OPEN}))"
        )
    # PostgreSQL reads `ticket_open = true` as `ticket_open`; SQLite needs the term as written
    op.create_index(
        "ix_ticket_assignments_open",
        "ticket_assignments",
        ["department_code", "ticket_id"],
        postgresql_where=sa.text("ended_at IS NULL AND ticket_open"),
        sqlite_where=sa.text("ended_at IS NULL AND ticket_open = 1"),
    )
    op.create_index(
        "ix_ticket_assignments_open_ticket",
        "ticket_assignments",
        ["ticket_id", "role", "department_code"],
        postgresql_where=sa.text("ended_at IS NULL AND ticket_open"),
        sqlite_where=sa.text("ended_at IS NULL AND ticket_open = 1"),
    )
    for assignments in TABLES:
        op.add_column(assignments, sa.Column("previous_lead_at", UTCDateTime(), nullable=True))
        op.execute(
            f"UPDATE {assignments} SET previous_lead_at = p.previous FROM (SELECT id, "
            "lag(dispatched_at) OVER (PARTITION BY ticket_id, department_code "
            "ORDER BY dispatched_at, id) AS previous "
            f"FROM {assignments} WHERE role = 'lead') AS p "
            f"WHERE {assignments}.id = p.id AND p.previous IS NOT NULL"
        )
    for assignments, callbacks in TABLES.items():
        for column in COUNTS.values():
            op.add_column(
                assignments,
                sa.Column(column, sa.Integer(), nullable=False, server_default="0"),
            )
        sums = ", ".join(
            f"sum(CASE WHEN result = '{result}' THEN 1 ELSE 0 END) AS {column}"
            for result, column in COUNTS.items()
        )
        sets = ", ".join(f"{column} = c.{column}" for column in COUNTS.values())
        op.execute(
            f"UPDATE {assignments} SET {sets} FROM (SELECT ticket_id, department_code, {sums} "
            f"FROM {callbacks} WHERE department_code IS NOT NULL "
            "GROUP BY ticket_id, department_code) AS c "
            f"WHERE {assignments}.ticket_id = c.ticket_id "
            f"AND {assignments}.department_code = c.department_code"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _open_due([])
    op.drop_index("ix_ticket_assignments_open_ticket", table_name="ticket_assignments")
    op.drop_index("ix_ticket_assignments_open", table_name="ticket_assignments")
    for assignments in TABLES:
        with op.batch_alter_table(assignments) as batch:
            for column in (*COUNTS.values(), "ticket_open", "previous_lead_at"):
                batch.drop_column(column)
