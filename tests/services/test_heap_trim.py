"""The heap trimmer: runs glibc's malloc_trim on its period in a worker thread, stops cleanly,
and does nothing where the C library has none."""

from __future__ import annotations

import asyncio
import threading

import pytest

from callcenter.services import heap_trim
from callcenter.services.heap_trim import HeapTrim, find_malloc_trim


def test_glibc_has_malloc_trim_and_it_answers() -> None:
    trim = find_malloc_trim()
    assert trim is not None  # the engine's images are glibc-based (Debian)
    assert trim(0) in (0, 1)


async def test_trims_on_its_period_off_the_event_loop() -> None:
    threads: list[int] = []

    def trim(pad: int) -> int:
        assert pad == 0
        threads.append(threading.get_ident())
        return 1

    heap = HeapTrim(0.01, trim)
    heap.start()
    await asyncio.sleep(0.2)
    await heap.stop()
    assert heap.runs >= 3
    assert heap.released == heap.runs
    assert threading.get_ident() not in threads
    runs = heap.runs
    await asyncio.sleep(0.05)
    assert heap.runs == runs  # stopped means stopped


async def test_without_malloc_trim_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap_trim, "find_malloc_trim", lambda: None)
    heap = HeapTrim(0.01)
    heap.start()
    await asyncio.sleep(0.05)
    await heap.stop()
    assert heap.runs == 0
