"""/queues: per skill group, calls waiting, the longest wait and the agents by state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from callcenter.api.auth import allowed
from callcenter.api.deps import ClockDep, DispatcherDep
from callcenter.domain.access import Permission, Principal
from callcenter.domain.routing import DEFAULT_REQUIREMENTS, queue_name
from callcenter.domain.seats import SeatState

router = APIRouter(tags=["queues"])


class QueueOut(BaseModel):
    queue: str
    requirements: dict[str, int]
    waiting: int
    longest_wait_seconds: float
    agents: dict[str, int]


class QueuesOut(BaseModel):
    queues: list[QueueOut]
    agents: dict[str, int]


@router.get("/queues", response_model=QueuesOut)
async def queues(
    dispatcher: DispatcherDep,
    clock: ClockDep,
    _p: Annotated[Principal, Depends(allowed(Permission.READ_QUEUES))],
) -> QueuesOut:
    now = clock()
    groups: dict[str, dict[str, int]] = {queue_name(DEFAULT_REQUIREMENTS): DEFAULT_REQUIREMENTS}
    waiting = dispatcher.router.waiting()
    for call in waiting:
        groups.setdefault(call.queue, call.requirements)
    for active in dispatcher.active_calls():
        groups.setdefault(active.queue, active.requirements)
    out = []
    for name, requirements in sorted(groups.items()):
        in_group = [call for call in waiting if call.queue == name]
        by_state = {state.value: 0 for state in SeatState}
        for agent_id, seat in dispatcher.seats.items():
            skills = dispatcher.profiles[agent_id].skills
            if all(skills.get(skill, 0) >= level for skill, level in requirements.items()):
                by_state[seat.state.value] += 1
        out.append(
            QueueOut(
                queue=name,
                requirements=requirements,
                waiting=len(in_group),
                longest_wait_seconds=max(
                    ((now - call.wait_start).total_seconds() for call in in_group), default=0.0
                ),
                agents=by_state,
            )
        )
    totals = {state.value: 0 for state in SeatState}
    for seat in dispatcher.seats.values():
        totals[seat.state.value] += 1
    return QueuesOut(queues=out, agents=totals)
