"""Agent seats, skills, state history, queued calls and callback requests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.storage.models import BigId, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("endpoint", sa.String(40), nullable=False),
        sa.Column("sip_contact", sa.String(255), nullable=True),
        sa.Column("sip_md5", sa.String(32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_agents_endpoint")),
    )
    op.create_table(
        "agent_skills",
        sa.Column("agent_id", sa.String(32), nullable=False),
        sa.Column("skill", sa.String(64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_skills_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("agent_id", "skill", name=op.f("pk_agent_skills")),
    )
    op.create_table(
        "agent_state_changes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_state_changes_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_state_changes")),
    )
    op.create_index("ix_agent_state_changes_agent_at", "agent_state_changes", ["agent_id", "at"])
    op.create_table(
        "queue_calls",
        sa.Column("id", BigId, nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(255), nullable=False),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=True),
        sa.Column("agent_answered_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("overflow_rule", sa.String(64), nullable=True),
        sa.Column("missed_by", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_calls")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_queue_calls_linkedid")),
    )
    op.create_index(op.f("ix_queue_calls_queued_at"), "queue_calls", ["queued_at"])
    op.create_table(
        "callback_requests",
        sa.Column("id", BigId, nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(255), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_callback_requests_linkedid")),
    )
    op.create_index(
        op.f("ix_callback_requests_requested_at"), "callback_requests", ["requested_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_callback_requests_requested_at"), table_name="callback_requests")
    op.drop_table("callback_requests")
    op.drop_index(op.f("ix_queue_calls_queued_at"), table_name="queue_calls")
    op.drop_table("queue_calls")
    op.drop_index("ix_agent_state_changes_agent_at", table_name="agent_state_changes")
    op.drop_table("agent_state_changes")
    op.drop_table("agent_skills")
    op.drop_table("agents")
