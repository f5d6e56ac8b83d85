"""Knowledge base use cases: the editorial workflow, reading, search, gaps and ticket answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.domain import knowledge as rules
from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import DomainError, Forbidden, InvalidInput, NotFound
from callcenter.domain.knowledge import (
    Entry,
    EntryContent,
    EntryStatus,
    KnowledgeChange,
    KnowledgeEvent,
    Version,
)
from callcenter.domain.knowledge_search import (
    LIMIT_MAX,
    Hit,
    IndexDoc,
    normalise,
    plain_text,
    rank,
)
from callcenter.domain.tickets import KnowledgeRef
from callcenter.domain.workdays import HOTLINE_ZONE
from callcenter.services.knowledge_io import (
    ImportRow,
    InvalidImport,
    Problem,
    export_csv,
    export_xlsx,
    parse,
    sheets,
)
from callcenter.services.knowledge_text import Vocabulary
from callcenter.storage.knowledge import EntryFilter, EntryView, KnowledgeRepository
from callcenter.storage.knowledge_index import Gap
from callcenter.storage.knowledge_stats import KnowledgeStatistics, KnowledgeUsage

EXPIRING_DAYS = 30


@dataclass(slots=True)
class ImportResult:
    created: int = 0
    revised: int = 0
    unchanged: int = 0
    published: int = 0
    entries: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    total: int
    items: list[Hit]


class KnowledgeBase:
    """One knowledge base: the repository, its index and the vocabulary that segments text."""

    def __init__(
        self,
        repository: KnowledgeRepository,
        vocabulary: Vocabulary,
        clock: Callable[[], datetime],
        statistics: KnowledgeStatistics,
    ) -> None:
        self.repository = repository
        self.vocabulary = vocabulary
        self.clock = clock
        self.statistics = statistics

    def today(self) -> date:
        return self.clock().astimezone(HOTLINE_ZONE).date()

    def index_doc(self, entry_id: int, version: Version) -> IndexDoc:
        """What search holds for a published version: its text segmented by jieba."""
        content = version.content
        body = plain_text(content.answer_markdown)
        assert version.published_at is not None
        return IndexDoc(
            entry_id=entry_id,
            version=version.number,
            title=content.title,
            body=body,
            department=content.department,
            topic=content.topic,
            region=content.region,
            effective_from=content.effective_from,
            effective_until=content.effective_until,
            published_at=version.published_at,
            title_terms=self.vocabulary.index_terms(content.title),
            keyword_terms=self.vocabulary.index_terms(" ".join(content.keywords)),
            body_terms=self.vocabulary.index_terms(body),
        )

    async def _warm(self) -> None:
        # jieba loads its dictionary (about a second) on first use: not on the event loop
        await asyncio.to_thread(self.vocabulary.terms, "")

    # -- the workflow -------------------------------------------------------------------------

    async def create(self, content: EntryContent, actor: Principal) -> EntryView:
        await self._warm()
        return await self.repository.create(
            lambda now: rules.create(content, actor, now), self.index_doc
        )

    async def _step(
        self,
        entry_id: int,
        actor: Principal,
        step: Callable[[Entry, EntryContent, datetime], KnowledgeChange],
    ) -> EntryView:
        await self._warm()
        return await self.repository.act(entry_id, step, self.index_doc)

    async def revise(self, entry_id: int, content: EntryContent, actor: Principal) -> EntryView:
        return await self._step(
            entry_id, actor, lambda e, latest, now: rules.revise(e, latest, content, actor, now)
        )

    async def submit(self, entry_id: int, actor: Principal) -> EntryView:
        return await self._step(entry_id, actor, lambda e, _l, now: rules.submit(e, actor, now))

    async def send_back(self, entry_id: int, reason: str, actor: Principal) -> EntryView:
        return await self._step(
            entry_id, actor, lambda e, _l, now: rules.send_back(e, reason, actor, now)
        )

    async def publish(self, entry_id: int, actor: Principal) -> EntryView:
        return await self._step(entry_id, actor, lambda e, _l, now: rules.publish(e, actor, now))

    async def retire(self, entry_id: int, reason: str, actor: Principal) -> EntryView:
        return await self._step(
            entry_id, actor, lambda e, _l, now: rules.retire(e, reason, actor, now)
        )

    # -- reading ------------------------------------------------------------------------------

    async def read(self, entry_id: int, viewer: Principal, version: int | None = None) -> EntryView:
        """Owners and editors read any version (the latest by default); everyone else the
        published version of an entry in effect, or nothing."""
        view = await self.repository.get(entry_id)
        if rules.sees_drafts(viewer, view.entry.department):
            return view if version is None else await self.repository.get(entry_id, version)
        published = view.entry.published_version
        if published is None or (version is not None and version != published):
            raise NotFound(f"knowledge entry {entry_id} does not exist")
        shown = await self.repository.get(entry_id, published)
        if not shown.version.content.in_effect(self.today()):
            raise NotFound(f"knowledge entry {entry_id} is not in effect")
        return shown

    async def history(
        self, entry_id: int, viewer: Principal
    ) -> tuple[Entry, list[Version], list[KnowledgeEvent]]:
        view = await self.repository.get(entry_id)
        if not rules.sees_drafts(viewer, view.entry.department):
            raise NotFound(f"knowledge entry {entry_id} does not exist")
        versions, events = await self.repository.history(entry_id)
        return view.entry, versions, events

    async def worklist(
        self,
        viewer: Principal,
        status: EntryStatus | None,
        department: str | None,
        limit: int,
        offset: int,
    ) -> tuple[int, list[EntryView]]:
        """The editors' and departments' worklist; a department sees its own entries only."""
        if not rules.is_editor(viewer):
            if viewer.role is not Role.DEPARTMENT or not viewer.subject:
                raise Forbidden("only knowledge editors and departments list entries")
            if department is not None and department != viewer.subject:
                raise Forbidden("a department lists its own entries only")
            department = viewer.subject
        return await self.repository.entries(EntryFilter(department, status, limit, offset))

    async def expiring(self, viewer: Principal, days: int = EXPIRING_DAYS) -> list[EntryView]:
        """Published entries whose `until` is near: for their owners to renew or let lapse."""
        if not rules.is_editor(viewer) and viewer.role is not Role.DEPARTMENT:
            raise Forbidden("only knowledge editors and departments see expiring entries")
        department = None if rules.is_editor(viewer) else viewer.subject
        if department is None and not rules.is_editor(viewer):
            raise Forbidden("this department token names no department")
        today = self.today()
        return await self.repository.expiring(today, today + timedelta(days=days), department)

    # -- search -------------------------------------------------------------------------------

    async def search(
        self,
        text: str,
        *,
        topic: str | None = None,
        department: str | None = None,
        region: str | None = None,
        limit: int = 10,
    ) -> SearchResult:
        """Published entries in effect, best first; a search that finds nothing is a gap."""
        if not 1 <= limit <= LIMIT_MAX:
            raise InvalidInput(f"limit: between 1 and {LIMIT_MAX}")
        await self._warm()
        query = self.vocabulary.query(
            text, self.today(), topic=topic, department=department, region=region, limit=limit
        )
        total, candidates = await self.repository.index.search(query)
        now = self.clock()
        # a gap is a question the whole base cannot answer, not one a filter narrowed away
        if total == 0 and not (topic or department or region):
            await self.repository.index.count_miss(normalise(text), now)
        return SearchResult(query.text, total, rank(query, candidates, now))

    async def usage(
        self, since: datetime | None, until: datetime | None, top: int = 10
    ) -> KnowledgeUsage:
        """Share answered on the spot, entries most used; the last 30 days unless told."""
        until = until or self.clock()
        since = since or until - timedelta(days=30)
        if since >= until:
            raise InvalidInput("since: must be before until")
        return await self.statistics.usage(since, until, top)

    async def gaps(self, limit: int = 50) -> list[Gap]:
        return await self.repository.index.gaps(limit)

    async def rebuild_index(self) -> int:
        """Segment every published version again (after the vocabulary changed)."""
        await self._warm()
        published = await self.repository.published()
        docs = await asyncio.to_thread(
            lambda: [self.index_doc(entry_id, version) for entry_id, version in published]
        )
        return await self.repository.index.rebuild(docs)

    # -- import and export --------------------------------------------------------------------

    async def import_file(
        self, data: bytes, name: str, actor: Principal, publish: bool = False
    ) -> ImportResult:
        """Entries from an XLSX or CSV file: rows with an 编号 (id) revise that entry, others
        create one; with `publish` (editors only) each is published at once. All or nothing."""
        if publish:
            rules.require_editor(actor, "publish on import")
        departments = await self.repository.departments_known()
        topics = await self.repository.topics_known()
        rows: list[ImportRow] = []
        problems: list[Problem] = []
        for sheet, cells in await asyncio.to_thread(lambda: list(sheets(data, name))):
            parsed, found = parse(
                sheet, cells, departments, topics, lambda d: rules.may_edit(actor, d)
            )
            rows.extend(parsed)
            problems.extend(found)
        if problems:
            raise InvalidImport(problems)
        if not rows:
            raise InvalidInput(f"{name}: holds no entries")
        await self._warm()
        result = ImportResult()
        async with self.repository.session() as session:
            for row in rows:
                try:
                    await self._import_row(session, row, actor, publish, result)
                except DomainError as err:
                    problem = Problem(row.sheet, row.row, "-", err.message)
                    raise InvalidImport([problem]) from err
        return result

    async def _import_row(
        self,
        session: AsyncSession,
        row: ImportRow,
        actor: Principal,
        publish: bool,
        result: ImportResult,
    ) -> None:
        repo, content = self.repository, row.content
        if row.entry_id is None:
            view = await repo.create_in(
                session, rules.create(content, actor, self.clock()), self.index_doc
            )
            result.created += 1
        else:
            view = await repo.latest_in(session, row.entry_id)
            if view.version.content == content:
                result.unchanged += 1
                return
            view = await repo.act_in(
                session,
                row.entry_id,
                lambda e, latest, now: rules.revise(e, latest, content, actor, now),
                self.index_doc,
            )
            result.revised += 1
        assert view.entry.id is not None
        result.entries.append(view.entry.id)
        if publish:
            entry_id = view.entry.id
            await repo.act_in(
                session, entry_id, lambda e, _l, now: rules.submit(e, actor, now), self.index_doc
            )
            await repo.act_in(
                session, entry_id, lambda e, _l, now: rules.publish(e, actor, now), self.index_doc
            )
            result.published += 1

    async def export(self, fmt: str) -> bytes:
        """The whole base, each entry's latest version with its status."""
        views = await self.repository.every_latest()
        if fmt == "csv":
            return export_csv(views)
        if fmt == "xlsx":
            return await asyncio.to_thread(export_xlsx, views)
        raise InvalidInput("format: xlsx or csv")

    # -- tickets ------------------------------------------------------------------------------

    async def answer_ref(self, entry_id: int, version: int) -> KnowledgeRef:
        """The entry version an agent answers from: it must be one that was published."""
        try:
            view = await self.repository.get(entry_id, version)
        except NotFound as err:
            raise InvalidInput(
                f"knowledge entry {entry_id} version {version} does not exist"
            ) from err
        if view.version.published_at is None:
            raise InvalidInput(f"knowledge entry {entry_id} version {version} was never published")
        return KnowledgeRef(entry_id, version, view.version.content.title)
