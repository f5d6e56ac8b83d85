"""Who the telephone survey (回访) calls, when, and how often: pure rules, no Asterisk."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.domain.surveys import (
    Candidate,
    SurveyAttempt,
    SurveyOutcome,
    SurveyPolicy,
    due,
    parse_hours,
)
from callcenter.domain.tickets import CallbackResult

CN = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=CN)
SINCE = NOW - timedelta(days=1)
POLICY = SurveyPolicy(max_attempts=3, retry_after=timedelta(hours=2), concurrent=2)


def waiting(ticket_id: int, phone: str = "13800000000", since: datetime = SINCE) -> Candidate:
    return Candidate(ticket_id, phone, since)


def tried(
    ticket_id: int,
    hours_ago: float,
    outcome: SurveyOutcome | None = SurveyOutcome.NO_ANSWER,
    attempt_id: int = 1,
) -> SurveyAttempt:
    started = NOW - timedelta(hours=hours_ago)
    return SurveyAttempt(
        attempt_id,
        ticket_id,
        "13800000000",
        started.astimezone(UTC),
        ended_at=None if outcome is None else started + timedelta(seconds=40),
        outcome=outcome,
        result=CallbackResult.SATISFIED if outcome is SurveyOutcome.ANSWERED else None,
    )


def ids(chosen: list[Candidate]) -> list[int]:
    return [c.ticket_id for c in chosen]


def test_oldest_tickets_first_on_the_free_lines() -> None:
    assert ids(due([waiting(3), waiting(1), waiting(2)], [], NOW, POLICY)) == [1, 2]
    # one line is busy with another ticket's survey
    assert ids(due([waiting(3), waiting(1)], [tried(9, 0, None)], NOW, POLICY)) == [1]


def test_nobody_is_called_outside_calling_hours() -> None:
    policy = SurveyPolicy(hours=(time(9), time(20)))
    assert due([waiting(1)], [], NOW.replace(hour=8, minute=59), policy) == []
    assert due([waiting(1)], [], NOW.replace(hour=20), policy) == []
    assert ids(due([waiting(1)], [], NOW.replace(hour=19, minute=59), policy)) == [1]


def test_a_failed_try_is_repeated_after_the_pause_up_to_the_limit() -> None:
    assert due([waiting(1)], [tried(1, 1)], NOW, POLICY) == []  # 1 h ago: too soon
    assert ids(due([waiting(1)], [tried(1, 2.5)], NOW, POLICY)) == [1]
    three = [tried(1, 8, attempt_id=1), tried(1, 6, attempt_id=2), tried(1, 3, attempt_id=3)]
    assert due([waiting(1)], three, NOW, POLICY) == []  # tries used up: an agent calls


def test_a_call_under_way_or_an_answer_ends_the_calling() -> None:
    assert due([waiting(1)], [tried(1, 0.1, None)], NOW, POLICY) == []
    assert due([waiting(1)], [tried(1, 5, SurveyOutcome.ANSWERED)], NOW, POLICY) == []


def test_a_ticket_redone_after_a_dissatisfied_answer_is_surveyed_anew() -> None:
    earlier_round = [tried(1, 30, SurveyOutcome.ANSWERED, 1), tried(1, 29, attempt_id=2)]
    assert ids(due([waiting(1, since=NOW - timedelta(hours=3))], earlier_round, NOW, POLICY)) == [1]


def test_numbers_the_trunk_cannot_dial_are_left_to_agents() -> None:
    assert ids(due([waiting(1, ""), waiting(2, "12345-6"), waiting(3)], [], NOW, POLICY)) == [3]


def test_calling_hours_are_read_and_checked() -> None:
    assert parse_hours("09:00-20:30") == (time(9), time(20, 30))
    for bad in ("9-20", "20:00-09:00", "09:00", "nine-ten"):
        with pytest.raises(ValueError, match=r"HH:MM|start must be before"):
            parse_hours(bad)
