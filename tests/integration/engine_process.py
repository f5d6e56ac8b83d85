"""The engine as a separate process (`python -m callcenter run`), so tests can signal it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import websockets

from sip_testbed.testbed import Testbed

REPO = Path(__file__).resolve().parents[2]
API = "http://127.0.0.1:18012"


def engine_env(testbed: Testbed, pg_url: str, **settings: object) -> dict[str, str]:
    env = {
        **os.environ,
        **testbed.engine_env(),
        "CALLCENTER_DATABASE_URL": pg_url,
        "CALLCENTER_API_PORT": "18012",
        "CALLCENTER_FLOWS_DIR": str(REPO / "tests" / "fixtures" / "flows_direct"),
        "CALLCENTER_PROMPT_CATALOGUE": str(REPO / "ivr_flows" / "prompts.yaml"),
        "CALLCENTER_FLOW": "direct",
        "CALLCENTER_SURVEY_CALLS": "false",
        "CALLCENTER_LOG_LEVEL": "INFO",
    }
    env.update({f"CALLCENTER_{key.upper()}": str(value) for key, value in settings.items()})
    return env


class EngineProcess:
    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self._env = dict(env)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 30) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "callcenter", "run"],
                env=self._env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=API, timeout=2) as client:
            while True:
                assert self.proc.poll() is None, self.tail()
                try:
                    health = (await client.get("/health")).json()
                    if health.get("ami_connected"):
                        return
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"engine not up\n{self.tail()}"
                await asyncio.sleep(0.2)

    async def signal(self, sig: signal.Signals, timeout: float = 60) -> int:
        """Send `sig` and wait for the process to exit; returns its exit status."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        return await asyncio.to_thread(self.proc.wait, timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


async def collect_events(token: str, into: list[dict[str, Any]]) -> None:
    """Every event the engine announces on /ws/events, until it closes the socket."""
    headers = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(
        API.replace("http", "ws") + "/ws/events", additional_headers=headers
    ) as socket:
        try:
            async for message in socket:
                into.append(json.loads(message))
        except websockets.ConnectionClosed:
            return
