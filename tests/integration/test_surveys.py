"""回访 by telephone against the real testbed: the engine calls a SIPp "citizen" beyond the trunk,
the citizen keys in an answer (RFC 2833), and the ticket moves on it."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from callcenter.app import Application
from callcenter.domain.access import Role
from sip_testbed.testbed import PSTN_PORT, Testbed
from tests.conftest import engine_settings, started_engine
from tests.integration.audio import wait_until_written, wav_figures

pytestmark = pytest.mark.testbed

CITIZEN = "13811112222"


@dataclass
class Desk:
    app: Application
    client: httpx.AsyncClient
    admin: dict[str, str]

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        reply = await self.client.request(method, path, headers=self.admin, **kwargs)
        assert reply.status_code == expect, (method, path, reply.status_code, reply.text)
        return reply.json()

    async def answered_ticket(self, phone: str = CITIZEN) -> int:
        """A consultation the agent answered on the call (即时办结): it awaits its survey."""
        body = {
            "caller_phone": phone,
            "category": "consultation",
            "content": "公积金提取需要什么材料",
        }
        created = await self.call("POST", "/tickets", 201, json=body)
        ticket_id: int = created["ticket"]["id"]
        answer = {"answer": "携带身份证和购房合同到公积金中心办理"}
        answered = await self.call("POST", f"/tickets/{ticket_id}/answer", json=answer)
        assert answered["status"] == "awaiting_callback"
        return ticket_id

    async def records(self) -> list[dict[str, Any]]:
        """The call records, once the call's last events are in."""
        deadline = time.monotonic() + 10
        while True:
            await self.app.recorder.drained()
            items: list[dict[str, Any]] = (await self.call("GET", "/calls"))["items"]
            if all(item["ended_at"] for item in items) or time.monotonic() > deadline:
                return items
            await asyncio.sleep(0.3)

    async def surveys(self, ticket_id: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.call("GET", f"/tickets/{ticket_id}/surveys")
        return result

    async def settled(self, ticket_id: int, count: int = 1, timeout: float = 40) -> list[Any]:
        """The ticket's survey attempts once `count` of them have ended."""
        deadline = time.monotonic() + timeout
        while True:
            attempts = await self.surveys(ticket_id)
            if len(attempts) >= count and all(a["ended_at"] for a in attempts):
                return attempts
            assert time.monotonic() < deadline, attempts
            await asyncio.sleep(0.3)


async def start_desk(testbed: Testbed, pg_url: str, **overrides: object) -> Desk:
    settings = engine_settings(
        testbed,
        pg_url,
        trunk_contact=f"sip:127.0.0.1:{PSTN_PORT}",
        survey_hours="00:00-23:59:59",
        survey_ring_seconds=6,
        survey_retry_minutes=60,
        **overrides,
    )
    app = await started_engine(
        settings,
        "survey_attempts, ticket_events, ticket_callbacks, ticket_assignments, tickets",
    )
    token = await app.tokens.create("admin", Role.ADMIN, datetime.now(UTC))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app.api), base_url="http://e")
    return Desk(app, client, {"Authorization": f"Bearer {token}"})


@pytest.fixture
async def desk(testbed: Testbed, pg_url: str) -> AsyncIterator[Desk]:
    desk = await start_desk(testbed, pg_url, survey_poll_seconds=0.5)
    try:
        yield desk
    finally:
        await desk.client.aclose()
        await desk.app.stop()


@pytest.fixture
def citizen(testbed: Testbed) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The citizen's phone beyond the trunk; a test starts the one it needs."""
    phones: list[subprocess.Popen[bytes]] = []
    yield phones
    for phone in phones:
        phone.terminate()
        phone.wait(timeout=10)


def answering_phone(testbed: Testbed, keys: str) -> subprocess.Popen[bytes]:
    """Picks up, stays quiet for 2 s (sending silence), keys in `keys`, waits for the goodbye."""
    return testbed.sipp_background(
        "agent_answer",
        ["-p", str(PSTN_PORT), "-mp", "17800"],
        {"ANSWER_MS": "300", "TALK_MS": "30000", "DTMF": f"__{keys}______"},
    )


async def test_the_survey_calls_and_a_dissatisfied_answer_sends_the_ticket_back(
    desk: Desk, testbed: Testbed, citizen: list[subprocess.Popen[bytes]]
) -> None:
    citizen.append(answering_phone(testbed, "3"))
    ticket_id = await desk.answered_ticket()

    # nobody asked for the call: the survey round found the ticket and dialled the citizen
    [attempt] = await desk.settled(ticket_id)
    assert attempt["phone"] == CITIZEN
    assert (attempt["outcome"], attempt["result"]) == ("answered", "dissatisfied")
    # the survey call is recorded: the questions as the citizen heard them
    recording = Path(attempt["recording"])
    await wait_until_written(recording)
    length, loud = wav_figures(recording)
    assert loud >= 2, (length, loud)

    ticket = await desk.call("GET", f"/tickets/{ticket_id}")
    # answered directly and not solved: the center takes it up again, counted as a redo
    assert ticket["status"] == "pending" and ticket["redo_count"] == 1
    events = await desk.call("GET", f"/tickets/{ticket_id}/events")
    redo = events[-1]
    assert redo["action"] == "redo" and redo["actor"] == "engine (回访 survey)"
    assert "survey attempt" in redo["note"]

    # the survey call is also a call record: the hotline called the citizen, who answered
    [record] = await desk.records()
    assert (record["direction"], record["dialed_number"]) == ("outbound", CITIZEN)
    assert record["disposition"] == "answered" and record["has_recording"]
    # one answer per round: the ticket no longer waits, so nobody is called again
    await asyncio.sleep(2)
    assert len(await desk.surveys(ticket_id)) == 1


async def test_an_unanswered_survey_is_tried_again_later_and_an_agent_can_call_now(
    desk: Desk, testbed: Testbed, citizen: list[subprocess.Popen[bytes]]
) -> None:
    ringing = testbed.sipp_background("agent_no_answer", ["-p", str(PSTN_PORT), "-mp", "17800"])
    citizen.append(ringing)
    ticket_id = await desk.answered_ticket()
    [attempt] = await desk.settled(ticket_id)
    assert attempt["outcome"] == "no_answer" and attempt["result"] is None
    assert (await desk.call("GET", f"/tickets/{ticket_id}"))["status"] == "awaiting_callback"
    # the next try waits for the pause between tries (an hour here), not for the next round
    await asyncio.sleep(2)
    assert len(await desk.surveys(ticket_id)) == 1

    # an agent decides to call now; this time the citizen answers and is satisfied
    ringing.terminate()
    ringing.wait(timeout=10)
    citizen.append(answering_phone(testbed, "1"))
    placed = await desk.call("POST", f"/tickets/{ticket_id}/surveys", 202)
    assert placed["ended_at"] is None
    await desk.call("POST", f"/tickets/{ticket_id}/surveys", 409)  # one call at a time
    attempts = await desk.settled(ticket_id, count=2)
    assert (attempts[1]["outcome"], attempts[1]["result"]) == ("answered", "satisfied")
    ticket = await desk.call("GET", f"/tickets/{ticket_id}")
    assert ticket["status"] == "resolved" and ticket["satisfaction"] == "satisfied"
    # a ticket that does not await its survey is not called
    await desk.call("POST", f"/tickets/{ticket_id}/surveys", 409)
