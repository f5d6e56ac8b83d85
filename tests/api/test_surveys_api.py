"""/tickets/{id}/surveys: only the center reads or places survey calls; a ticket must await one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from callcenter.app import Application
from callcenter.domain.access import Role
from callcenter.settings import load_settings
from callcenter.storage.db import migrate


@pytest.fixture
async def api(pg_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[Role, dict[str, str]]]]:
    app = Application(load_settings(database_url=pg_url, ami_secret="not-used-in-this-test"))
    await migrate(app.db)
    async with app.db.begin() as conn:
        await conn.execute(
            text("TRUNCATE survey_attempts, ticket_events, tickets, api_tokens CASCADE")
        )
    headers = {}
    for role in Role:
        subject = {Role.AGENT: "a01", Role.DEPARTMENT: "housing"}.get(role)
        token = await app.tokens.create(role.value, role, datetime.now(UTC), subject)
        headers[role] = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        yield client, headers
    await app.db.dispose()


async def test_survey_calls_are_the_centers_business(
    api: tuple[httpx.AsyncClient, dict[Role, dict[str, str]]],
) -> None:
    client, headers = api
    body = {"caller_phone": "13800000000", "category": "consultation", "content": "办事指南"}
    created = await client.post("/tickets", json=body, headers=headers[Role.AGENT])
    assert created.status_code == 201, created.text
    ticket_id = created.json()["ticket"]["id"]
    path = f"/tickets/{ticket_id}/surveys"

    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=headers[Role.DEPARTMENT])).status_code == 403
    assert (await client.post(path, headers=headers[Role.DEPARTMENT])).status_code == 403
    listed = await client.get(path, headers=headers[Role.AGENT])
    assert listed.status_code == 200 and listed.json() == []
    assert (
        await client.get("/tickets/999999/surveys", headers=headers[Role.AGENT])
    ).status_code == 404

    # a ticket still being handled does not await a survey: nothing is dialled
    refused = await client.post(path, headers=headers[Role.SUPERVISOR])
    assert refused.status_code == 409
    assert "does not await a callback survey" in refused.json()["message"]
    assert (await client.get(path, headers=headers[Role.AGENT])).json() == []
