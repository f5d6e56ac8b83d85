"""How the writer stores call records: runs of whole-state snapshots merged by linkedid, a blank
never overwriting a known value, legs added and updated and never removed. Checked against the
rule written out as plain Python, on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.domain.calls import (
    CallOutcome,
    CallRecord,
    Direction,
    Disposition,
    EndedBy,
    HandledBy,
    Leg,
)
from callcenter.storage.calls import to_record, write_calls
from callcenter.storage.db import make_engine, make_sessions, migrate
from callcenter.storage.models import Call

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass
class Stored:
    """The reference: what a call's row holds after each snapshot, by the rule."""

    values: dict[str, Any] = field(default_factory=dict)
    legs: dict[str, Leg] = field(default_factory=dict)


def merge(stored: Stored | None, record: CallRecord) -> Stored:
    old = stored.values if stored else {}

    def text_kept(name: str) -> str:
        return str(getattr(record, name) or old.get(name) or "")

    cleared = record.outcome is not None and record.outcome is not CallOutcome.AGENT
    values = {
        "uniqueid": record.uniqueid,
        "caller_number": text_kept("caller_number"),
        "caller_name": text_kept("caller_name"),
        "dialed_number": text_kept("dialed_number"),
        "trunk": text_kept("trunk"),
        "entered_at": record.entered_at,
        "answered_at": record.answered_at or old.get("answered_at"),
        "ended_at": record.ended_at,
        "disposition": record.disposition,
        "hangup_cause": (
            record.hangup_cause if record.hangup_cause is not None else old.get("hangup_cause")
        ),
        "hangup_cause_text": text_kept("hangup_cause_text"),
        "handled_by": record.handled_by or old.get("handled_by"),
        "end_estimated": record.end_estimated,
        "recording": "" if cleared else text_kept("recording"),
        "ended_by": record.ended_by or old.get("ended_by"),
        "direction": record.direction,
        "outcome": record.outcome or old.get("outcome"),
        "queued_at": record.queued_at or old.get("queued_at"),
        "agent_answered_at": (
            record.agent_answered_at if record.outcome else old.get("agent_answered_at")
        ),
    }
    legs = dict(stored.legs) if stored else {}
    legs.update({leg.uniqueid: leg for leg in record.legs})
    return Stored(values, legs)


def snapshot(rng: random.Random, linkedid: str) -> CallRecord:
    def when() -> datetime | None:
        return rng.choice([None, T0 + timedelta(seconds=rng.randint(0, 600))])

    def word(*words: str) -> str:
        return rng.choice(["", *words])

    legs = tuple(
        Leg(f"{linkedid}.{n}", f"PJSIP/{word('a', 'b') or 'x'}-{n}", T0, when(), when(),
            rng.choice([None, 16, 17]))
        for n in rng.sample(range(3), rng.randint(0, 3))
    )  # fmt: skip
    return CallRecord(
        linkedid=linkedid,
        uniqueid=linkedid,
        caller_number=word("13900000001", "13900000002"),
        caller_name=word("王芳", "李雷"),
        dialed_number=word("12345"),
        trunk=word("trunk"),
        entered_at=T0 + timedelta(seconds=rng.randint(0, 60)),
        answered_at=when(),
        ended_at=when(),
        disposition=rng.choice(list(Disposition)),
        hangup_cause=rng.choice([None, 0, 16]),
        hangup_cause_text=word("Normal Clearing"),
        handled_by=rng.choice([None, *HandledBy]),
        end_estimated=rng.random() < 0.3,
        legs=legs,
        recording=word("/rec/a.wav", "/rec/b.wav"),
        ended_by=rng.choice([None, *EndedBy]),
        direction=rng.choice(list(Direction)),
        outcome=rng.choice([None, None, CallOutcome.AGENT, CallOutcome.ABANDONED_QUEUE]),
        queued_at=when(),
        agent_answered_at=when(),
    )


async def check_against_the_rule(engine: AsyncEngine, seed: int) -> None:
    rng = random.Random(seed)
    sessions = make_sessions(engine)
    expected: dict[str, Stored] = {}
    for _ in range(40):
        run = [snapshot(rng, f"{seed}.{rng.randint(1, 4)}") for _ in range(rng.randint(1, 5))]
        async with sessions.begin() as session:
            await write_calls(session, run)
        # of several snapshots of one call in a run, the last one is written
        for record in {record.linkedid: record for record in run}.values():
            expected[record.linkedid] = merge(expected.get(record.linkedid), record)
        async with sessions() as session:
            rows = (await session.scalars(select(Call))).all()
            stored = {row.linkedid: to_record(row) for row in rows}
        assert set(stored) == set(expected)
        for linkedid, want in expected.items():
            got = stored[linkedid]
            for name, value in want.values.items():
                assert getattr(got, name) == value, (linkedid, name)
            assert sorted(got.legs, key=lambda leg: leg.uniqueid) == [
                want.legs[key] for key in sorted(want.legs)
            ]


@pytest.mark.parametrize("seed", range(3))
async def test_call_snapshots_merge_by_the_rule_on_sqlite(seed: int, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}")
    await migrate(engine)
    try:
        await check_against_the_rule(engine, seed)
    finally:
        await engine.dispose()


async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(pg_url)
    await migrate(engine)
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE call_legs, calls RESTART IDENTITY CASCADE"))
    yield engine
    await engine.dispose()


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[AsyncEngine]:
    async for engine in pg_engine(pg_url):
        yield engine


@pytest.mark.parametrize("seed", range(3))
async def test_call_snapshots_merge_by_the_rule_on_postgresql(seed: int, pg: AsyncEngine) -> None:
    await check_against_the_rule(pg, seed)
