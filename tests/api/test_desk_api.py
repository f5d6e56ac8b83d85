"""What the agent desk reads (PostgreSQL): a caller's history, duplicates as a ticket is typed,
the agent's own recent work, and who may read them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from callcenter.app import Application
from callcenter.domain.access import Role
from callcenter.domain.calls import CallRecord, Disposition
from callcenter.settings import load_settings
from callcenter.storage.db import migrate
from tests.api.test_tickets_api import TICKET_TABLES

NUMBER = "13912345678"
EARLIER = {
    "caller_phone": NUMBER,
    "address": "东城区幸福路12号",
    "category": "complaint",
    "content": "小区楼下烧烤店油烟扰民，晚上十点后仍在营业",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def api(pg_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Application, dict[str, str]]]:
    app = Application(load_settings(database_url=pg_url, ami_secret="not-used-in-this-test"))
    await migrate(app.db)
    async with app.db.begin() as conn:
        await conn.execute(
            text(f"TRUNCATE {TICKET_TABLES}, call_legs, calls RESTART IDENTITY CASCADE")
        )
    now = datetime.now(UTC)
    tokens = {
        "a01": await app.tokens.create("a01", Role.AGENT, now, "a01"),
        "a02": await app.tokens.create("a02", Role.AGENT, now, "a02"),
        "water": await app.tokens.create("water", Role.DEPARTMENT, now, "water"),
    }
    transport = httpx.ASGITransport(app=app.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        yield client, app, tokens
    await app.db.dispose()


async def test_the_pop_shows_a_callers_earlier_calls_and_tickets(
    api: tuple[httpx.AsyncClient, Application, dict[str, str]],
) -> None:
    client, app, tokens = api
    agent = bearer(tokens["a01"])
    earlier = await client.post("/tickets", json=EARLIER, headers=agent)
    assert earlier.status_code == 201, earlier.text
    ticket = earlier.json()["ticket"]
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    await app.calls.save(
        [
            CallRecord(
                linkedid="1700.1",
                uniqueid="1700.1",
                caller_number=NUMBER,
                caller_name="",
                dialed_number="12345",
                trunk="trunk",
                entered_at=an_hour_ago,
                answered_at=an_hour_ago,
                ended_at=an_hour_ago + timedelta(minutes=3),
                disposition=Disposition.ANSWERED,
            )
        ]
    )

    reply = await client.get(f"/callers/{NUMBER}/history?excluding=1800.1", headers=agent)
    assert reply.status_code == 200, reply.text
    history = reply.json()
    assert history["repeat_caller"] is True  # called an hour ago (window 24 h)
    assert [c["linkedid"] for c in history["calls"]] == ["1700.1"]
    [seen] = history["tickets"]
    assert (seen["number"], seen["query_code"]) == (ticket["number"], ticket["query_code"])
    assert seen["status"] == "pending" and seen["category"] == "complaint"
    # the call in progress itself is not "history"
    again = await client.get(f"/callers/{NUMBER}/history?excluding=1700.1", headers=agent)
    assert again.json()["repeat_caller"] is False and again.json()["calls"] == []
    stranger = await client.get("/callers/13000000000/history", headers=agent)
    assert stranger.json() == {
        "number": "13000000000",
        "repeat_caller": False,
        "repeat_window_hours": 24.0,
        "calls": [],
        "tickets": [],
    }
    # a department handler does not browse citizens' histories
    assert (
        await client.get(f"/callers/{NUMBER}/history", headers=bearer(tokens["water"]))
    ).status_code == 403
    assert (await client.get("/callers/x;drop/history", headers=agent)).status_code == 422


async def test_duplicates_are_offered_while_the_ticket_is_typed(
    api: tuple[httpx.AsyncClient, Application, dict[str, str]],
) -> None:
    client, _, tokens = api
    agent = bearer(tokens["a01"])
    earlier = (await client.post("/tickets", json=EARLIER, headers=agent)).json()["ticket"]
    typed = {"caller_phone": NUMBER, "content": "烧烤店油烟扰民，十点后还在营业，一直没人管"}
    reply = await client.post("/tickets/duplicates", json=typed, headers=agent)
    assert reply.status_code == 200, reply.text
    [offered] = reply.json()
    assert offered["ticket_id"] == earlier["id"] and offered["same_phone"]
    unlike = {"caller_phone": NUMBER, "content": "咨询公积金提取需要什么材料"}
    assert (await client.post("/tickets/duplicates", json=unlike, headers=agent)).json() == []
    # nothing is written while typing
    page = (await client.get("/tickets", headers=agent)).json()
    assert page["total"] == 1
    refused = await client.post("/tickets/duplicates", json=typed, headers=bearer(tokens["water"]))
    assert refused.status_code == 403


async def test_an_agent_reads_its_own_seat_and_work_only(
    api: tuple[httpx.AsyncClient, Application, dict[str, str]],
) -> None:
    client, _, tokens = api
    a01, a02 = bearer(tokens["a01"]), bearer(tokens["a02"])
    mine = (await client.post("/tickets", json=EARLIER, headers=a01)).json()["ticket"]
    await client.post("/tickets", json={**EARLIER, "content": "另一件事"}, headers=a02)
    recent = await client.get("/agents/a01/recent", headers=a01)
    assert recent.status_code == 200, recent.text
    assert [t["number"] for t in recent.json()["tickets"]] == [mine["number"]]
    assert recent.json()["calls"] == []
    for path in ("/agents/a02/recent", "/agents/a02/current-call"):
        assert (await client.get(path, headers=a01)).status_code == 403, path
    for path in ("/agents/a01/recent", "/agents/a01/current-call"):
        assert (await client.get(path, headers=bearer(tokens["water"]))).status_code == 403
    # its own seat: the agent is not set up in this test
    assert (await client.get("/agents/a01/current-call", headers=a01)).status_code == 404
