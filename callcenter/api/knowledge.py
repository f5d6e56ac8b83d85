"""/knowledge: the knowledge base (知识库) — search, entries, the editorial workflow, gaps."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, Field

from callcenter.api.auth import allowed
from callcenter.api.deps import KnowledgeDep
from callcenter.api.gate import BODY_LIMIT_KEY
from callcenter.api.types import DbId, SafeStr
from callcenter.domain.access import Permission, Principal
from callcenter.domain.errors import InvalidInput
from callcenter.domain.knowledge import (
    ANSWER_MAX,
    BASIS_MAX,
    KEYWORD_MAX,
    KEYWORDS_MAX,
    REASON_MAX,
    TITLE_MAX,
    EntryContent,
    EntryStatus,
    KnowledgeAction,
)
from callcenter.domain.knowledge_search import LIMIT_MAX, QUERY_MAX
from callcenter.services.knowledge_io import InvalidImport
from callcenter.services.knowledge_text import answer_html
from callcenter.storage.knowledge import EntryView

router = APIRouter(prefix="/knowledge", tags=["knowledge base"])


Base = KnowledgeDep
Reader = Annotated[Principal, Depends(allowed(Permission.READ_KNOWLEDGE))]
Editor = Annotated[Principal, Depends(allowed(Permission.EDIT_KNOWLEDGE))]
Reviewer = Annotated[Principal, Depends(allowed(Permission.REVIEW_KNOWLEDGE))]
StatsReader = Annotated[Principal, Depends(allowed(Permission.READ_KNOWLEDGE_STATS))]
Code = Annotated[str, Field(min_length=1, max_length=64)]


class EntryIn(BaseModel):
    title: Annotated[str, Field(min_length=1, max_length=TITLE_MAX)]
    answer_markdown: Annotated[str, Field(min_length=1, max_length=ANSWER_MAX)]
    department: Code
    topic: Code | None = None
    keywords: Annotated[
        list[Annotated[str, Field(max_length=KEYWORD_MAX)]], Field(max_length=KEYWORDS_MAX)
    ] = Field(default_factory=list)
    basis: Annotated[str, Field(max_length=BASIS_MAX)] | None = None
    effective_from: date | None = None
    effective_until: date | None = None
    region: Annotated[str, Field(max_length=64)] | None = None

    def content(self) -> EntryContent:
        return EntryContent(
            title=self.title,
            answer_markdown=self.answer_markdown,
            department=self.department,
            topic=self.topic,
            keywords=tuple(self.keywords),
            basis=self.basis,
            effective_from=self.effective_from,
            effective_until=self.effective_until,
            region=self.region,
        )


class ReasonIn(BaseModel):
    reason: Annotated[str, Field(max_length=REASON_MAX)] = ""


class EntryOut(BaseModel):
    id: int
    version: int
    title: str
    answer_markdown: str
    answer_html: str
    topic: str | None
    department: str | None
    keywords: list[str]
    basis: str | None
    effective_from: date | None
    effective_until: date | None
    region: str | None
    status: EntryStatus
    latest_version: int
    published_version: int | None
    version_created_at: datetime
    version_created_by: str
    published_at: datetime | None
    updated_at: datetime


class HitOut(BaseModel):
    id: int
    version: int
    title: str
    snippet_html: str
    topic: str | None
    department: str | None
    score: float


class SearchOut(BaseModel):
    query: str
    total: int
    items: list[HitOut]


class EntryList(BaseModel):
    total: int
    items: list[EntryOut]


class VersionOut(BaseModel):
    version: int
    title: str
    answer_markdown: str
    topic: str | None
    department: str
    keywords: list[str]
    basis: str | None
    effective_from: date | None
    effective_until: date | None
    region: str | None
    created_at: datetime
    created_by: str
    published_at: datetime | None


class EventOut(BaseModel):
    action: KnowledgeAction
    version: int
    actor: str
    at: datetime
    note: str


class HistoryOut(BaseModel):
    id: int
    status: EntryStatus
    published_version: int | None
    versions: list[VersionOut]
    events: list[EventOut]


class GapOut(BaseModel):
    query: str
    count: int
    first_at: datetime
    last_at: datetime


class EntryUseOut(BaseModel):
    entry_id: int
    title: str
    uses: int


class UsageOut(BaseModel):
    since: datetime
    until: datetime
    tickets: int
    answered_directly: int
    answered_from_knowledge: int
    direct_share: float | None
    knowledge_share: float | None
    calls_answered: int
    calls_answered_directly: int
    call_direct_share: float | None
    top_entries: list[EntryUseOut]
    gaps: list[GapOut]


class RebuildOut(BaseModel):
    indexed: int


def entry_out(view: EntryView) -> EntryOut:
    entry, version = view.entry, view.version
    content = version.content
    assert entry.id is not None
    return EntryOut(
        id=entry.id,
        version=version.number,
        title=content.title,
        answer_markdown=content.answer_markdown,
        answer_html=answer_html(content.answer_markdown),
        topic=content.topic,
        department=content.department,
        keywords=list(content.keywords),
        basis=content.basis,
        effective_from=content.effective_from,
        effective_until=content.effective_until,
        region=content.region,
        # a reader of an older version sees that it is not the one being worked on
        status=entry.status,
        latest_version=entry.latest_version,
        published_version=entry.published_version,
        version_created_at=version.created_at,
        version_created_by=version.created_by,
        published_at=version.published_at,
        updated_at=entry.updated_at,
    )


@router.get("/search", response_model=SearchOut)
async def search(
    base: Base,
    _viewer: Reader,
    q: Annotated[SafeStr, Query(min_length=1, max_length=QUERY_MAX)],
    topic: Annotated[SafeStr | None, Query(max_length=64)] = None,
    department: Annotated[SafeStr | None, Query(max_length=64)] = None,
    region: Annotated[SafeStr | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = 10,
) -> SearchOut:
    """Published entries in effect, title and keyword hits first, hits marked in the snippet."""
    result = await base.search(q, topic=topic, department=department, region=region, limit=limit)
    return SearchOut(
        query=result.query,
        total=result.total,
        items=[
            HitOut(
                id=h.entry_id,
                version=h.version,
                title=h.title,
                snippet_html=h.snippet_html,
                topic=h.topic,
                department=h.department,
                score=h.score,
            )
            for h in result.items
        ],
    )


@router.get("/entries", response_model=EntryList)
async def list_entries(
    base: Base,
    viewer: Editor,
    status: EntryStatus | None = None,
    department: Annotated[SafeStr | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> EntryList:
    """The worklist: every entry's latest version (a department's own entries only)."""
    total, views = await base.worklist(viewer, status, department, limit, offset)
    return EntryList(total=total, items=[entry_out(v) for v in views])


@router.post("/entries", response_model=EntryOut, status_code=201)
async def create_entry(body: EntryIn, base: Base, actor: Editor) -> EntryOut:
    """A new entry, version 1, a draft."""
    return entry_out(await base.create(body.content(), actor))


@router.get("/expiring", response_model=list[EntryOut])
async def expiring(
    base: Base, viewer: Editor, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> list[EntryOut]:
    """Published entries whose `effective_until` falls within `days`: for their owners."""
    return [entry_out(v) for v in await base.expiring(viewer, days)]


@router.get("/gaps", response_model=list[GapOut])
async def gaps(
    base: Base, _viewer: StatsReader, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[GapOut]:
    """Searches that found nothing (knowledge gaps), most asked first."""
    return [
        GapOut(query=g.query, count=g.count, first_at=g.first_at, last_at=g.last_at)
        for g in await base.gaps(limit)
    ]


@router.get("/stats", response_model=UsageOut)
async def stats(
    base: Base,
    _viewer: StatsReader,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> UsageOut:
    """直接答复率 (tickets and calls answered on the spot), the entries most used, the searches
    that found nothing."""
    usage = await base.usage(since, until, top)
    return UsageOut(
        since=usage.since,
        until=usage.until,
        tickets=usage.tickets,
        answered_directly=usage.answered_directly,
        answered_from_knowledge=usage.answered_from_knowledge,
        direct_share=usage.direct_share,
        knowledge_share=usage.knowledge_share,
        calls_answered=usage.calls_answered,
        calls_answered_directly=usage.calls_answered_directly,
        call_direct_share=usage.call_direct_share,
        top_entries=[
            EntryUseOut(entry_id=u.entry_id, title=u.title, uses=u.uses) for u in usage.top_entries
        ],
        gaps=[
            GapOut(query=g.query, count=g.count, first_at=g.first_at, last_at=g.last_at)
            for g in await base.gaps(top)
        ],
    )


@router.post("/index/rebuild", response_model=RebuildOut)
async def rebuild(base: Base, _actor: Reviewer) -> RebuildOut:
    """Segment every published entry again, e.g. after the hotline vocabulary changed."""
    return RebuildOut(indexed=await base.rebuild_index())


@router.get("/entries/{entry_id}", response_model=EntryOut)
async def read_entry(
    entry_id: DbId,
    base: Base,
    viewer: Reader,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> EntryOut:
    """Agents read the published version of an entry in effect; owners and editors any version
    (the latest unless `version` is given)."""
    return entry_out(await base.read(entry_id, viewer, version))


@router.get("/entries/{entry_id}/history", response_model=HistoryOut)
async def history(entry_id: int, base: Base, viewer: Editor) -> HistoryOut:
    """Every version as it was saved and the audit trail of the workflow."""
    entry, versions, events = await base.history(entry_id, viewer)
    assert entry.id is not None
    return HistoryOut(
        id=entry.id,
        status=entry.status,
        published_version=entry.published_version,
        versions=[
            VersionOut(
                version=v.number,
                title=v.content.title,
                answer_markdown=v.content.answer_markdown,
                topic=v.content.topic,
                department=v.content.department,
                keywords=list(v.content.keywords),
                basis=v.content.basis,
                effective_from=v.content.effective_from,
                effective_until=v.content.effective_until,
                region=v.content.region,
                created_at=v.created_at,
                created_by=v.created_by,
                published_at=v.published_at,
            )
            for v in versions
        ],
        events=[
            EventOut(action=e.action, version=e.version, actor=e.actor, at=e.at, note=e.note)
            for e in events
        ],
    )


@router.put("/entries/{entry_id}", response_model=EntryOut)
async def revise(entry_id: int, body: EntryIn, base: Base, actor: Editor) -> EntryOut:
    """A new version (a draft); the published version stays in search until the new one is."""
    return entry_out(await base.revise(entry_id, body.content(), actor))


@router.post("/entries/{entry_id}/submit", response_model=EntryOut)
async def submit(entry_id: int, base: Base, actor: Editor) -> EntryOut:
    """送审: the latest version goes to the knowledge editors."""
    return entry_out(await base.submit(entry_id, actor))


@router.post("/entries/{entry_id}/return", response_model=EntryOut)
async def send_back(entry_id: int, body: ReasonIn, base: Base, actor: Reviewer) -> EntryOut:
    """退回: back to the department, with the reason."""
    return entry_out(await base.send_back(entry_id, body.reason, actor))


@router.post("/entries/{entry_id}/publish", response_model=EntryOut)
async def publish(entry_id: int, base: Base, actor: Reviewer) -> EntryOut:
    """发布: agents find this version from now on."""
    return entry_out(await base.publish(entry_id, actor))


@router.post("/entries/{entry_id}/retire", response_model=EntryOut)
async def retire(entry_id: int, body: ReasonIn, base: Base, actor: Reviewer) -> EntryOut:
    """下线: out of agents' search at once; the history stays."""
    return entry_out(await base.retire(entry_id, body.reason, actor))


class ImportOut(BaseModel):
    created: int
    revised: int
    unchanged: int
    published: int
    entries: list[int]


MAX_IMPORT_BYTES = 20 * 1024 * 1024
EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.post(
    "/import",
    response_model=ImportOut,
    responses={422: {"description": "problems by sheet, row and column; nothing imported"}},
    openapi_extra={BODY_LIMIT_KEY: MAX_IMPORT_BYTES},
)
async def import_entries(
    request: Request,
    base: Base,
    actor: Editor,
    name: Annotated[SafeStr, Query(max_length=200)] = "import",
    publish: bool = False,
) -> ImportOut | JSONResponse:
    """Bulk import: the request body is the XLSX or CSV file itself. Columns (first row):
    标题 答案 部门 (required), 主题 关键词 依据 生效日期 失效日期 区域, and 编号 to revise an
    existing entry. A department imports its own department's entries, as drafts."""
    length = int(request.headers.get("content-length") or 0)
    if length > MAX_IMPORT_BYTES:
        raise InvalidInput(f"the file is over {MAX_IMPORT_BYTES // 1024 // 1024} MB")
    data = await request.body()
    if not data or len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput("send the XLSX or CSV file as the request body (at most 20 MB)")
    try:
        result = await base.import_file(data, name, actor, publish)
    except InvalidImport as err:
        return JSONResponse(
            status_code=422,
            content={
                "error": err.code,
                "message": err.message,
                "problems": [
                    {"sheet": p.sheet, "row": p.row, "column": p.column, "message": p.message}
                    for p in err.problems
                ],
            },
        )
    return ImportOut(
        created=result.created,
        revised=result.revised,
        unchanged=result.unchanged,
        published=result.published,
        entries=result.entries,
    )


@router.get("/export")
async def export(
    base: Base, _actor: Reviewer, format: Annotated[str, Query(pattern="^(xlsx|csv)$")] = "xlsx"
) -> Response:
    """The whole base, each entry's latest version and status, in the import's columns."""
    body = await base.export(format)
    return Response(
        content=body,
        media_type=EXPORT_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="knowledge.{format}"'},
    )
