"""Shared fixtures: a fresh PostgreSQL database, the real Asterisk testbed, a running engine."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from callcenter.app import Application
from callcenter.settings import Settings, load_settings
from callcenter.storage.db import migrate
from sip_testbed.testbed import Testbed

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("CALLCENTER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by what it needs, from the fixtures it uses (directly or through others):
    `db` for PostgreSQL, `testbed` for the real Asterisk. `make unit` runs the rest alone."""
    for item in items:
        needs = set(getattr(item, "fixturenames", ()))
        if needs & {"pg_url", "pg_admin"}:
            item.add_marker(pytest.mark.db)
        if "testbed" in needs:
            item.add_marker(pytest.mark.testbed)


@pytest.fixture(scope="session")
def pg_admin() -> str:
    """The PostgreSQL superuser URL, for tests that make databases of their own."""
    return PG_ADMIN


@pytest.fixture(scope="session")
async def pg_url() -> AsyncIterator[str]:
    """A database of its own for this test session, owned by a role the tests create."""
    name = f"cc_test_{os.getpid()}"
    role = "callcenter_test"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        if not exists:
            await admin.execute(f"CREATE ROLE {role} LOGIN")
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name} OWNER {role}")
    finally:
        await admin.close()
    host = PG_ADMIN.split("@", 1)[1].rsplit("/", 1)[0]
    yield f"postgresql+asyncpg://{role}@{host}/{name}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def testbed() -> Iterator[Testbed]:
    bed = Testbed(run_dir=REPO / "var" / "testbed-test", ami_secret=secrets.token_urlsafe(24))
    with bed.running():
        yield bed


def engine_settings(testbed: Testbed, pg_url: str, **overrides: object) -> Settings:
    env = testbed.engine_env()
    values: dict[str, object] = {
        key.removeprefix("CALLCENTER_").lower(): value for key, value in env.items()
    }
    # a short flow (welcome, then the queue) unless a test asks for the real ones
    values.update(
        database_url=pg_url,
        api_port=18012,
        flows_dir=REPO / "tests" / "fixtures" / "flows_direct",
        prompt_catalogue=REPO / "ivr_flows" / "prompts.yaml",
        flow="direct",
    )
    values.update(overrides)
    return load_settings(**values)


async def truncate(app: Application) -> None:
    """Empty the call tables, and the voicemail an earlier test left (the engine would file it)."""
    async with app.db.begin() as conn:
        await conn.execute(text("TRUNCATE call_legs, calls, api_tokens RESTART IDENTITY CASCADE"))
    for recording in app.settings.voicemail_dir.glob("*.wav"):
        recording.unlink()


async def started_engine(settings: Settings, empty: str = "") -> Application:
    """An engine in the test's event loop: migrated, its call tables (and the tables `empty`
    lists) emptied, started, and connected to Asterisk."""
    app = Application(settings)
    await migrate(app.db)
    await truncate(app)
    if empty:
        async with app.db.begin() as conn:
            await conn.execute(text(f"TRUNCATE {empty} RESTART IDENTITY CASCADE"))
    await app.start()
    await asyncio.wait_for(app.ami.connected.wait(), timeout=10)
    return app


@pytest.fixture
async def engine(testbed: Testbed, pg_url: str) -> AsyncIterator[Application]:
    """The engine, running in the test's event loop, on a database emptied for each test."""
    app = await started_engine(engine_settings(testbed, pg_url))
    try:
        yield app
    finally:
        await app.stop()
