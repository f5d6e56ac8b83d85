"""Ticket statistics kept as they happen: ``ticket_figures`` (storage/ticket_figures).

- ``ticket_figures``: per UTC hour of dispatch, lead department and hour of the previous lead
  assignment of the same (ticket, department), the sums of what the lead assignments count
  towards in the statistics. Backfilled here from the lead assignments, archived ones
  included; from now on every write changes them in the same transaction.
- ``ix_ticket_assignments_running (dispatched_at)`` over the lead assignments neither completed
  nor returned (on both assignment tables; PostgreSQL includes department_code and due_at): a
  period's running assignments past their deadline, the part of "overdue" that depends on the
  moment of asking, counted from it.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.storage.models import UTCDateTime

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

ASSIGNMENTS = ("ticket_assignments", "ticket_assignments_archive")
CALLBACKS = ("callbacks_satisfied", "callbacks_basically_satisfied", "callbacks_dissatisfied")
COUNTS = (
    "received",
    "signed",
    "signed_on_time",
    "returned",
    "extended",
    "completed",
    "completed_on_time",
    "completed_late",
    "redo",
    "supervised",
    "callback_reached",
    *CALLBACKS,
)
RUNNING = "role = 'lead' AND completed_at IS NULL AND returned_at IS NULL"


def _hour(column: str, postgres: bool) -> str:
    """The column's UTC hour, as the engine stores a datetime on the backend."""
    if postgres:
        return f"date_trunc('hour', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return f"strftime('%Y-%m-%d %H:00:00.000000', {column})"


def backfill(postgres: bool) -> str:
    """The statement summing every lead assignment (hot and archived) into ticket_figures."""

    def flag(condition: str) -> str:
        return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    none = "TIMESTAMPTZ '1970-01-01 00:00:00+00'" if postgres else "'1970-01-01 00:00:00.000000'"
    surveys = " + ".join(CALLBACKS)
    sums = [
        "count(*)",
        "count(signed_at)",
        flag("signed_at < sign_due_at"),
        "count(returned_at)",
        flag("extended_days > 0"),
        "count(completed_at)",
        flag("completed_at < due_at"),
        flag("returned_at IS NULL AND completed_at >= due_at"),
        "sum(redo_count)",
        flag("ticket_id IN (SELECT ticket_id FROM ticket_supervisions)"),
        flag(f"{surveys} > 0"),
        *(f"sum({c})" for c in CALLBACKS),
    ]
    columns = ", ".join(
        (
            "ticket_id",
            "department_code",
            "dispatched_at",
            "previous_lead_at",
            "sign_due_at",
            "due_at",
            "signed_at",
            "returned_at",
            "completed_at",
            "extended_days",
            "redo_count",
            *CALLBACKS,
        )
    )
    leads = " UNION ALL ".join(
        f"SELECT {columns} FROM {table} WHERE role = 'lead'" for table in ASSIGNMENTS
    )
    return (
        f"INSERT INTO ticket_figures (hour, department_code, previous_lead_hour, "
        f"{', '.join(COUNTS)}) "
        f"SELECT {_hour('dispatched_at', postgres)}, department_code, "
        f"COALESCE({_hour('previous_lead_at', postgres)}, {none}), {', '.join(sums)} "
        # in hour order: a period's rows lie together on disk (as later writes add them)
        f"FROM ({leads}) AS a GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "ticket_figures",
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("department_code", sa.String(64), nullable=False),
        sa.Column("previous_lead_hour", UTCDateTime(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name in COUNTS),
        sa.PrimaryKeyConstraint(
            "hour", "department_code", "previous_lead_hour", name="pk_ticket_figures"
        ),
    )
    op.execute(backfill(postgres))
    for table in ASSIGNMENTS:
        op.create_index(
            f"ix_{table}_running",
            table,
            ["dispatched_at"],
            postgresql_where=sa.text(RUNNING),
            postgresql_include=["department_code", "due_at"],
            sqlite_where=sa.text(RUNNING),
        )


def downgrade() -> None:
    for table in ASSIGNMENTS:
        op.drop_index(f"ix_{table}_running", table_name=table)
    op.drop_table("ticket_figures")
