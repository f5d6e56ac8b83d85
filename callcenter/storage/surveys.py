"""Repository of the telephone survey's attempts, and the tickets waiting for their survey."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ForeignKey, String, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.domain.errors import NotFound
from callcenter.domain.surveys import Candidate, SurveyAttempt, SurveyOutcome
from callcenter.domain.tickets import CallbackResult, Status
from callcenter.storage.models import Base, BigId, UTCDateTime
from callcenter.storage.ticket_tables import EventRow, TicketRow

# the survey works through the oldest waiting tickets first, a bounded batch at a time
CANDIDATE_BATCH = 500


class SurveyAttemptRow(Base):
    """One call the engine placed to survey a ticket's citizen (回访), and how it went."""

    __tablename__ = "survey_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    phone: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    result: Mapped[str | None] = mapped_column(String(24))
    recording: Mapped[str] = mapped_column(String(255), default="")


def _attempt(row: SurveyAttemptRow) -> SurveyAttempt:
    return SurveyAttempt(
        id=row.id,
        ticket_id=row.ticket_id,
        phone=row.phone,
        started_at=row.started_at,
        ended_at=row.ended_at,
        outcome=SurveyOutcome(row.outcome) if row.outcome else None,
        result=CallbackResult(row.result) if row.result else None,
        recording=row.recording or "",
    )


class SurveyRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def candidates(self) -> list[Candidate]:
        """Tickets waiting for their callback survey, oldest first."""
        waiting = Status.AWAITING_CALLBACK.value
        since = (
            select(EventRow.ticket_id, func.max(EventRow.at).label("since"))
            .where(EventRow.to_status == waiting, EventRow.from_status != waiting)
            .group_by(EventRow.ticket_id)
            .subquery()
        )
        async with self._sessions() as session:
            rows = await session.execute(
                select(TicketRow.id, TicketRow.caller_phone, since.c.since)
                .join(since, since.c.ticket_id == TicketRow.id)
                .where(TicketRow.status == waiting)
                .order_by(TicketRow.id)
                .limit(CANDIDATE_BATCH)
            )
            return [Candidate(ticket_id, phone, at) for ticket_id, phone, at in rows.all()]

    async def relevant(self, ticket_ids: Sequence[int]) -> list[SurveyAttempt]:
        """The attempts on these tickets, and every attempt still under way."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(SurveyAttemptRow)
                .where(
                    or_(
                        SurveyAttemptRow.ticket_id.in_(list(ticket_ids)),
                        SurveyAttemptRow.ended_at.is_(None),
                    )
                )
                .order_by(SurveyAttemptRow.id)
            )
            return [_attempt(row) for row in rows.all()]

    async def of_ticket(self, ticket_id: int) -> list[SurveyAttempt]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(SurveyAttemptRow)
                .where(SurveyAttemptRow.ticket_id == ticket_id)
                .order_by(SurveyAttemptRow.id)
            )
            return [_attempt(row) for row in rows.all()]

    async def get(self, attempt_id: int) -> SurveyAttempt:
        async with self._sessions() as session:
            row = await session.get(SurveyAttemptRow, attempt_id)
            if row is None:
                raise NotFound(f"survey attempt {attempt_id} not found")
            return _attempt(row)

    async def open_attempts(self) -> list[SurveyAttempt]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(SurveyAttemptRow).where(SurveyAttemptRow.ended_at.is_(None))
            )
            return [_attempt(row) for row in rows.all()]

    async def start(self, ticket_id: int, phone: str, at: datetime) -> SurveyAttempt:
        async with self._sessions.begin() as session:
            row = SurveyAttemptRow(ticket_id=ticket_id, phone=phone, started_at=at, recording="")
            session.add(row)
            await session.flush()
            return _attempt(row)

    async def recorded(self, attempt_id: int, path: str) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(SurveyAttemptRow, attempt_id)
            if row is not None:
                row.recording = path

    async def finish(
        self,
        attempt_id: int,
        outcome: SurveyOutcome,
        at: datetime,
        result: CallbackResult | None = None,
    ) -> SurveyAttempt | None:
        """Close an attempt once: the first report wins (AGI or AMI, whichever comes first);
        None when it was already closed."""
        async with self._sessions.begin() as session:
            row = await session.get(SurveyAttemptRow, attempt_id, with_for_update=True)
            if row is None or row.ended_at is not None:
                return None
            row.ended_at, row.outcome = at, outcome.value
            row.result = result.value if result else None
            return _attempt(row)
