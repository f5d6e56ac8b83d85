"""Who called the hotline recently, kept in memory: the repeat-caller check on each call's
path to an agent asks this index, never the database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta


class RepeatCallers:
    """The last call of each number within the window: warmed from the stored calls at start,
    updated as calls arrive, pruned as entries age out."""

    def __init__(self, window: timedelta) -> None:
        self._window = window
        self._last: dict[str, tuple[datetime, str]] = {}
        self._pruned_at: datetime | None = None

    def warm(self, last_calls: Mapping[str, datetime]) -> None:
        for number, at in last_calls.items():
            known = self._last.get(number)
            if number and (known is None or known[0] < at):
                self._last[number] = (at, "")

    def seen(self, number: str, linkedid: str, at: datetime) -> bool:
        """Did `number` call within the window before this call? Remembers this call."""
        if not number:
            return False
        previous = self._last.get(number)
        self._last[number] = (at, linkedid)
        self._prune(at)
        return previous is not None and previous[1] != linkedid and previous[0] >= at - self._window

    def __len__(self) -> int:
        return len(self._last)

    def _prune(self, now: datetime) -> None:
        # at most once per tenth of the window: the index stays bounded by the window's callers
        if self._pruned_at is not None and now - self._pruned_at < self._window / 10:
            return
        self._pruned_at = now
        horizon = now - self._window
        for number in [n for n, (at, _) in self._last.items() if at < horizon]:
            del self._last[number]
