"""回访 by telephone: each survey call's recording.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("survey_attempts") as batch:
        batch.add_column(sa.Column("recording", sa.String(255), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("survey_attempts") as batch:
        batch.drop_column("recording")
