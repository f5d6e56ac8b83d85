"""A knowledge-base desk for tests: the ticket and knowledge routes on PostgreSQL or SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.domain.access import Role
from callcenter.services.knowledge import KnowledgeBase
from tests.api.conftest import ticket_api

TABLES = (
    "knowledge_terms, knowledge_misses, knowledge_index, knowledge_events, knowledge_versions, "
    "knowledge_entries, "
    "ticket_figures, ticket_events, ticket_links, ticket_supervisions, ticket_callbacks, "
    "ticket_extensions, "
    "ticket_assignments, tickets, ticket_topics, departments, ticket_counters, ticket_policies, "
    "api_tokens"
)
PEOPLE: dict[str, tuple[Role, str | None]] = {
    "agent": (Role.AGENT, "7"),
    "supervisor": (Role.SUPERVISOR, None),
    "editor": (Role.KNOWLEDGE_EDITOR, None),
    "admin": (Role.ADMIN, None),
    "housing": (Role.DEPARTMENT, "housing"),
    "water": (Role.DEPARTMENT, "water"),
    "social": (Role.DEPARTMENT, "social"),
}
DEPARTMENTS = [
    {"code": "city", "name": "市政府", "kind": "city"},
    {"code": "housing", "name": "市住房公积金管理中心", "kind": "bureau", "parent": "city"},
    {"code": "water", "name": "市供水公司", "kind": "company"},
    {"code": "social", "name": "市人社局", "kind": "bureau", "parent": "city"},
    {"code": "health", "name": "市医保局", "kind": "bureau", "parent": "city"},
    {"code": "police", "name": "市公安局", "kind": "bureau", "parent": "city"},
    {"code": "education", "name": "市教育局", "kind": "bureau", "parent": "city"},
    {"code": "market", "name": "市市场监管局", "kind": "bureau", "parent": "city"},
    {"code": "civil", "name": "市民政局", "kind": "bureau", "parent": "city"},
    {"code": "transport", "name": "市交通局", "kind": "bureau", "parent": "city"},
    {"code": "urban", "name": "市城管局", "kind": "bureau", "parent": "city"},
    {"code": "tax", "name": "市税务局", "kind": "bureau", "parent": "city"},
]
TOPICS = [
    {"code": "housing", "name": "住房"},
    {"code": "housing.fund", "name": "住房公积金", "parent": "housing"},
    {"code": "social", "name": "社会保障"},
    {"code": "public", "name": "公共服务"},
]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Desk:
    client: httpx.AsyncClient
    clock: Clock
    tokens: dict[str, str]
    engine: AsyncEngine
    base: KnowledgeBase

    async def call(self, method: str, path: str, who: str, expect: int = 200, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        reply = await self.client.request(method, path, headers=headers, **kwargs)
        assert reply.status_code == expect, (method, path, who, reply.status_code, reply.text)
        return (
            reply.json()
            if reply.headers.get("content-type", "").startswith("application/json")
            else reply
        )

    async def get(self, path: str, who: str, expect: int = 200, **params: Any) -> Any:
        return await self.call("GET", path, who, expect, params=params)

    async def post(self, path: str, who: str, body: Any = None, expect: int = 200) -> Any:
        return await self.call("POST", path, who, expect, json=body or {})

    async def put(self, path: str, who: str, body: Any, expect: int = 200) -> Any:
        return await self.call("PUT", path, who, expect, json=body)

    async def published(self, who: str = "housing", **fields: Any) -> dict[str, Any]:
        """An entry drafted by `who`, submitted and published by the editor."""
        created = await self.post("/knowledge/entries", who, fields, expect=201)
        await self.post(f"/knowledge/entries/{created['id']}/submit", who)
        entry: dict[str, Any] = await self.post(
            f"/knowledge/entries/{created['id']}/publish", "editor"
        )
        return entry


@asynccontextmanager
async def knowledge_desk(url: str, now: datetime | None = None) -> AsyncIterator[Desk]:
    clock = Clock(now or datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    async with ticket_api(url, clock, PEOPLE, empty=TABLES, knowledge=True) as api:
        assert api.services.knowledge is not None
        desk = Desk(api.client, clock, api.tokens, api.engine, api.services.knowledge)
        for department in DEPARTMENTS:
            await desk.post("/departments", "admin", department, expect=201)
        for topic in TOPICS:
            await desk.post("/topics", "admin", topic, expect=201)
        yield desk
