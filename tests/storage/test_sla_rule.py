"""The SLA colour rule is written twice, in Python for one ticket and in SQL for lists and counts:
both must give every ticket the same colour, including one without a warning time."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, MetaData, String, Table, case, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from callcenter.domain.tickets import SlaColour, Status, sla_colour_at
from callcenter.storage.models import UTCDateTime
from callcenter.storage.tickets import sla_conditions

NOW = datetime(2026, 3, 12, 4, 0, tzinfo=UTC)
INSTANTS = [None, NOW - timedelta(hours=1), NOW, NOW + timedelta(hours=1)]

cases = Table(
    "sla_cases",
    MetaData(),
    Column("id", String(8), primary_key=True),
    Column("status", String(24)),
    Column("due_at", UTCDateTime()),
    Column("warn_at", UTCDateTime()),
)
GRID = [
    (f"c{i}", status, due, warn)
    for i, (status, due, warn) in enumerate(itertools.product(Status, INSTANTS, INSTANTS))
]


async def colours_in_sql(engine: AsyncEngine) -> dict[str, SlaColour | None]:
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: cases.create(c))
        await conn.execute(
            insert(cases),
            [{"id": i, "status": s.value, "due_at": d, "warn_at": w} for i, s, d, w in GRID],
        )
        conditions = sla_conditions(cases.c.status, cases.c.due_at, cases.c.warn_at, NOW)
        colour = case(*((cond, c.value) for c, cond in conditions.items()), else_=None)
        rows = (await conn.execute(select(cases.c.id, colour))).all()
    return {i: SlaColour(c) if c is not None else None for i, c in rows}


def colours_in_python() -> dict[str, SlaColour | None]:
    return {i: sla_colour_at(s, d, w, NOW) for i, s, d, w in GRID}


@pytest.fixture
async def sqlite() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    yield engine
    await engine.dispose()


async def test_sql_and_python_agree_on_sqlite(sqlite: AsyncEngine) -> None:
    python = colours_in_python()
    missing_warning = [
        i for i, s, d, w in GRID if s is Status.DISPATCHED and d and d > NOW and w is None
    ]
    assert missing_warning and all(python[i] is SlaColour.GREEN for i in missing_warning)
    assert await colours_in_sql(sqlite) == python


async def test_sql_and_python_agree_on_postgres(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: cases.drop(c, checkfirst=True))
        assert await colours_in_sql(engine) == colours_in_python()
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: cases.drop(c, checkfirst=True))
        await engine.dispose()
