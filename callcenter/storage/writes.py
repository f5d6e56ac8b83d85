"""What the engine's writer persists: one sink per kind of record, each writing a run of
records inside the writer's transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.domain.calls import CallRecord
from callcenter.domain.metrics import QueuedCall
from callcenter.domain.seats import Transition
from callcenter.domain.three_way import ThreeWayLeg
from callcenter.storage.calls import IvrSteps, write_calls, write_steps
from callcenter.storage.seats import (
    AgentSaved,
    CallbackAsked,
    RatingGiven,
    write_agents,
    write_callbacks,
    write_queued,
    write_ratings,
    write_transitions,
)
from callcenter.storage.three_way import (
    LegAnswered,
    LegEnded,
    write_answers,
    write_ends,
    write_legs,
)


@dataclass(frozen=True, slots=True)
class Sink:
    kind: str
    type: type[Any]
    write: Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]


# in the order a transaction writes them: what others refer to comes first
SINKS: dict[str, Sink] = {
    sink.kind: sink
    for sink in (
        Sink("agent", AgentSaved, write_agents),
        Sink("call", CallRecord, write_calls),
        Sink("queued_call", QueuedCall, write_queued),
        Sink("rating", RatingGiven, write_ratings),
        Sink("callback", CallbackAsked, write_callbacks),
        Sink("seat_state", Transition, write_transitions),
        Sink("ivr_steps", IvrSteps, write_steps),
        Sink("three_way_leg", ThreeWayLeg, write_legs),
        Sink("three_way_answered", LegAnswered, write_answers),
        Sink("three_way_ended", LegEnded, write_ends),
    )
}
