"""The caller's rating of the service, keyed in after the agent hangs up (满意度评价).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queue_calls") as batch:
        batch.add_column(sa.Column("rating", sa.String(24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queue_calls") as batch:
        batch.drop_column("rating")
