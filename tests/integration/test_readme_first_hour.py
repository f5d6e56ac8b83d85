"""The README's first-hour commands, run literally in a fresh copy of the repository: `make run`
in the background, an agent created, `create-token` for them in another process, and that token
accepted by the running engine."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sip_testbed.testbed import Testbed
from tests.conftest import REPO

pytestmark = pytest.mark.testbed

README = REPO / "README.md"


def block(marker: str) -> str:
    """The shell block that follows `<!-- first-hour:<marker> -->` in the README."""
    found = re.search(
        rf"<!-- first-hour:{marker} -->\s*```sh\n(.*?)```", README.read_text(), re.DOTALL
    )
    assert found, f"README has no first-hour:{marker} block"
    return found.group(1)


def fresh_copy(target: Path) -> Path:
    """The working tree's files (what a fresh clone holds), sharing this checkout's venv."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.is_file():
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)  # keeps times: make sees the venv as up to date
    (target / ".venv").symlink_to(REPO / ".venv")
    return target


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


@pytest.fixture
def ports_free(testbed: Testbed) -> Iterator[None]:
    """`make run` brings up its own Asterisk on the machine's fixed ports: the session's
    testbed steps aside meanwhile."""
    testbed.stop()
    try:
        yield
    finally:
        testbed.start()


def test_the_readme_first_hour_in_a_fresh_copy(tmp_path: Path, ports_free: None) -> None:
    repo = fresh_copy(tmp_path / "callcenter12345")
    assert block("terminal-1").strip() == "make run"
    log = (tmp_path / "make-run.log").open("w")
    server = subprocess.Popen(
        ["bash", "-c", block("terminal-1")],
        cwd=repo,
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not healthy("http://127.0.0.1:8012/health"):
            assert server.poll() is None, (tmp_path / "make-run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "make-run.log").read_text()[-3000:]
            time.sleep(0.5)

        # another terminal, as the README says: no settings at all
        second = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block("terminal-2")],
            cwd=repo,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 0, second.stdout + second.stderr
        # the agent's token was accepted by the running engine: the agent is logged in
        assert '"state":"ready"' in second.stdout.replace(" ", ""), second.stdout
        assert "accepts the token" in second.stderr, second.stderr

        # a token written to another database is refused by the engine, and the command says so
        other = subprocess.run(
            [
                ".venv/bin/python",
                "-m",
                "callcenter",
                "create-token",
                "--name",
                "x",
                "--role",
                "agent",
                "--subject",
                "1001",
            ],
            cwd=repo,
            env={**clean_env(), "CALLCENTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/o.db"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert other.returncode == 0, other.stderr
        assert "was empty" in other.stderr and "does not know this token" in other.stderr
        refused = urllib.request.Request(
            "http://127.0.0.1:8012/agents/1001",
            headers={"Authorization": f"Bearer {other.stdout.strip()}"},
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(refused, timeout=5)
        assert err.value.code == 401
    finally:
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C, as the README says
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()
    assert (repo / "var" / "callcenter.sqlite3").is_file()  # the one default database
    assert not (repo / "var" / "cc.sqlite3").exists()
