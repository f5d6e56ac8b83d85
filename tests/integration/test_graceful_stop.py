"""Stopping the engine under load loses nothing: SIGTERM during a burst of calls drains the
writer, and after a restart every queued call and seat change it announced is stored."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from callcenter.domain.access import Role
from callcenter.storage.db import make_engine, make_sessions, migrate
from callcenter.storage.tokens import TokenRepository
from sip_testbed.testbed import Testbed
from tests.integration.engine_process import API, EngineProcess, collect_events, engine_env
from tests.integration.phones import place_calls

pytestmark = pytest.mark.testbed

AGENTS = 12
TABLES = "call_legs, calls, agent_state_changes, agent_skills, agents, queue_calls, api_tokens"


@pytest.fixture
def agent_phones(testbed: Testbed) -> Iterator[None]:
    phones = [
        testbed.sipp_background(
            "agent_answer",
            ["-p", str(5101 + i), "-mp", str(17000 + 10 * i)],
            {"ANSWER_MS": "200", "TALK_MS": "1000", "DTMF": "~~"},
        )
        for i in range(AGENTS)
    ]
    yield
    for phone in phones:
        phone.terminate()
    for phone in phones:
        phone.wait(timeout=10)


async def fresh_database(pg_url: str) -> str:
    """Empty call and seat tables; returns an admin token."""
    db = make_engine(pg_url)
    try:
        await migrate(db)
        async with db.begin() as conn:
            await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        return await TokenRepository(make_sessions(db)).create("admin", Role.ADMIN, now())
    finally:
        await db.dispose()


def now() -> datetime:
    return datetime.now(UTC)


async def stored(pg_url: str) -> tuple[set[tuple[str, str, str]], dict[str, tuple[str, bool]]]:
    """(agent, state, instant) of every seat change; linkedid -> (outcome, ended) per call."""
    db = make_engine(pg_url)
    try:
        async with db.connect() as conn:
            seats = await conn.execute(text("SELECT agent_id, state, at FROM agent_state_changes"))
            changes = {(a, s, at.astimezone(UTC).isoformat()) for a, s, at in seats}
            queued = await conn.execute(
                text("SELECT linkedid, outcome, ended_at IS NOT NULL FROM queue_calls")
            )
            calls = {linkedid: (outcome, bool(ended)) for linkedid, outcome, ended in queued}
    finally:
        await db.dispose()
    return changes, calls


async def add_agents(token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=API, headers=headers, timeout=10) as client:
        for i in range(AGENTS):
            agent_id = f"g{i:02d}"
            body = {
                "id": agent_id,
                "name": f"Agent {agent_id}",
                "endpoint": f"ep-{agent_id}",
                "skills": {"lang:mandarin": 3},
                "sip_contact": f"sip:{agent_id}@127.0.0.1:{5101 + i}",
            }
            assert (await client.post("/agents", json=body)).status_code == 201
            reply = await client.post(f"/agents/{agent_id}/login", json={})
            assert reply.status_code == 200, reply.text


async def test_sigterm_during_a_burst_loses_no_queued_call_or_seat_change(
    testbed: Testbed, pg_url: str, agent_phones: None, tmp_path: Path
) -> None:
    token = await fresh_database(pg_url)
    env = engine_env(
        testbed,
        pg_url,
        wrap_up_seconds=0,
        ring_seconds=5,
        # records gather for a whole second: SIGTERM always finds some not yet written
        writer_batch_ms=1000,
        writer_spool=tmp_path / "spool.sqlite3",
        stop_drain_seconds=20,
    )
    engine = EngineProcess(env, tmp_path / "engine.log")
    try:
        await engine.start()
        await add_agents(token)
        events: list[dict[str, Any]] = []
        listener = asyncio.create_task(collect_events(token, events))
        await asyncio.sleep(0.5)
        # each citizen stays up to 15 s after the hotline answers: through the welcome (about
        # 5 s), the queue and 1 s with an agent; 20 calls a second keep every agent busy
        citizens = [(f"1350000{i:04d}", 15000) for i in range(240)]
        burst = asyncio.create_task(place_calls(testbed, citizens, rate=20, timeout_s=120))
        await asyncio.sleep(12)

        status = await engine.signal(signal.SIGTERM)
        log = engine.log.read_text()
        assert status == 0, engine.tail()
        assert "writer stopped" in log, engine.tail()
        await asyncio.wait_for(listener, 10)
        await burst  # the calls after the stop took the dialplan's fallback path

        # a restart writes whatever the journal still held; then a second clean stop
        await engine.start()
        assert await engine.signal(signal.SIGTERM) == 0, engine.tail()
    finally:
        engine.kill()

    changes, calls = await stored(pg_url)
    announced = [e for e in events if e["type"] == "agent_state"]
    queued = [e for e in events if e["type"] == "call_queued"]
    ended = [e for e in events if e["type"] == "call_ended"]
    assert not [e for e in events if e["type"] == "events_dropped"]
    assert len(announced) > 50 and len(queued) > 50, (len(announced), len(queued))
    missing = [
        e
        for e in announced
        if (e["agent_id"], e["state"], datetime.fromisoformat(e["at"]).isoformat()) not in changes
    ]
    assert missing == [], f"{len(missing)} of {len(announced)} seat changes lost"
    assert [e["call_id"] for e in queued if e["call_id"] not in calls] == []
    assert [e for e in ended if calls[e["call_id"]] != (e["outcome"], True)] == []
    print(
        f"\n{len(queued)} queued calls and {len(announced)} seat changes announced, all stored;"
        f" stop log: {[line for line in log.splitlines() if 'writer stopped' in line]}"
    )
