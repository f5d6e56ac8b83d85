"""Supervision repository: opened and closed under the ticket's lock, noted in its audit trail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.access import Principal
from callcenter.domain.errors import NotFound
from callcenter.domain.supervisions import (
    Supervision,
    SupervisionReason,
    close_supervision,
    open_supervision,
)
from callcenter.domain.tickets import AssignmentRole
from callcenter.storage.ticket_figures import inputs_of, supervised, upsert
from callcenter.storage.ticket_rows import event_row, to_ticket
from callcenter.storage.ticket_tables import SupervisionRow, TicketRow
from callcenter.storage.tickets import locked, visible


@dataclass(frozen=True, slots=True)
class SupervisionQuery:
    open: bool | None = None
    overdue: bool | None = None
    ticket_id: int | None = None
    limit: int = 50
    offset: int = 0


def _supervision(row: SupervisionRow, number: str) -> Supervision:
    return Supervision(
        id=row.id,
        ticket_id=row.ticket_id,
        ticket_number=number,
        reason=SupervisionReason(row.reason),
        note=row.note,
        due_at=row.due_at,
        opened_at=row.opened_at,
        opened_by=row.opened_by,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        closing_note=row.closing_note,
    )


class SupervisionRepository:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self.clock = clock

    async def open(
        self,
        ticket_id: int,
        reason: SupervisionReason,
        note: str,
        due_at: datetime,
        actor: Principal,
    ) -> Supervision:
        now = self.clock()
        async with self._sessions.begin() as session:
            row = await locked(session, ticket_id, actor)
            supervision, item = open_supervision(to_ticket(row), reason, note, due_at, actor, now)
            stored = SupervisionRow(
                ticket_id=row.id,
                reason=supervision.reason.value,
                note=supervision.note,
                due_at=supervision.due_at,
                opened_at=now,
                opened_by=supervision.opened_by,
                closed_by="",
                closing_note="",
            )
            first = not await session.scalar(
                select(exists().where(SupervisionRow.ticket_id == row.id))
            )
            session.add(stored)
            session.add(event_row(row.id, item))
            await session.flush()
            if first:
                # the ticket's lead assignments now count as supervised (storage/ticket_figures)
                leads = [a for a in row.assignments if a.role == AssignmentRole.LEAD.value]
                await upsert(session, supervised(inputs_of(a) for a in leads))
            return _supervision(stored, row.number)

    async def close(self, supervision_id: int, note: str, actor: Principal) -> Supervision:
        now = self.clock()
        async with self._sessions.begin() as session:
            stored = await session.get(SupervisionRow, supervision_id, with_for_update=True)
            if stored is None:
                raise NotFound(f"supervision {supervision_id} does not exist")
            row = await locked(session, stored.ticket_id, actor)
            closed, item = close_supervision(
                _supervision(stored, row.number), to_ticket(row), note, actor, now
            )
            stored.closed_at = closed.closed_at
            stored.closed_by = closed.closed_by
            stored.closing_note = closed.closing_note
            session.add(event_row(row.id, item))
            return closed

    async def search(
        self, query: SupervisionQuery, viewer: Principal
    ) -> tuple[int, list[Supervision]]:
        now = self.clock()
        stmt = (
            select(SupervisionRow, TicketRow.number)
            .join(TicketRow, TicketRow.id == SupervisionRow.ticket_id)
            .where(visible(viewer))
        )
        if query.open is not None:
            stmt = stmt.where(
                SupervisionRow.closed_at.is_(None)
                if query.open
                else SupervisionRow.closed_at.is_not(None)
            )
        if query.overdue is not None:
            late = SupervisionRow.closed_at.is_(None) & (SupervisionRow.due_at <= now)
            stmt = stmt.where(late if query.overdue else ~late)
        if query.ticket_id is not None:
            stmt = stmt.where(SupervisionRow.ticket_id == query.ticket_id)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
            rows = await session.execute(
                stmt.order_by(SupervisionRow.due_at, SupervisionRow.id)
                .limit(query.limit)
                .offset(query.offset)
            )
            return int(total or 0), [_supervision(s, number) for s, number in rows.all()]
