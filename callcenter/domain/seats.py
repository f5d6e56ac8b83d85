"""Agent seats: the state machine of one agent's availability, with every transition timed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from callcenter.domain.errors import DomainError


class SeatState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class PauseReason(StrEnum):
    BREAK = "break"
    MEAL = "meal"
    TRAINING = "training"
    MEETING = "meeting"
    MISSED_CALL = "missed_call"
    # calling citizens back from the seat (回拨/回访): no queue call is offered meanwhile
    CALLBACK = "callback"


class SeatRefused(DomainError):
    """The agent's current state does not allow the request."""

    code = "seat_state_conflict"


@dataclass(frozen=True, slots=True)
class Transition:
    """One persisted change of a seat's state."""

    agent_id: str
    state: SeatState
    at: datetime
    reason: str = ""
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Seat:
    agent_id: str
    state: SeatState = SeatState.LOGGED_OUT
    since: datetime | None = None
    extension: str | None = None
    pause_reason: PauseReason | None = None
    # the call being offered or talked to
    call_id: str | None = None
    wrap_up_until: datetime | None = None
    # when the agent last became free: "longest idle" routing prefers the earliest
    idle_since: datetime | None = None
    # a pause asked for while on a call takes effect when the call ends
    pending_pause: PauseReason | None = None

    @property
    def available(self) -> bool:
        return self.state is SeatState.READY


@dataclass(frozen=True, slots=True)
class SeatChange:
    seat: Seat
    transitions: tuple[Transition, ...] = field(default_factory=tuple)


def _move(
    seat: Seat,
    state: SeatState,
    now: datetime,
    *,
    reason: str = "",
    **changes: object,
) -> SeatChange:
    updated = replace(seat, state=state, since=now, **changes)  # type: ignore[arg-type]
    call_id = updated.call_id or seat.call_id
    return SeatChange(updated, (Transition(seat.agent_id, state, now, reason, call_id),))


def _refuse(seat: Seat, action: str, why: str) -> SeatRefused:
    return SeatRefused(f"agent {seat.agent_id} cannot {action} while {seat.state.value}: {why}")


def log_in(seat: Seat, extension: str, now: datetime) -> SeatChange:
    if seat.state is not SeatState.LOGGED_OUT:
        raise _refuse(seat, "log in", "already logged in")
    if not extension:
        raise _refuse(seat, "log in", "an extension is required")
    return _move(seat, SeatState.READY, now, extension=extension, idle_since=now)


def ready(seat: Seat, now: datetime) -> SeatChange:
    if seat.state in (SeatState.PAUSED, SeatState.WRAP_UP):
        return _move(
            seat,
            SeatState.READY,
            now,
            pause_reason=None,
            wrap_up_until=None,
            call_id=None,
            idle_since=now,
            pending_pause=None,
        )
    if seat.state is SeatState.READY:
        return SeatChange(seat)
    if seat.state in (SeatState.RINGING, SeatState.ON_CALL):
        # going ready again after the call is the default anyway; cancel a pending pause
        return SeatChange(replace(seat, pending_pause=None))
    raise _refuse(seat, "become ready", "log in first")


def pause(seat: Seat, reason: PauseReason, now: datetime) -> SeatChange:
    if seat.state in (SeatState.READY, SeatState.WRAP_UP, SeatState.PAUSED):
        return _move(
            seat,
            SeatState.PAUSED,
            now,
            reason=reason.value,
            pause_reason=reason,
            wrap_up_until=None,
            call_id=None,
        )
    if seat.state in (SeatState.RINGING, SeatState.ON_CALL):
        return SeatChange(replace(seat, pending_pause=reason))
    raise _refuse(seat, "pause", "log in first")


def log_out(seat: Seat, now: datetime) -> SeatChange:
    if seat.state in (SeatState.ON_CALL, SeatState.RINGING):
        raise _refuse(seat, "log out", "finish the call first")
    if seat.state is SeatState.LOGGED_OUT:
        return SeatChange(seat)
    return _move(
        seat,
        SeatState.LOGGED_OUT,
        now,
        extension=None,
        pause_reason=None,
        call_id=None,
        wrap_up_until=None,
        idle_since=None,
        pending_pause=None,
    )


def offer(seat: Seat, call_id: str, now: datetime) -> SeatChange:
    if seat.state is not SeatState.READY:
        raise _refuse(seat, f"be offered call {call_id}", "only a ready agent is offered calls")
    return _move(seat, SeatState.RINGING, now, call_id=call_id)


def answered(seat: Seat, call_id: str, now: datetime) -> SeatChange:
    if seat.state is not SeatState.RINGING or seat.call_id != call_id:
        raise _refuse(seat, f"answer call {call_id}", "it was not offered to this agent")
    return _move(seat, SeatState.ON_CALL, now)


def missed(seat: Seat, call_id: str, now: datetime) -> SeatChange:
    """Ring-no-answer: the agent is paused so no further calls ring an empty desk."""
    if seat.state is not SeatState.RINGING or seat.call_id != call_id:
        return SeatChange(seat)
    return _move(
        seat,
        SeatState.PAUSED,
        now,
        reason=PauseReason.MISSED_CALL.value,
        pause_reason=PauseReason.MISSED_CALL,
        call_id=None,
        pending_pause=None,
    )


def unreachable(seat: Seat, call_id: str, now: datetime, why: str) -> SeatChange:
    """The softphone could not be rung at all (unregistered, busy): take the seat out."""
    if seat.state is not SeatState.RINGING or seat.call_id != call_id:
        return SeatChange(seat)
    return _move(
        seat,
        SeatState.PAUSED,
        now,
        reason=why,
        pause_reason=PauseReason.MISSED_CALL,
        call_id=None,
        pending_pause=None,
    )


def call_ended(seat: Seat, call_id: str, now: datetime, wrap_up: timedelta) -> SeatChange:
    if seat.call_id != call_id or seat.state not in (SeatState.ON_CALL, SeatState.RINGING):
        return SeatChange(seat)
    if seat.state is SeatState.RINGING:  # the caller hung up while the phone rang
        change = _move(seat, SeatState.READY, now, call_id=None)
        if seat.pending_pause is not None:
            return pause(change.seat, seat.pending_pause, now)
        return change
    if seat.pending_pause is not None:
        reason = seat.pending_pause
        change = _move(
            seat,
            SeatState.PAUSED,
            now,
            reason=reason.value,
            pause_reason=reason,
            pending_pause=None,
        )
        return SeatChange(replace(change.seat, call_id=None), change.transitions)
    if wrap_up <= timedelta(0):
        return _move(seat, SeatState.READY, now, call_id=None, idle_since=now)
    return _move(seat, SeatState.WRAP_UP, now, wrap_up_until=now + wrap_up)


def extend_wrap_up(seat: Seat, extra: timedelta, now: datetime) -> SeatChange:
    if seat.state is not SeatState.WRAP_UP or seat.wrap_up_until is None:
        raise _refuse(seat, "extend wrap-up", "not in wrap-up")
    if extra <= timedelta(0) or extra > timedelta(minutes=30):
        raise _refuse(seat, "extend wrap-up", "the extension must be 1 s to 30 min")
    return SeatChange(replace(seat, wrap_up_until=max(seat.wrap_up_until, now) + extra))


def wrap_up_expired(seat: Seat, now: datetime) -> SeatChange:
    if seat.state is SeatState.WRAP_UP and seat.wrap_up_until and seat.wrap_up_until <= now:
        return _move(seat, SeatState.READY, now, wrap_up_until=None, call_id=None, idle_since=now)
    return SeatChange(seat)


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """Who an agent is: name, softphone and skills (levels 1-5)."""

    id: str
    name: str
    endpoint: str
    skills: dict[str, int]
    sip_contact: str | None = None
    sip_md5: str | None = None
    active: bool = True


# the realm Asterisk's PJSIP endpoints authenticate softphones in
SIP_REALM = "asterisk"


def sip_md5(endpoint: str, password: str) -> str:
    """The digest Asterisk checks a softphone's password against (md5_cred): only this is kept."""
    return hashlib.md5(f"{endpoint}:{SIP_REALM}:{password}".encode()).hexdigest()
