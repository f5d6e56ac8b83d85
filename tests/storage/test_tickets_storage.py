"""Ticket storage on PostgreSQL and SQLite: migration 0002, numbering, Chinese search, the index."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.domain.access import Principal, Role
from callcenter.domain.tickets import Category, TicketDetails
from callcenter.services.tickets import TicketService
from callcenter.storage.calendar_files import DEFAULT_CALENDAR_DIR, load_calendar
from callcenter.storage.db import downgrade, make_engine, make_sessions, migrate
from callcenter.storage.tickets import TicketQuery, TicketRepository

CN = ZoneInfo("Asia/Shanghai")
AGENT = Principal(1, "agent", Role.AGENT)
TICKET_TABLES = {
    "departments",
    "ticket_topics",
    "tickets",
    "ticket_assignments",
    "ticket_extensions",
    "ticket_callbacks",
    "ticket_events",
    "ticket_links",
    "ticket_supervisions",
    "ticket_counters",
    "ticket_policies",
}
CONTENTS = [
    "小区楼下烧烤店油烟扰民，晚上十点后仍在营业",
    "夜间施工噪音扰民，凌晨两点还在打桩",
    "路灯不亮，晚上很黑",
    "WiFi signal in the Library is weak",
]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


@pytest.fixture
async def owned_database(pg_admin: str) -> AsyncIterator[str]:
    """A fresh database owned by the unprivileged test role, as in production."""
    name = f"cc_tickets_migration_test_{os.getpid()}"
    admin = await asyncpg.connect(pg_admin)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name} OWNER callcenter_test")
        host = pg_admin.split("@", 1)[1].rsplit("/", 1)[0]
        yield f"postgresql+asyncpg://callcenter_test@{host}/{name}"
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def test_postgres_migration_creates_the_trigram_index_as_the_owner(
    owned_database: str,
) -> None:
    engine = make_engine(owned_database)
    try:
        await migrate(engine, "0002")
        assert await tables(engine) >= TICKET_TABLES
        async with engine.connect() as conn:
            role = await conn.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = user"))
            index = await conn.scalar(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_tickets_content_trgm'")
            )
        assert role is False  # no superuser needed: pg_trgm is a trusted extension
        assert index is not None and "gin_trgm_ops" in index
        await downgrade(engine, "0001")
        assert not TICKET_TABLES & await tables(engine)
        assert {"calls", "api_tokens"} <= await tables(engine)
        await migrate(engine, "0002")
        assert await tables(engine) >= TICKET_TABLES
    finally:
        await engine.dispose()


async def repository(engine: AsyncEngine, clock: Clock) -> TicketService:
    calendar = load_calendar(DEFAULT_CALENDAR_DIR)
    return TicketService(TicketRepository(make_sessions(engine)), calendar, clock)


def details(content: str) -> TicketDetails:
    return TicketDetails(caller_phone="13812345678", category=Category.COMPLAINT, content=content)


async def test_sqlite_stores_and_searches_tickets(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}")
    try:
        # the ticket model is the head's (0014 added the knowledge-base answer to tickets)
        await migrate(engine)
        clock = Clock(datetime(2026, 2, 13, 23, 59, tzinfo=CN))
        repo = await repository(engine, clock)
        numbers = []
        for content in CONTENTS:
            ticket, _ = await repo.create(details(content), AGENT)
            numbers.append(ticket.number)
        assert numbers == [f"20260213-{i:04d}" for i in range(1, 5)]
        clock.now = datetime(2026, 2, 14, 0, 1, tzinfo=CN)  # a new day in Beijing
        ticket, found = await repo.create(details("烧烤油烟扰民，十点后仍在营业"), AGENT)
        assert ticket.number == "20260214-0001"
        assert [s.number for s in found] == ["20260213-0001"]

        async def search(words: str) -> list[str]:
            _, hits = await repo.search(TicketQuery(text=words, sort="number"), AGENT)
            return [t.number for t in hits]

        assert await search("扰民") == ["20260213-0001", "20260213-0002", "20260214-0001"]
        assert await search("油烟 营业") == ["20260213-0001", "20260214-0001"]
        assert await search("wifi LIBRARY") == ["20260213-0004"]  # case-insensitive
        assert await search("100%") == []
        _, both = await repo.search(TicketQuery(text="晚上", limit=1), AGENT)
        assert len(both) == 1
        total, _ = await repo.search(TicketQuery(text="晚上"), AGENT)
        assert total == 2
        await downgrade(engine, "0001")
        assert not TICKET_TABLES & await tables(engine)
    finally:
        await engine.dispose()


async def test_concurrent_creators_get_distinct_numbers(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "TRUNCATE tickets, ticket_figures, ticket_counters, ticket_events "
                    "RESTART IDENTITY CASCADE"
                )
            )
        repo = await repository(engine, Clock(datetime(2026, 3, 2, 9, tzinfo=CN)))
        made = await asyncio.gather(
            *(repo.create(details(f"并发创建的工单 {i}"), AGENT) for i in range(12))
        )
        numbers = sorted(ticket.number for ticket, _ in made)
        assert numbers == [f"20260302-{i:04d}" for i in range(1, 13)]
    finally:
        await engine.dispose()


async def test_postgres_search_uses_the_trigram_index_for_chinese(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        await migrate(engine)
        repo = await repository(engine, Clock(datetime(2026, 3, 3, 9, tzinfo=CN)))
        for content in CONTENTS:
            await repo.create(details(content), AGENT)
        _, hits = await repo.search(TicketQuery(text="凌晨两点"), AGENT)
        assert [t.details.content for t in hits] == [CONTENTS[1]]
        async with engine.connect() as conn:
            await conn.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(
                (
                    await conn.execute(
                        text("EXPLAIN SELECT id FROM tickets WHERE content ILIKE '%凌晨两点%'")
                    )
                ).scalars()
            )
        assert "ix_tickets_content_trgm" in plan
    finally:
        await engine.dispose()
