"""SQLAlchemy table models; the schema itself is created only by Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# SQLite only auto-increments INTEGER PRIMARY KEY, PostgreSQL gets a real bigint
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    uniqueid: Mapped[str] = mapped_column(String(64))
    caller_number: Mapped[str] = mapped_column(String(64), index=True)
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    dialed_number: Mapped[str] = mapped_column(String(64))
    trunk: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disposition: Mapped[str] = mapped_column(String(16))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    hangup_cause_text: Mapped[str] = mapped_column(String(64), default="")
    handled_by: Mapped[str | None] = mapped_column(String(16))
    end_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    recording: Mapped[str] = mapped_column(String(255), default="")
    ended_by: Mapped[str | None] = mapped_column(String(16))
    # inbound: a citizen called 12345; outbound: the hotline called the citizen (dialed_number)
    direction: Mapped[str] = mapped_column(String(8), default="inbound")
    # what became of an inbound call in the hotline's terms (agent, abandoned_queue, ...)
    outcome: Mapped[str | None] = mapped_column(String(16), index=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    agent_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the Asterisk node that carried the call (a cluster); NULL with a single node
    node: Mapped[str | None] = mapped_column(String(40))

    legs: Mapped[list[CallLeg]] = relationship(
        back_populates="call", order_by="CallLeg.entered_at", lazy="selectin"
    )


Index("ix_calls_open", Call.ended_at)


class CallLeg(Base):
    __tablename__ = "call_legs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(128))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hangup_cause: Mapped[int | None] = mapped_column(Integer)

    call: Mapped[Call] = relationship(back_populates="legs")


class ApiToken(Base):
    """API credentials: only a hash of each token is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    # whom the token acts for: the agent id of an agent, the department code of a handler
    subject: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IvrStepRow(Base):
    """Each step a caller took in the IVR, so supervisors see where callers leave the menu."""

    __tablename__ = "ivr_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    flow: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64), default="")


class User(Base):
    """A person who logs in with a name and password; only an argon2id hash is kept."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    # the agent id of an agent, the department code of a department handler (as API tokens)
    subject: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UserSession(Base):
    """A login: a bearer token (hash kept) that expires, or ends at logout."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuthAudit(Base):
    """Logins, logouts, failures and account changes, for the security review."""

    __tablename__ = "auth_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(16))
    # who did it when not the user themself (an admin creating or disabling an account)
    actor: Mapped[str] = mapped_column(String(128), default="")
    client: Mapped[str] = mapped_column(String(64), default="")
