"""Callback requests (回拨): callers who waited the maximum time and asked to be called back.

A request stays on the center's worklist until an agent reaches the caller, the number proves
wrong, or the attempts run out. Every attempt is kept; nothing is deleted."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from callcenter.domain.errors import IllegalTransition

MAX_ATTEMPTS = 3


class CallbackStatus(StrEnum):
    PENDING = "pending"
    REACHED = "reached"
    UNREACHABLE = "unreachable"


class AttemptOutcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    id: int
    linkedid: str
    caller_number: str
    queue: str
    requested_at: datetime
    status: CallbackStatus = CallbackStatus.PENDING
    attempts: int = 0
    last_attempt_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str = ""


def attempt(
    request: CallbackRequest,
    outcome: AttemptOutcome,
    by: str,
    at: datetime,
    max_attempts: int = MAX_ATTEMPTS,
) -> CallbackRequest:
    """The request after one call-back attempt; a closed request refuses more."""
    if request.status is not CallbackStatus.PENDING:
        raise IllegalTransition(
            f"callback request {request.id} is {request.status.value}: no more attempts"
        )
    tried = replace(request, attempts=request.attempts + 1, last_attempt_at=at)
    if outcome is AttemptOutcome.REACHED:
        return replace(tried, status=CallbackStatus.REACHED, closed_at=at, closed_by=by)
    if outcome is AttemptOutcome.WRONG_NUMBER or tried.attempts >= max_attempts:
        return replace(tried, status=CallbackStatus.UNREACHABLE, closed_at=at, closed_by=by)
    return tried
