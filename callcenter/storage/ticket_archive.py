"""The ticket archive: tickets closed long ago, moved out of the hot tables and their indexes.

A ticket closed (resolved, not accepted, archived) before the cut-off moves, with its own history
(events, assignments, extensions, callbacks), into tables of the same columns and ids (migration
0021). Each batch moves in one transaction (copied, then deleted): a crash leaves every ticket in
exactly one place, and running again picks up where it stopped. A ticket under an open
supervision (督办) stays. Archived tickets are read-only; the center still reads them by id, by
number and through the archive search (storage/tickets.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Column, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, foreign, relationship

from callcenter.domain.tickets import OPEN_STATUSES, Status
from callcenter.storage.models import Base
from callcenter.storage.ticket_tables import (
    AssignmentRow,
    CallbackRow,
    EventRow,
    ExtensionRow,
    SupervisionRow,
    TicketRow,
)

CLOSED_STATUSES = tuple(sorted(s.value for s in frozenset(Status) - OPEN_STATUSES))
# tickets per transaction when moving
ARCHIVE_BATCH = 1_000


def _archive_of(hot: Table, name: str) -> Table:
    """The archive table of ``hot``: the same columns and ids, no foreign keys."""
    return Table(
        name,
        Base.metadata,
        *(
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in hot.columns
        ),
    )


tickets_archive = _archive_of(cast(Table, TicketRow.__table__), "tickets_archive")
events_archive = _archive_of(cast(Table, EventRow.__table__), "ticket_events_archive")
assignments_archive = _archive_of(
    cast(Table, AssignmentRow.__table__), "ticket_assignments_archive"
)
extensions_archive = _archive_of(cast(Table, ExtensionRow.__table__), "ticket_extensions_archive")
callbacks_archive = _archive_of(cast(Table, CallbackRow.__table__), "ticket_callbacks_archive")

# the ticket last: its history is copied and deleted by ticket_id before the ticket itself
_HISTORY = (
    (cast(Table, EventRow.__table__), events_archive),
    (cast(Table, AssignmentRow.__table__), assignments_archive),
    (cast(Table, ExtensionRow.__table__), extensions_archive),
    (cast(Table, CallbackRow.__table__), callbacks_archive),
)


class ArchivedAssignmentRow(Base):
    __table__ = assignments_archive


class ArchivedExtensionRow(Base):
    __table__ = extensions_archive


class ArchivedCallbackRow(Base):
    __table__ = callbacks_archive


class ArchivedEventRow(Base):
    __table__ = events_archive


class ArchivedTicketRow(Base):
    """An archived ticket: the attributes of TicketRow (storage/ticket_rows.to_ticket reads it)."""

    __table__ = tickets_archive

    assignments: Mapped[list[ArchivedAssignmentRow]] = relationship(
        primaryjoin=tickets_archive.c.id == foreign(assignments_archive.c.ticket_id),
        order_by=assignments_archive.c.id,
        lazy="selectin",
        viewonly=True,
    )
    extensions: Mapped[list[ArchivedExtensionRow]] = relationship(
        primaryjoin=tickets_archive.c.id == foreign(extensions_archive.c.ticket_id),
        order_by=extensions_archive.c.id,
        lazy="selectin",
        viewonly=True,
    )
    callbacks: Mapped[list[ArchivedCallbackRow]] = relationship(
        primaryjoin=tickets_archive.c.id == foreign(callbacks_archive.c.ticket_id),
        order_by=callbacks_archive.c.id,
        lazy="selectin",
        viewonly=True,
    )


# the archive's mapped class seen as the hot one: the same attribute names and types, so
# queries and storage/ticket_rows.to_ticket serve both
ARCHIVED = cast(type[TicketRow], ArchivedTicketRow)
ARCHIVED_EVENTS = cast(type[EventRow], ArchivedEventRow)
ARCHIVED_ASSIGNMENTS = cast(type[AssignmentRow], ArchivedAssignmentRow)


@dataclass(frozen=True, slots=True)
class ArchiveRun:
    moved: int
    batches: int
    cutoff: datetime


class TicketArchive:
    """Moves tickets closed before a cut-off into the archive tables, a batch per transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        after_days: int,
        batch: int = ARCHIVE_BATCH,
    ) -> None:
        if after_days < 1 or batch < 1:
            raise ValueError("after_days and batch must be positive")
        self._sessions = sessions
        self.clock = clock
        self.after = timedelta(days=after_days)
        self.batch = batch

    async def run(self, max_batches: int | None = None) -> ArchiveRun:
        """Move every ticket closed before now - after_days (or max_batches batches of them)."""
        cutoff = self.clock() - self.after
        moved = batches = 0
        while max_batches is None or batches < max_batches:
            count = await self.move_batch(cutoff)
            if not count:
                break
            moved += count
            batches += 1
        return ArchiveRun(moved, batches, cutoff)

    async def move_batch(self, cutoff: datetime) -> int:
        """Move up to one batch of tickets closed before ``cutoff``, all or nothing."""
        t = TicketRow
        async with self._sessions.begin() as session:
            postgres = session.get_bind().dialect.name == "postgresql"
            under_supervision = (
                select(SupervisionRow.id)
                .where(SupervisionRow.ticket_id == t.id, SupervisionRow.closed_at.is_(None))
                .exists()
            )
            # a ticket closes after it was created: the oldest come first by (created_at, id)
            chosen = (
                select(t.id)
                .where(
                    t.created_at < cutoff,
                    t.status.in_(CLOSED_STATUSES),
                    t.closed_at < cutoff,
                    ~under_supervision,
                )
                .order_by(t.created_at, t.id)
                .limit(self.batch)
            )
            if postgres:
                # a ticket someone is changing right now waits for the next run
                chosen = chosen.with_for_update(of=t, skip_locked=True)
            ids = list((await session.scalars(chosen)).all())
            if not ids:
                return 0
            await _copy(session, cast(Table, t.__table__), tickets_archive, "id", ids)
            for hot, archive in _HISTORY:
                await _copy(session, hot, archive, "ticket_id", ids)
                await session.execute(delete(hot).where(hot.c.ticket_id.in_(ids)))
            await session.execute(delete(t).where(t.id.in_(ids)))
        return len(ids)


async def _copy(
    session: AsyncSession, hot: Table, archive: Table, key: str, ids: list[int]
) -> None:
    names = [c.name for c in archive.columns]
    rows: Any = select(*(hot.c[n] for n in names)).where(hot.c[key].in_(ids))
    await session.execute(insert(archive).from_select(names, rows))
