"""/metrics: the supervisor summary (answer rates, waits, handle times) and Prometheus text."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from callcenter.api.auth import allowed
from callcenter.api.deps import CallsDep, ClockDep
from callcenter.api.types import Instant
from callcenter.domain.access import Permission, Principal
from callcenter.domain.errors import InvalidInput
from callcenter.domain.metrics import LatencyHistogram, hotline_figures, summarize
from callcenter.domain.seats import SeatState
from callcenter.services.writer import prometheus_lines

router = APIRouter(tags=["metrics"])
MAX_PERIOD = timedelta(days=366)


class AgentFiguresOut(BaseModel):
    agent_id: str
    calls_handled: int
    talk_seconds: float
    seconds_in_state: dict[str, float]
    rated: int
    satisfaction_rate: float | None


class IndicatorOut(BaseModel):
    """One of the norms' indicators with its definition spelled out."""

    name: str
    definition: str
    numerator: int
    numerator_is: str
    denominator: int
    denominator_is: str
    value: float | None
    norm: str


class SummaryOut(BaseModel):
    start: datetime
    end: datetime
    # the norms' figures, from the call records of every call into 12345 in the period
    # calls into 12345 that ended in the period (those still on the line are in_progress)
    incoming: int
    in_progress: int
    answered_by_agent: int
    # answered by a person within 15 s of the hotline answering (the citizen's clock)
    answered_within_15s: int
    # 人工接通率 = answered_by_agent / incoming
    connect_rate: float | None
    # 人工应答及时率 = answered_within_15s / answered_by_agent
    answered_within_15s_rate: float | None
    # mean wait of the calls a person answered: from the hotline's answer (the citizen's
    # clock: greeting, menu and queue) and from queue entry (the queue's clock)
    average_speed_of_answer_seconds: float | None
    average_queue_wait_seconds: float | None
    # calls by outcome in the hotline's terms (as GET /calls?outcome= lists them)
    outcomes: dict[str, int]
    indicators: dict[str, IndicatorOut]
    # the queue's figures, over calls that asked for an agent (offered) in the period
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    deflected: int
    callbacks: int
    silent_calls: int
    # answered within 15 s of queue entry; over offered calls it is a queue's service level,
    # not the norm's 人工应答及时率
    queue_answered_within_15s: int
    queue_answered_within_15s_of_offered_rate: float | None
    abandon_rate: float | None
    average_handle_time_seconds: float | None
    ratings: dict[str, int]
    satisfaction_rate: float | None
    agents: list[AgentFiguresOut]


@router.get("/metrics/summary", response_model=SummaryOut)
async def summary(
    calls_services: CallsDep,
    clock: ClockDep,
    _p: Annotated[Principal, Depends(allowed(Permission.READ_METRICS))],
    start: Annotated[Instant, Query(alias="from")],
    end: Annotated[Instant | None, Query(alias="to")] = None,
) -> SummaryOut:
    """Figures for calls that entered (the norms' indicators) or queued (the queue's figures)
    in [from, to) (to defaults to now), from the engine's own persisted records: they survive
    an engine restart."""
    now = clock()
    end = min(end or now, now)
    if end <= start:
        raise InvalidInput("'to' must be later than 'from'")
    if end - start > MAX_PERIOD:
        raise InvalidInput("the period may not exceed 366 days")
    store = calls_services.seat_store
    await calls_services.dispatcher.drained()  # the changes still on their way to the database
    await calls_services.calls_drained()
    calls, transitions = await store.queued(start, end), await store.transitions(start, end)
    figures = summarize(calls, transitions, start, end)
    records = calls_services.calls
    hotline = hotline_figures(await records.inbound(start, end), start, end)
    return SummaryOut(
        start=start,
        end=end,
        incoming=hotline.incoming,
        in_progress=hotline.in_progress,
        answered_by_agent=hotline.answered_by_agent,
        answered_within_15s=hotline.answered_within_target,
        connect_rate=hotline.connect_rate,
        answered_within_15s_rate=hotline.answered_within_target_rate,
        average_speed_of_answer_seconds=hotline.average_speed_of_answer,
        average_queue_wait_seconds=hotline.average_queue_wait,
        outcomes=hotline.outcomes,
        indicators={
            "connect_rate": IndicatorOut(
                name="人工接通率",
                definition="calls answered by a person / all incoming calls",
                numerator=hotline.answered_by_agent,
                numerator_is="answered_by_agent: calls with outcome agent",
                denominator=hotline.incoming,
                denominator_is="incoming: every call into 12345 that ended (any outcome)",
                value=hotline.connect_rate,
                norm=">= 95%",
            ),
            "answered_within_15s_rate": IndicatorOut(
                name="人工应答及时率",
                definition="calls answered by a person within 15 s / all calls answered by a "
                "person; the wait counts from the hotline's answer of the call",
                numerator=hotline.answered_within_target,
                numerator_is="answered_within_15s: a person answered <= 15 s after the hotline",
                denominator=hotline.answered_by_agent,
                denominator_is="answered_by_agent: calls with outcome agent",
                value=hotline.answered_within_target_rate,
                norm=">= 80%",
            ),
        },
        offered=figures.offered,
        answered=figures.answered,
        abandoned=figures.abandoned,
        short_abandoned=figures.short_abandoned,
        deflected=figures.deflected,
        callbacks=figures.callbacks,
        silent_calls=figures.silent_calls,
        queue_answered_within_15s=figures.answered_within_target,
        queue_answered_within_15s_of_offered_rate=figures.answered_within_target_of_offered_rate,
        abandon_rate=figures.abandon_rate,
        average_handle_time_seconds=figures.average_handle_time,
        ratings=figures.ratings,
        satisfaction_rate=figures.satisfaction_rate,
        agents=[
            AgentFiguresOut(
                agent_id=a.agent_id,
                calls_handled=a.calls_handled,
                talk_seconds=a.talk_seconds,
                seconds_in_state=a.seconds_in_state,
                rated=a.rated,
                satisfaction_rate=a.satisfaction_rate,
            )
            for a in figures.agents
        ],
    )


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus(
    calls_services: CallsDep,
    clock: ClockDep,
    _p: Annotated[Principal, Depends(allowed(Permission.READ_METRICS))],
) -> str:
    """Prometheus text exposition of the live state (scrape with a bearer token)."""
    dispatcher = calls_services.dispatcher
    now = clock()
    waiting = dispatcher.router.waiting()
    lines = [
        "# HELP callcenter_calls_waiting Calls waiting for an agent.",
        "# TYPE callcenter_calls_waiting gauge",
    ]
    per_queue: dict[str, list[float]] = {}
    for call in waiting:
        per_queue.setdefault(call.queue, []).append((now - call.wait_start).total_seconds())
    for queue, waits in sorted(per_queue.items()):
        lines.append(f'callcenter_calls_waiting{{queue="{queue}"}} {len(waits)}')
    lines += [
        "# HELP callcenter_longest_wait_seconds Longest current wait per queue.",
        "# TYPE callcenter_longest_wait_seconds gauge",
    ]
    for queue, waits in sorted(per_queue.items()):
        lines.append(f'callcenter_longest_wait_seconds{{queue="{queue}"}} {max(waits):.3f}')
    lines += [
        "# HELP callcenter_agents Agents by seat state.",
        "# TYPE callcenter_agents gauge",
    ]
    counts = {state.value: 0 for state in SeatState}
    for seat in dispatcher.seats.values():
        counts[seat.state.value] += 1
    for state, count in counts.items():
        lines.append(f'callcenter_agents{{state="{state}"}} {count}')
    lines += [
        "# HELP callcenter_calls_in_system Calls Asterisk is carrying into the hotline.",
        "# TYPE callcenter_calls_in_system gauge",
        f"callcenter_calls_in_system {calls_services.calls_in_system()}",
        "# HELP callcenter_ami_connected 1 when the AMI connection is up.",
        "# TYPE callcenter_ami_connected gauge",
        f"callcenter_ami_connected {int(calls_services.ami_connected())}",
    ]
    lines += prometheus_lines(calls_services.writer_status())
    lines += histogram_lines(
        "callcenter_agi_start_delay_seconds",
        "From the dialplan asking for the engine's FastAGI script to the script starting.",
        calls_services.agi_start_delays(),
    )
    return "\n".join(lines) + "\n"


def histogram_lines(name: str, help_text: str, histogram: LatencyHistogram) -> list[str]:
    """A histogram in Prometheus' text exposition (cumulative buckets, _sum, _count)."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    for bound, count in zip(histogram.bounds, histogram.counts, strict=True):
        lines.append(f'{name}_bucket{{le="{bound:g}"}} {count}')
    lines += [
        f'{name}_bucket{{le="+Inf"}} {histogram.total}',
        f"{name}_sum {histogram.seconds_sum:.6f}",
        f"{name}_count {histogram.total}",
    ]
    return lines
