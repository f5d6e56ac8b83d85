"""Repository of the departments brought onto citizens' calls (三方通话)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.domain.dialing import DialOutcome
from callcenter.domain.three_way import ThreeWayLeg
from callcenter.storage.models import Base, BigId, UTCDateTime


class ThreeWayLegRow(Base):
    """One department leg of a citizen's call: dialled, answered, ended, recorded."""

    __tablename__ = "three_way_legs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    agent_id: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(64))
    channel_id: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    recording: Mapped[str] = mapped_column(String(255))


def _leg(row: ThreeWayLegRow) -> ThreeWayLeg:
    return ThreeWayLeg(
        call_id=row.linkedid,
        agent_id=row.agent_id,
        number=row.number,
        department=row.department,
        channel_id=row.channel_id,
        started_at=row.started_at,
        recording=row.recording,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        outcome=DialOutcome(row.outcome) if row.outcome else None,
    )


class ThreeWayRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, leg: ThreeWayLeg) -> None:
        async with self._sessions.begin() as session:
            await write_legs(session, [leg])

    async def answered(self, channel_id: str, at: datetime) -> None:
        async with self._sessions.begin() as session:
            await write_answers(session, [LegAnswered(channel_id, at)])

    async def ended(self, channel_id: str, at: datetime, unanswered: DialOutcome) -> None:
        async with self._sessions.begin() as session:
            await write_ends(session, [LegEnded(channel_id, at, unanswered)])

    async def of_call(self, linkedid: str) -> list[ThreeWayLeg]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ThreeWayLegRow)
                .where(ThreeWayLegRow.linkedid == linkedid)
                .order_by(ThreeWayLegRow.id)
            )
            return [_leg(row) for row in rows.all()]


# ---- writes inside the writer's transaction ----
@dataclass(frozen=True, slots=True)
class LegAnswered:
    channel_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LegEnded:
    channel_id: str
    at: datetime
    unanswered: DialOutcome


async def write_legs(session: AsyncSession, legs: Sequence[ThreeWayLeg]) -> None:
    session.add_all(
        ThreeWayLegRow(
            linkedid=leg.call_id,
            agent_id=leg.agent_id,
            number=leg.number,
            department=leg.department,
            channel_id=leg.channel_id,
            started_at=leg.started_at,
            recording=leg.recording,
        )
        for leg in legs
    )
    await session.flush()


async def write_answers(session: AsyncSession, answers: Sequence[LegAnswered]) -> None:
    for answer in answers:
        row = await session.scalar(
            select(ThreeWayLegRow).where(ThreeWayLegRow.channel_id == answer.channel_id)
        )
        if row is not None and row.answered_at is None:
            row.answered_at = answer.at
    await session.flush()


async def write_ends(session: AsyncSession, ends: Sequence[LegEnded]) -> None:
    """The leg is over: answered if it was, else `unanswered`; the first end wins."""
    for end in ends:
        row = await session.scalar(
            select(ThreeWayLegRow).where(ThreeWayLegRow.channel_id == end.channel_id)
        )
        if row is None or row.ended_at is not None:
            continue
        row.ended_at = end.at
        row.outcome = (DialOutcome.ANSWERED if row.answered_at else end.unanswered).value
    await session.flush()
