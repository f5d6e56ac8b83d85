"""`make bench-cluster`: sustained new calls/s through Kamailio with two Asterisk nodes against
one node, on the same machine, in the same run; printed as a ratio.

For each layout (Kamailio in front of node a alone, then of nodes a and b) the cluster testbed
starts, one engine drives the nodes, AGENTS agents register with Kamailio (one SIPp phone answers
for all of them after ANSWER_MS and hangs up after TALK_MS), and citizens call at each rate of
RATES for SECONDS. A rate is sustained when SIPp saw no failed call and every call reached an
agent. Needs PostgreSQL (CALLCENTER_BENCH_PG) and root; hold /tmp/cc-cluster.lock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from sip_testbed.cluster import NODE_HOSTS, Cluster
from sip_testbed.cluster_run import ClusterRun, admin_token

REPO = Path(__file__).resolve().parents[1]
ADMIN = os.environ.get("CALLCENTER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Step:
    rate: float
    placed: int
    failed: int
    reached: int
    seconds: float

    @property
    def sustained(self) -> bool:
        return self.placed > 0 and self.failed == 0 and self.reached == self.placed


async def _database(name: str) -> str:
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    host = ADMIN.split("@", 1)[1].rsplit("/", 1)[0]
    user = ADMIN.split("//", 1)[1].split("@", 1)[0]
    return f"postgresql+asyncpg://{user}@{host}/{name}"


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.close()


async def _reached(url: str, prefix: str) -> int:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        deadline = time.monotonic() + 30
        while True:
            open_calls = await conn.fetchval(
                "SELECT count(*) FROM calls WHERE caller_number LIKE $1 AND ended_at IS NULL",
                prefix + "%",
            )
            if open_calls == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM calls WHERE caller_number LIKE $1 AND outcome = 'agent'",
                prefix + "%",
            )
        )
    finally:
        await conn.close()


async def layout(
    nodes: list[str], rates: list[float], seconds: float, agents: int, talk_ms: int
) -> list[Step]:
    name = f"cc_bench_cluster_{os.getpid()}_{len(nodes)}"
    url = await _database(name)
    cluster = Cluster(
        run_dir=REPO / "var" / "cluster-bench",
        ami_secret=secrets.token_urlsafe(24),
        node_hosts={node: NODE_HOSTS[node] for node in nodes},
        engine_hosts=("127.0.0.5",),
    )
    steps = []
    try:
        with cluster.running(), tempfile.TemporaryDirectory(prefix="cc-bench-cluster-") as work:
            run = ClusterRun(
                cluster,
                url,
                Path(work),
                engines=1,
                talk_ms=talk_ms,
            )
            run.token = await admin_token(url)
            try:
                await run.start(agents)
                for index, rate in enumerate(rates):
                    prefix = f"15{len(nodes)}{index:02d}"
                    count = max(1, int(rate * seconds))
                    numbers = [f"{prefix}{i:06d}" for i in range(count)]
                    started = time.monotonic()
                    placed = await run.place(numbers, rate)
                    took = time.monotonic() - started
                    reached = await _reached(url, prefix)
                    step = Step(
                        rate, placed.successful + placed.failed, placed.failed, reached, took
                    )
                    steps.append(step)
                    print(
                        f"  {len(nodes)} node(s) {rate:6.0f}/s: placed {step.placed}, failed "
                        f"{step.failed}, reached an agent {step.reached} "
                        f"({'sustained' if step.sustained else 'not sustained'})",
                        flush=True,
                    )
                    await asyncio.sleep(talk_ms / 1000 + 2)
            finally:
                run.stop()
    finally:
        await _drop(name)
    return steps


def best(steps: list[Step]) -> float:
    return max((step.rate for step in steps if step.sustained), default=0.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks.cluster", description=__doc__)
    parser.add_argument("--rates", default="20,40,60,80")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--talk-ms", type=int, default=2000)
    args = parser.parse_args(argv)
    rates = [float(rate) for rate in args.rates.split(",")]
    one = asyncio.run(layout(["a"], rates, args.seconds, args.agents, args.talk_ms))
    two = asyncio.run(layout(["a", "b"], rates, args.seconds, args.agents, args.talk_ms))
    base, pair = best(one), best(two)
    print(f"one node sustained {base:.0f} new calls/s, two nodes {pair:.0f} new calls/s")
    if base:
        print(f"two nodes / one node = {pair / base:.2f} (the same machine, the same run)")
    else:
        print("one node sustained none of the rates: no ratio")


if __name__ == "__main__":
    main()
