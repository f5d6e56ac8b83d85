"""回访 by telephone: every call the engine places to survey a ticket's citizen.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.storage.models import BigId, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_attempts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("result", sa.String(24), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_survey_attempts_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_attempts")),
    )
    op.create_index(op.f("ix_survey_attempts_ticket_id"), "survey_attempts", ["ticket_id"])
    op.create_index(op.f("ix_survey_attempts_ended_at"), "survey_attempts", ["ended_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_survey_attempts_ended_at"), table_name="survey_attempts")
    op.drop_index(op.f("ix_survey_attempts_ticket_id"), table_name="survey_attempts")
    op.drop_table("survey_attempts")
