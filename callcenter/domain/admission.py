"""Admission control: refuse new calls before the media server is driven into collapse."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Refusal(StrEnum):
    SYSTEM_FULL = "system_full"
    RATE = "rate"


@dataclass
class Admission:
    """A ceiling on calls in the system and a token bucket on new calls per second.

    `now` is a monotonic time in seconds, passed in."""

    max_calls: int
    max_new_per_second: float
    burst: float | None = None
    _tokens: float | None = None
    _last: float | None = None

    def decide(self, now: float, calls_in_system: int) -> Refusal | None:
        """None to admit the call (and spend a token), or why it is refused."""
        capacity = self.burst if self.burst is not None else max(1.0, self.max_new_per_second)
        if self._tokens is None or self._last is None:
            self._tokens, self._last = capacity, now
        self._tokens = min(capacity, self._tokens + (now - self._last) * self.max_new_per_second)
        self._last = now
        if calls_in_system >= self.max_calls:
            return Refusal.SYSTEM_FULL
        if self._tokens < 1.0:
            return Refusal.RATE
        self._tokens -= 1.0
        return None
