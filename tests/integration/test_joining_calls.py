"""Calls the engine places around an agent's seat, against the real testbed: an agent brings a
department's hotline (a SIPp phone beyond the trunk) onto a citizen's call (三方通话); a supervisor
listens in from a softphone (监听); an agent calls a citizen back from the worklist (回拨). Each
side hears what it should, proved by the recordings."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from callcenter.domain.access import Role
from callcenter.domain.seats import SeatState
from sip_testbed.testbed import PSTN_PORT, Testbed
from tests.conftest import engine_settings, started_engine
from tests.integration.audio import wait_until_written, wav_figures
from tests.integration.phones import waiting_calls
from tests.integration.test_routing import SEAT_TABLES, Desk, add_agents, agent_port, on_call

pytestmark = pytest.mark.testbed

HOUSING = {"code": "housing", "name": "市住建局", "kind": "bureau", "hotline": "123-29"}


@pytest.fixture
async def desk(testbed: Testbed, pg_url: str) -> AsyncIterator[Desk]:
    settings = engine_settings(testbed, pg_url, trunk_contact=f"sip:127.0.0.1:{PSTN_PORT}")
    app = await started_engine(settings, f"{SEAT_TABLES}, departments, callback_attempts")
    token = await app.tokens.create("admin", Role.ADMIN, datetime.now(UTC))
    transport = httpx.ASGITransport(app=app.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        try:
            yield Desk(app, client, {"Authorization": f"Bearer {token}"}, datetime.now(UTC))
        finally:
            await app.stop()


@pytest.fixture
def phones(testbed: Testbed) -> Iterator[list[subprocess.Popen[bytes]]]:
    running: list[subprocess.Popen[bytes]] = []
    yield running
    for proc in running:
        proc.terminate()
    for proc in running:
        proc.wait(timeout=10)


async def test_a_department_joins_the_call_and_hears_it(
    desk: Desk, testbed: Testbed, phones: list[subprocess.Popen[bytes]]
) -> None:
    # the agent talks all the time; the department picks up, listens in silence for 6 s, leaves
    agent = {"ANSWER_MS": "300", "TALK_MS": "14000", "DTMF": "~" * 13}
    phones.append(
        testbed.sipp_background("agent_answer", ["-p", str(agent_port(30)), "-mp", "17600"], agent)
    )
    department = {"ANSWER_MS": "300", "TALK_MS": "6000", "DTMF": "______"}
    phones.append(
        testbed.sipp_background("agent_answer", ["-p", str(PSTN_PORT), "-mp", "17700"], department)
    )
    reply = await desk.client.post("/departments", json=HOUSING, headers=desk.admin)
    assert reply.status_code == 201, reply.text
    await add_agents(desk, {"a31": {"lang:mandarin": 3}}, ports={"a31": agent_port(30)})
    url = "/agents/a31/three-way"
    refused = await desk.client.post(url, json={"department": "housing"}, headers=desk.admin)
    assert refused.status_code == 409 and "not on a call" in refused.json()["message"]

    call = asyncio.create_task(
        waiting_calls(testbed, [("13622220001", 0, "lang:mandarin=1")], patience_ms=20_000)
    )
    await on_call(desk, "a31")
    await asyncio.sleep(1.0)
    both = {"department": "housing", "number": "12329"}
    assert (await desk.client.post(url, json=both, headers=desk.admin)).status_code == 422
    reply = await desk.client.post(url, json={"department": "housing"}, headers=desk.admin)
    assert reply.status_code == 202, reply.text
    placed = reply.json()
    assert placed["number"] == "12329" and placed["department"] == "housing"
    assert placed["call_id"] == desk.app.dispatcher.call_of("a31")

    # the department's part is recorded: while it kept silent it heard the agent talking
    recording = Path(placed["recording"])
    await wait_until_written(recording)
    length, loud = wav_figures(recording)
    assert 2.5 <= length <= 15, length
    assert loud >= 2, (length, loud)
    # the citizen's call went on after the department left
    assert desk.app.dispatcher.seat("a31").state is SeatState.ON_CALL
    run = await call
    assert run.successful == 1, run.output

    # the call's record keeps the department leg: dialled, answered, ended, recorded
    page = await desk.client.get("/calls", params={"caller": "13622220001"}, headers=desk.admin)
    [listed] = page.json()["items"]
    record = (await desk.client.get(f"/calls/{listed['id']}", headers=desk.admin)).json()
    [leg] = record["three_way"]
    assert (leg["department"], leg["number"], leg["agent_id"]) == ("housing", "12329", "a31")
    assert leg["outcome"] == "answered" and leg["recording"] == placed["recording"]
    assert leg["started_at"] <= leg["answered_at"] < leg["ended_at"]


async def test_a_supervisor_listens_in_from_a_softphone(
    desk: Desk, testbed: Testbed, phones: list[subprocess.Popen[bytes]]
) -> None:
    agent = {"ANSWER_MS": "300", "TALK_MS": "14000", "DTMF": "~" * 13}
    phones.append(
        testbed.sipp_background("agent_answer", ["-p", str(agent_port(40)), "-mp", "17600"], agent)
    )
    # the supervisor's softphone picks up and listens in silence for 6 s
    listener = {"ANSWER_MS": "300", "TALK_MS": "6000", "DTMF": "______"}
    phones.append(
        testbed.sipp_background(
            "agent_answer", ["-p", str(agent_port(41)), "-mp", "17700"], listener
        )
    )
    await add_agents(
        desk,
        {"a41": {"lang:mandarin": 3}, "s01": {"lang:mandarin": 1}},
        ports={"a41": agent_port(40), "s01": agent_port(41)},
    )
    # the supervisor's seat is not taking calls: only a41 may be offered this one
    assert (await desk.client.post("/agents/s01/logout", headers=desk.admin)).status_code == 200
    token = await desk.app.tokens.create("lead", Role.SUPERVISOR, datetime.now(UTC))
    supervisor = {"Authorization": f"Bearer {token}"}
    agent_token = await desk.app.tokens.create("a41", Role.AGENT, datetime.now(UTC), "a41")
    url = "/agents/a41/monitor"
    listen = {"mode": "listen", "endpoint": "ep-s01"}
    assert (await desk.client.post(url, json=listen, headers=supervisor)).status_code == 409

    call = asyncio.create_task(
        waiting_calls(testbed, [("13622220002", 0, "lang:mandarin=1")], patience_ms=20_000)
    )
    await on_call(desk, "a41")
    await asyncio.sleep(1.0)
    agents_may_not = {"Authorization": f"Bearer {agent_token}"}
    assert (await desk.client.post(url, json=listen, headers=agents_may_not)).status_code == 403
    unknown = {"mode": "listen", "endpoint": "ep-nobody"}
    assert (await desk.client.post(url, json=unknown, headers=supervisor)).status_code == 422
    reply = await desk.client.post(url, json=listen, headers=supervisor)
    assert reply.status_code == 202, reply.text
    joined = reply.json()
    assert joined["call_id"] == desk.app.dispatcher.call_of("a41") and joined["mode"] == "listen"

    # the supervisor, silent, heard the agent talking; the call went on
    recording = Path(joined["recording"])
    await wait_until_written(recording)
    length, loud = wav_figures(recording)
    assert 2.5 <= length <= 15, length
    assert loud >= 2, (length, loud)
    assert desk.app.dispatcher.seat("a41").state is SeatState.ON_CALL
    run = await call
    assert run.successful == 1, run.output
    # the supervisor's softphone never became a call into 12345
    page = await desk.client.get("/calls", headers=desk.admin)
    assert [item["caller_number"] for item in page.json()["items"]] == ["13622220002"]


async def test_an_agent_calls_a_citizen_back_from_the_worklist(
    desk: Desk, testbed: Testbed, phones: list[subprocess.Popen[bytes]]
) -> None:
    # the agent's phone answers and keeps silent; the citizen answers and talks for 5 s
    agent = {"ANSWER_MS": "300", "TALK_MS": "15000", "DTMF": "_" * 14}
    phones.append(
        testbed.sipp_background("agent_answer", ["-p", str(agent_port(50)), "-mp", "17600"], agent)
    )
    citizen = {"ANSWER_MS": "500", "TALK_MS": "6000", "DTMF": "~" * 5}
    phones.append(
        testbed.sipp_background("agent_answer", ["-p", str(PSTN_PORT), "-mp", "17700"], citizen)
    )
    await add_agents(desk, {"a51": {"lang:mandarin": 3}}, ports={"a51": agent_port(50)})
    await desk.app.seat_store.add_callback("1799.1", "13633330001", "lang:mandarin=1", desk.started)
    page = (await desk.client.get("/callbacks", headers=desk.admin)).json()
    [pending] = page["items"]
    token = await desk.app.tokens.create("a51", Role.AGENT, datetime.now(UTC), "a51")
    own = {"Authorization": f"Bearer {token}"}
    url = f"/callbacks/{pending['id']}/dial"

    # a ready agent would be offered queue calls meanwhile: pause first
    refused = await desk.client.post(url, json={}, headers=own)
    assert refused.status_code == 409 and "pause" in refused.json()["message"]
    other = await desk.client.post(url, json={"agent_id": "a01"}, headers=own)
    assert other.status_code == 403  # an agent rings only their own phone
    pause = await desk.client.post("/agents/a51/pause", json={"reason": "callback"}, headers=own)
    assert pause.status_code == 200
    reply = await desk.client.post(url, json={}, headers=own)
    assert reply.status_code == 202, reply.text
    placed = reply.json()
    assert placed["agent_id"] == "a51"

    # the recording holds the citizen's voice, while the agent kept silent
    recording = Path(placed["recording"])
    await wait_until_written(recording, timeout=30)
    length, loud = wav_figures(recording)
    assert 3 <= length <= 15, length
    assert loud >= 3, (length, loud)
    # the agent records what came of it: reached, so the request leaves the worklist
    body = {"outcome": "reached", "note": "已回电说明办理进度"}
    closed = await desk.client.post(f"/callbacks/{pending['id']}/attempts", json=body, headers=own)
    assert closed.status_code == 200 and closed.json()["status"] == "reached"
    again = await desk.client.post(url, json={}, headers=own)
    assert again.status_code == 409

    # the call is in the call records as the hotline calling the citizen, answered, recorded
    deadline = time.monotonic() + 10
    while True:
        await desk.app.recorder.drained()
        found = await desk.client.get(
            "/calls", params={"caller": "13633330001"}, headers=desk.admin
        )
        items = found.json()["items"]
        if (items and items[0]["ended_at"]) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    [record] = items
    assert (record["direction"], record["dialed_number"]) == ("outbound", "13633330001")
    assert record["disposition"] == "answered" and record["has_recording"]
    assert record["ended_by"] == "caller"  # the citizen hung up first
