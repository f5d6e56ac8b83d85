"""/supervisions and /tickets/{id}/supervisions: 督办 opened, listed and tracked to closure."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from callcenter.api.auth import allowed
from callcenter.api.deps import TicketingDep
from callcenter.api.types import DbId, Instant, Offset, SafeStr
from callcenter.domain.access import Permission, Principal
from callcenter.domain.supervisions import Supervision, SupervisionReason
from callcenter.storage.supervisions import SupervisionQuery

router = APIRouter(tags=["supervisions"])

Supervisor = Annotated[Principal, Depends(allowed(Permission.SUPERVISE_TICKETS))]


class SupervisionIn(BaseModel):
    reason: SupervisionReason
    note: Annotated[SafeStr, Field(min_length=1, max_length=4_000)]
    due_at: Instant


class CloseIn(BaseModel):
    note: Annotated[SafeStr, Field(min_length=1, max_length=4_000)]


class SupervisionOut(BaseModel):
    id: int
    ticket_id: int
    ticket_number: str
    reason: SupervisionReason
    note: str
    due_at: datetime
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    closed_by: str
    closing_note: str
    overdue: bool

    @classmethod
    def of(cls, s: Supervision, now: datetime) -> SupervisionOut:
        assert s.id is not None
        return cls(
            id=s.id,
            ticket_id=s.ticket_id,
            ticket_number=s.ticket_number,
            reason=s.reason,
            note=s.note,
            due_at=s.due_at,
            opened_at=s.opened_at,
            opened_by=s.opened_by,
            closed_at=s.closed_at,
            closed_by=s.closed_by,
            closing_note=s.closing_note,
            overdue=s.overdue(now),
        )


class SupervisionPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[SupervisionOut]


@router.post("/tickets/{ticket_id}/supervisions", status_code=201, response_model=SupervisionOut)
async def open_supervision(
    ticket_id: DbId, body: SupervisionIn, actor: Supervisor, ticketing: TicketingDep
) -> SupervisionOut:
    repo = ticketing.supervisions
    opened = await repo.open(ticket_id, body.reason, body.note, body.due_at, actor)
    return SupervisionOut.of(opened, repo.clock())


@router.get("/supervisions", response_model=SupervisionPage)
async def list_supervisions(
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    ticketing: TicketingDep,
    is_open: Annotated[bool | None, Query(alias="open")] = None,
    overdue: bool | None = None,
    ticket_id: DbId | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> SupervisionPage:
    """Supervisions, earliest due first; a department sees those on its own tickets."""
    repo = ticketing.supervisions
    query = SupervisionQuery(
        open=is_open, overdue=overdue, ticket_id=ticket_id, limit=limit, offset=offset
    )
    total, found = await repo.search(query, viewer)
    now = repo.clock()
    return SupervisionPage(
        total=total,
        limit=limit,
        offset=offset,
        items=[SupervisionOut.of(s, now) for s in found],
    )


@router.post("/supervisions/{supervision_id}/close", response_model=SupervisionOut)
async def close_supervision(
    supervision_id: DbId, body: CloseIn, actor: Supervisor, ticketing: TicketingDep
) -> SupervisionOut:
    repo = ticketing.supervisions
    closed = await repo.close(supervision_id, body.note, actor)
    return SupervisionOut.of(closed, repo.clock())
