"""Retention on its own: the nightly archive wakes at its hour (hotline time) and moves the
tickets closed long ago, on both backends; the time of day is read strictly."""

from __future__ import annotations

import asyncio
import time as clock_time
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.domain.workdays import next_run, parse_time_of_day
from callcenter.services.retention import NightlyArchive
from callcenter.storage.db import make_sessions
from callcenter.storage.ticket_archive import TicketArchive
from tests.storage.test_ticket_archive import START, _answered
from tests.storage.test_tickets_scale import Clock, database_url, engine, repository

__all__ = ["database_url", "engine"]


def test_the_archive_hour_is_read_strictly() -> None:
    assert parse_time_of_day("03:00") == time(3, 0)
    assert parse_time_of_day("") is None
    for bad in ("3:00", "24:00", "03:60", "03:00:00", "night"):
        with pytest.raises(ValueError, match=r"HH:MM|time of day"):
            parse_time_of_day(bad)


def test_the_next_run_is_the_next_such_hour_in_hotline_time() -> None:
    # 18:30 UTC is 02:30 in Beijing: tonight's 03:00 is half an hour away
    assert next_run(datetime(2026, 12, 1, 18, 30, tzinfo=UTC), time(3)) == datetime(
        2026, 12, 1, 19, 0, tzinfo=UTC
    )
    # exactly at 03:00 Beijing: the next night's
    assert next_run(datetime(2026, 12, 1, 19, 0, tzinfo=UTC), time(3)) == datetime(
        2026, 12, 2, 19, 0, tzinfo=UTC
    )


class Running:
    """A clock that runs in real time from a given instant."""

    def __init__(self, start: datetime) -> None:
        self.start, self.began = start, clock_time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=clock_time.monotonic() - self.began)


async def _tickets(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        hot = int(await conn.scalar(text("SELECT count(*) FROM tickets")) or 0)
        cold = int(await conn.scalar(text("SELECT count(*) FROM tickets_archive")) or 0)
    return hot, cold


async def test_the_nightly_archive_wakes_at_its_hour_and_moves_old_tickets(
    engine: AsyncEngine,
) -> None:
    repo = repository(engine, Clock(START))
    for i in range(3):
        await _answered(repo, f"路灯不亮 {i}", f"1380000000{i}")
    recent = repository(engine, Clock(START + timedelta(days=100)))
    await _answered(recent, "路灯又不亮", "13800000009")
    # 0.3 s before 03:00 Beijing, 100 days on: the three are 100 days old, the recent one new
    night = datetime(2025, 4, 16, 2, 59, 59, 700_000, tzinfo=START.tzinfo)
    clock = Running(night)
    archive = TicketArchive(make_sessions(engine), clock, after_days=30, batch=2)
    nightly = NightlyArchive(archive, time(3), clock, pause_seconds=0.01)
    nightly.start()
    try:
        for _ in range(100):
            if nightly.last is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        await nightly.stop()
    assert nightly.last is not None, "the archive did not run at 03:00"
    assert (nightly.last.moved, nightly.last.batches) == (3, 2)
    assert await _tickets(engine) == (1, 3)
