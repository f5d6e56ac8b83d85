"""`python -m callcenter create-user`: an admin makes the first accounts from the command line;
the password comes from standard input (never the process list) and the person can log in."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from callcenter.domain.access import Role
from callcenter.settings import load_settings
from callcenter.storage.db import make_engine, make_sessions
from callcenter.storage.users import UserRepository

REPO = Path(__file__).resolve().parents[1]


def create_user(database: str, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update(CALLCENTER_DATABASE_URL=database, CALLCENTER_AMI_SECRET="not-used-by-this-command")
    return subprocess.run(
        [sys.executable, "-m", "callcenter", "create-user", *args],
        env=env,
        cwd=REPO,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_first_admin_and_agent_are_created_and_can_log_in(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}"
    made = create_user(database, "--username", "admin", "--role", "admin", password="first-admin-1")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "user admin (admin) created"
    agent = create_user(
        database,
        *("--username", "a01", "--role", "agent", "--subject", "a01", "--display-name", "张三"),
        password="first-agent-1",
    )
    assert agent.returncode == 0, agent.stderr
    again = create_user(database, "--username", "admin", "--role", "admin", password="x" * 12)
    assert again.returncode == 1 and "exists already" in again.stderr
    short = create_user(database, "--username", "b02", "--role", "supervisor", password="short")
    assert short.returncode == 1 and "password" in short.stderr

    async def log_in() -> tuple[str, str | None]:
        engine = make_engine(database)
        try:
            settings = load_settings(database_url=database, ami_secret="not-used-by-this-test")
            users = UserRepository(make_sessions(engine), settings.login_policy)
            done = await users.login("a01", "first-agent-1", datetime.now(UTC))
            assert done.account.role is Role.AGENT
            return done.account.display_name, done.account.subject
        finally:
            await engine.dispose()

    assert asyncio.run(log_in()) == ("张三", "a01")
