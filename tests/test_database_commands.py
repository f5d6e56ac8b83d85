"""`create-token` and `migrate` touch only the database: no telephony settings, and they say
which database they wrote, when it was empty, and whether the running engine knows the token."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from callcenter.settings import DEFAULT_DATABASE_URL, REPO_ROOT

ELSEWHERE = Path("/")  # the default database does not depend on the working directory


def run(*args: str, env: dict[str, str], cwd: Path = ELSEWHERE) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    return subprocess.run(
        [sys.executable, "-m", "callcenter", *args],
        env={**clean, "CALLCENTER_LOG_LEVEL": "WARNING", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeEngine(BaseHTTPRequestHandler):
    """Answers every request with the status the test sets, like an engine would for a token."""

    status = 401

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def engine_at() -> Iterator[tuple[int, type[FakeEngine]]]:
    handler = type("Handler", (FakeEngine,), {})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def test_the_default_database_is_one_file_under_the_repository() -> None:
    # `make run` uses it too: tests/integration/test_readme_first_hour.py
    expected = f"sqlite+aiosqlite:///{REPO_ROOT}/var/callcenter.sqlite3"
    assert expected == DEFAULT_DATABASE_URL


def test_create_token_needs_no_telephony_and_says_the_database_was_empty(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/new.sqlite3"
    port = str(free_port())  # nothing listens there
    first = run(
        "create-token",
        "--name",
        "王芳",
        "--role",
        "agent",
        "--subject",
        "1001",
        env={"CALLCENTER_DATABASE_URL": url, "CALLCENTER_API_PORT": port},
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("cc_") and len(first.stdout.splitlines()) == 1
    assert f"{tmp_path}/new.sqlite3 was empty" in first.stderr
    assert f"no engine answers at http://127.0.0.1:{port}" in first.stderr
    second = run(
        "create-token",
        "--name",
        "x",
        "--role",
        "admin",
        env={"CALLCENTER_DATABASE_URL": url, "CALLCENTER_API_PORT": port},
    )
    assert second.returncode == 0 and "was empty" not in second.stderr
    migrated = run("migrate", env={"CALLCENTER_DATABASE_URL": url})
    assert migrated.returncode == 0 and "schema already at revision" in migrated.stderr


def test_an_engine_on_another_database_is_named(
    tmp_path: Path, engine_at: tuple[int, type[FakeEngine]]
) -> None:
    port, handler = engine_at
    env = {
        "CALLCENTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cc.sqlite3",
        "CALLCENTER_API_PORT": str(port),
    }
    handler.status = 401  # the engine does not know the token: it serves another database
    refused = run("create-token", "--name", "x", "--role", "agent", "--subject", "1", env=env)
    assert refused.returncode == 0
    assert "does not know this token" in refused.stderr
    assert "another database" in refused.stderr
    handler.status = 403  # known (only not allowed to read calls)
    known = run("create-token", "--name", "x", "--role", "agent", "--subject", "1", env=env)
    assert f"the engine running at http://127.0.0.1:{port} accepts the token" in known.stderr


def test_a_bad_database_url_is_still_named_in_one_line(tmp_path: Path) -> None:
    result = run("migrate", env={"CALLCENTER_DATABASE_URL": "mysql://x"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "callcenter: setting CALLCENTER_DATABASE_URL is invalid: "
        "Value error, must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
    ]


def test_archive_tickets_needs_no_telephony_and_reruns_safely(tmp_path: Path) -> None:
    """`archive-tickets` moves tickets closed long ago (none here: an empty database) and says
    what it did; a rerun is harmless; nonsense arguments are refused."""
    env = {"CALLCENTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}"}
    done = run("archive-tickets", "--after-days", "30", env=env)
    assert done.returncode == 0, done.stderr
    assert "moved 0 tickets closed before" in done.stdout and "(30 days)" in done.stdout
    # a rerun, with the setting's age
    default = run("archive-tickets", env={**env, "CALLCENTER_TICKET_ARCHIVE_AFTER_DAYS": "400"})
    assert default.returncode == 0 and "(400 days)" in default.stdout, default.stderr
    assert run("archive-tickets", "--batch", "0", env=env).returncode == 2
    refused = run("archive-tickets", env={**env, "CALLCENTER_TICKET_ARCHIVE_AFTER_DAYS": "0"})
    assert refused.returncode == 2


def test_rebuild_ticket_figures_needs_no_telephony(tmp_path: Path) -> None:
    """`rebuild-ticket-figures` recounts the kept statistics (none here: an empty database)."""
    env = {"CALLCENTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}"}
    done = run("rebuild-ticket-figures", env=env)
    assert done.returncode == 0, done.stderr
    assert "recounted from the assignments: 0 rows kept" in done.stdout
