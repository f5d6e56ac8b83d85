"""Numbers the hotline may dial out through its trunk (surveys, three-way calls, transfers)."""

from __future__ import annotations

from enum import StrEnum


def dialable(phone: str) -> bool:
    """Digits only (an optional leading +), 3 to 20 of them: nothing a dialplan could misread."""
    digits = phone.removeprefix("+")
    return digits.isdigit() and 3 <= len(digits) <= 20


class DialOutcome(StrEnum):
    """How a call out ended up."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"  # could not be placed (trunk down, bad number, the engine lost sight of it)


def originate_outcome(reason: str) -> DialOutcome:
    """AMI OriginateResponse `Reason` of a call that was not answered: 5 busy, 3 and 1 rang
    out or hung up unanswered, anything else could not be placed."""
    match reason.strip():
        case "5":
            return DialOutcome.BUSY
        case "3" | "1":
            return DialOutcome.NO_ANSWER
        case _:
            return DialOutcome.FAILED
