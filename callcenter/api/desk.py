"""What the agent desk (坐席工作台) reads beyond the seat actions: the call ringing at the
agent with the caller's history (来电弹屏), the agent's own recent work, duplicates as typed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from callcenter.api.auth import allowed, current_principal
from callcenter.api.deps import CallsDep, ClockDep, TicketsDep
from callcenter.api.tickets import Phone, SuggestionOut, Text
from callcenter.api.types import SafeStr
from callcenter.domain.access import Permission, Principal, require_own_seat
from callcenter.domain.ivr_path import caller_path
from callcenter.domain.metrics import Outcome, QueuedCall
from callcenter.domain.tickets import Category, Status, Ticket, TicketDetails, sla_colour
from callcenter.services.dispatcher import Dispatcher
from callcenter.storage.calls import CallQuery
from callcenter.storage.tickets import TicketQuery

router = APIRouter(tags=["desk"])

Caller = Annotated[Principal, Depends(current_principal)]
Number = Annotated[str, Path(max_length=32, pattern=r"^[0-9+\-]{1,32}$")]
HISTORY_LIMIT = 20


class StepOut(BaseModel):
    at: datetime
    node: str
    event: str
    value: str


class CurrentCallOut(BaseModel):
    """The call ringing at or talking to the agent."""

    linkedid: str
    # the call record's id (tickets link to it); null for the moment before it is written
    call_id: int | None
    caller_number: str
    state: str  # ringing | on_call
    queue: str
    priority: int
    queued_at: datetime
    waited_seconds: float
    answered_at: datetime | None
    # where the caller went in the IVR (language, elderly priority, a query code looked up)
    ivr: list[StepOut]
    # the same for the agent to read: keys pressed, branches taken, what a lookup found
    ivr_path: list[str]


class CallSeenOut(BaseModel):
    id: int
    linkedid: str
    entered_at: datetime
    direction: str
    disposition: str
    ended_at: datetime | None


class TicketSeenOut(BaseModel):
    id: int
    number: str
    query_code: str
    status: Status
    category: Category | None
    created_at: datetime
    due_at: datetime | None
    sla: str | None
    content: str
    call_id: int | None

    @classmethod
    def of(cls, ticket: Ticket, now: datetime) -> TicketSeenOut:
        colour = sla_colour(ticket, now)
        assert ticket.id is not None
        return cls(
            id=ticket.id,
            number=ticket.number,
            query_code=ticket.query_code,
            status=ticket.status,
            category=ticket.details.category,
            created_at=ticket.created_at,
            due_at=ticket.due_at,
            sla=colour.value if colour else None,
            content=ticket.details.content[:200],
            call_id=ticket.call_id,
        )


class CallerHistoryOut(BaseModel):
    number: str
    # called the hotline within the repeat window (CALLCENTER_REPEAT_CALLER_HOURS)
    repeat_caller: bool
    repeat_window_hours: float
    calls: list[CallSeenOut]
    tickets: list[TicketSeenOut]


class AgentCallOut(BaseModel):
    linkedid: str
    caller_number: str
    queued_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str
    silent: bool
    rating: str | None


class RecentOut(BaseModel):
    calls: list[AgentCallOut]
    tickets: list[TicketSeenOut]


class DraftIn(BaseModel):
    content: Text = ""
    caller_phone: Phone = ""
    address: Annotated[str, Field(max_length=255)] = ""


def _agent_call(dispatcher: Dispatcher, agent_id: str) -> QueuedCall | None:
    for call in dispatcher.active_calls():
        if call.agent_id == agent_id and call.outcome in (Outcome.RINGING, Outcome.ANSWERED):
            return call
    return None


@router.get("/agents/{agent_id}/current-call", response_model=CurrentCallOut | None)
async def current_call(
    agent_id: str, calls_services: CallsDep, clock: ClockDep, principal: Caller
) -> CurrentCallOut | None:
    """The call offered to or answered by the agent (null when none): the desk asks as soon as
    /ws/events says `call_offered` for this agent."""
    require_own_seat(principal, agent_id)
    dispatcher = calls_services.dispatcher
    dispatcher.seat(agent_id)  # 404 for an unknown agent
    call = _agent_call(dispatcher, agent_id)
    if call is None:
        return None
    calls = calls_services.calls
    record = await calls.caller_of(call.linkedid)
    end = call.agent_answered_at or clock()
    steps = await calls.steps(call.linkedid)
    return CurrentCallOut(
        linkedid=call.linkedid,
        call_id=record[0] if record else None,
        caller_number=call.caller_number,
        state="on_call" if call.outcome is Outcome.ANSWERED else "ringing",
        queue=call.queue,
        priority=call.priority,
        queued_at=call.queued_at,
        waited_seconds=max(0.0, (end - call.queued_at).total_seconds()),
        answered_at=call.agent_answered_at,
        ivr=[StepOut(at=s.at, node=s.node, event=s.event, value=s.value) for s in steps],
        ivr_path=caller_path(steps, calls_services.ivr_node),
    )


@router.get("/callers/{number}/history", response_model=CallerHistoryOut)
async def caller_history(
    number: Number,
    calls_services: CallsDep,
    clock: ClockDep,
    viewer: Annotated[Principal, Depends(allowed(Permission.CREATE_TICKETS))],
    service: TicketsDep,
    excluding: Annotated[SafeStr, Query(max_length=64, description="the call in progress")] = "",
) -> CallerHistoryOut:
    """A caller's earlier calls and tickets (status, SLA colour, query code), newest first."""
    now = clock()
    window = calls_services.repeat_window
    _, found = await calls_services.calls.search(CallQuery(caller=number, limit=HISTORY_LIMIT + 1))
    _, tickets = await service.search(TicketQuery(phone=number, limit=HISTORY_LIMIT), viewer)
    return CallerHistoryOut(
        number=number,
        # newest first: if any earlier call falls in the window, the newest of them does
        repeat_caller=any(
            record.entered_at >= now - window for _, record in found if record.linkedid != excluding
        ),
        repeat_window_hours=window.total_seconds() / 3600,
        calls=[
            CallSeenOut(
                id=call_id,
                linkedid=record.linkedid,
                entered_at=record.entered_at,
                direction=record.direction.value,
                disposition=record.disposition.value,
                ended_at=record.ended_at,
            )
            for call_id, record in found
            if record.linkedid != excluding
        ][:HISTORY_LIMIT],
        tickets=[TicketSeenOut.of(ticket, now) for ticket in tickets],
    )


@router.get("/agents/{agent_id}/recent", response_model=RecentOut)
async def recent(
    agent_id: str,
    calls_services: CallsDep,
    clock: ClockDep,
    principal: Caller,
    service: TicketsDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> RecentOut:
    """The agent's own latest calls, and the tickets registered by whoever asks."""
    require_own_seat(principal, agent_id)
    own = await calls_services.seat_store.agent_calls(agent_id, limit)
    _, tickets = await service.search(TicketQuery(creator=principal.name, limit=limit), principal)
    now = clock()
    return RecentOut(
        calls=[
            AgentCallOut(
                linkedid=call.linkedid,
                caller_number=call.caller_number,
                queued_at=call.queued_at,
                answered_at=call.agent_answered_at,
                ended_at=call.ended_at,
                outcome=call.outcome.value,
                silent=call.silent,
                rating=call.rating.value if call.rating else None,
            )
            for call in own
        ],
        tickets=[TicketSeenOut.of(ticket, now) for ticket in tickets],
    )


@router.post("/tickets/duplicates", response_model=list[SuggestionOut])
async def draft_duplicates(
    body: DraftIn,
    viewer: Annotated[Principal, Depends(allowed(Permission.DISPATCH_TICKETS))],
    service: TicketsDep,
) -> list[SuggestionOut]:
    """判重 while the ticket is still being written: earlier tickets from the same phone or
    address whose content is alike, most alike first."""
    details = TicketDetails(
        caller_phone=body.caller_phone, address=body.address, content=body.content
    )
    found = await service.preview_duplicates(details, viewer)
    return [SuggestionOut.model_validate(s) for s in found]
