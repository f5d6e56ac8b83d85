"""Repository of the callback worklist: requests, their attempts, listed oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.callbacks import (
    AttemptOutcome,
    CallbackRequest,
    CallbackStatus,
    attempt,
)
from callcenter.domain.errors import NotFound
from callcenter.storage.routing_tables import CallbackAttemptRow, CallbackRequestRow


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    by: str
    outcome: AttemptOutcome
    note: str


def _request(row: CallbackRequestRow) -> CallbackRequest:
    return CallbackRequest(
        id=row.id,
        linkedid=row.linkedid,
        caller_number=row.caller_number,
        queue=row.queue,
        requested_at=row.requested_at,
        status=CallbackStatus(row.status),
        attempts=row.attempts or 0,
        last_attempt_at=row.last_attempt_at,
        closed_at=row.closed_at,
        closed_by=row.closed_by or "",
    )


class CallbackRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], max_attempts: int) -> None:
        self._sessions = sessions
        self._max_attempts = max_attempts

    async def search(
        self, status: CallbackStatus | None, limit: int, offset: int
    ) -> tuple[int, list[CallbackRequest]]:
        """Requests, oldest first: the worklist order."""
        query = select(CallbackRequestRow)
        if status is not None:
            query = query.where(CallbackRequestRow.status == status.value)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await session.scalars(
                query.order_by(CallbackRequestRow.requested_at, CallbackRequestRow.id)
                .limit(limit)
                .offset(offset)
            )
            return int(total or 0), [_request(row) for row in rows.all()]

    async def get(self, request_id: int) -> tuple[CallbackRequest, list[Attempt]]:
        async with self._sessions() as session:
            row = await session.get(CallbackRequestRow, request_id)
            if row is None:
                raise NotFound(f"callback request {request_id} does not exist")
            return _request(row), await _attempts(session, request_id)

    async def record_attempt(
        self, request_id: int, outcome: AttemptOutcome, note: str, by: str, at: datetime
    ) -> CallbackRequest:
        """Apply one attempt under a row lock, so two agents cannot both close a request."""
        async with self._sessions.begin() as session:
            row = await session.scalar(
                select(CallbackRequestRow)
                .where(CallbackRequestRow.id == request_id)
                .with_for_update()
            )
            if row is None:
                raise NotFound(f"callback request {request_id} does not exist")
            after = attempt(_request(row), outcome, by, at, self._max_attempts)
            row.status = after.status.value
            row.attempts = after.attempts
            row.last_attempt_at = after.last_attempt_at
            row.closed_at = after.closed_at
            row.closed_by = after.closed_by
            session.add(
                CallbackAttemptRow(
                    request_id=request_id, at=at, by=by, outcome=outcome.value, note=note
                )
            )
            return after


async def _attempts(session: AsyncSession, request_id: int) -> list[Attempt]:
    rows = await session.scalars(
        select(CallbackAttemptRow)
        .where(CallbackAttemptRow.request_id == request_id)
        .order_by(CallbackAttemptRow.id)
    )
    return [Attempt(r.at, r.by, AttemptOutcome(r.outcome), r.note) for r in rows.all()]
