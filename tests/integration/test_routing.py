"""Queueing and skill-based routing against the real testbed: SIPp agents and citizens."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from callcenter.app import Application
from callcenter.domain.access import Role
from callcenter.domain.calls import EndedBy
from callcenter.domain.metrics import Outcome, QueuedCall, Rating
from callcenter.domain.seats import SeatState, Transition
from callcenter.storage.calls import CallQuery
from callcenter.storage.db import migrate
from sip_testbed.testbed import Testbed
from tests.conftest import engine_settings, started_engine, truncate
from tests.integration.audio import wav_figures
from tests.integration.phones import run_sipp, waiting_calls

pytestmark = pytest.mark.testbed

AGENTS: dict[str, dict[str, int]] = {
    "a01": {"lang:mandarin": 5, "topic:housing": 4},
    "a02": {"lang:mandarin": 3, "topic:housing": 2, "topic:transport": 4},
    "a03": {"lang:mandarin": 4, "topic:transport": 5},
    "a04": {"lang:english": 5, "lang:mandarin": 2},
    "a05": {"lang:english": 3, "topic:housing": 3},
    "a06": {"lang:cantonese": 5, "lang:mandarin": 3},
    "a07": {"lang:cantonese": 4, "topic:environment": 2},
    "a08": {"lang:mandarin": 2, "topic:environment": 5},
    "a09": {"lang:mandarin": 5, "topic:market-regulation": 4},
    "a10": {"lang:mandarin": 1},
}
ROUTES = [
    "lang:mandarin=1",
    "lang:mandarin=3,topic:housing=3",
    "lang:mandarin=2,topic:transport=4",
    "lang:english=3",
    "lang:cantonese=4",
    "lang:mandarin=2,topic:environment=4",
    "lang:mandarin=4,topic:market-regulation=3",
    "lang:english=1,topic:housing=3",
]


@dataclass
class Desk:
    app: Application
    client: httpx.AsyncClient
    admin: dict[str, str]
    started: datetime


# what the seat tests start without: agents, their history, queued calls, callback requests
SEAT_TABLES = "agent_state_changes, agent_skills, agents, queue_calls, callback_requests"


def agent_port(index: int) -> int:
    return 5101 + index


@pytest.fixture
async def desk(testbed: Testbed, pg_url: str) -> AsyncIterator[Desk]:
    settings = engine_settings(
        testbed,
        pg_url,
        ring_seconds=5,
        wrap_up_seconds=1,
        announce_seconds=600,
        trunk_routing_header=True,
    )
    app = await started_engine(settings, SEAT_TABLES)
    token = await app.tokens.create("admin", Role.ADMIN, datetime.now(UTC))
    transport = httpx.ASGITransport(app=app.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        try:
            yield Desk(app, client, {"Authorization": f"Bearer {token}"}, datetime.now(UTC))
        finally:
            await app.stop()


@pytest.fixture
def phones(testbed: Testbed) -> Iterator[list[subprocess.Popen[bytes]]]:
    """SIPp agent softphones: every agent answers after 0.5 s, speaks for 2 s and hangs up
    after 3 s of talk; a list to add other phones to."""
    running = [
        testbed.sipp_background(
            "agent_answer",
            ["-p", str(agent_port(i)), "-mp", str(17000 + 10 * i)],
            {"ANSWER_MS": "500", "TALK_MS": "3000", "DTMF": "~~"},
        )
        for i in range(len(AGENTS))
    ]
    yield running
    for proc in running:
        proc.terminate()
    for proc in running:
        proc.wait(timeout=10)


async def add_agents(
    desk: Desk, agents: dict[str, dict[str, int]], ports: dict[str, int] | None = None
) -> None:
    """Create the agents (the i-th on the i-th SIPp phone unless `ports` says) and log in."""
    for i, (agent_id, skills) in enumerate(sorted(agents.items())):
        port = (ports or {}).get(agent_id, agent_port(i))
        body = {
            "id": agent_id,
            "name": f"Agent {agent_id}",
            "endpoint": f"ep-{agent_id}",
            "skills": skills,
            "sip_contact": f"sip:{agent_id}@127.0.0.1:{port}",
        }
        reply = await desk.client.post("/agents", json=body, headers=desk.admin)
        assert reply.status_code == 201, reply.text
        reply = await desk.client.post(f"/agents/{agent_id}/login", json={}, headers=desk.admin)
        assert reply.status_code == 200 and reply.json()["seat"]["state"] == "ready"


async def on_call(desk: Desk, agent_id: str, timeout: float = 20) -> None:
    """Wait until the agent talks to a caller."""
    deadline = time.monotonic() + timeout
    while desk.app.dispatcher.seat(agent_id).state is not SeatState.ON_CALL:
        assert time.monotonic() < deadline, f"{agent_id} never got the call"
        await asyncio.sleep(0.2)


async def settled(desk: Desk, linkedids: int, timeout: float = 30) -> list[QueuedCall]:
    deadline = time.monotonic() + timeout
    while True:
        await desk.app.dispatcher.drained()
        calls = await desk.app.seat_store.queued(desk.started, datetime.now(UTC) + timedelta(1))
        done = [c for c in calls if c.ended_at is not None]
        if len(done) >= linkedids or time.monotonic() > deadline:
            return calls
        await asyncio.sleep(0.3)


def qualifies(skills: dict[str, int], requirements: dict[str, int]) -> bool:
    return all(skills.get(s, 0) >= level for s, level in requirements.items())


def ready_overlaps(
    transitions: list[Transition], agent_id: str, start: datetime, end: datetime
) -> float:
    """Seconds `agent_id` was READY within [start, end)."""
    mine = sorted((t for t in transitions if t.agent_id == agent_id), key=lambda t: t.at)
    total = 0.0
    for current, following in zip(mine, [*mine[1:], None], strict=True):
        if current.state is not SeatState.READY:
            continue
        begin = max(current.at, start)
        finish = min(following.at if following else end, end)
        total += max(0.0, (finish - begin).total_seconds())
    return total


async def test_forty_calls_reach_agents_with_their_skills(
    desk: Desk, testbed: Testbed, phones: list[subprocess.Popen[bytes]]
) -> None:
    await add_agents(desk, AGENTS)
    citizens = [(f"1360000{i:04d}", 0, ROUTES[i % len(ROUTES)]) for i in range(40)]
    run = await waiting_calls(testbed, citizens, patience_ms=150_000, rate=4, timeout_s=200)
    assert (run.successful, run.failed) == (40, 0), run.output

    calls = await settled(desk, 40)
    assert len(calls) == 40
    transitions = await desk.app.seat_store.transitions(desk.started, datetime.now(UTC))
    offered_at = {
        t.call_id: t.at for t in transitions if t.state is SeatState.RINGING and t.call_id
    }
    for call in calls:
        assert call.outcome is Outcome.ANSWERED, call
        assert call.agent_id is not None and call.agent_answered_at is not None
        assert call.wait is not None  # the database knows how long it waited
        skills = AGENTS[call.agent_id]
        if call.overflow_rule is None:
            assert qualifies(skills, call.requirements), call
        else:  # answered under an overflow rule: recorded, and the relaxed need is met
            relaxed = desk.app.dispatcher.router.effective(
                _waiting_like(call), call.agent_answered_at
            )[0]
            assert qualifies(skills, relaxed), call
        # no call waits more than 1 s while a matching agent is ready
        offered = offered_at[call.linkedid]
        for agent_id, agent_skills in AGENTS.items():
            if qualifies(agent_skills, call.requirements):
                idle = ready_overlaps(transitions, agent_id, call.queued_at, offered)
                assert idle <= 1.0, (call.linkedid, agent_id, idle)

    # every conversation is recorded: the agent's two seconds of voice, not the hold music
    _, rows = await desk.app.calls.search(CallQuery(limit=100))
    assert len(rows) == 40
    for _, record in rows:
        assert record.recording.endswith(f"/{record.linkedid}.wav"), record
        assert record.ended_by is EndedBy.AGENT, record  # the agents end the conversations
        seconds, loud = wav_figures(Path(record.recording))
        assert 1.5 <= seconds <= 5.0, (record.linkedid, seconds)
        assert loud >= 1.0, (record.linkedid, loud)  # seconds of voice in the file
    call_id = rows[0][0]
    reply = await desk.client.get(f"/calls/{call_id}/recording", headers=desk.admin)
    assert reply.status_code == 200 and reply.headers["content-type"] == "audio/wav"
    assert reply.content[:4] == b"RIFF"


def _waiting_like(call: QueuedCall):  # type: ignore[no-untyped-def]
    from callcenter.domain.routing import WaitingCall

    return WaitingCall(call.linkedid, dict(call.requirements), call.priority, call.queued_at)


async def test_unanswered_agent_is_paused_and_the_call_keeps_its_wait(
    desk: Desk, testbed: Testbed, phones: list[subprocess.Popen[bytes]]
) -> None:
    # a11 rings and never answers; it has the best level, so it is offered the call first
    sleepy = testbed.sipp_background("agent_no_answer", ["-p", str(agent_port(10)), "-mp", "17200"])
    phones.append(sleepy)
    await add_agents(
        desk,
        {"a01": {"lang:mandarin": 3}, "a11": {"lang:mandarin": 5}},
        ports={"a11": agent_port(10)},
    )

    run = await waiting_calls(testbed, [("13611110001", 0, "lang:mandarin=1")], patience_ms=60_000)
    assert (run.successful, run.failed) == (1, 0), run.output
    [call] = await settled(desk, 1)
    assert call.outcome is Outcome.ANSWERED and call.agent_id == "a01"
    assert call.missed_by == ("a11",)
    assert call.wait is not None and call.wait >= timedelta(seconds=5)  # original wait kept
    seat = (await desk.client.get("/agents/a11", headers=desk.admin)).json()["seat"]
    assert seat["state"] == "paused" and seat["pause_reason"] == "missed_call"


async def test_abandons_and_metrics_match_sipp(
    desk: Desk, testbed: Testbed, phones: list[subprocess.Popen[bytes]]
) -> None:
    await add_agents(desk, {"a01": {"lang:mandarin": 3}, "a02": {"lang:mandarin": 3}})
    # nobody speaks French: these callers wait, then hang up
    answered = waiting_calls(
        testbed,
        [(f"1362222{i:04d}", 0, "lang:mandarin=1") for i in range(4)],
        patience_ms=60_000,
        rate=2,
    )
    abandoning = waiting_calls(
        testbed,
        [(f"1363333{i:04d}", 0, "lang:french=1") for i in range(3)],
        patience_ms=9000,
        rate=2,
        port=5073,
        media_port=16500,
    )
    first, second = await asyncio.gather(answered, abandoning)
    assert (first.successful, second.successful) == (4, 3), (first.output, second.output)
    await settled(desk, 7)

    params = {"from": desk.started.isoformat()}
    summary = (await desk.client.get("/metrics/summary", params=params, headers=desk.admin)).json()
    assert summary["offered"] == first.successful + second.successful
    assert summary["answered"] == first.successful
    assert summary["abandoned"] == second.successful
    assert summary["connect_rate"] == pytest.approx(4 / 7)
    handled = {a["agent_id"]: a["calls_handled"] for a in summary["agents"]}
    assert handled["a01"] + handled["a02"] == 4
    assert summary["average_speed_of_answer_seconds"] is not None
    prom = (await desk.client.get("/metrics", headers=desk.admin)).text
    assert 'callcenter_agents{state="ready"}' in prom


async def test_paused_agent_is_never_offered_and_logout_on_call_is_refused(
    desk: Desk, testbed: Testbed, phones: list[subprocess.Popen[bytes]]
) -> None:
    await add_agents(desk, {"a01": {"lang:mandarin": 5}, "a02": {"lang:mandarin": 1}})
    paused = await desk.client.post(
        "/agents/a01/pause", json={"reason": "meal"}, headers=desk.admin
    )
    assert paused.json()["seat"]["state"] == "paused"
    call = asyncio.create_task(
        waiting_calls(testbed, [("13644440001", 0, "lang:mandarin=1")], patience_ms=60_000)
    )
    await on_call(desk, "a02")
    refused = await desk.client.post("/agents/a02/logout", headers=desk.admin)
    assert refused.status_code == 409
    assert "finish the call" in refused.json()["message"]
    run = await call
    assert run.successful == 1
    [queued] = await settled(desk, 1)
    assert queued.agent_id == "a02"
    transitions = await desk.app.seat_store.transitions(desk.started, datetime.now(UTC))
    assert not [t for t in transitions if t.agent_id == "a01" and t.state is SeatState.RINGING]


async def test_live_feed_pushes_agent_state_over_websocket(desk: Desk) -> None:
    import aiohttp
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(desk.app.api, host="127.0.0.1", port=18013, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(100):
            if server.started:
                break
            await asyncio.sleep(0.05)
        token = desk.admin["Authorization"].removeprefix("Bearer ")
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect("ws://127.0.0.1:18013/ws/events")
            assert refused.value.status == 403
            async with session.ws_connect(f"ws://127.0.0.1:18013/ws/events?token={token}") as ws:
                await add_agents(desk, {"a01": {"lang:mandarin": 3}})
                event = await asyncio.wait_for(ws.receive_json(), timeout=5)
                assert event["type"] == "agent_state" and event["agent_id"] == "a01"
                assert event["state"] == "ready"
    finally:
        server.should_exit = True
        await serving


async def test_calls_beyond_the_ceiling_are_deflected_and_counted(
    testbed: Testbed, pg_url: str, phones: list[subprocess.Popen[bytes]]
) -> None:
    settings = engine_settings(testbed, pg_url, max_calls=2, trunk_routing_header=True)
    app = Application(settings)
    await migrate(app.db)
    await truncate(app)
    await app.start()
    started = datetime.now(UTC)
    try:
        await asyncio.wait_for(app.ami.connected.wait(), timeout=10)
        # six callers arrive together and stay a while: only two fit
        run = await waiting_calls(
            testbed,
            [(f"1365555{i:04d}", 0, "lang:klingon=1") for i in range(6)],
            patience_ms=8000,
            rate=20,
        )
        assert (run.successful, run.failed) == (6, 0), run.output  # nobody was dropped
        await app.dispatcher.drained()
        calls = await app.seat_store.queued(started, datetime.now(UTC))
        outcomes = sorted(c.outcome.value for c in calls)
        assert outcomes.count("deflected") == 4, outcomes
        assert outcomes.count("abandoned") == 2, outcomes
    finally:
        await app.stop()


async def test_silent_call_script_releases_the_agent_and_ends_the_call(
    desk: Desk, testbed: Testbed, phones: list[subprocess.Popen[bytes]]
) -> None:
    # a12 answers and would stay on the line for a minute: nobody speaks on this call
    patient = testbed.sipp_background(
        "agent_answer",
        ["-p", str(agent_port(11)), "-mp", "17400"],
        {"ANSWER_MS": "300", "TALK_MS": "60000"},
    )
    phones.append(patient)
    await add_agents(desk, {"a12": {"lang:mandarin": 3}}, ports={"a12": agent_port(11)})
    refused = await desk.client.post("/agents/a12/silent-call", headers=desk.admin)
    assert refused.status_code == 409 and "not on a call" in refused.json()["message"]

    call = asyncio.create_task(
        waiting_calls(testbed, [("13655550001", 0, "lang:mandarin=1")], patience_ms=60_000)
    )
    await on_call(desk, "a12")
    await asyncio.sleep(1.0)  # the agent listens, and hears nobody
    reply = await desk.client.post("/agents/a12/silent-call", headers=desk.admin)
    assert reply.status_code == 200, reply.text
    deadline = time.monotonic() + 3
    while desk.app.dispatcher.seat("a12").state is SeatState.ON_CALL:  # freed at once
        assert time.monotonic() < deadline, "a12 is still on the call"
        await asyncio.sleep(0.1)
    assert not call.done()  # while the caller still hears the script

    run = await call
    assert run.successful == 1, run.output
    [queued] = await settled(desk, 1)
    assert queued.silent and queued.outcome is Outcome.ANSWERED
    _, rows = await desk.app.calls.search(CallQuery(caller="13655550001", limit=1))
    [(_, record)] = rows
    assert record.ended_by is EndedBy.HOTLINE, record  # the script ended it, not the caller
    assert record.answered_at and record.ended_at
    # the script (two requests to speak, a goodbye) ran in full, well inside the caller's patience
    assert 8 <= (record.ended_at - queued.agent_answered_at).total_seconds() <= 40  # type: ignore[operator]
    params = {"from": desk.started.isoformat()}
    summary = (await desk.client.get("/metrics/summary", params=params, headers=desk.admin)).json()
    assert (summary["answered"], summary["silent_calls"]) == (1, 1)


async def test_a_softphone_registers_with_its_password_and_takes_calls(
    desk: Desk, testbed: Testbed, phones: list[subprocess.Popen[bytes]]
) -> None:
    body = {
        "id": "r01",
        "name": "Agent r01",
        "endpoint": "ep-r01",
        "skills": {"lang:mandarin": 3},
        "sip_password": "a-long-secret-r01",
    }
    reply = await desk.client.post("/agents", json=body, headers=desk.admin)
    assert reply.status_code == 201, reply.text
    # the phone that rings once registered (its REGISTER comes from another SIPp below)
    phones.append(
        testbed.sipp_background(
            "agent_answer",
            ["-p", "5115", "-mp", "17600"],
            {"ANSWER_MS": "300", "TALK_MS": "2000"},
        )
    )
    args = [f"127.0.0.1:{testbed.sip_port}", "-m", "1", "-p", "5116", "-recv_timeout", "10000"]
    params = {"USER": "ep-r01", "CONTACT_PORT": "5115"}
    wrong = await run_sipp(
        testbed, "agent_register", args, {**params, "PASSWORD": "not-the-password"}, 40
    )
    assert (wrong.successful, wrong.failed) == (0, 1), wrong.output
    assert "ep-r01/sip:" not in testbed.cli("pjsip show contacts")

    right = await run_sipp(
        testbed, "agent_register", args, {**params, "PASSWORD": "a-long-secret-r01"}, 40
    )
    assert (right.successful, right.failed) == (1, 0), right.output
    assert "ep-r01/sip:ep-r01@127.0.0.1:5115" in testbed.cli("pjsip show contacts")

    reply = await desk.client.post("/agents/r01/login", json={}, headers=desk.admin)
    assert reply.json()["seat"]["state"] == "ready"
    run = await waiting_calls(testbed, [("13666660001", 0, "lang:mandarin=1")], patience_ms=60_000)
    assert run.successful == 1, run.output
    [call] = await settled(desk, 1)
    assert (call.outcome, call.agent_id) == (Outcome.ANSWERED, "r01")


async def test_the_caller_rates_the_agent_after_the_conversation(
    desk: Desk, testbed: Testbed, phones: list[subprocess.Popen[bytes]]
) -> None:
    await add_agents(desk, {"a01": {"lang:mandarin": 3}})
    # the welcome (about 7 s) and 3 s of talk later the agent hangs up and the rating prompt
    # plays: this caller's phone (sending RTP all along, as a real one does) presses 1 during
    # it, 14 s after the answer; the second caller presses nothing
    rating = waiting_calls(
        testbed,
        [("13677770001", 0, "lang:mandarin=1")],
        patience_ms=60_000,
        dtmf="_" * 14 + "1" + "_" * 3,
    )
    silent = waiting_calls(
        testbed,
        [("13677770002", 0, "lang:mandarin=1")],
        patience_ms=60_000,
        port=5073,
        media_port=16500,
    )
    first, second = await asyncio.gather(rating, silent)
    assert (first.successful, second.successful) == (1, 1), (first.output, second.output)
    calls = {c.caller_number: c for c in await settled(desk, 2)}
    assert calls["13677770001"].rating is Rating.SATISFIED
    assert calls["13677770002"].rating is None
    await desk.app.dispatcher.drained()
    params = {"from": desk.started.isoformat()}
    summary = (await desk.client.get("/metrics/summary", params=params, headers=desk.admin)).json()
    assert summary["ratings"]["satisfied"] == 1 and summary["satisfaction_rate"] == 1.0
    [a01] = summary["agents"]
    assert (a01["calls_handled"], a01["rated"]) == (2, 1)
