"""Tickets with departments, topics, assignments, extensions, callbacks, supervisions, audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

On PostgreSQL the content search index needs the pg_trgm extension. It is a trusted extension
(PostgreSQL 13+), so the database owner can create it; if this role may not, the index is skipped
with a warning and search still works (ILIKE, without the index). See README "Tickets".
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

from callcenter.storage.models import BigId, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("callcenter.migrations")
TRGM_INDEX = "ix_tickets_content_trgm"


def _trigram_index() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except DBAPIError as err:
        log.warning(
            "pg_trgm is not available to this role (%s); ticket content search works without "
            "its index. A superuser can run CREATE EXTENSION pg_trgm in this database and "
            "CREATE INDEX %s ON tickets USING gin (content gin_trgm_ops).",
            str(err.orig).splitlines()[0],
            TRGM_INDEX,
        )
        return
    op.create_index(
        TRGM_INDEX,
        "tickets",
        ["content"],
        postgresql_using="gin",
        postgresql_ops={"content": "gin_trgm_ops"},
    )


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent_code", sa.String(64), nullable=True),
        sa.Column("hotline", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["departments.code"],
            name=op.f("fk_departments_parent_code_departments"),
        ),
    )
    op.create_index(op.f("ix_departments_parent_code"), "departments", ["parent_code"])
    op.create_table(
        "ticket_topics",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_code", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_topics")),
        sa.UniqueConstraint("code", name=op.f("uq_ticket_topics_code")),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["ticket_topics.code"],
            name=op.f("fk_ticket_topics_parent_code_ticket_topics"),
        ),
    )
    op.create_index(op.f("ix_ticket_topics_parent_code"), "ticket_topics", ["parent_code"])
    op.create_table(
        "tickets",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("query_code", sa.String(8), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("call_id", BigId, nullable=True),
        sa.Column("recording", sa.String(255), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("caller_phone", sa.String(32), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("address_key", sa.String(255), nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("category", sa.String(16), nullable=True),
        sa.Column("topic_code", sa.String(64), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("handling", sa.String(16), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("round_started_at", UTCDateTime(), nullable=True),
        sa.Column("sign_due_at", UTCDateTime(), nullable=True),
        sa.Column("return_due_at", UTCDateTime(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("warn_at", UTCDateTime(), nullable=True),
        sa.Column("signed_at", UTCDateTime(), nullable=True),
        sa.Column("replied_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("archived_at", UTCDateTime(), nullable=True),
        sa.Column("redo_count", sa.Integer(), nullable=False),
        sa.Column("rework_count", sa.Integer(), nullable=False),
        sa.Column("satisfaction", sa.String(24), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("number", name=op.f("uq_tickets_number")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_tickets_call_id_calls")),
        sa.ForeignKeyConstraint(
            ["topic_code"], ["ticket_topics.code"], name=op.f("fk_tickets_topic_code_ticket_topics")
        ),
    )
    for column in (
        "call_id",
        "caller_phone",
        "address_key",
        "category",
        "topic_code",
        "status",
        "created_at",
        "due_at",
    ):
        op.create_index(op.f(f"ix_tickets_{column}"), "tickets", [column])
    op.create_index("ix_tickets_lookup", "tickets", ["caller_phone", "query_code"])
    _trigram_index()
    op.create_table(
        "ticket_assignments",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("department_code", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("dispatched_at", UTCDateTime(), nullable=False),
        sa.Column("sign_due_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=True),
        sa.Column("returned_at", UTCDateTime(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("extended_days", sa.Integer(), nullable=False),
        sa.Column("redo_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_assignments")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_assignments_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_ticket_assignments_department_code_departments"),
        ),
    )
    for column in ("ticket_id", "department_code", "dispatched_at"):
        op.create_index(op.f(f"ix_ticket_assignments_{column}"), "ticket_assignments", [column])
    op.create_table(
        "ticket_extensions",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("department_code", sa.String(64), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("granted_days", sa.Integer(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_extensions")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_extensions_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_ticket_extensions_department_code_departments"),
        ),
    )
    op.create_index(op.f("ix_ticket_extensions_ticket_id"), "ticket_extensions", ["ticket_id"])
    op.create_table(
        "ticket_callbacks",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("department_code", sa.String(64), nullable=True),
        sa.Column("result", sa.String(24), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_callbacks")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_callbacks_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_ticket_callbacks_department_code_departments"),
        ),
    )
    for column in ("ticket_id", "department_code"):
        op.create_index(op.f(f"ix_ticket_callbacks_{column}"), "ticket_callbacks", [column])
    op.create_table(
        "ticket_events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("actor_subject", sa.String(64), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(24), nullable=True),
        sa.Column("to_status", sa.String(24), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_events_ticket_id_tickets")
        ),
    )
    op.create_index(op.f("ix_ticket_events_ticket_id"), "ticket_events", ["ticket_id"])
    op.create_table(
        "ticket_links",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("other_id", BigId, nullable=False),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
        sa.Column("linked_by", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_links")),
        sa.UniqueConstraint("ticket_id", "other_id", name=op.f("uq_ticket_links_ticket_id")),
        sa.CheckConstraint("ticket_id < other_id", name=op.f("ck_ticket_links_ordered")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_links_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["other_id"], ["tickets.id"], name=op.f("fk_ticket_links_other_id_tickets")
        ),
    )
    op.create_index(op.f("ix_ticket_links_other_id"), "ticket_links", ["other_id"])
    op.create_table(
        "ticket_supervisions",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("opened_by", sa.String(128), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(128), nullable=False),
        sa.Column("closing_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_supervisions")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_supervisions_ticket_id_tickets")
        ),
    )
    for column in ("ticket_id", "opened_at", "closed_at"):
        op.create_index(op.f(f"ix_ticket_supervisions_{column}"), "ticket_supervisions", [column])
    op.create_table(
        "ticket_counters",
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_ticket_counters")),
    )
    op.create_table(
        "ticket_policies",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_policies")),
    )


def downgrade() -> None:
    op.drop_table("ticket_policies")
    op.drop_table("ticket_counters")
    for column in ("closed_at", "opened_at", "ticket_id"):
        op.drop_index(op.f(f"ix_ticket_supervisions_{column}"), table_name="ticket_supervisions")
    op.drop_table("ticket_supervisions")
    op.drop_index(op.f("ix_ticket_links_other_id"), table_name="ticket_links")
    op.drop_table("ticket_links")
    op.drop_index(op.f("ix_ticket_events_ticket_id"), table_name="ticket_events")
    op.drop_table("ticket_events")
    for column in ("department_code", "ticket_id"):
        op.drop_index(op.f(f"ix_ticket_callbacks_{column}"), table_name="ticket_callbacks")
    op.drop_table("ticket_callbacks")
    op.drop_index(op.f("ix_ticket_extensions_ticket_id"), table_name="ticket_extensions")
    op.drop_table("ticket_extensions")
    for column in ("dispatched_at", "department_code", "ticket_id"):
        op.drop_index(op.f(f"ix_ticket_assignments_{column}"), table_name="ticket_assignments")
    op.drop_table("ticket_assignments")
    if op.get_bind().dialect.name == "postgresql":
        # the extension stays: other objects may use it, and dropping it needs more rights
        op.execute(sa.text(f"DROP INDEX IF EXISTS {TRGM_INDEX}"))
    op.drop_index("ix_tickets_lookup", table_name="tickets")
    for column in (
        "due_at",
        "created_at",
        "status",
        "topic_code",
        "category",
        "address_key",
        "caller_phone",
        "call_id",
    ):
        op.drop_index(op.f(f"ix_tickets_{column}"), table_name="tickets")
    op.drop_table("tickets")
    op.drop_index(op.f("ix_ticket_topics_parent_code"), table_name="ticket_topics")
    op.drop_table("ticket_topics")
    op.drop_index(op.f("ix_departments_parent_code"), table_name="departments")
    op.drop_table("departments")
