"""Where the engine's memory goes: with CALLCENTER_MEMORY_TRACE_MINUTES set, Python's
allocations are traced (tracemalloc, ~2x slower allocations: a diagnosis, not for production
load) and every that many minutes the log names the ten source lines whose live memory grew
most since the last report, with the total traced."""

from __future__ import annotations

import asyncio
import logging
import tracemalloc

from callcenter.services.tasks import cancelled

log = logging.getLogger(__name__)


class MemoryTrace:
    def __init__(self, minutes: float, frames: int = 8) -> None:
        self._seconds = minutes * 60
        self._frames = frames
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        tracemalloc.start(self._frames)
        self._task = asyncio.create_task(self._report(tracemalloc.take_snapshot()))
        log.warning("memory tracing on: a report every %g s (slower allocations)", self._seconds)

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None
        tracemalloc.stop()

    async def _report(self, previous: tracemalloc.Snapshot) -> None:
        while True:
            await asyncio.sleep(self._seconds)
            snapshot = tracemalloc.take_snapshot()
            growth = snapshot.compare_to(previous, "traceback")[:10]
            current, peak = tracemalloc.get_traced_memory()
            lines = [f"traced {current / 1e6:.1f} MB (peak {peak / 1e6:.1f} MB); grew most:"]
            for stat in growth:
                # the allocating line first, then its callers
                where = " <- ".join(
                    f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno}"
                    for frame in list(stat.traceback)[::-1][:4]
                )
                lines.append(
                    f"  {stat.size_diff / 1e3:+9.1f} kB {stat.count_diff:+7d} blocks {where}"
                )
            log.warning("memory: %s", "\n".join(lines))
            previous = snapshot
