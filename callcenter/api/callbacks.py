"""/callbacks: the worklist of callers who asked to be called back, and each attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from callcenter.api.auth import allowed
from callcenter.api.deps import CallbacksDep, CallsDep, ClockDep
from callcenter.api.types import DbId, Offset, SafeStr
from callcenter.domain.access import Permission, Principal, Role, require_own_seat
from callcenter.domain.callbacks import AttemptOutcome, CallbackRequest, CallbackStatus
from callcenter.domain.errors import IllegalTransition, InvalidInput
from callcenter.storage.callbacks import Attempt

router = APIRouter(prefix="/callbacks", tags=["callbacks"])

Handler = Annotated[Principal, Depends(allowed(Permission.HANDLE_CALLBACKS))]


class CallbackOut(BaseModel):
    id: int
    linkedid: str
    caller_number: str
    queue: str
    requested_at: datetime
    status: CallbackStatus
    attempts: int
    last_attempt_at: datetime | None
    closed_at: datetime | None
    closed_by: str

    @classmethod
    def of(cls, request: CallbackRequest) -> CallbackOut:
        return cls(
            id=request.id,
            linkedid=request.linkedid,
            caller_number=request.caller_number,
            queue=request.queue,
            requested_at=request.requested_at,
            status=request.status,
            attempts=request.attempts,
            last_attempt_at=request.last_attempt_at,
            closed_at=request.closed_at,
            closed_by=request.closed_by,
        )


class AttemptOut(BaseModel):
    at: datetime
    by: str
    outcome: AttemptOutcome
    note: str

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptOut:
        return cls(at=attempt.at, by=attempt.by, outcome=attempt.outcome, note=attempt.note)


class CallbackDetail(CallbackOut):
    history: list[AttemptOut]


class CallbackPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CallbackOut]


class AttemptIn(BaseModel):
    outcome: AttemptOutcome
    note: Annotated[SafeStr, Field(max_length=4_000)] = ""


Repository = CallbacksDep


@router.get("", response_model=CallbackPage)
async def list_callbacks(
    _principal: Handler,
    repository: Repository,
    status: CallbackStatus | None = CallbackStatus.PENDING,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> CallbackPage:
    """The worklist, oldest request first (pending ones unless `status` says otherwise)."""
    total, items = await repository.search(status, limit, offset)
    return CallbackPage(
        total=total, limit=limit, offset=offset, items=[CallbackOut.of(i) for i in items]
    )


@router.get("/{request_id}", response_model=CallbackDetail)
async def get_callback(
    request_id: DbId, _principal: Handler, repository: Repository
) -> CallbackDetail:
    found, history = await repository.get(request_id)
    return CallbackDetail(
        **CallbackOut.of(found).model_dump(), history=[AttemptOut.of(a) for a in history]
    )


@router.post("/{request_id}/attempts", response_model=CallbackOut)
async def record_attempt(
    request_id: DbId,
    body: AttemptIn,
    principal: Handler,
    repository: Repository,
    clock: ClockDep,
) -> CallbackOut:
    """One try at calling the citizen back: `reached` closes the request, `wrong_number`
    closes it as unreachable, `no_answer`/`busy` keep it pending until the attempts run out.
    A closed request answers 409."""
    by = f"{principal.role.value}:{principal.subject or principal.name}"
    after = await repository.record_attempt(request_id, body.outcome, body.note, by, clock())
    return CallbackOut.of(after)


class DialIn(BaseModel):
    # whose phone rings first; an agent's own token may leave it out
    agent_id: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")] = None


class DialOut(BaseModel):
    request_id: int
    agent_id: str
    channel_id: str
    recording: str
    at: datetime


@router.post("/{request_id}/dial", status_code=202, response_model=DialOut)
async def dial(
    request_id: DbId,
    body: DialIn,
    principal: Handler,
    repository: Repository,
    calls_services: CallsDep,
) -> DialOut:
    """Call the citizen back from an agent's seat: the agent's softphone rings, then the
    citizen's number through the trunk (recorded). The agent must be paused (e.g. reason
    `callback`); afterwards they record the attempt's outcome. 409 once the request is closed."""
    agent_id = body.agent_id or (principal.subject if principal.role is Role.AGENT else None)
    if agent_id is None:
        raise InvalidInput("say which agent's phone to ring: agent_id")
    require_own_seat(principal, agent_id)
    found, _ = await repository.get(request_id)
    if found.status is not CallbackStatus.PENDING:
        raise IllegalTransition(f"callback request {request_id} is {found.status.value}")
    placed = await calls_services.agent_dial.call(
        agent_id, found.caller_number, f"callback:{request_id}"
    )
    return DialOut(
        request_id=request_id,
        agent_id=placed.agent_id,
        channel_id=placed.channel_id,
        recording=placed.recording,
        at=placed.at,
    )
