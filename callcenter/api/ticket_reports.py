"""/tickets/stats, /tickets/sla, /tickets/policy: assessment figures, SLA colours, deadlines."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, field_validator

from callcenter.api.auth import allowed
from callcenter.api.deps import TicketingDep, TicketsDep
from callcenter.api.tickets import TicketSummary, summary
from callcenter.api.types import FromDomain, Instant, Month, SafeStr
from callcenter.domain.access import Permission, Principal
from callcenter.domain.errors import InvalidInput
from callcenter.domain.tickets import CallbackResult, SlaColour, TicketPolicy
from callcenter.storage.ticket_stats import SLA_CAP

router = APIRouter(prefix="/tickets", tags=["ticket statistics"])


class FiguresOut(FromDomain):
    department: str
    name: str
    received: int
    signed: int
    signed_on_time: int
    returned: int
    extended: int
    completed: int
    completed_on_time: int
    overdue: int
    redo: int
    callbacks: dict[CallbackResult, int]
    surveyed: int
    satisfaction_rate: float | None

    @field_validator("callbacks")
    @classmethod
    def _every_result(cls, counts: dict[CallbackResult, int]) -> dict[CallbackResult, int]:
        return {result: counts.get(result, 0) for result in CallbackResult}


class StatsOut(BaseModel):
    since: datetime = Field(serialization_alias="from")
    until: datetime = Field(serialization_alias="to")
    as_of: datetime
    departments: list[FiguresOut]


class SlaCounts(BaseModel):
    department: str
    green: int
    yellow: int
    red: int


class SlaOut(BaseModel):
    as_of: datetime
    total: dict[SlaColour, int]
    # the counts cover the 10,000 most urgent tickets; true when more are in departments' hands
    capped: bool
    departments: list[SlaCounts]
    limit: int
    offset: int
    # a page of the tickets in departments' hands, earliest deadline (most overdue) first
    items: list[TicketSummary]


@router.get("/stats", response_model=StatsOut, response_model_by_alias=True)
async def statistics(
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKET_STATS))],
    ticketing: TicketingDep,
    month: Annotated[Month | None, Query(description="YYYY-MM")] = None,
    since: Annotated[Instant | None, Query(alias="from")] = None,
    until: Annotated[Instant | None, Query(alias="to")] = None,
    department: Annotated[SafeStr | None, Query(max_length=64)] = None,
) -> StatsOut:
    """Per lead department, the tickets received in the period (a month in the calendar's zone,
    or from/to) and how they were handled, judged as of now. Departments see their own row."""
    calendar = ticketing.tickets.calendar
    if month is not None:
        if since is not None or until is not None:
            raise InvalidInput("give either month or from/to")
        year, number = (int(part) for part in month.split("-"))
        if not 1 <= number <= 12:
            raise InvalidInput(f"no month {month}")
        first = date(year, number, 1)
        following = date(year + number // 12, number % 12 + 1, 1)
        since, until = calendar.midnight(first), calendar.midnight(following)
    if since is None or until is None:
        raise InvalidInput("give month=YYYY-MM, or both from and to")
    if until <= since:
        raise InvalidInput("'to' must be later than 'from'")
    stats = ticketing.statistics
    figures = await stats.departments(since, until, viewer, department)
    return StatsOut(
        since=since,
        until=until,
        as_of=stats.clock(),
        departments=[FiguresOut.model_validate(f) for f in figures],
    )


@router.get("/sla", response_model=SlaOut)
async def sla_counts(
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    ticketing: TicketingDep,
    department: Annotated[SafeStr | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=SLA_CAP)] = 0,
) -> SlaOut:
    """Tickets in departments' hands by SLA colour (red is overdue), counted over the 10,000
    most urgent, and a page of them, earliest deadline first."""
    stats = ticketing.statistics
    view = await stats.sla(viewer, department, limit, offset)
    counts = view.counts
    total = {colour: sum(c[colour] for c in counts.values()) for colour in SlaColour}
    now = stats.clock()
    return SlaOut(
        as_of=now,
        total=total,
        capped=view.capped,
        limit=limit,
        offset=offset,
        items=[summary(ticket, viewer, now) for ticket in view.items],
        departments=[
            SlaCounts(
                department=code,
                green=c[SlaColour.GREEN],
                yellow=c[SlaColour.YELLOW],
                red=c[SlaColour.RED],
            )
            for code, c in sorted(counts.items())
        ],
    )


@router.get("/policy", response_model=TicketPolicy)
async def get_policy(
    _viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    service: TicketsDep,
) -> TicketPolicy:
    """Deadline limits (working days per category) and thresholds now in force."""
    return await service.policy()


@router.put("/policy", response_model=TicketPolicy)
async def set_policy(
    body: TicketPolicy,
    actor: Annotated[Principal, Depends(allowed(Permission.MANAGE_TICKET_POLICY))],
    service: TicketsDep,
) -> TicketPolicy:
    """Applies to tickets dispatched from now on; earlier deadlines stay as computed."""
    return await service.set_policy(body, actor)
