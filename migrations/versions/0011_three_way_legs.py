"""三方通话: every department the center brought onto a citizen's call, kept with the call.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.storage.models import BigId, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "three_way_legs",
        sa.Column("id", BigId, nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("department", sa.String(64), nullable=True),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("recording", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_three_way_legs")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_three_way_legs_channel_id")),
    )
    op.create_index(op.f("ix_three_way_legs_linkedid"), "three_way_legs", ["linkedid"])


def downgrade() -> None:
    op.drop_index(op.f("ix_three_way_legs_linkedid"), table_name="three_way_legs")
    op.drop_table("three_way_legs")
