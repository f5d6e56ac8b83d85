"""Supervisor figures from queued calls and seat history: a small day, counted by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.domain.calls import CallOutcome, CallRecord, Direction
from callcenter.domain.metrics import (
    LatencyHistogram,
    Outcome,
    QueuedCall,
    Rating,
    hotline_figures,
    satisfaction_rate,
    summarize,
)
from callcenter.domain.seats import SeatState, Transition

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def call(
    n: int,
    outcome: Outcome,
    wait: float,
    agent: str | None = None,
    talk: float = 0,
    **extra: object,
) -> QueuedCall:
    queued = s(n * 100)
    answered = queued + timedelta(seconds=wait) if outcome is Outcome.ANSWERED else None
    ended = (answered or queued + timedelta(seconds=wait)) + timedelta(seconds=talk)
    return QueuedCall(
        linkedid=f"1795.{n}",
        caller_number=f"1390000{n:04d}",
        queue="lang:mandarin",
        requirements={"lang:mandarin": 1},
        priority=0,
        queued_at=queued,
        outcome=outcome,
        agent_id=agent,
        agent_answered_at=answered,
        ended_at=ended,
        **extra,  # type: ignore[arg-type]
    )


CALLS = [
    call(0, Outcome.ANSWERED, 4, "a01", 60, rating=Rating.SATISFIED),
    call(1, Outcome.ANSWERED, 12, "a01", 120, rating=Rating.DISSATISFIED),
    call(2, Outcome.ANSWERED, 30, "a02", 90, rating=Rating.BASICALLY_SATISFIED),
    call(3, Outcome.ANSWERED, 2, "a02", 10, silent=True),
    call(4, Outcome.ABANDONED, 3),  # a short abandon
    call(5, Outcome.ABANDONED, 40),
    call(6, Outcome.DEFLECTED, 0),
    call(7, Outcome.CALLBACK, 300),
]
TRANSITIONS = [
    Transition("a01", SeatState.READY, s(0)),
    Transition("a01", SeatState.ON_CALL, s(4), call_id="1795.0"),
    Transition("a01", SeatState.WRAP_UP, s(64), call_id="1795.0"),
    Transition("a01", SeatState.READY, s(74)),
    Transition("a02", SeatState.READY, s(0)),
]


def test_a_day_counted_by_hand() -> None:
    figures = summarize(CALLS, TRANSITIONS, T0, s(1000))
    assert (figures.offered, figures.answered, figures.abandoned) == (8, 4, 2)
    assert (figures.short_abandoned, figures.deflected, figures.callbacks) == (1, 1, 1)
    assert figures.silent_calls == 1
    assert figures.answered_within_target == 3  # 4, 12 and 2 s; not 30 s
    # the queue's service level over calls offered: not the norm's 人工应答及时率
    assert figures.answered_within_target_of_offered_rate == pytest.approx(3 / 8)
    assert figures.abandon_rate == pytest.approx(2 / 8)
    assert figures.average_queue_wait == pytest.approx((4 + 12 + 30 + 2) / 4)
    # handle time: talk plus the wrap-up that followed (10 s after the first call only)
    assert figures.average_handle_time == pytest.approx((60 + 10 + 120 + 90 + 10) / 4)
    assert figures.ratings == {"satisfied": 1, "basically_satisfied": 1, "dissatisfied": 1}
    assert figures.satisfaction_rate == pytest.approx(2 / 3)
    a01, a02 = figures.agents
    assert (a01.agent_id, a01.calls_handled, a01.talk_seconds) == ("a01", 2, 180)
    assert (a01.rated, a01.satisfaction_rate) == (2, pytest.approx(1 / 2))
    assert (a02.rated, a02.satisfaction_rate) == (1, 1.0)
    assert a01.seconds_in_state["wrap_up"] == pytest.approx(10)


def test_nobody_rated_means_no_rate_not_zero() -> None:
    assert satisfaction_rate([]) is None
    figures = summarize(CALLS[3:4], [], T0, s(1000))
    assert figures.satisfaction_rate is None
    assert figures.ratings == {"satisfied": 0, "basically_satisfied": 0, "dissatisfied": 0}


def record(
    n: int,
    outcome: CallOutcome | None,
    greeting: float = 0,
    queue_wait: float | None = None,
    *,
    open_: bool = False,
    direction: Direction = Direction.INBOUND,
) -> CallRecord:
    """A call answered by the hotline at s(n*100)+1, queued after the greeting, and answered
    by a person after queue_wait more seconds."""
    answered = s(n * 100 + 1)
    queued = answered + timedelta(seconds=greeting) if queue_wait is not None else None
    by_agent = queued + timedelta(seconds=queue_wait or 0) if queued else None
    return CallRecord(
        linkedid=f"1800.{n}",
        uniqueid=f"1800.{n}",
        caller_number="13900000000",
        caller_name="",
        dialed_number="12345",
        trunk="trunk",
        entered_at=s(n * 100),
        answered_at=answered,
        ended_at=None if open_ else s(n * 100 + 90),
        outcome=outcome,
        queued_at=queued,
        agent_answered_at=by_agent if outcome is CallOutcome.AGENT else None,
        direction=direction,
    )


def test_the_norms_rates_count_every_call_and_judge_15_s_on_the_citizens_clock() -> None:
    records = [
        record(0, CallOutcome.AGENT, greeting=3, queue_wait=2),  # 5 s: in time
        record(1, CallOutcome.AGENT, greeting=3, queue_wait=12),  # 15 s: in time (<= 15)
        record(2, CallOutcome.AGENT, greeting=10, queue_wait=6),  # 16 s; the queue saw 6 s
        record(3, CallOutcome.AGENT, greeting=34, queue_wait=0),  # 34 s; the queue saw 0 s
        record(4, CallOutcome.ABANDONED_QUEUE, greeting=3, queue_wait=20),
        record(5, CallOutcome.ABANDONED_IVR),
        record(6, CallOutcome.DEFLECTED),
        record(7, CallOutcome.SELF_SERVICE),
        record(8, None, open_=True),  # still on the line: no outcome yet, in no rate
        record(9, None, direction=Direction.OUTBOUND),  # the hotline called out: not incoming
    ]
    figures = hotline_figures(records, T0, s(1000))
    assert (figures.incoming, figures.in_progress, figures.answered_by_agent) == (8, 1, 4)
    assert figures.connect_rate == pytest.approx(4 / 8)  # 人工接通率: by a person / incoming
    assert figures.answered_within_target == 2
    # 人工应答及时率: within 15 s / answered by a person (not / incoming, not / offered)
    assert figures.answered_within_target_rate == pytest.approx(2 / 4)
    assert figures.average_speed_of_answer == pytest.approx((5 + 15 + 16 + 34) / 4)
    assert figures.average_queue_wait == pytest.approx((2 + 12 + 6 + 0) / 4)
    assert figures.outcomes["agent"] == 4 and figures.outcomes["abandoned_ivr"] == 1
    assert figures.outcomes["deflected"] == 1 and figures.outcomes["voicemail"] == 0


def test_no_call_answered_means_no_rate_not_zero() -> None:
    figures = hotline_figures([record(0, CallOutcome.ABANDONED_IVR)], T0, s(1000))
    assert figures.connect_rate == 0.0
    assert figures.answered_within_target_rate is None
    assert hotline_figures([], T0, s(1000)).connect_rate is None


def test_latency_histogram_counts_cumulatively_and_bounds_its_quantiles() -> None:
    histogram = LatencyHistogram(bounds=(0.01, 0.05, 0.1))
    assert histogram.quantile_bound(0.99) is None
    for seconds in [0.002] * 98 + [0.04, 0.2]:
        histogram.observe(seconds)
    assert histogram.counts == [98, 99, 99]
    assert histogram.total == 100
    assert histogram.quantile_bound(0.5) == 0.01
    assert histogram.quantile_bound(0.99) == 0.05
    assert histogram.quantile_bound(1.0) == float("inf")  # one beyond the last bound
    before = histogram.copy()
    histogram.observe(-1.0)  # clocks apart: counted as no wait, never negative
    later = histogram.since(before)
    assert later.counts == [1, 1, 1] and later.total == 1 and later.seconds_sum == 0.0
    assert before.total == 100  # the copy does not move with the original
