"""The writer's drain rate against PostgreSQL: the records calls produce, written by the
engine's batching writer, against one transaction per record (how the engine wrote before),
measured in the same run on the same workload.

Each simulated call produces what the engine writes for an answered call: its call record
three times (entered, answered, ended), its queued call four times (queued, offered, answered,
ended) and the agent's four seat changes. Needs PostgreSQL: CALLCENTER_BENCH_PG (an admin URL,
default postgresql://postgres@127.0.0.1:5432/postgres); a throw-away database is made and dropped.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import text

from callcenter.domain.calls import CallRecord, Disposition, HandledBy, Leg
from callcenter.domain.metrics import Outcome, QueuedCall
from callcenter.domain.seats import SeatState, Transition
from callcenter.services.writer import Writer
from callcenter.storage.calls import CallRepository
from callcenter.storage.db import make_engine, make_sessions, migrate
from callcenter.storage.seats import SeatRepository
from callcenter.storage.spool import Spool
from callcenter.storage.writes import SINKS

ADMIN = os.environ.get("CALLCENTER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
AGENTS = 300

Job = tuple[str, object]


def call_jobs(i: int) -> list[Job]:
    at = T0 + timedelta(milliseconds=10 * i)
    linkedid = f"b{i}"
    agent = f"a{i % AGENTS:03d}"
    record = CallRecord(
        linkedid, linkedid, f"139{i:08d}", "", "12345", "trunk", at,
        legs=(Leg(linkedid, f"PJSIP/trunk-{i:08x}", at),), handled_by=HandledBy.ENGINE,
    )  # fmt: skip
    answered = replace(record, answered_at=at, disposition=Disposition.ANSWERED)
    ended = replace(answered, ended_at=at + timedelta(seconds=2))
    queued = QueuedCall(linkedid, record.caller_number, "q", {"lang:mandarin": 1}, 0, at)
    offered = replace(queued, outcome=Outcome.RINGING, agent_id=agent)
    talking = replace(offered, outcome=Outcome.ANSWERED, agent_answered_at=at)
    done = replace(talking, ended_at=at + timedelta(seconds=2))
    seats = [
        Transition(agent, state, at + timedelta(milliseconds=n), "", linkedid)
        for n, state in enumerate(
            (SeatState.RINGING, SeatState.ON_CALL, SeatState.WRAP_UP, SeatState.READY)
        )
    ]
    return [
        ("call", record),
        ("queued_call", queued),
        ("queued_call", offered),
        ("seat_state", seats[0]),
        ("call", answered),
        ("queued_call", talking),
        ("seat_state", seats[1]),
        ("call", ended),
        ("queued_call", done),
        ("seat_state", seats[2]),
        ("seat_state", seats[3]),
    ]


async def setup(url: str) -> None:
    db = make_engine(url)
    await migrate(db)
    async with db.begin() as conn:
        await conn.execute(
            text(
                "TRUNCATE call_legs, calls, agent_state_changes, queue_calls, agents "
                "RESTART IDENTITY CASCADE"
            )
        )
        for n in range(AGENTS):
            await conn.execute(
                text(
                    "INSERT INTO agents (id, name, endpoint, active, created_at) "
                    "VALUES (:id, :id, :id, true, now())"
                ),
                {"id": f"a{n:03d}"},
            )
    await db.dispose()


async def one_per_transaction(url: str, calls: int) -> tuple[float, float]:
    """Before: each record its own transaction, in order."""
    await setup(url)
    db = make_engine(url)
    sessions = make_sessions(db)
    calls_repo, seats = CallRepository(sessions), SeatRepository(sessions)
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(calls):
        for kind, item in call_jobs(i):
            if kind == "call":
                await calls_repo.save([item])  # type: ignore[list-item]
            elif kind == "queued_call":
                await seats.save_queued([item])  # type: ignore[list-item]
            else:
                await seats.record([item])  # type: ignore[list-item]
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await db.dispose()
    return calls / elapsed, cpu / calls


async def batching_writer(url: str, calls: int, spool_dir: Path) -> tuple[float, float]:
    """Now: the writer, journalled, many records per transaction."""
    await setup(url)
    db = make_engine(url)
    writer = Writer(make_sessions(db), SINKS, Spool(spool_dir / "spool.sqlite3"))
    await writer.start()
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(calls):
        for kind, item in call_jobs(i):
            writer.submit(kind, item)
        if i % 50 == 0:
            await asyncio.sleep(0)  # calls arrive over time, not in one burst
    await writer.drained(600)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await writer.stop(10)
    await db.dispose()
    return calls / elapsed, cpu / calls


async def paced_writer(
    url: str, rate: float, seconds: float, spool_dir: Path
) -> tuple[float, float, float]:
    """The writer fed as calls arrive at `rate` calls/s for `seconds`: each call's records come
    when they happen (queued and ringing at once, answered 0.2 s later, ended after 2 s of
    talk). Returns the writer lag (age of the oldest record not yet written) p99 and max,
    sampled every 50 ms, and how long after the last record it was all written."""
    await setup(url)
    db = make_engine(url)
    writer = Writer(make_sessions(db), SINKS, Spool(spool_dir / "paced.sqlite3"))
    await writer.start()
    jobs = [call_jobs(i) for i in range(int(rate * seconds))]
    # (when, records): the first four at arrival, three on answer, four at the end
    timeline = sorted(
        [(i / rate, job[:4]) for i, job in enumerate(jobs)]
        + [(i / rate + 0.2, job[4:7]) for i, job in enumerate(jobs)]
        + [(i / rate + 2.2, job[7:]) for i, job in enumerate(jobs)],
        key=lambda item: item[0],
    )
    lags: list[float] = []

    async def sample() -> None:
        while True:
            lags.append(writer.status().lag_seconds)
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    for at, records in timeline:
        delay = at - (time.perf_counter() - started)
        if delay > 0:
            await asyncio.sleep(delay)
        for kind, item in records:
            writer.submit(kind, item)
    last = time.perf_counter()
    await writer.drained(600)
    drained = time.perf_counter() - last
    sampler.cancel()
    await writer.stop(10)
    await db.dispose()
    ordered = sorted(lags)
    return ordered[int(0.99 * (len(ordered) - 1))], ordered[-1], drained


async def run(calls: int = 2_000, baseline_calls: int = 300) -> None:
    name = f"cc_bench_writer_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    host = ADMIN.split("@", 1)[1].rsplit("/", 1)[0]
    user = ADMIN.split("//", 1)[1].split("@", 1)[0]
    url = f"postgresql+asyncpg://{user}@{host}/{name}"
    try:
        base = await one_per_transaction(url, baseline_calls)
        with tempfile.TemporaryDirectory() as spool_dir:
            ours = await batching_writer(url, calls, Path(spool_dir))
            paced = await paced_writer(url, 200, 10, Path(spool_dir))
    finally:
        admin = await asyncpg.connect(ADMIN)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
    print("writer drain rate, PostgreSQL, 11 records per answered call:")
    print(
        f"  one transaction per record: {base[0]:8.0f} calls/s, "
        f"engine CPU {base[1] * 1e3:.2f} ms/call ({baseline_calls} calls)"
    )
    print(
        f"  batching writer (journalled): {ours[0]:6.0f} calls/s, "
        f"engine CPU {ours[1] * 1e3:.2f} ms/call ({calls} calls)"
    )
    print(f"  ratio {ours[0] / base[0]:.1f}x (CPU per call x{ours[1] / base[1]:.2f})")
    print(
        f"  paced at 200 calls/s for 10 s: writer lag p99 {paced[0]:.2f} s, max {paced[1]:.2f} s; "
        f"all written {paced[2]:.2f} s after the last record"
    )
    print(f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
