"""Migrations are reversible on PostgreSQL and SQLite."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
from sqlalchemy import inspect

from callcenter.storage.db import downgrade, make_engine, migrate


async def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def roundtrip(url: str) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine)
        assert {"calls", "call_legs", "api_tokens"} <= await tables(url)
        await downgrade(engine, "base")
        assert await tables(url) <= {"alembic_version"}
        await migrate(engine)
        assert {"calls", "call_legs", "api_tokens"} <= await tables(url)
    finally:
        await engine.dispose()


async def test_sqlite_roundtrip(tmp_path: Path) -> None:
    await roundtrip(f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}")


async def test_postgres_roundtrip(pg_admin: str) -> None:
    name = f"cc_migrations_test_{os.getpid()}"
    admin = await asyncpg.connect(pg_admin)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
        host = pg_admin.split("@", 1)[1].rsplit("/", 1)[0]
        await roundtrip(f"postgresql+asyncpg://postgres@{host}/{name}")
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
