"""/worklist: the tickets in a department's hands (the department desk's list), overdue and
due-soon first, each with the working time left before its deadline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from callcenter.api.auth import allowed
from callcenter.api.deps import TicketsDep
from callcenter.api.tickets import TicketSummary, Viewing
from callcenter.api.types import SafeStr
from callcenter.domain.access import Permission, Principal
from callcenter.domain.tickets import HANDLING_STATUSES, SlaColour, Status, Ticket
from callcenter.domain.workdays import WorkdayCalendar
from callcenter.storage.tickets import TicketQuery

router = APIRouter(prefix="/worklist", tags=["department desk"])


class WorkItem(TicketSummary):
    sign_due_at: datetime | None
    signed_at: datetime | None
    # working-day time left before the deadline (negative: overdue by that much working time)
    working_seconds_left: float | None = None


class Worklist(BaseModel):
    as_of: datetime
    total: int
    items: list[WorkItem]


def working_left(calendar: WorkdayCalendar, due: datetime | None, now: datetime) -> float | None:
    if due is None:
        return None
    if due >= now:
        return calendar.working_time_between(now, due).total_seconds()
    return -calendar.working_time_between(due, now).total_seconds()


def _item(ticket: Ticket, viewer: Principal, now: datetime, left: float | None) -> WorkItem:
    item = WorkItem.model_validate(ticket, context=Viewing(viewer, now))
    item.working_seconds_left = left
    return item


@router.get("", response_model=Worklist)
async def worklist(
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    service: TicketsDep,
    status: Annotated[list[Status] | None, Query()] = None,
    sla: SlaColour | None = None,
    q: Annotated[SafeStr | None, Query(max_length=200)] = None,
    number: Annotated[SafeStr | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> Worklist:
    """The viewer's department's tickets being handled (or the statuses asked for), the
    earliest deadline first: overdue, then due soon."""
    query = TicketQuery(
        number=number,
        statuses=tuple(status or sorted(HANDLING_STATUSES)),
        sla=sla,
        text=q,
        sort="due_at",
        limit=limit,
    )
    total, found = await service.search(query, viewer)
    now = service.clock()
    return Worklist(
        as_of=now,
        total=total,
        items=[_item(t, viewer, now, working_left(service.calendar, t.due_at, now)) for t in found],
    )
