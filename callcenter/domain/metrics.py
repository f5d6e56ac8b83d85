"""Supervisor figures: answer rates, waits and handle times, computed from recorded events."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from callcenter.domain.calls import CallOutcome, CallRecord, Direction
from callcenter.domain.seats import SeatState, Transition

ANSWER_TARGET = timedelta(seconds=15)
SHORT_ABANDON = timedelta(seconds=5)


class Outcome(StrEnum):
    WAITING = "waiting"
    RINGING = "ringing"
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    DEFLECTED = "deflected"
    CALLBACK = "callback"


class Rating(StrEnum):
    """The caller's verdict on the agent, keyed in after the agent hangs up (满意度评价)."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


# the digits the rating prompt offers
RATING_KEYS = {"1": Rating.SATISFIED, "2": Rating.BASICALLY_SATISFIED, "3": Rating.DISSATISFIED}


def satisfaction_rate(ratings: Iterable[Rating]) -> float | None:
    """(satisfied + basically satisfied) / rated, as hotline assessments count it."""
    given = list(ratings)
    content = sum(1 for r in given if r is not Rating.DISSATISFIED)
    return content / len(given) if given else None


@dataclass(frozen=True, slots=True)
class QueuedCall:
    """A call that asked for an agent, from queueing to its end."""

    linkedid: str
    caller_number: str
    queue: str
    requirements: dict[str, int]
    priority: int
    queued_at: datetime
    outcome: Outcome = Outcome.WAITING
    agent_id: str | None = None
    agent_answered_at: datetime | None = None
    ended_at: datetime | None = None
    overflow_rule: str | None = None
    missed_by: tuple[str, ...] = ()
    # the agent heard nobody and ended the call with the standard silent-call script
    silent: bool = False
    # what the caller keyed in after the conversation, if anything
    rating: Rating | None = None

    @property
    def wait(self) -> timedelta | None:
        end = self.agent_answered_at or self.ended_at
        return end - self.queued_at if end else None


@dataclass(frozen=True, slots=True)
class AgentFigures:
    agent_id: str
    calls_handled: int
    talk_seconds: float
    seconds_in_state: dict[str, float]
    rated: int = 0
    satisfaction_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    deflected: int
    callbacks: int
    # answered calls the agent ended with the silent-call script (无声电话), counted apart
    silent_calls: int
    # answered within the target on the queue's clock, over calls that queued (offered): a
    # queue's service level, NOT the norm's 人工应答及时率 (see HotlineFigures)
    answered_within_target: int
    answered_within_target_of_offered_rate: float | None
    abandon_rate: float | None
    # the queue's clock: from asking for an agent to the agent's answer
    average_queue_wait: float | None
    average_handle_time: float | None
    # ratings keyed in after the conversation, by verdict, and the share content
    ratings: dict[str, int] = field(default_factory=dict)
    satisfaction_rate: float | None = None
    agents: list[AgentFigures] = field(default_factory=list)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def state_seconds(
    transitions: Sequence[Transition], start: datetime, end: datetime
) -> dict[str, float]:
    """Seconds spent in each state within [start, end); `transitions` are one agent's, in time
    order, and may begin with the last one before `start` (the state the period opened in)."""
    spent: dict[str, float] = defaultdict(float)
    for current, following in zip(transitions, [*transitions[1:], None], strict=True):
        begin = max(current.at, start)
        finish = min(following.at if following else end, end)
        if finish > begin:
            spent[current.state.value] += (finish - begin).total_seconds()
    return dict(spent)


def wrap_up_seconds(transitions: Sequence[Transition]) -> dict[str, float]:
    """Wrap-up time after each call, by call id (one agent's transitions, in time order)."""
    spent: dict[str, float] = {}
    for current, following in itertools.pairwise(transitions):
        if current.state is SeatState.WRAP_UP and current.call_id:
            spent[current.call_id] = (following.at - current.at).total_seconds()
    return spent


def summarize(
    calls: Iterable[QueuedCall],
    transitions: Iterable[Transition],
    start: datetime,
    end: datetime,
    *,
    target: timedelta = ANSWER_TARGET,
    short_abandon: timedelta = SHORT_ABANDON,
) -> Summary:
    """The figures for calls queued within [start, end) and agent time within it."""
    calls = [c for c in calls if start <= c.queued_at < end]
    by_agent: dict[str, list[Transition]] = defaultdict(list)
    for transition in sorted(transitions, key=lambda t: t.at):
        by_agent[transition.agent_id].append(transition)
    wrap_ups: dict[str, float] = {}
    for history in by_agent.values():
        wrap_ups.update(wrap_up_seconds(history))

    answered = [c for c in calls if c.outcome is Outcome.ANSWERED and c.agent_answered_at]
    abandoned = [c for c in calls if c.outcome is Outcome.ABANDONED]
    short = [c for c in abandoned if c.wait is not None and c.wait < short_abandon]
    within = [c for c in answered if c.wait is not None and c.wait <= target]
    offered = len(calls)
    handle_times = []
    talk_by_agent: dict[str, list[float]] = defaultdict(list)
    for call in answered:
        assert call.agent_answered_at is not None
        if call.ended_at is None or call.agent_id is None:
            continue
        talk = (call.ended_at - call.agent_answered_at).total_seconds()
        talk_by_agent[call.agent_id].append(talk)
        handle_times.append(talk + wrap_ups.get(call.linkedid, 0.0))

    rated_by_agent: dict[str, list[Rating]] = defaultdict(list)
    for call in answered:
        if call.rating is not None and call.agent_id is not None:
            rated_by_agent[call.agent_id].append(call.rating)
    ratings = [c.rating for c in answered if c.rating is not None]
    agents = [
        AgentFigures(
            agent_id=agent_id,
            calls_handled=sum(1 for c in answered if c.agent_id == agent_id),
            talk_seconds=sum(talk_by_agent.get(agent_id, [])),
            seconds_in_state=state_seconds(history, start, end),
            rated=len(rated_by_agent[agent_id]),
            satisfaction_rate=satisfaction_rate(rated_by_agent[agent_id]),
        )
        for agent_id, history in sorted(by_agent.items())
    ]
    return Summary(
        offered=offered,
        answered=len(answered),
        abandoned=len(abandoned),
        short_abandoned=len(short),
        deflected=sum(1 for c in calls if c.outcome is Outcome.DEFLECTED),
        callbacks=sum(1 for c in calls if c.outcome is Outcome.CALLBACK),
        silent_calls=sum(1 for c in answered if c.silent),
        answered_within_target=len(within),
        answered_within_target_of_offered_rate=_ratio(len(within), offered),
        abandon_rate=_ratio(len(abandoned), offered),
        average_queue_wait=_mean([c.wait.total_seconds() for c in answered if c.wait]),
        average_handle_time=_mean(handle_times),
        ratings={r.value: ratings.count(r) for r in Rating},
        satisfaction_rate=satisfaction_rate(ratings),
        agents=agents,
    )


@dataclass(frozen=True, slots=True)
class HotlineFigures:
    """The norms' indicators, counted from the call records of calls into 12345.

    人工接通率 = calls answered by a person / all incoming calls;
    人工应答及时率 = calls answered by a person within the target / all calls answered by a
    person, the wait measured on the citizen's clock: from the hotline answering the call
    (greeting, menu and queue included) to the person answering. Calls still in progress have
    no outcome yet and are counted apart, in no rate."""

    incoming: int
    in_progress: int
    answered_by_agent: int
    answered_within_target: int
    connect_rate: float | None
    answered_within_target_rate: float | None
    # mean wait of the calls a person answered, on each clock
    average_speed_of_answer: float | None
    average_queue_wait: float | None
    outcomes: dict[str, int] = field(default_factory=dict)


def hotline_figures(
    records: Iterable[CallRecord],
    start: datetime,
    end: datetime,
    *,
    target: timedelta = ANSWER_TARGET,
) -> HotlineFigures:
    """The indicators for inbound calls that entered within [start, end)."""
    entered = [
        r for r in records if r.direction is Direction.INBOUND and start <= r.entered_at < end
    ]
    incoming = [r for r in entered if not r.is_open]
    by_agent = [r for r in incoming if r.outcome is CallOutcome.AGENT]
    waits = [r.wait_from_answer for r in by_agent]
    within = [w for w in waits if w is not None and w <= target]
    queue_waits = [r.wait_in_queue for r in by_agent]
    outcomes = {outcome.value: 0 for outcome in CallOutcome}
    for record in incoming:
        if record.outcome is not None:
            outcomes[record.outcome.value] += 1
    return HotlineFigures(
        incoming=len(incoming),
        in_progress=len(entered) - len(incoming),
        answered_by_agent=len(by_agent),
        answered_within_target=len(within),
        connect_rate=_ratio(len(by_agent), len(incoming)),
        answered_within_target_rate=_ratio(len(within), len(by_agent)),
        average_speed_of_answer=_mean([w.total_seconds() for w in waits if w is not None]),
        average_queue_wait=_mean([w.total_seconds() for w in queue_waits if w is not None]),
        outcomes=outcomes,
    )


# upper bounds (seconds) of a latency histogram's buckets, Prometheus' style (cumulative, +Inf)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(slots=True)
class LatencyHistogram:
    """Counts of observed latencies per bucket (each bucket counts what is <= its bound, the
    last one, +Inf, everything), with their sum: what a Prometheus histogram exports."""

    bounds: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: int = 0
    seconds_sum: float = 0.0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * len(self.bounds)

    def observe(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.total += 1
        self.seconds_sum += seconds
        for i, bound in enumerate(self.bounds):
            if seconds <= bound:
                self.counts[i] += 1

    def copy(self) -> LatencyHistogram:
        return LatencyHistogram(self.bounds, list(self.counts), self.total, self.seconds_sum)

    def since(self, earlier: LatencyHistogram) -> LatencyHistogram:
        """What was observed after `earlier` (a copy taken before) was taken."""
        counts = [now - then for now, then in zip(self.counts, earlier.counts, strict=True)]
        return LatencyHistogram(
            self.bounds, counts, self.total - earlier.total, self.seconds_sum - earlier.seconds_sum
        )

    def quantile_bound(self, share: float) -> float | None:
        """The smallest bucket bound below which at least `share` of the observations fall
        (inf when they fall beyond the last bound; None when nothing was observed)."""
        if self.total == 0:
            return None
        needed = share * self.total
        for bound, count in zip(self.bounds, self.counts, strict=True):
            if count >= needed:
                return bound
        return float("inf")
