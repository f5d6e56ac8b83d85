"""/calls: the call records, filterable by time range and caller, paginated."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel

from callcenter.api.auth import allowed
from callcenter.api.deps import CallRepositoryDep, CallsDep
from callcenter.api.types import DbId, Instant, Offset, SafeStr
from callcenter.domain.access import Permission, Principal
from callcenter.domain.calls import CallOutcome, CallRecord
from callcenter.domain.errors import InvalidInput, NotFound
from callcenter.domain.three_way import ThreeWayLeg
from callcenter.storage.calls import CallQuery

router = APIRouter(prefix="/calls", tags=["calls"])


class LegOut(BaseModel):
    uniqueid: str
    channel: str
    entered_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    hangup_cause: int | None


class ThreeWayOut(BaseModel):
    call_id: str
    agent_id: str
    number: str
    department: str | None
    channel_id: str
    # the department's part (what it hears and says), when calls are recorded
    recording: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None

    @classmethod
    def of(cls, leg: ThreeWayLeg) -> ThreeWayOut:
        return cls(
            call_id=leg.call_id,
            agent_id=leg.agent_id,
            number=leg.number,
            department=leg.department,
            channel_id=leg.channel_id,
            recording=leg.recording,
            started_at=leg.started_at,
            answered_at=leg.answered_at,
            ended_at=leg.ended_at,
            outcome=leg.outcome.value if leg.outcome else None,
        )


class CallOut(BaseModel):
    id: int
    linkedid: str
    uniqueid: str
    caller_number: str
    caller_name: str
    dialed_number: str
    trunk: str
    entered_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    disposition: str
    hangup_cause: int | None
    hangup_cause_text: str
    handled_by: str | None
    end_estimated: bool
    ended_by: str | None
    has_recording: bool
    # inbound: a citizen called 12345; outbound: the hotline called `dialed_number`
    direction: str
    # inbound calls: what became of the call in the hotline's terms (see the README), and the
    # two clocks of its wait: from the hotline's answer (the citizen's) and from queue entry
    outcome: str | None
    queued_at: datetime | None
    agent_answered_at: datetime | None
    wait_from_answer_seconds: float | None
    wait_in_queue_seconds: float | None
    # the Asterisk node that carried the call (a cluster of nodes); null with a single node
    node: str | None = None
    legs: list[LegOut]
    # departments brought onto the call (三方通话); listed with one call, not in pages of calls
    three_way: list[ThreeWayOut] = []

    @classmethod
    def of(cls, call_id: int, record: CallRecord) -> CallOut:
        return cls(
            id=call_id,
            linkedid=record.linkedid,
            uniqueid=record.uniqueid,
            caller_number=record.caller_number,
            caller_name=record.caller_name,
            dialed_number=record.dialed_number,
            trunk=record.trunk,
            entered_at=record.entered_at,
            answered_at=record.answered_at,
            ended_at=record.ended_at,
            disposition=record.disposition.value,
            hangup_cause=record.hangup_cause,
            hangup_cause_text=record.hangup_cause_text,
            handled_by=record.handled_by.value if record.handled_by else None,
            end_estimated=record.end_estimated,
            ended_by=record.ended_by.value if record.ended_by else None,
            has_recording=bool(record.recording),
            direction=record.direction.value,
            outcome=record.outcome.value if record.outcome else None,
            queued_at=record.queued_at,
            agent_answered_at=record.agent_answered_at,
            wait_from_answer_seconds=_seconds(record.wait_from_answer),
            wait_in_queue_seconds=_seconds(record.wait_in_queue),
            node=record.node or None,
            legs=[
                LegOut(
                    uniqueid=leg.uniqueid,
                    channel=leg.channel,
                    entered_at=leg.entered_at,
                    answered_at=leg.answered_at,
                    ended_at=leg.ended_at,
                    hangup_cause=leg.hangup_cause,
                )
                for leg in record.legs
            ],
        )


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


class CallPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CallOut]


@router.get("", response_model=CallPage)
async def list_calls(
    _principal: Annotated[Principal, Depends(allowed(Permission.READ_CALLS))],
    repository: CallRepositoryDep,
    since: Annotated[Instant | None, Query(alias="from")] = None,
    until: Annotated[Instant | None, Query(alias="to")] = None,
    caller: Annotated[SafeStr | None, Query(max_length=64)] = None,
    outcome: Annotated[CallOutcome | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> CallPage:
    if since is not None and until is not None and until <= since:
        raise InvalidInput("'to' must be later than 'from'")
    total, rows = await repository.search(
        CallQuery(
            since=since, until=until, caller=caller, outcome=outcome, limit=limit, offset=offset
        )
    )
    return CallPage(
        total=total,
        limit=limit,
        offset=offset,
        items=[CallOut.of(call_id, record) for call_id, record in rows],
    )


@router.get("/{call_id}", response_model=CallOut)
async def get_call(
    call_id: DbId,
    calls_services: CallsDep,
    _principal: Annotated[Principal, Depends(allowed(Permission.READ_CALLS))],
) -> CallOut:
    found = await calls_services.calls.get(call_id)
    if found is None:
        raise NotFound(f"call {call_id} does not exist")
    three_way = await calls_services.three_way.legs_of(found[1].linkedid)
    out = CallOut.of(*found)
    out.three_way = [ThreeWayOut.of(leg) for leg in three_way]
    return out


@router.get(
    "/{call_id}/recording",
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}}}},
)
async def get_recording(
    call_id: DbId,
    calls_services: CallsDep,
    _principal: Annotated[Principal, Depends(allowed(Permission.READ_CALLS))],
) -> FileResponse:
    """The conversation's recording (WAV) for quality review, served only from inside the
    recordings folder."""
    found = await calls_services.calls.get(call_id)
    if found is None:
        raise NotFound(f"call {call_id} does not exist")
    files = calls_services.recording_files
    stored = found[1].recording
    path = await asyncio.to_thread(files.servable, stored) if files and stored else None
    if path is None:
        raise NotFound(f"call {call_id} has no recording")
    return FileResponse(path, media_type="audio/wav", filename=f"call-{call_id}.wav")
