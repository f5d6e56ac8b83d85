"""/calls over HTTP against PostgreSQL: authentication, role scope, filters, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from callcenter.app import Application
from callcenter.domain.access import Role
from callcenter.domain.calls import CallRecord, Disposition, HandledBy, Leg
from callcenter.settings import load_settings
from callcenter.storage.db import migrate

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def record(i: int, caller: str) -> CallRecord:
    entered = T0 + timedelta(minutes=i)
    return CallRecord(
        linkedid=f"100.{i}",
        uniqueid=f"100.{i}",
        caller_number=caller,
        caller_name="",
        dialed_number="12345",
        trunk="trunk",
        entered_at=entered,
        answered_at=entered + timedelta(seconds=1),
        ended_at=entered + timedelta(seconds=30),
        disposition=Disposition.ANSWERED,
        hangup_cause=16,
        handled_by=HandledBy.ENGINE,
        legs=(Leg(f"100.{i}", f"PJSIP/trunk-{i:08x}", entered),),
    )


@pytest.fixture
async def api(pg_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[Role, str]]]:
    app = Application(load_settings(database_url=pg_url, ami_secret="not-used-in-this-test"))
    await migrate(app.db)
    async with app.db.begin() as conn:
        await conn.execute(text("TRUNCATE call_legs, calls, api_tokens RESTART IDENTITY CASCADE"))
    calls, tokens = app.calls, app.tokens
    await calls.save([record(i, "13700000001" if i % 3 == 0 else "13700000002") for i in range(12)])
    issued = {role: await tokens.create(role.value, role, T0) for role in Role}
    transport = httpx.ASGITransport(app=app.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        yield client, issued
    await app.db.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_calls_need_a_valid_token_and_the_right_role(
    api: tuple[httpx.AsyncClient, dict[Role, str]],
) -> None:
    client, tokens = api
    assert (await client.get("/calls")).status_code == 401
    assert (await client.get("/calls", headers=bearer("cc_forged"))).status_code == 401
    denied = await client.get("/calls", headers=bearer(tokens[Role.AGENT]))
    assert denied.status_code == 403 and denied.json()["error"] == "forbidden"
    assert (await client.get("/calls", headers=bearer(tokens[Role.DEPARTMENT]))).status_code == 403
    for role in (Role.SUPERVISOR, Role.ADMIN):
        assert (await client.get("/calls", headers=bearer(tokens[role]))).status_code == 200


async def test_filters_and_pagination(api: tuple[httpx.AsyncClient, dict[Role, str]]) -> None:
    client, tokens = api
    auth = bearer(tokens[Role.SUPERVISOR])
    page = (await client.get("/calls", params={"limit": 5, "offset": 10}, headers=auth)).json()
    assert page["total"] == 12 and len(page["items"]) == 2
    newest_first = (await client.get("/calls", headers=auth)).json()["items"]
    assert [c["linkedid"] for c in newest_first][:2] == ["100.11", "100.10"]
    mine = (await client.get("/calls", params={"caller": "13700000001"}, headers=auth)).json()
    assert mine["total"] == 4
    window = {
        "from": (T0 + timedelta(minutes=2)).isoformat(),
        "to": (T0 + timedelta(minutes=5)).isoformat(),
    }
    assert (await client.get("/calls", params=window, headers=auth)).json()["total"] == 3
    one = newest_first[0]
    detail = (await client.get(f"/calls/{one['id']}", headers=auth)).json()
    assert detail["legs"][0]["channel"].startswith("PJSIP/trunk-")


async def test_bad_requests_get_clear_errors(
    api: tuple[httpx.AsyncClient, dict[Role, str]],
) -> None:
    client, tokens = api
    auth = bearer(tokens[Role.SUPERVISOR])
    missing = await client.get("/calls/999999", headers=auth)
    assert missing.status_code == 404 and "999999" in missing.json()["message"]
    assert (await client.get("/calls", params={"limit": 0}, headers=auth)).status_code == 422
    naive = await client.get("/calls", params={"from": "2026-11-20T08:00:00"}, headers=auth)
    assert naive.status_code == 422  # a time without a zone is ambiguous
    backwards = {"from": T0.isoformat(), "to": (T0 - timedelta(hours=1)).isoformat()}
    reply = await client.get("/calls", params=backwards, headers=auth)
    assert reply.status_code == 422 and "later" in reply.json()["message"]
