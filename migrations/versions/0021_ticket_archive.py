"""Tickets at city scale, second part: the district stored at write time, archive tables for
tickets closed long ago (out of the hot tables and their indexes), redundant indexes dropped.

- ``tickets.district``: the district named in the address (domain/reports.district_of), written
  with every create and edit; backfilled here. The monthly hot-issue report groups by it instead
  of running a regular expression over every address of the period.
- ``tickets_archive`` and the archive of a ticket's own history (events, assignments, extensions,
  callbacks): the same columns, the same ids, filled by ``callcenter archive-tickets``
  (storage/ticket_archive.py). Tables that point at a ticket from outside its history (links,
  supervisions, survey attempts, attachments) keep their rows: a ticket id now lives in either
  ``tickets`` or ``tickets_archive``, so their foreign keys to ``tickets`` are dropped
  (PostgreSQL; SQLite does not enforce them).
- ``ix_tickets_created_at`` is covered by ``ix_tickets_created_id (created_at, id)`` and
  ``ix_tickets_caller_phone`` by ``ix_tickets_phone_created (caller_phone, created_at)``.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.domain.reports import DISTRICT_PATTERN, district_of

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# hot table -> its archive (the ticket first: children are moved back after it)
ARCHIVED = {
    "tickets": "tickets_archive",
    "ticket_events": "ticket_events_archive",
    "ticket_assignments": "ticket_assignments_archive",
    "ticket_extensions": "ticket_extensions_archive",
    "ticket_callbacks": "ticket_callbacks_archive",
}
# foreign keys from outside a ticket's own history, dropped on PostgreSQL
OUTSIDE = {
    "ticket_links": ("ticket_id", "other_id"),
    "ticket_supervisions": ("ticket_id",),
    "survey_attempts": ("ticket_id",),
    "ticket_attachments": ("ticket_id",),
}


def _archive_table(bind: sa.Connection, hot: str, name: str) -> sa.Table:
    """The archive of ``hot``: its columns as they are now, the same primary key, no foreign keys
    and no defaults (rows arrive whole from the hot table)."""
    source = sa.Table(hot, sa.MetaData(), autoload_with=bind)
    return sa.Table(
        name,
        sa.MetaData(),
        *(
            sa.Column(c.name, c.type, nullable=c.nullable, autoincrement=False)
            for c in source.columns
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
    )


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"

    op.add_column(
        "tickets",
        sa.Column("district", sa.String(64), nullable=False, server_default=""),
    )
    if postgres:
        op.execute(
            "UPDATE tickets SET district = substring(address from "
            f"'{DISTRICT_PATTERN}') WHERE address ~ '[区县]'"
        )
    else:
        rows = bind.execute(sa.text("SELECT id, address FROM tickets WHERE address <> ''")).all()
        named = [{"id": i, "d": district_of(a)} for i, a in rows if district_of(a)]
        if named:
            bind.execute(sa.text("UPDATE tickets SET district = :d WHERE id = :id"), named)

    for hot, name in ARCHIVED.items():
        _archive_table(bind, hot, name).create(bind)
        if hot != "tickets":
            op.create_index(f"ix_{name}_ticket_id", name, ["ticket_id"])
    op.create_index("ix_tickets_archive_number", "tickets_archive", ["number"], unique=True)
    op.create_index("ix_tickets_archive_created_id", "tickets_archive", ["created_at", "id"])
    op.create_index(
        "ix_tickets_archive_phone_created", "tickets_archive", ["caller_phone", "created_at"]
    )
    if postgres:
        # the same character-gram index as the hot table (migration 0020): searchable by the center
        op.execute(
            "CREATE INDEX ix_tickets_archive_content_grams ON tickets_archive "
            "USING gin (ticket_grams(content))"
        )
        for table, columns in OUTSIDE.items():
            for column in columns:
                op.drop_constraint(f"fk_{table}_{column}_tickets", table, type_="foreignkey")

    op.drop_index("ix_tickets_created_at", table_name="tickets")
    op.drop_index("ix_tickets_caller_phone", table_name="tickets")


def downgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.create_index("ix_tickets_caller_phone", "tickets", ["caller_phone"])
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])
    # archived tickets come back to the hot tables before the archive goes
    for hot, name in ARCHIVED.items():
        columns = ", ".join(c.name for c in _archive_table(bind, hot, name).columns)
        op.execute(f"INSERT INTO {hot} ({columns}) SELECT {columns} FROM {name}")
    if postgres:
        for table, columns in OUTSIDE.items():
            for column in columns:
                op.create_foreign_key(
                    f"fk_{table}_{column}_tickets", table, "tickets", [column], ["id"]
                )
        op.execute("DROP INDEX IF EXISTS ix_tickets_archive_content_grams")
    for name in reversed(ARCHIVED.values()):
        op.drop_table(name)
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("district")
