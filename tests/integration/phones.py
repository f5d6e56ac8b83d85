"""SIPp citizens for the integration tests: place calls and read SIPp's own counts."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
from dataclasses import dataclass

from sip_testbed.testbed import Testbed


@dataclass(frozen=True)
class SippRun:
    returncode: int
    successful: int
    failed: int
    output: str


def _count(label: str, output: str) -> int:
    found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(found[-1]) if found else 0


Citizen = tuple[str, int] | tuple[str, int, str]


def route(row: Citizen) -> str:
    return row[2] if len(row) > 2 else ""  # type: ignore[misc]


def citizen_args(
    testbed: Testbed,
    calls: list[Citizen],
    *,
    rate: float,
    port: int,
    media_port: int,
    timeout_s: int,
) -> list[str]:
    csv = testbed.run_dir / "sipp" / f"citizens-{secrets.token_hex(4)}.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    csv.write_text("SEQUENTIAL\n" + "".join(f"{row[0]};{row[1]};{route(row)}\n" for row in calls))
    return [
        f"127.0.0.1:{testbed.sip_port}",
        "-s",
        "12345",
        "-inf",
        str(csv),
        "-r",
        str(rate),
        "-m",
        str(len(calls)),
        "-l",
        str(len(calls)),
        "-p",
        str(port),
        "-mp",
        str(media_port),
        "-timeout",
        f"{timeout_s}s",
        "-recv_timeout",
        "20000",
    ]


async def waiting_calls(
    testbed: Testbed,
    calls: list[Citizen],
    *,
    patience_ms: int,
    rate: float = 10,
    port: int = 5070,
    media_port: int = 16000,
    timeout_s: int = 180,
    dtmf: str = "",
) -> SippRun:
    """Citizens who stay until the hotline ends the call, or give up after `patience_ms`;
    `dtmf` is what their phones send from the answer on (see sip_testbed/rtp_pcap.py)."""
    args = citizen_args(
        testbed, calls, rate=rate, port=port, media_port=media_port, timeout_s=timeout_s
    )
    args[args.index("-recv_timeout") + 1] = str(patience_ms + 30_000)
    params = {"DTMF": dtmf, "PATIENCE_MS": str(patience_ms)}
    return await run_sipp(testbed, "citizen_wait", args, params, timeout_s + 30)


async def run_sipp(
    testbed: Testbed, scenario: str, args: list[str], params: dict[str, str], timeout: float
) -> SippRun:
    """Run SIPp to completion; cancelling the caller kills SIPp (so its port is free again)."""
    xml = testbed.scenario(scenario, params)
    proc = subprocess.Popen(
        testbed.sipp_argv(xml, args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=testbed.run_dir / "sipp",
    )
    try:
        out, err = await asyncio.to_thread(proc.communicate, timeout=timeout)
    except BaseException:
        proc.kill()
        await asyncio.to_thread(proc.wait)
        raise
    return _result(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))


def _result(done: subprocess.CompletedProcess[str]) -> SippRun:
    output = done.stdout + done.stderr
    return SippRun(
        returncode=done.returncode,
        successful=_count("Successful call", output),
        failed=_count("Failed call", output),
        output=output[-3000:],
    )


async def place_calls(
    testbed: Testbed,
    calls: list[Citizen],
    *,
    rate: float = 10,
    port: int = 5070,
    media_port: int = 16000,
    dtmf: str = "",
    timeout_s: int = 120,
) -> SippRun:
    """Call 12345 once per (caller, talk_ms) and wait for SIPp to finish."""
    args = citizen_args(
        testbed, calls, rate=rate, port=port, media_port=media_port, timeout_s=timeout_s
    )
    return await run_sipp(testbed, "citizen_call", args, {"DTMF": dtmf}, timeout_s + 30)
