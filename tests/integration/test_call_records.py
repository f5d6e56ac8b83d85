"""Foundation, against the real testbed and PostgreSQL: every call into 12345 is recorded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

import httpx
import pytest

from callcenter.app import Application
from callcenter.domain.access import Role
from callcenter.domain.calls import CallRecord, Disposition, EndedBy, HandledBy
from callcenter.storage.calls import CallQuery
from callcenter.storage.db import migrate
from sip_testbed.testbed import Testbed
from tests.conftest import engine_settings, truncate
from tests.integration.phones import place_calls

pytestmark = pytest.mark.testbed


async def closed_calls(app: Application, expected: int, timeout: float = 15) -> list[CallRecord]:
    """Wait until `expected` calls are closed in the database (hangup events trail SIPp)."""
    deadline = time.monotonic() + timeout
    while True:
        await app.recorder.drained()
        _, rows = await app.calls.search(CallQuery(limit=500))
        records = [record for _, record in rows]
        if sum(1 for r in records if not r.is_open) >= expected or time.monotonic() > deadline:
            return records
        await asyncio.sleep(0.2)


async def test_hundred_calls_at_ten_per_second_are_recorded_exactly(
    engine: Application, testbed: Testbed
) -> None:
    talk_ms = {f"1390000{i:04d}": 1500 + (i % 6) * 500 for i in range(100)}
    sessions_before = engine.agi.sessions

    run = await place_calls(testbed, list(talk_ms.items()), rate=10)

    assert (run.successful, run.failed) == (100, 0), run.output
    records = await closed_calls(engine, 100)
    assert len(records) == 100
    assert engine.agi.sessions - sessions_before == 100
    assert sorted(r.caller_number for r in records) == sorted(talk_ms)
    for record in records:
        assert record.handled_by is HandledBy.ENGINE
        assert record.disposition is Disposition.ANSWERED
        assert record.dialed_number == "12345"
        assert record.trunk == "trunk"
        assert record.answered_at is not None and record.ended_at is not None
        assert record.entered_at <= record.answered_at <= record.ended_at
        talk = (record.ended_at - record.answered_at).total_seconds()
        assert abs(talk - talk_ms[record.caller_number] / 1000) < 1.0, record
        assert [leg.uniqueid for leg in record.legs] == [record.uniqueid]
        assert record.ended_by is EndedBy.CALLER  # SIPp's citizens hang up

    # and the API serves them: filter by caller, by time range, paginate
    token = await engine.tokens.create("wallboard", Role.SUPERVISOR, datetime.now(UTC))
    transport = httpx.ASGITransport(app=engine.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        auth = {"Authorization": f"Bearer {token}"}
        page = (await client.get("/calls", params={"limit": 30}, headers=auth)).json()
        assert page["total"] == 100 and len(page["items"]) == 30
        one = (await client.get("/calls", params={"caller": "13900000007"}, headers=auth)).json()
        assert [item["caller_number"] for item in one["items"]] == ["13900000007"]
        call = (await client.get(f"/calls/{one['items'][0]['id']}", headers=auth)).json()
        assert call["legs"][0]["channel"].startswith("PJSIP/trunk-")
        first = min(r.entered_at for r in records)
        window = {"from": first.isoformat(), "to": datetime.now(UTC).isoformat(), "limit": 500}
        assert (await client.get("/calls", params=window, headers=auth)).json()["total"] == 100
        assert (await client.get("/calls")).status_code == 401


async def test_engine_reconnects_after_asterisk_restart(
    engine: Application, testbed: Testbed, caplog: pytest.LogCaptureFixture
) -> None:
    bed = testbed
    caplog.set_level(logging.INFO, logger="callcenter.telephony.ami")
    # two long calls are up when Asterisk crashes (no Hangup events will come for them)
    before = asyncio.create_task(
        place_calls(bed, [("13911110001", 30000), ("13911110002", 30000)], port=5076, timeout_s=40)
    )
    await wait_open_calls(engine, 2)

    await asyncio.to_thread(bed.restart_asterisk, crash=True)
    back_at = time.monotonic()
    await asyncio.wait_for(engine.ami.connected.wait(), timeout=5)
    reconnect_s = time.monotonic() - back_at
    assert reconnect_s < 5
    ami_logs = [r.getMessage() for r in caplog.records if r.name == "callcenter.telephony.ami"]
    assert sum("connection lost" in m for m in ami_logs) == 1, ami_logs
    assert sum("reconnected" in m for m in ami_logs) == 1, ami_logs

    # the calls Asterisk dropped are closed, marked as estimated, not left open forever
    records = await closed_calls(engine, 2)
    lost = [r for r in records if r.caller_number in {"13911110001", "13911110002"}]
    assert len(lost) == 2 and all(r.end_estimated and not r.is_open for r in lost), lost
    before.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await before

    after = await place_calls(bed, [(f"1391111{i:04d}", 1500) for i in range(100, 110)], port=5072)
    assert (after.successful, after.failed) == (10, 0), after.output
    records = await closed_calls(engine, 12)
    recorded = {r.caller_number: r for r in records}
    for i in range(100, 110):
        record = recorded[f"1391111{i:04d}"]
        assert record.disposition is Disposition.ANSWERED
        assert record.handled_by is HandledBy.ENGINE


async def wait_open_calls(app: Application, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len(app.recorder._tracker.open_calls) < count:
        assert time.monotonic() < deadline, "calls did not come up"
        await asyncio.sleep(0.1)


async def test_fallback_answers_while_engine_is_down_and_is_recorded_later(
    testbed: Testbed, pg_url: str
) -> None:
    # no engine: the FastAGI port is closed, Asterisk must answer on its own
    run = await place_calls(testbed, [("13922220001", 2000)], port=5074)
    assert (run.successful, run.failed) == (1, 0), run.output
    assert "13922220001" in testbed.cli("database show cc_fallback")

    app = Application(engine_settings(testbed, pg_url))
    await migrate(app.db)
    await truncate(app)
    await app.start()
    try:
        records = await closed_calls(app, 1)
        assert len(records) == 1
        record = records[0]
        assert record.caller_number == "13922220001"
        assert record.handled_by is HandledBy.FALLBACK
        assert record.disposition is Disposition.ANSWERED
        assert record.answered_at is not None and record.ended_at is not None
        assert abs((record.ended_at - record.answered_at).total_seconds() - 2.0) < 1.0
        # collected exactly once: the journal row is gone from AstDB
        assert "13922220001" not in testbed.cli("database show cc_fallback")
    finally:
        await app.stop()
