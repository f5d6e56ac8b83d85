"""Agent seat states and their transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.domain import seats
from callcenter.domain.seats import PauseReason, Seat, SeatRefused, SeatState

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def logged_in() -> Seat:
    return seats.log_in(Seat("a1"), "agent1001", at(0)).seat


def test_call_cycle_with_wrap_up() -> None:
    seat = logged_in()
    assert seat.state is SeatState.READY and seat.idle_since == at(0)
    seat = seats.offer(seat, "c1", at(1)).seat
    assert seat.state is SeatState.RINGING
    seat = seats.answered(seat, "c1", at(3)).seat
    assert seat.state is SeatState.ON_CALL
    change = seats.call_ended(seat, "c1", at(60), timedelta(seconds=10))
    assert change.seat.state is SeatState.WRAP_UP and change.seat.wrap_up_until == at(70)
    assert [t.state for t in change.transitions] == [SeatState.WRAP_UP]
    assert change.transitions[0].call_id == "c1"
    extended = seats.extend_wrap_up(change.seat, timedelta(seconds=30), at(65)).seat
    assert extended.wrap_up_until == at(100)
    assert seats.wrap_up_expired(extended, at(99)).seat.state is SeatState.WRAP_UP
    done = seats.wrap_up_expired(extended, at(100)).seat
    assert done.state is SeatState.READY and done.idle_since == at(100) and done.call_id is None


def test_missed_call_pauses_the_agent() -> None:
    seat = seats.offer(logged_in(), "c1", at(1)).seat
    change = seats.missed(seat, "c1", at(16))
    assert change.seat.state is SeatState.PAUSED
    assert change.seat.pause_reason is PauseReason.MISSED_CALL
    assert change.transitions[0].reason == "missed_call"


def test_logout_refused_on_a_call_with_a_reason() -> None:
    seat = seats.answered(seats.offer(logged_in(), "c1", at(1)).seat, "c1", at(2)).seat
    with pytest.raises(SeatRefused, match="cannot log out while on_call: finish the call"):
        seats.log_out(seat, at(3))
    with pytest.raises(SeatRefused):
        seats.log_out(seats.offer(logged_in(), "c2", at(1)).seat, at(2))


def test_pause_during_a_call_applies_when_it_ends() -> None:
    seat = seats.answered(seats.offer(logged_in(), "c1", at(1)).seat, "c1", at(2)).seat
    seat = seats.pause(seat, PauseReason.MEAL, at(5)).seat
    assert seat.state is SeatState.ON_CALL and seat.pending_pause is PauseReason.MEAL
    seat = seats.call_ended(seat, "c1", at(30), timedelta(seconds=10)).seat
    assert seat.state is SeatState.PAUSED and seat.pause_reason is PauseReason.MEAL


def test_only_ready_agents_are_offered_calls() -> None:
    paused = seats.pause(logged_in(), PauseReason.BREAK, at(1)).seat
    with pytest.raises(SeatRefused):
        seats.offer(paused, "c1", at(2))
    with pytest.raises(SeatRefused):
        seats.ready(Seat("a9"), at(0))


def test_caller_hanging_up_while_ringing_frees_the_agent() -> None:
    seat = seats.offer(logged_in(), "c1", at(1)).seat
    seat = seats.call_ended(seat, "c1", at(2), timedelta(seconds=10)).seat
    assert seat.state is SeatState.READY


def test_wrap_up_extension_bounds() -> None:
    seat = seats.answered(seats.offer(logged_in(), "c1", at(1)).seat, "c1", at(2)).seat
    seat = seats.call_ended(seat, "c1", at(3), timedelta(seconds=10)).seat
    with pytest.raises(SeatRefused):
        seats.extend_wrap_up(seat, timedelta(hours=2), at(4))
    with pytest.raises(SeatRefused):
        seats.extend_wrap_up(logged_in(), timedelta(seconds=5), at(4))
