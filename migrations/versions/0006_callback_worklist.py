"""The callback worklist: attempts on each callback request, and how it closed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.storage.models import BigId, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callback_requests") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_attempt_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("closed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(128), nullable=False, server_default=""))
    op.create_index(op.f("ix_callback_requests_status"), "callback_requests", ["status"])
    op.create_table(
        "callback_attempts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("request_id", BigId, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["callback_requests.id"],
            name=op.f("fk_callback_attempts_request_id_callback_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempts")),
    )
    op.create_index(op.f("ix_callback_attempts_request_id"), "callback_attempts", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_callback_attempts_request_id"), table_name="callback_attempts")
    op.drop_table("callback_attempts")
    op.drop_index(op.f("ix_callback_requests_status"), table_name="callback_requests")
    with op.batch_alter_table("callback_requests") as batch:
        batch.drop_column("closed_by")
        batch.drop_column("closed_at")
        batch.drop_column("last_attempt_at")
        batch.drop_column("attempts")
