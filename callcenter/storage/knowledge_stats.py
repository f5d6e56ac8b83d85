"""Knowledge-base statistics: how much the hotline answers on the spot, and from which entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.calls import Direction, Disposition
from callcenter.domain.tickets import Handling
from callcenter.storage.models import Call
from callcenter.storage.ticket_tables import TicketRow


@dataclass(frozen=True, slots=True)
class EntryUse:
    entry_id: int
    title: str
    uses: int


@dataclass(frozen=True, slots=True)
class KnowledgeUsage:
    since: datetime
    until: datetime
    tickets: int
    answered_directly: int
    answered_from_knowledge: int
    calls_answered: int
    calls_answered_directly: int
    top_entries: list[EntryUse]

    @property
    def direct_share(self) -> float | None:
        """直接答复率 of tickets: answered on the spot / tickets registered in the period."""
        return self.answered_directly / self.tickets if self.tickets else None

    @property
    def knowledge_share(self) -> float | None:
        return self.answered_from_knowledge / self.tickets if self.tickets else None

    @property
    def call_direct_share(self) -> float | None:
        """Calls answered by a person whose request was closed on the spot."""
        return self.calls_answered_directly / self.calls_answered if self.calls_answered else None


class KnowledgeStatistics:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def usage(self, since: datetime, until: datetime, top: int = 10) -> KnowledgeUsage:
        in_period = (TicketRow.created_at >= since, TicketRow.created_at < until)
        direct = TicketRow.handling == Handling.DIRECT.value
        async with self._sessions() as session:
            tickets = await session.scalar(select(func.count()).where(*in_period))
            answered = await session.scalar(select(func.count()).where(*in_period, direct))
            from_knowledge = await session.scalar(
                select(func.count()).where(*in_period, TicketRow.knowledge_entry_id.is_not(None))
            )
            calls_in_period = (
                Call.entered_at >= since,
                Call.entered_at < until,
                Call.direction == Direction.INBOUND.value,
                Call.disposition == Disposition.ANSWERED.value,
            )
            calls = await session.scalar(select(func.count()).where(*calls_in_period))
            calls_direct = await session.scalar(
                select(func.count(distinct(Call.id)))
                .join(TicketRow, TicketRow.call_id == Call.id)
                .where(*calls_in_period, direct)
            )
            uses = func.count().label("uses")
            rows = await session.execute(
                select(TicketRow.knowledge_entry_id, func.max(TicketRow.knowledge_title), uses)
                .where(*in_period, TicketRow.knowledge_entry_id.is_not(None))
                .group_by(TicketRow.knowledge_entry_id)
                .order_by(uses.desc(), TicketRow.knowledge_entry_id)
                .limit(top)
            )
            top_entries = [
                EntryUse(int(entry_id), title or "", int(count))
                for entry_id, title, count in rows.all()
                if entry_id is not None
            ]
        return KnowledgeUsage(
            since=since,
            until=until,
            tickets=tickets or 0,
            answered_directly=answered or 0,
            answered_from_knowledge=from_knowledge or 0,
            calls_answered=calls or 0,
            calls_answered_directly=calls_direct or 0,
            top_entries=top_entries,
        )
