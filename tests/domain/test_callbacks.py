"""Callback requests: attempts until reached, wrong number, or out of tries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.domain.callbacks import (
    AttemptOutcome,
    CallbackRequest,
    CallbackStatus,
    attempt,
)
from callcenter.domain.errors import IllegalTransition

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
REQUEST = CallbackRequest(1, "1795.1", "13900001111", "lang:mandarin=1", T0)


def test_reaching_the_caller_closes_the_request() -> None:
    after = attempt(REQUEST, AttemptOutcome.REACHED, "agent:a01", T0 + timedelta(minutes=5))
    assert after.status is CallbackStatus.REACHED
    assert (after.attempts, after.closed_by) == (1, "agent:a01")
    assert after.closed_at == after.last_attempt_at == T0 + timedelta(minutes=5)


def test_no_answer_keeps_it_pending_until_the_tries_run_out() -> None:
    request = REQUEST
    for i, outcome in enumerate([AttemptOutcome.NO_ANSWER, AttemptOutcome.BUSY]):
        request = attempt(request, outcome, "agent:a01", T0 + timedelta(hours=i))
        assert request.status is CallbackStatus.PENDING and request.closed_at is None
    request = attempt(request, AttemptOutcome.NO_ANSWER, "agent:a02", T0 + timedelta(hours=3))
    assert (request.status, request.attempts) == (CallbackStatus.UNREACHABLE, 3)


def test_a_wrong_number_closes_at_once_and_a_closed_request_refuses_more() -> None:
    closed = attempt(REQUEST, AttemptOutcome.WRONG_NUMBER, "agent:a01", T0)
    assert closed.status is CallbackStatus.UNREACHABLE
    with pytest.raises(IllegalTransition, match="unreachable"):
        attempt(closed, AttemptOutcome.REACHED, "agent:a01", T0)
