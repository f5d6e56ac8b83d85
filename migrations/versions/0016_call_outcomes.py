"""Call outcomes: what became of each call into 12345 in the hotline's terms, and both clocks.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.storage.models import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("outcome", sa.String(16), nullable=True))
        batch.add_column(sa.Column("queued_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("agent_answered_at", UTCDateTime(), nullable=True))
        batch.create_index("ix_calls_outcome", ["outcome"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_outcome")
        batch.drop_column("agent_answered_at")
        batch.drop_column("queued_at")
        batch.drop_column("outcome")
