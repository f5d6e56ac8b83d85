"""Numbers the hotline may dial out through its trunk (surveys, three-way calls, transfers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True, slots=True)
class CallOutResult:
    """What became of a call the engine placed, named by the ChannelId the engine gave it:
    answered, or why not."""

    channel_id: str
    outcome: DialOutcome
    at: datetime

    @property
    def answered(self) -> bool:
        return self.outcome is DialOutcome.ANSWERED
