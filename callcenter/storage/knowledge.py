"""Knowledge repository: each workflow step in one locked transaction with its audit line and,
when it publishes or retires, the search index updated in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.errors import InvalidInput, NotFound
from callcenter.domain.knowledge import (
    Entry,
    EntryContent,
    EntryStatus,
    KnowledgeAction,
    KnowledgeChange,
    KnowledgeEvent,
    Version,
)
from callcenter.domain.knowledge_search import IndexDoc
from callcenter.storage.knowledge_index import KnowledgeIndex
from callcenter.storage.knowledge_tables import (
    KnowledgeEntryRow,
    KnowledgeEventRow,
    KnowledgeVersionRow,
)
from callcenter.storage.ticket_tables import DepartmentRow, TopicRow

Step = Callable[[Entry, EntryContent, datetime], KnowledgeChange]
# builds the index document of a published version (segmentation lives in the service)
Indexer = Callable[[int, Version], IndexDoc]


@dataclass(frozen=True, slots=True)
class EntryView:
    """An entry with one of its versions (the one the reader may see)."""

    entry: Entry
    version: Version


@dataclass(frozen=True, slots=True)
class EntryFilter:
    department: str | None = None
    status: EntryStatus | None = None
    limit: int = 50
    offset: int = 0


def to_entry(row: KnowledgeEntryRow) -> Entry:
    return Entry(
        id=row.id,
        department=row.department_code,
        status=EntryStatus(row.status),
        latest_version=row.latest_version,
        published_version=row.published_version,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        retired_at=row.retired_at,
    )


def to_version(row: KnowledgeVersionRow) -> Version:
    return Version(
        number=row.version,
        content=EntryContent(
            title=row.title,
            answer_markdown=row.answer_markdown,
            department=row.department_code,
            topic=row.topic_code,
            keywords=tuple(str(k) for k in row.keywords),
            basis=row.basis,
            effective_from=row.effective_from,
            effective_until=row.effective_until,
            region=row.region,
        ),
        created_at=row.created_at,
        created_by=row.created_by,
        published_at=row.published_at,
    )


def _version_row(entry_id: int, version: Version) -> KnowledgeVersionRow:
    content = version.content
    return KnowledgeVersionRow(
        entry_id=entry_id,
        version=version.number,
        title=content.title,
        answer_markdown=content.answer_markdown,
        department_code=content.department,
        topic_code=content.topic,
        keywords=list(content.keywords),
        basis=content.basis,
        effective_from=content.effective_from,
        effective_until=content.effective_until,
        region=content.region,
        created_at=version.created_at,
        created_by=version.created_by,
    )


def _event_row(entry_id: int, event: KnowledgeEvent) -> KnowledgeEventRow:
    return KnowledgeEventRow(
        entry_id=entry_id,
        version=event.version,
        action=event.action.value,
        actor=event.actor,
        at=event.at,
        note=event.note,
    )


class KnowledgeRepository:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        index: KnowledgeIndex,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self.index = index
        self.clock = clock

    async def _check_references(self, session: AsyncSession, content: EntryContent) -> None:
        department = await session.scalar(
            select(DepartmentRow.code).where(DepartmentRow.code == content.department)
        )
        if department is None:
            raise InvalidInput(f"department: {content.department} is not a known department")
        if content.topic is not None:
            topic = await session.scalar(
                select(TopicRow.code).where(TopicRow.code == content.topic)
            )
            if topic is None:
                raise InvalidInput(f"topic: {content.topic} is not a known topic")

    async def _apply(
        self,
        session: AsyncSession,
        row: KnowledgeEntryRow,
        change: KnowledgeChange,
        indexer: Indexer,
    ) -> None:
        entry = change.entry
        row.department_code = entry.department
        row.status = entry.status.value
        row.latest_version = entry.latest_version
        row.published_version = entry.published_version
        row.updated_at = entry.updated_at
        row.retired_at = entry.retired_at
        if change.new_version is not None:
            await self._check_references(session, change.new_version.content)
            session.add(_version_row(row.id, change.new_version))
        session.add(_event_row(row.id, change.event))
        if change.published is not None:
            version_row = await session.scalar(
                select(KnowledgeVersionRow).where(
                    KnowledgeVersionRow.entry_id == row.id,
                    KnowledgeVersionRow.version == change.published,
                )
            )
            assert version_row is not None
            version_row.published_at = change.event.at
            await session.flush()
            await self.index.put(session, indexer(row.id, to_version(version_row)))
        if change.unpublish:
            await self.index.drop(session, row.id)

    async def create(
        self, make: Callable[[datetime], KnowledgeChange], indexer: Indexer
    ) -> EntryView:
        async with self._sessions.begin() as session:
            return await self.create_in(session, make(self.clock()), indexer)

    async def create_in(
        self, session: AsyncSession, change: KnowledgeChange, indexer: Indexer
    ) -> EntryView:
        entry = change.entry
        row = KnowledgeEntryRow(
            department_code=entry.department,
            status=entry.status.value,
            latest_version=entry.latest_version,
            published_version=None,
            created_at=entry.created_at,
            created_by=entry.created_by,
            updated_at=entry.updated_at,
        )
        assert change.new_version is not None
        await self._check_references(session, change.new_version.content)
        session.add(row)
        await session.flush()
        session.add(_version_row(row.id, change.new_version))
        session.add(_event_row(row.id, change.event))
        await session.flush()
        return EntryView(to_entry(row), change.new_version)

    async def act(self, entry_id: int, step: Step, indexer: Indexer) -> EntryView:
        async with self._sessions.begin() as session:
            return await self.act_in(session, entry_id, step, indexer)

    async def act_in(
        self, session: AsyncSession, entry_id: int, step: Step, indexer: Indexer
    ) -> EntryView:
        row = await session.scalar(
            select(KnowledgeEntryRow).where(KnowledgeEntryRow.id == entry_id).with_for_update()
        )
        if row is None:
            raise NotFound(f"knowledge entry {entry_id} does not exist")
        latest = await self._version(session, entry_id, row.latest_version)
        change = step(to_entry(row), latest.content, self.clock())
        await self._apply(session, row, change, indexer)
        await session.flush()
        version = change.new_version or await self._version(session, entry_id, row.latest_version)
        return EntryView(to_entry(row), version)

    async def latest_in(self, session: AsyncSession, entry_id: int) -> EntryView:
        row = await session.scalar(
            select(KnowledgeEntryRow).where(KnowledgeEntryRow.id == entry_id).with_for_update()
        )
        if row is None:
            raise NotFound(f"knowledge entry {entry_id} does not exist")
        return EntryView(to_entry(row), await self._version(session, entry_id, row.latest_version))

    async def _version(self, session: AsyncSession, entry_id: int, number: int) -> Version:
        row = await session.scalar(
            select(KnowledgeVersionRow).where(
                KnowledgeVersionRow.entry_id == entry_id, KnowledgeVersionRow.version == number
            )
        )
        if row is None:
            raise NotFound(f"knowledge entry {entry_id} has no version {number}")
        return to_version(row)

    async def get(self, entry_id: int, version: int | None = None) -> EntryView:
        """The entry with the version asked for, or its latest."""
        async with self._sessions() as session:
            row = await session.get(KnowledgeEntryRow, entry_id)
            if row is None:
                raise NotFound(f"knowledge entry {entry_id} does not exist")
            number = row.latest_version if version is None else version
            return EntryView(to_entry(row), await self._version(session, entry_id, number))

    async def history(self, entry_id: int) -> tuple[list[Version], list[KnowledgeEvent]]:
        async with self._sessions() as session:
            versions = await session.scalars(
                select(KnowledgeVersionRow)
                .where(KnowledgeVersionRow.entry_id == entry_id)
                .order_by(KnowledgeVersionRow.version)
            )
            events = await session.scalars(
                select(KnowledgeEventRow)
                .where(KnowledgeEventRow.entry_id == entry_id)
                .order_by(KnowledgeEventRow.id)
            )
            return (
                [to_version(v) for v in versions],
                [
                    KnowledgeEvent(KnowledgeAction(e.action), e.version, e.actor, e.at, e.note)
                    for e in events
                ],
            )

    async def entries(self, query: EntryFilter) -> tuple[int, list[EntryView]]:
        """Entries with their latest version, newest change first."""
        conditions: list[Any] = []
        if query.department is not None:
            conditions.append(KnowledgeEntryRow.department_code == query.department)
        if query.status is not None:
            conditions.append(KnowledgeEntryRow.status == query.status.value)
        joined = and_(
            KnowledgeVersionRow.entry_id == KnowledgeEntryRow.id,
            KnowledgeVersionRow.version == KnowledgeEntryRow.latest_version,
        )
        async with self._sessions() as session:
            total = await session.scalar(
                select(func.count()).select_from(KnowledgeEntryRow).where(*conditions)
            )
            rows = await session.execute(
                select(KnowledgeEntryRow, KnowledgeVersionRow)
                .join(KnowledgeVersionRow, joined)
                .where(*conditions)
                .order_by(KnowledgeEntryRow.updated_at.desc(), KnowledgeEntryRow.id.desc())
                .limit(query.limit)
                .offset(query.offset)
            )
            return total or 0, [EntryView(to_entry(e), to_version(v)) for e, v in rows.all()]

    async def expiring(self, today: date, until: date, department: str | None) -> list[EntryView]:
        """Published entries whose `until` falls between today and `until`, soonest first."""
        joined = and_(
            KnowledgeVersionRow.entry_id == KnowledgeEntryRow.id,
            KnowledgeVersionRow.version == KnowledgeEntryRow.published_version,
        )
        conditions = [
            KnowledgeVersionRow.effective_until >= today,
            KnowledgeVersionRow.effective_until <= until,
        ]
        if department is not None:
            conditions.append(KnowledgeEntryRow.department_code == department)
        async with self._sessions() as session:
            rows = await session.execute(
                select(KnowledgeEntryRow, KnowledgeVersionRow)
                .join(KnowledgeVersionRow, joined)
                .where(*conditions)
                .order_by(KnowledgeVersionRow.effective_until, KnowledgeEntryRow.id)
            )
            return [EntryView(to_entry(e), to_version(v)) for e, v in rows.all()]

    async def every_latest(self) -> Sequence[EntryView]:
        """The whole base (each entry's latest version), for export."""
        _, views = await self.entries(EntryFilter(limit=10_000_000))
        return sorted(views, key=lambda v: v.entry.id or 0)

    async def published(self) -> list[tuple[int, Version]]:
        """Every entry's published version, for a full index rebuild."""
        joined = and_(
            KnowledgeVersionRow.entry_id == KnowledgeEntryRow.id,
            KnowledgeVersionRow.version == KnowledgeEntryRow.published_version,
        )
        async with self._sessions() as session:
            rows = await session.scalars(
                select(KnowledgeVersionRow).join(KnowledgeEntryRow, joined)
            )
            return [(r.entry_id, to_version(r)) for r in rows]

    async def departments_known(self) -> set[str]:
        async with self._sessions() as session:
            return set(await session.scalars(select(DepartmentRow.code)))

    async def topics_known(self) -> set[str]:
        async with self._sessions() as session:
            return set(await session.scalars(select(TopicRow.code)))

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One transaction for several steps (an import is all or nothing)."""
        return self._sessions.begin()
