"""回访 by telephone: which tickets the engine calls back with the voice survey, and when.

Every ticket that waits for its callback survey is called, within calling hours, a limited number
of times with a pause between tries; a keyed-in answer is the ticket's callback result. Tickets the
survey cannot reach stay on the center's list for an agent to call."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from callcenter.domain.dialing import dialable
from callcenter.domain.tickets import CallbackResult

# what the citizen keys in, as the rating after a call: the same three words as the ticket's
SURVEY_KEYS = {
    "1": CallbackResult.SATISFIED,
    "2": CallbackResult.BASICALLY_SATISFIED,
    "3": CallbackResult.DISSATISFIED,
}


class SurveyOutcome(StrEnum):
    ANSWERED = "answered"  # the citizen keyed in a result
    NO_INPUT = "no_input"  # picked up, keyed in nothing usable
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"  # the call could not be placed (trunk down, bad number, engine lost it)
    SUPERSEDED = "superseded"  # the callback was recorded by someone else meanwhile


@dataclass(frozen=True, slots=True)
class SurveyAttempt:
    id: int
    ticket_id: int
    phone: str
    started_at: datetime
    ended_at: datetime | None = None
    outcome: SurveyOutcome | None = None
    result: CallbackResult | None = None
    # the call as recorded (when calls are recorded)
    recording: str = ""

    @property
    def open(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True, slots=True)
class SurveyPolicy:
    max_attempts: int = 3
    retry_after: timedelta = timedelta(hours=2)
    # local time of the hotline; citizens are not called at night
    hours: tuple[time, time] = (time(9), time(20))
    concurrent: int = 2
    # an attempt Asterisk never reported on is given up after this long
    stale_after: timedelta = timedelta(minutes=10)

    def within_hours(self, local: datetime) -> bool:
        start, end = self.hours
        return start <= local.time() < end


def parse_hours(text: str) -> tuple[time, time]:
    """`09:00-20:00` -> (09:00, 20:00); ValueError saying what is wrong."""
    try:
        first, last = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM") from None
    if first >= last:
        raise ValueError(f"{text!r}: the start must be before the end")
    return first, last


@dataclass(frozen=True, slots=True)
class Candidate:
    """A ticket waiting for its callback survey, with the citizen's number and since when it
    waits (a ticket redone after a dissatisfied survey waits again, and is surveyed again)."""

    ticket_id: int
    phone: str
    since: datetime


def due(
    candidates: Iterable[Candidate],
    attempts: Sequence[SurveyAttempt],
    local_now: datetime,
    policy: SurveyPolicy,
) -> list[Candidate]:
    """Whom to call now, oldest ticket first, within the free lines of the survey."""
    if not policy.within_hours(local_now):
        return []
    by_ticket: dict[int, list[SurveyAttempt]] = {}
    for attempt in attempts:
        by_ticket.setdefault(attempt.ticket_id, []).append(attempt)
    free = policy.concurrent - sum(1 for a in attempts if a.open)
    chosen: list[Candidate] = []
    for candidate in sorted(candidates, key=lambda c: c.ticket_id):
        if len(chosen) >= free:
            break
        every = by_ticket.get(candidate.ticket_id, [])
        # only this round's tries count: a ticket redone after a dissatisfied survey is asked anew
        tried = [a for a in every if a.started_at >= candidate.since]
        if not dialable(candidate.phone) or any(a.open for a in every):
            continue
        if any(a.outcome is SurveyOutcome.ANSWERED for a in tried):
            continue
        if len(tried) >= policy.max_attempts:
            continue
        last_end = max((a.ended_at for a in tried if a.ended_at), default=None)
        if last_end is not None and local_now - last_end < policy.retry_after:
            continue
        chosen.append(candidate)
    return chosen
