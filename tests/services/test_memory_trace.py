"""The memory diagnosis names the line whose memory grew, in the log, at its interval."""

from __future__ import annotations

import asyncio
import inspect
import logging

import pytest

from callcenter.services.memory_trace import MemoryTrace

kept: list[bytes] = []


def _grow() -> None:
    kept.extend(bytes(1000) for _ in range(2000))


async def test_the_report_names_the_line_that_grew(caplog: pytest.LogCaptureFixture) -> None:
    trace = MemoryTrace(minutes=0.002)  # every 0.12 s
    with caplog.at_level(logging.WARNING, logger="callcenter.services.memory_trace"):
        trace.start()
        try:
            _grow()
            await asyncio.sleep(0.3)
        finally:
            await trace.stop()
            kept.clear()
    reports = [r.getMessage() for r in caplog.records if r.getMessage().startswith("memory:")]
    assert reports, caplog.text
    line = inspect.getsourcelines(_grow)[1] + 1  # the line that allocates
    assert any(f"test_memory_trace.py:{line} " in report for report in reports), reports[0]
