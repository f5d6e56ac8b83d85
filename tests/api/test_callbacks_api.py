"""/callbacks on PostgreSQL: a caller who waited too long is on the worklist until called back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from callcenter.app import Application
from callcenter.domain.access import Role
from callcenter.settings import load_settings
from callcenter.storage.db import migrate

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


@pytest.fixture
async def api(pg_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[Role, str]]]:
    app = Application(load_settings(database_url=pg_url, ami_secret="not-used-in-this-test"))
    await migrate(app.db)
    async with app.db.begin() as conn:
        await conn.execute(
            text(
                "TRUNCATE callback_requests, callback_attempts, api_tokens RESTART IDENTITY CASCADE"
            )
        )
    # what the dispatcher writes when a caller reaches the maximum wait
    for i, number in enumerate(["13900000001", "13900000002", "13900000003"]):
        await app.seat_store.add_callback(
            f"1795.{i}", number, "lang:mandarin=1", T0 + timedelta(minutes=i)
        )
    issued = {}
    for role in Role:
        subject = "a01" if role is Role.AGENT else None
        issued[role] = await app.tokens.create(role.value, role, T0, subject)
    transport = httpx.ASGITransport(app=app.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        yield client, issued
    await app.db.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_worklist_is_worked_until_every_caller_is_reached_or_given_up(
    api: tuple[httpx.AsyncClient, dict[Role, str]],
) -> None:
    client, tokens = api
    agent = bearer(tokens[Role.AGENT])
    page = (await client.get("/callbacks", headers=agent)).json()
    assert page["total"] == 3
    assert [i["caller_number"] for i in page["items"]] == [
        "13900000001",
        "13900000002",
        "13900000003",
    ]  # oldest first
    first, second, third = (item["id"] for item in page["items"])

    reply = await client.post(
        f"/callbacks/{first}/attempts", json={"outcome": "reached", "note": "已回电"}, headers=agent
    )
    assert reply.status_code == 200, reply.text
    assert (reply.json()["status"], reply.json()["closed_by"]) == ("reached", "agent:a01")
    for _ in range(3):
        reply = await client.post(
            f"/callbacks/{second}/attempts", json={"outcome": "no_answer"}, headers=agent
        )
        assert reply.status_code == 200
    assert reply.json()["status"] == "unreachable"

    # a closed request refuses another attempt and stays as it was
    again = await client.post(
        f"/callbacks/{first}/attempts", json={"outcome": "busy"}, headers=agent
    )
    assert again.status_code == 409 and again.json()["error"] == "illegal_transition"
    detail = (await client.get(f"/callbacks/{first}", headers=agent)).json()
    assert detail["attempts"] == 1
    assert [(h["outcome"], h["note"]) for h in detail["history"]] == [("reached", "已回电")]

    pending = (await client.get("/callbacks", headers=agent)).json()
    assert [i["id"] for i in pending["items"]] == [third]
    closed = await client.get("/callbacks", params={"status": "unreachable"}, headers=agent)
    assert [i["id"] for i in closed.json()["items"]] == [second]


async def test_callbacks_need_the_center_and_good_input(
    api: tuple[httpx.AsyncClient, dict[Role, str]],
) -> None:
    client, tokens = api
    assert (await client.get("/callbacks")).status_code == 401
    department = bearer(tokens[Role.DEPARTMENT])
    assert (await client.get("/callbacks", headers=department)).status_code == 403
    supervisor = bearer(tokens[Role.SUPERVISOR])
    bad = await client.post("/callbacks/1/attempts", json={"outcome": "maybe"}, headers=supervisor)
    assert bad.status_code == 422
    missing = await client.post(
        "/callbacks/999/attempts", json={"outcome": "reached"}, headers=supervisor
    )
    assert missing.status_code == 404 and "callback request 999" in missing.json()["message"]
