"""A database outage and an engine crash together lose no call: PostgreSQL (a private cluster)
stops while calls are recorded, the engine is SIGKILLed, both come back, every call is there."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from callcenter.storage.db import make_engine
from sip_testbed.testbed import Testbed
from tests.integration.engine_process import API, EngineProcess, engine_env
from tests.integration.phones import place_calls
from tests.integration.private_pg import PrivatePostgres

pytestmark = pytest.mark.testbed

CALLS = 60


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.destroy()


async def writer_idle(timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=API, timeout=5) as client:
        while True:
            writer = (await client.get("/health")).json()["writer"]
            if writer["pending"] == 0:
                return dict(writer)
            assert time.monotonic() < deadline, writer
            await asyncio.sleep(0.2)


async def test_calls_recorded_during_a_database_outage_survive_an_engine_crash(
    testbed: Testbed, private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    url = await private_pg.create_database("callcenter")
    env = engine_env(testbed, url, writer_spool=tmp_path / "spool.sqlite3")
    engine = EngineProcess(env, tmp_path / "engine.log")
    try:
        await engine.start()
        # nobody to answer: citizens wait on hold 3 s after the hotline answers, then hang up
        citizens = [(f"1370000{i:04d}", 3000) for i in range(CALLS)]
        burst = asyncio.create_task(place_calls(testbed, citizens, rate=10, timeout_s=60))
        await asyncio.sleep(2)
        await asyncio.to_thread(private_pg.stop)
        run = await burst
        assert (run.successful, run.failed) == (CALLS, 0), run.output
        await asyncio.sleep(2)  # the last hangups reach the engine and its journal
        async with httpx.AsyncClient(base_url=API, timeout=5) as client:
            writer = (await client.get("/health")).json()["writer"]
        assert writer["failing"] and writer["pending"] > 0, writer

        engine.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        engine.proc.wait(timeout=10)  # type: ignore[union-attr]
        await asyncio.to_thread(private_pg.start)
        await engine.start()
        await writer_idle()
        assert await engine.signal(signal.SIGTERM) == 0, engine.tail()
    finally:
        engine.kill()

    db = make_engine(url)
    try:
        async with db.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT caller_number, disposition, ended_at IS NOT NULL, end_estimated "
                        "FROM calls WHERE caller_number LIKE '1370000%'"
                    )
                )
            ).all()
    finally:
        await db.dispose()
    assert sorted(number for number, *_ in rows) == sorted(number for number, _ in citizens)
    for number, disposition, ended, estimated in rows:
        assert ended and not estimated and disposition == "answered", (number, disposition)
    print(f"\n{len(rows)} calls recorded; writer before the crash: {writer}")
