"""Engines, agents and citizens on the cluster testbed: what the cluster tests, `make run-cluster`
and the cluster benchmark share.

Engines run as processes (`python -m callcenter run`, so a test can SIGKILL one), each on its own
loopback address (FastAGI and API), electing their leader through PostgreSQL. One SIPp phone on
AGENT_HOST answers for every agent: each agent's softphone registers that phone's address with
Kamailio under the agent's endpoint name. Citizens call Kamailio from CITIZEN_HOST.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from sip_testbed.cluster import (
    AGENT_HOST,
    CITIZEN_HOST,
    PROXY_HOST,
    SIP_PORT,
    Cluster,
)
from sip_testbed.testbed import REPO, TestbedError

AGENT_PORT = 5101
CITIZEN_PORT = 5070
FLOW = """\
description: straight to the agent queue (cluster tests)
languages: [zh]
start: to_agent
nodes:
  to_agent:
    type: queue
    skills: {"lang:mandarin": 1}
"""


class EngineProc:
    """One engine process of the cluster."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.api = f"http://{env['CALLCENTER_API_HOST']}:{env['CALLCENTER_API_PORT']}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "callcenter", "run"],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def health(self) -> dict[str, Any] | None:
        try:
            async with httpx.AsyncClient(base_url=self.api, timeout=1) as client:
                reply = await client.get("/health")
                return reply.json() if reply.status_code == 200 else None
        except httpx.HTTPError:
            return None

    async def wait(self, *, leader: bool, timeout: float = 60) -> float:
        """Wait until the API answers (as the leader with every node connected, or as the
        standby); returns the seconds waited."""
        started = time.monotonic()
        while True:
            assert self.proc is not None and self.proc.poll() is None, self.tail()
            health = await self.health()
            if health is not None:
                if not leader and health.get("role") == "standby":
                    return time.monotonic() - started
                if leader and health.get("role") == "leader" and all(health["nodes"].values()):
                    return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TestbedError(f"engine not {'leading' if leader else 'up'}:\n{self.tail()}")
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass(frozen=True)
class Placed:
    """A SIPp run of citizens: its counts and when it started."""

    started: float
    successful: int
    failed: int
    output: str


def _count(label: str, output: str) -> int:
    found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(found[-1]) if found else 0


class ClusterRun:
    def __init__(
        self,
        cluster: Cluster,
        database_url: str,
        work: Path,
        *,
        engines: int = 2,
        answer_ms: int = 200,
        talk_ms: int = 2000,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.cluster = cluster
        self.database_url = database_url
        self.work = work
        self.answer_ms, self.talk_ms = answer_ms, talk_ms
        self.token = ""
        flows = work / "flows"
        flows.mkdir(parents=True, exist_ok=True)
        (flows / "cluster.yaml").write_text(FLOW)
        self.engines: list[EngineProc] = []
        for index in range(engines):
            env = {
                **os.environ,
                **cluster.engine_env(index),
                "CALLCENTER_DATABASE_URL": database_url,
                "CALLCENTER_FLOWS_DIR": str(flows),
                "CALLCENTER_PROMPT_CATALOGUE": str(REPO / "ivr_flows" / "prompts.yaml"),
                "CALLCENTER_FLOW": "cluster",
                "CALLCENTER_SURVEY_CALLS": "false",
                "CALLCENTER_SATISFACTION_SURVEY": "false",
                "CALLCENTER_RECORD_CALLS": "false",
                "CALLCENTER_WRAP_UP_SECONDS": "0",
                "CALLCENTER_MAX_CALLS": "2000",
                "CALLCENTER_MAX_NEW_CALLS_PER_SECOND": "1000",
                "CALLCENTER_LEADER_ELECTION": "true" if engines > 1 else "false",
                "CALLCENTER_LOG_LEVEL": "INFO",
                **(extra_env or {}),
            }
            self.engines.append(EngineProc(env, work / f"engine{index}.log"))
        self.phone: subprocess.Popen[bytes] | None = None

    @property
    def bed(self) -> Any:
        return self.cluster.node(next(iter(self.cluster.node_hosts)))

    async def start(self, agents: int) -> None:
        """Engines (the first leads), the agents' phone, `agents` agents registered with
        Kamailio, created through the API and logged in."""
        self.engines[0].start()
        await self.engines[0].wait(leader=True)
        for engine in self.engines[1:]:
            engine.start()
            await engine.wait(leader=False)
        self.phone = self.bed.sipp_background(
            "agent_answer",
            ["-p", str(AGENT_PORT), "-mp", "17000", "-l", "5000"],
            {"ANSWER_MS": str(self.answer_ms), "TALK_MS": str(self.talk_ms), "DTMF": ""},
            local_ip=AGENT_HOST,
        )
        names = [f"c{i:03d}" for i in range(agents)]
        if names:
            self.register(names)
            await self.create_agents(names)

    def register(self, names: list[str]) -> None:
        """Every agent's softphone registers AGENT_HOST:AGENT_PORT with Kamailio."""
        csv = self.bed.run_dir / "sipp" / f"agents-{secrets.token_hex(3)}.csv"
        csv.write_text("SEQUENTIAL\n" + "".join(f"ep-{name}\n" for name in names))
        out = self.bed.sipp(
            "agent_register_proxy",
            [
                f"{PROXY_HOST}:{SIP_PORT}",
                "-inf",
                str(csv),
                "-m",
                str(len(names)),
                "-r",
                "50",
                "-p",
                "5102",
                "-timeout",
                "30s",
            ],
            {"USER": "[field0]", "CONTACT_PORT": str(AGENT_PORT)},
            local_ip=AGENT_HOST,
        )
        output = out.stdout + out.stderr
        if _count("Successful call", output) != len(names):
            raise TestbedError(f"agents did not all register:\n{output[-2000:]}")

    async def leader(self) -> EngineProc:
        for engine in self.engines:
            health = await engine.health()
            if health is not None and health.get("role") == "leader":
                return engine
        raise TestbedError("no engine leads")

    async def create_agents(self, names: list[str]) -> None:
        api = (await self.leader()).api
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:
            for name in names:
                body = {
                    "id": name,
                    "name": name,
                    "endpoint": f"ep-{name}",
                    "skills": {"lang:mandarin": 3},
                    "sip_password": f"secret-{name}-0123456789",
                }
                (await client.post("/agents", json=body)).raise_for_status()
                (await client.post(f"/agents/{name}/login", json={})).raise_for_status()

    def citizens(self, numbers: list[str], rate: float, patience_ms: int = 60_000) -> list[str]:
        """SIPp's command line for citizens calling Kamailio (each waits until the agent hangs
        up, or gives up after `patience_ms`)."""
        workdir = self.bed.sipp_workdir()
        inf = workdir / "citizens.csv"
        inf.write_text("SEQUENTIAL\n" + "".join(f"{n};0;\n" for n in numbers))
        xml = self.bed.scenario("citizen_wait_proxy", {"PATIENCE_MS": str(patience_ms)})
        calls = len(numbers)
        args = [
            f"{PROXY_HOST}:{SIP_PORT}", "-s", "12345", "-inf", str(inf),
            "-r", str(rate), "-m", str(calls), "-l", str(calls * 2),
            "-p", str(CITIZEN_PORT), "-mp", "16000",
            "-timeout", f"{int(calls / rate) + 120}s", "-recv_timeout", "90000",
        ]  # fmt: skip
        return list(self.bed.sipp_argv(xml, args, workdir, local_ip=CITIZEN_HOST))

    async def place(self, numbers: list[str], rate: float, patience_ms: int = 60_000) -> Placed:
        """Place the calls and wait for SIPp to finish them all."""
        process = self.start_calls(numbers, rate, patience_ms)
        return await self.finish_calls(process)

    def start_calls(
        self, numbers: list[str], rate: float, patience_ms: int = 60_000
    ) -> tuple[subprocess.Popen[str], float]:
        argv = self.citizens(numbers, rate, patience_ms)
        started = time.time()
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        return process, started

    async def finish_calls(self, running: tuple[subprocess.Popen[str], float]) -> Placed:
        process, started = running
        try:
            out, _ = await asyncio.to_thread(process.communicate, timeout=600)
        except BaseException:
            process.kill()
            await asyncio.to_thread(process.wait)
            raise
        return Placed(
            started, _count("Successful call", out), _count("Failed call", out), out[-3000:]
        )

    def stop(self) -> None:
        if self.phone is not None:
            self.phone.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.phone.wait(timeout=10)
        for engine in reversed(self.engines):
            engine.stop()


def epoch(at: datetime) -> float:
    return at.astimezone(UTC).timestamp()


async def admin_token(database_url: str) -> str:
    """Migrate the database and issue an admin API token (as `create-token` would)."""
    from callcenter.domain.access import Role
    from callcenter.storage.db import make_engine, make_sessions, migrate
    from callcenter.storage.tokens import TokenRepository

    db = make_engine(database_url)
    try:
        await migrate(db)
        return await TokenRepository(make_sessions(db)).create(
            "cluster", Role.ADMIN, datetime.now(UTC)
        )
    finally:
        await db.dispose()
