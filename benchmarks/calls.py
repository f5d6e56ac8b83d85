"""`make bench-calls` and `make soak`: the engine on the real testbed (Asterisk, SIPp phones,
PostgreSQL), driven at given call rates.

bench-calls ramps the rate of new calls (a step per rate) and prints one table: calls placed,
calls that reached an agent, queued-call and seat-change rows written, call set-up (INVITE to
200 OK, SIPp's own measure) p50/p99, the engine's script start p99 (from the dialplan asking
for the FastAGI script to it starting: the caller, answered, waits that long for the engine;
a bucket bound of /metrics' histogram), writer lag (sampled from /health) p99/max, engine CPU and
RSS. A rate counts as sustained when every call reached an agent and no record waited more
than 2 s at any sample (/health every 0.25 s) during the step. soak runs one rate for a
duration and prints RSS over time.

bench-calls then runs Asterisk's own app_queue on the same testbed with the same members (the
agents' endpoints the engine wrote, one static member each), once per strategy (leastrecent and
rrmemory), at the same rates: the dialplan answers and queues the call, and queue_log tells which
calls reached a member. The table ends with the ratio of the sustained rates, engine over the
better strategy (for app_queue a rate is sustained when every call reached an agent; CPU and RSS
are Asterisk's there).

Agents: one SIPp phone answers for all of them (each agent's contact is the same SIPp port),
after ANSWER_MS, and hangs up after TALK_MS; the flow goes straight to the queue; citizens wait
until the agent hangs up. Needs the testbed (hold /tmp/cc-testbed.lock) and PostgreSQL
(CALLCENTER_BENCH_PG, default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from sip_testbed.testbed import Testbed

REPO = Path(__file__).resolve().parents[1]
ADMIN = os.environ.get("CALLCENTER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
API_PORT = 18012
API = f"http://127.0.0.1:{API_PORT}"
AGENT_PORT = 5101
CITIZEN_PORT = 5070
ANSWER_MS = 200
TALK_MS = 2000
FLOW = """\
description: straight to the agent queue (benchmark)
languages: [zh]
start: to_agent
nodes:
  to_agent:
    type: queue
    skills: {"lang:mandarin": 1}
"""


@dataclass
class Step:
    rate: float
    system: str = "engine"
    placed: int = 0
    failed: int = 0
    reached: int = 0
    queued_rows: int = 0
    seat_rows: int = 0
    setup_ms: tuple[float, float] = (0.0, 0.0)
    # the engine's FastAGI script start after the dialplan asked for it (bucket bound, ms)
    script_p99_ms: float | None = None
    lag: tuple[float, float] = (0.0, 0.0)
    drained_after: float | None = None
    cpu: float = 0.0
    rss_mb: float = 0.0

    @property
    def sustained(self) -> bool:
        """Every call reached an agent and no record waited more than 2 s to be written."""
        delivered = self.placed > 0 and self.failed == 0 and self.reached == self.placed
        if self.system != "engine":
            return delivered  # app_queue writes no rows
        return delivered and self.drained_after is not None and self.lag[1] <= 2.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Engine:
    """The engine as a child process, with its CPU time and RSS read from /proc."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "callcenter", "run"],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.log = log

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            print("engine did not stop within 120 s of SIGTERM; killed", file=sys.stderr)
            self.proc.kill()
            return self.proc.wait(timeout=30)


class Bench:
    def __init__(self, testbed: Testbed, url: str, agents: int, work: Path) -> None:
        self.testbed, self.url, self.agents, self.work = testbed, url, agents, work
        self.token = ""
        self.engine: Engine | None = None
        self.phone: subprocess.Popen[bytes] | None = None
        self.prefix = 0
        # callers drawn in turn from a pool of this many numbers (0: a new number per call)
        self.pool = 0
        self.pool_next = 0

    async def start(self) -> None:
        flows = self.work / "flows"
        flows.mkdir()
        (flows / "bench.yaml").write_text(FLOW)
        env = {
            **os.environ,
            **self.testbed.engine_env(),
            "CALLCENTER_DATABASE_URL": self.url,
            "CALLCENTER_API_PORT": str(API_PORT),
            "CALLCENTER_FLOWS_DIR": str(flows),
            "CALLCENTER_PROMPT_CATALOGUE": str(REPO / "ivr_flows" / "prompts.yaml"),
            "CALLCENTER_FLOW": "bench",
            "CALLCENTER_SURVEY_CALLS": "false",
            "CALLCENTER_SATISFACTION_SURVEY": "false",
            "CALLCENTER_RECORD_CALLS": "false",
            "CALLCENTER_WRAP_UP_SECONDS": "0",
            "CALLCENTER_MAX_CALLS": "2000",
            "CALLCENTER_MAX_NEW_CALLS_PER_SECOND": "1000",
            "CALLCENTER_WRITER_SPOOL": str(self.work / "spool.sqlite3"),
            "CALLCENTER_LOG_LEVEL": "WARNING",
        }
        self.engine = Engine(env, self.work / "engine.log")
        async with httpx.AsyncClient(base_url=API, timeout=5) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get("/health")).json().get("ami_connected"):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or self.engine.proc.poll() is not None:
                    raise SystemExit(f"engine did not start; see {self.engine.log}")
                await asyncio.sleep(0.3)
        self.phone = self.testbed.sipp_background(
            "agent_answer",
            ["-p", str(AGENT_PORT), "-mp", "17000", "-l", "5000"],
            {"ANSWER_MS": str(ANSWER_MS), "TALK_MS": str(TALK_MS), "DTMF": ""},
        )
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=API, headers=headers, timeout=30) as client:
            for i in range(self.agents):
                agent = f"b{i:03d}"
                body = {
                    "id": agent,
                    "name": agent,
                    "endpoint": f"ep-{agent}",
                    "skills": {"lang:mandarin": 3},
                    "sip_contact": f"sip:{agent}@127.0.0.1:{AGENT_PORT}",
                }
                (await client.post("/agents", json=body)).raise_for_status()
                (await client.post(f"/agents/{agent}/login", json={})).raise_for_status()

    def stop(self) -> None:
        if self.phone is not None:
            self.phone.terminate()
            self.phone.wait(timeout=10)
            self.phone = None
        self.stop_engine()

    def stop_engine(self) -> None:
        if self.engine is not None:
            self.engine.stop()
            # kept for reading after the run (the work folder goes)
            kept = REPO / "var" / "bench-engine.log"
            kept.write_bytes(self.engine.log.read_bytes())
            print(f"engine log: {kept}", file=sys.stderr)
            self.engine = None

    def use_app_queue(self, strategy: str) -> None:
        """Asterisk alone: the trunk's 12345 answers and queues into `bench`, whose static
        members are the endpoints the engine wrote for its agents (same contacts, same phone).
        The engine must be stopped (its FastAGI is no longer asked)."""
        conf = self.testbed.conf_dir
        dialplan = (conf / "extensions.conf").read_text()
        # the engine's FastAGI script (a Gosub into cc-agi) gives way to the queue itself
        agi = re.search(r" same => n,Gosub\(cc-agi,s,1\(inbound\)\)\n", dialplan)
        queued = " same => n,Answer()\n same => n,Queue(bench,,,,120)\n"
        if agi is not None:
            (conf / "extensions.conf").write_text(dialplan.replace(agi.group(0), queued))
        elif queued not in dialplan:  # (already queued when the previous strategy ran)
            raise SystemExit("bench-calls: the dialplan no longer calls cc-agi for inbound calls")
        queues = (conf / "queues.conf").read_text().split("\n[bench]\n", 1)[0]
        members = "".join(f"member => PJSIP/ep-b{i:03d},0,b{i:03d}\n" for i in range(self.agents))
        (conf / "queues.conf").write_text(
            f"{queues}\n[bench]\nstrategy = {strategy}\ntimeout = 15\nretry = 1\n"
            "wrapuptime = 0\nringinuse = no\njoinempty = yes\nleavewhenempty = no\n"
            f"autofill = yes\nmusicclass = default\nannounce-frequency = 0\n{members}"
        )
        self.testbed.cli("dialplan reload")
        self.testbed.cli("module reload app_queue.so")
        shown = self.testbed.cli("queue show bench")
        if strategy not in shown:
            raise SystemExit(f"app_queue did not take the bench queue:\n{shown[:2000]}")

    def asterisk_pid(self) -> int:
        return int((self.testbed.run_dir / "run" / "asterisk.pid").read_text().strip())

    async def _start_delays(self, client: httpx.AsyncClient) -> dict[str, float]:
        """The cumulative buckets of the engine's FastAGI start-delay histogram (/metrics)."""
        reply = await client.get("/metrics", headers={"Authorization": f"Bearer {self.token}"})
        reply.raise_for_status()
        found = re.findall(
            r'^callcenter_agi_start_delay_seconds_bucket\{le="([^"]+)"\} (\d+)$', reply.text, re.M
        )
        return {bound: float(count) for bound, count in found}

    async def step(self, rate: float, seconds: float, system: str = "engine") -> Step:
        """One step at `rate` new calls/s for `seconds`, through the engine or app_queue."""
        await _calm()
        engine = self.engine if system == "engine" else None
        assert engine is not None or system != "engine"
        pid = engine.proc.pid if engine is not None else self.asterisk_pid()
        self.prefix += 1
        calls = max(1, int(rate * seconds))
        numbers = [f"1{self.prefix:02d}{i:08d}" for i in range(calls)]
        like = f"1{self.prefix:02d}%"
        if self.pool:
            numbers = [f"199{(self.pool_next + i) % self.pool:08d}" for i in range(calls)]
            self.pool_next += calls
            like = "199%"
        step_start = datetime.now(UTC)
        workdir = self.testbed.sipp_workdir()
        inf = workdir / "citizens.csv"
        inf.write_text("SEQUENTIAL\n" + "".join(f"{n};0;\n" for n in numbers))
        xml = self.testbed.scenario("citizen_wait", {"PATIENCE_MS": "60000"})
        args = [
            f"127.0.0.1:{self.testbed.sip_port}", "-s", "12345", "-inf", str(inf),
            "-r", str(rate), "-m", str(calls), "-l", str(calls * 2),
            "-p", str(CITIZEN_PORT), "-mp", "16000", "-timeout", f"{int(seconds) + 120}s",
            "-recv_timeout", "90000", "-trace_rtt", "-rtt_freq", "1",
        ]  # fmt: skip
        lags: list[float] = []
        queue_log = self.testbed.run_dir / "log" / "queue_log"
        log_start = queue_log.stat().st_size if queue_log.exists() else 0
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        screen = workdir / "screen.log"
        with screen.open("w") as out:
            sipp = await asyncio.to_thread(
                subprocess.Popen,
                self.testbed.sipp_argv(xml, args, workdir),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        drained_after = None
        delays_before: dict[str, float] = {}
        if engine is None:
            await asyncio.to_thread(sipp.wait)
        else:
            async with httpx.AsyncClient(base_url=API, timeout=5) as client:
                delays_before = await self._start_delays(client)
                while sipp.poll() is None:
                    lags.append((await _writer_health(client))[0])
                    await asyncio.sleep(0.25)
                ended = time.monotonic()
                while time.monotonic() - ended < 30:
                    lag, pending = await _writer_health(client)
                    lags.append(lag)
                    if pending == 0:
                        drained_after = time.monotonic() - ended
                        break
                    await asyncio.sleep(0.1)
                script_p99 = _bucket_quantile(delays_before, await self._start_delays(client), 0.99)
        output = screen.read_text(errors="replace")
        cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0)
        result = Step(rate, system, cpu=cpu, rss_mb=rss_mb(pid), drained_after=drained_after)
        if engine is not None:
            result.script_p99_ms = None if script_p99 is None else script_p99 * 1000
        result.placed = _count("Successful call", output) + _count("Failed call", output)
        result.failed = _count("Failed call", output)
        rtts = [
            float(row[1])  # Date_ms;response_time_ms;rtd_no
            for path in workdir.glob("*_rtt.csv")
            for row in list(csv.reader(path.open(), delimiter=";"))[1:]
            if len(row) > 1
        ]
        result.setup_ms = (percentile(rtts, 0.5), percentile(rtts, 0.99))
        result.lag = (percentile(lags, 0.99), max(lags, default=0.0))
        if engine is None:
            result.reached = _queue_connects(queue_log, log_start, f"1{self.prefix:02d}")
            return result
        conn = await asyncpg.connect(self.url.replace("+asyncpg", ""))
        try:
            # this step's calls: its numbers, queued since it began (a pool's numbers repeat)
            mine = "q.caller_number LIKE $1 AND q.queued_at >= $2"
            result.queued_rows = await conn.fetchval(
                f"SELECT count(*) FROM queue_calls q WHERE {mine}", like, step_start
            )
            result.reached = await conn.fetchval(
                f"SELECT count(*) FROM queue_calls q WHERE {mine} "
                "AND q.agent_answered_at IS NOT NULL",
                like,
                step_start,
            )
            result.seat_rows = await conn.fetchval(
                "SELECT count(*) FROM agent_state_changes s JOIN queue_calls q "
                f"ON s.call_id = q.linkedid WHERE {mine}",
                like,
                step_start,
            )
        finally:
            await conn.close()
        return result


async def _calm(limit_seconds: float = 300) -> None:
    """Wait until the machine's 1-minute load average is below twice its cores (the step
    before, say 200 calls/s, can leave it far above; Asterisk's maxload would then refuse the
    next step's calls and measure the last one's aftermath)."""
    calm = 2 * (os.cpu_count() or 1)
    waited = 0.0
    while os.getloadavg()[0] > calm and waited < limit_seconds:
        await asyncio.sleep(5)
        waited += 5
    if waited:
        print(
            f"  (waited {waited:.0f} s for the load average to fall to "
            f"{os.getloadavg()[0]:.1f}, below {calm})",
            file=sys.stderr,
        )


def _bucket_quantile(
    before: dict[str, float], after: dict[str, float], share: float
) -> float | None:
    """The smallest bucket bound holding `share` of what was observed between two scrapes."""
    total = after.get("+Inf", 0.0) - before.get("+Inf", 0.0)
    if total <= 0:
        return None
    for bound in sorted((b for b in after if b != "+Inf"), key=float):
        if after[bound] - before.get(bound, 0.0) >= share * total:
            return float(bound)
    return float("inf")


def _queue_connects(queue_log: Path, offset: int, prefix: str) -> int:
    """Calls from numbers starting with `prefix` that app_queue connected to a member, from
    queue_log (epoch|callid|queue|agent|EVENT|data...; ENTERQUEUE's data holds the caller)."""
    if not queue_log.exists():
        return 0
    with queue_log.open("rb") as log:
        log.seek(offset)
        lines = log.read().decode(errors="replace").splitlines()
    callers: dict[str, str] = {}
    connected: set[str] = set()
    for line in lines:
        fields = line.split("|")
        if len(fields) < 5:
            continue
        if fields[4] == "ENTERQUEUE" and len(fields) > 6:
            callers[fields[1]] = fields[6]
        elif fields[4] == "CONNECT":
            connected.add(fields[1])
    return sum(1 for callid in connected if callers.get(callid, "").startswith(prefix))


async def _writer_health(client: httpx.AsyncClient) -> tuple[float, int | None]:
    """(writer lag in s, records pending); an engine too busy to answer /health within the
    client's timeout counts as lagging by that long, with pending unknown."""
    started = time.monotonic()
    try:
        writer = (await client.get("/health")).json()["writer"]
    except httpx.HTTPError:
        return time.monotonic() - started, None
    return float(writer["lag_seconds"]), int(writer["pending"])


def _load_refusals(messages: Path, offset: int) -> int:
    if not messages.exists():
        return 0
    with messages.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace").count("Maximum loadavg limit")


def _count(label: str, output: str) -> int:
    found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(found[-1]) if found else 0


def print_table(steps: list[Step]) -> None:
    print(
        f"{'system':<22} {'calls/s':>8} {'placed':>7} {'reached':>8} {'queued':>7} {'seat':>6} "
        f"{'setup p50':>10} {'p99 ms':>7} {'script p99':>10} {'lag p99':>8} {'max s':>6} "
        f"{'drained':>8} {'CPU':>5} {'RSS MB':>7} sustained"
    )
    for s in steps:
        drained = f"{s.drained_after:.1f}s" if s.drained_after is not None else "no"
        script = "-" if s.script_p99_ms is None else f"<={s.script_p99_ms:g}"
        print(
            f"{s.system:<22} {s.rate:8.0f} {s.placed:7d} {s.reached:8d} "
            f"{s.queued_rows:7d} {s.seat_rows:6d} "
            f"{s.setup_ms[0]:10.1f} {s.setup_ms[1]:7.1f} {script:>10} {s.lag[0]:8.2f} "
            f"{s.lag[1]:6.2f} {drained:>8} {s.cpu:5.0%} {s.rss_mb:7.1f} "
            f"{'yes' if s.sustained else 'no'}"
        )
    best: dict[str, float] = {}
    for s in steps:
        best.setdefault(s.system, 0.0)
        if s.sustained:
            best[s.system] = max(best[s.system], s.rate)
    for system, rate in best.items():
        print(f"{system} sustained up to {rate:.0f} new calls/s")
    others = {system: rate for system, rate in best.items() if system != "engine"}
    if "engine" in best and others:
        system, rate = max(others.items(), key=lambda item: item[1])
        ratio = f"x{best['engine'] / rate:.2f}" if rate else "(app_queue sustained none)"
        print(f"sustained rate, engine / best app_queue ({system}): {ratio}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


async def with_bench(agents: int, body: object) -> None:
    name = f"cc_bench_calls_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    host = ADMIN.split("@", 1)[1].rsplit("/", 1)[0]
    user = ADMIN.split("//", 1)[1].split("@", 1)[0]
    url = f"postgresql+asyncpg://{user}@{host}/{name}"
    # maxload off (64): Asterisk's load average counts its own busy threads, so at 140 calls/s
    # its production guard (8) refused calls of the step after; the figures show the overload
    testbed = Testbed(
        run_dir=REPO / "var" / "testbed-bench",
        ami_secret=secrets.token_urlsafe(24),
        max_load="64.0",
    )
    try:
        with testbed.running(), tempfile.TemporaryDirectory() as work:
            bench = Bench(testbed, url, agents, Path(work))
            bench.token = await _admin_token(url)
            try:
                await bench.start()
                await body(bench)  # type: ignore[operator]
            finally:
                bench.stop()
    finally:
        admin = await asyncpg.connect(ADMIN)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def _admin_token(url: str) -> str:
    from callcenter.domain.access import Role
    from callcenter.storage.db import make_engine, make_sessions, migrate
    from callcenter.storage.tokens import TokenRepository

    db = make_engine(url)
    try:
        await migrate(db)
        return await TokenRepository(make_sessions(db)).create(
            "bench", Role.ADMIN, datetime.now(UTC)
        )
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks.calls", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ramp = sub.add_parser("ramp")
    ramp.add_argument("--rates", default="20,50,80,100,140")
    ramp.add_argument("--seconds", type=float, default=10)
    ramp.add_argument("--agents", type=int, default=300)
    ramp.add_argument(
        "--no-app-queue", dest="app_queue", action="store_false", help="the engine only"
    )
    soak = sub.add_parser("soak")
    soak.add_argument("--rate", type=float, default=20)
    soak.add_argument("--minutes", type=float, default=10)
    soak.add_argument("--agents", type=int, default=100)
    soak.add_argument(
        "--callers",
        type=int,
        default=5000,
        help="distinct citizens calling in turn (0: every call from a new number)",
    )
    args = parser.parse_args(argv)

    if args.command == "ramp":

        async def ramp_body(bench: Bench) -> None:
            messages = bench.testbed.run_dir / "log" / "messages.log"
            since = messages.stat().st_size if messages.exists() else 0
            steps = []
            rates = [float(r) for r in args.rates.split(",")]
            for rate in rates:
                steps.append(await bench.step(rate, args.seconds))
                await asyncio.sleep(TALK_MS / 1000 + 2)
            if args.app_queue:
                bench.stop_engine()
                for strategy in ("leastrecent", "rrmemory"):
                    bench.use_app_queue(strategy)
                    for rate in rates:
                        steps.append(await bench.step(rate, args.seconds, f"app_queue {strategy}"))
                        await asyncio.sleep(TALK_MS / 1000 + 2)
            print_table(steps)
            refused = _load_refusals(messages, since)
            if refused:
                print(
                    f"WARNING: Asterisk refused {refused} call(s) because the machine's load "
                    "average was above its maxload (asterisk.conf): these figures measure the "
                    "machine, not the engine; run again when it is quieter"
                )

        asyncio.run(with_bench(args.agents, ramp_body))
    else:

        async def soak_body(bench: Bench) -> None:
            assert bench.engine is not None
            bench.pool = args.callers
            started = time.monotonic()
            samples: list[tuple[float, float]] = []
            steps: list[Step] = []
            while time.monotonic() - started < args.minutes * 60:
                step = await bench.step(args.rate, 30)
                steps.append(step)
                minute = (time.monotonic() - started) / 60
                samples.append((minute, bench.engine.rss_mb()))
                script = "-" if step.script_p99_ms is None else f"<={step.script_p99_ms:g}"
                print(
                    f"  {minute:5.1f} min  RSS {samples[-1][1]:7.1f} MB  placed {step.placed} "
                    f"reached {step.reached} rows {step.queued_rows}/{step.seat_rows}  "
                    f"set-up p99 {step.setup_ms[1]:.1f} ms  script p99 {script} ms  "
                    f"lag max {step.lag[1]:.2f} s",
                    flush=True,
                )
            after_five = [rss for minute, rss in samples if minute >= 5]
            if len(after_five) >= 2:
                growth = after_five[-1] - after_five[0]
                print(f"RSS growth after the first 5 minutes: {growth:+.1f} MB")
            print(
                f"RSS first {samples[0][1]:.1f} MB, last {samples[-1][1]:.1f} MB, "
                f"median {statistics.median(r for _, r in samples):.1f} MB"
            )
            placed = sum(s.placed for s in steps)
            print(
                f"calls placed {placed}, reached an agent {sum(s.reached for s in steps)}, "
                f"queue_calls rows {sum(s.queued_rows for s in steps)}, steps sustained "
                f"{sum(s.sustained for s in steps)}/{len(steps)}"
            )

        asyncio.run(with_bench(args.agents, soak_body))


if __name__ == "__main__":
    main()
