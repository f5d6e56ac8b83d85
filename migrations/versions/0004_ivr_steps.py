"""IVR steps of each call.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.storage.models import BigId, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ivr_steps",
        sa.Column("id", BigId, nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_steps")),
    )
    op.create_index(op.f("ix_ivr_steps_linkedid"), "ivr_steps", ["linkedid"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ivr_steps_linkedid"), table_name="ivr_steps")
    op.drop_table("ivr_steps")
