"""The engine's writer on a real (SQLite) database: batches, transient failures retried in
order, refused records set aside and replayed, the journal taken back at start."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from callcenter.domain.calls import CallRecord, Disposition, HandledBy, Leg
from callcenter.domain.errors import StorageBehind
from callcenter.domain.metrics import Outcome, QueuedCall, Rating
from callcenter.domain.seats import SeatState, Transition
from callcenter.services.writer import Writer, is_transient, replay_dead_letters
from callcenter.storage.codec import decode, encode
from callcenter.storage.db import make_engine, make_sessions, migrate
from callcenter.storage.routing_tables import AgentStateRow, CallbackRequestRow
from callcenter.storage.seats import CallbackAsked, RatingGiven, SeatRepository
from callcenter.storage.spool import Spool
from callcenter.storage.writes import SINKS, Sink

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    async def count(self, table: type[Any]) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}")
    await migrate(engine)
    async with engine.begin() as conn:  # seat history refers to agents
        await conn.execute(
            text(
                "INSERT INTO agents (id, name, endpoint, active, created_at) "
                "VALUES ('a1', 'A', 'ep-a1', true, '2026-01-01 00:00:00')"
            )
        )
    yield Database(engine, make_sessions(engine))
    await engine.dispose()


def transition(i: int) -> Transition:
    state = SeatState.READY if i % 2 else SeatState.PAUSED
    return Transition("a1", state, T0 + timedelta(seconds=i), "break" if i % 2 == 0 else "")


def test_records_survive_the_journal_form_unchanged() -> None:
    record = CallRecord(
        linkedid="1.1",
        uniqueid="1.1",
        caller_number="13900000001",
        caller_name="王芳",
        dialed_number="12345",
        trunk="trunk",
        entered_at=T0,
        answered_at=T0 + timedelta(seconds=2),
        disposition=Disposition.ANSWERED,
        handled_by=HandledBy.ENGINE,
        legs=(Leg("1.1", "PJSIP/trunk-1", T0, hangup_cause=16),),
    )
    queued = QueuedCall(
        "1.1", "139", "q", {"lang:mandarin": 3}, 1, T0, Outcome.ANSWERED,
        missed_by=("a2",), rating=Rating.SATISFIED,
    )  # fmt: skip
    for item in (record, queued, transition(1)):
        assert decode(type(item), json.loads(json.dumps(encode(item)))) == item


async def test_many_records_go_in_few_transactions(db: Database, tmp_path: Path) -> None:
    transactions = 0

    async def counted(session: AsyncSession, items: Sequence[Any]) -> None:
        nonlocal transactions
        transactions += 1
        await SINKS["seat_state"].write(session, items)

    sinks = {**SINKS, "seat_state": Sink("seat_state", Transition, counted)}
    writer = Writer(db.sessions, sinks, Spool(tmp_path / "spool"), batch_rows=400)
    await writer.start()
    writer.submit_many("seat_state", [transition(i) for i in range(1000)])
    await writer.drained(10)
    assert await db.count(AgentStateRow) == 1000
    assert transactions <= 4
    async with db.sessions() as session:
        ats = (await session.scalars(select(AgentStateRow.at).order_by(AgentStateRow.id))).all()
    assert [at.replace(tzinfo=UTC) for at in ats] == [transition(i).at for i in range(1000)]
    report = await writer.stop(5)
    assert report.left == 0


async def test_a_refused_record_is_set_aside_and_the_next_ones_are_written(
    db: Database, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    writer = Writer(db.sessions, SINKS, spool)
    await writer.start()
    asked = CallbackAsked("9.9", "13900000009", "q", T0)
    writer.submit("callback", asked)
    writer.submit("seat_state", transition(1))
    writer.submit("callback", asked)  # the same call twice: the unique linkedid refuses it
    writer.submit("seat_state", transition(2))
    await writer.drained(5)
    assert await db.count(AgentStateRow) == 2
    assert await db.count(CallbackRequestRow) == 1
    assert writer.status().dead_letters == 1
    [letter] = spool.dead_letters()
    assert letter.kind == "callback" and "IntegrityError" in letter.error
    assert decode(CallbackAsked, json.loads(letter.payload)) == asked

    # the operator removes the first request; replaying the letter then writes it
    async with db.sessions.begin() as session:
        await session.execute(text("DELETE FROM callback_requests"))
    assert await replay_dead_letters(db.sessions, SINKS, spool) == [(letter.id, None)]
    assert spool.dead_letters() == [] and await db.count(CallbackRequestRow) == 1
    await writer.stop(5)


async def test_a_transient_failure_is_retried_in_order(db: Database, tmp_path: Path) -> None:
    failures = 2

    async def flaky(session: AsyncSession, items: Sequence[Any]) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise OperationalError("INSERT", {}, ConnectionResetError("connection lost"))
        await SINKS["seat_state"].write(session, items)

    sinks = {**SINKS, "seat_state": Sink("seat_state", Transition, flaky)}
    writer = Writer(db.sessions, sinks, Spool(tmp_path / "spool"), retry_seconds=0.05)
    await writer.start()
    writer.submit_many("seat_state", [transition(i) for i in range(5)])
    await writer.drained(5)
    assert writer.status().dead_letters == 0
    async with db.sessions() as session:
        ats = (await session.scalars(select(AgentStateRow.at).order_by(AgentStateRow.id))).all()
    assert [at.replace(tzinfo=UTC) for at in ats] == [transition(i).at for i in range(5)]
    await writer.stop(5)


async def test_nothing_waits_without_a_deadline_and_the_journal_outlives_the_writer(
    db: Database, tmp_path: Path
) -> None:
    # a database that cannot be reached: the writer keeps the records in its journal
    (tmp_path / "a-file").write_text("")
    dead = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'a-file' / 'cc.sqlite3'}")
    unreachable = make_sessions(dead)
    writer = Writer(unreachable, SINKS, Spool(tmp_path / "spool"), retry_seconds=0.05)
    await writer.start()
    writer.submit_many("seat_state", [transition(i) for i in range(3)])
    with pytest.raises(StorageBehind, match="not yet in the database"):
        await writer.drained(0.5)
    assert writer.status().failing is not None and writer.status().lag_seconds > 0.4
    report = await writer.stop(0.2)
    assert report.left == 3
    await dead.dispose()

    # the next start (database back) writes what the journal held
    again = Writer(db.sessions, SINKS, Spool(tmp_path / "spool"))
    await again.start()
    assert again.replayed == 3
    await again.drained(5)
    assert await db.count(AgentStateRow) == 3
    await again.stop(5)


def test_what_counts_as_transient() -> None:
    assert is_transient(OperationalError("SELECT 1", {}, OSError("refused")))
    assert is_transient(ConnectionRefusedError())
    assert is_transient(TimeoutError())
    assert not is_transient(ValueError("bad"))


async def test_a_queued_call_is_upserted_and_keeps_its_rating(db: Database, tmp_path: Path) -> None:
    writer = Writer(db.sessions, SINKS, Spool(tmp_path / "spool"))
    await writer.start()
    queued = QueuedCall("7.1", "139", "q", {"lang:mandarin": 1}, 0, T0)
    answered = replace(queued, outcome=Outcome.ANSWERED, agent_id="a1", agent_answered_at=T0)
    writer.submit_many("queued_call", [queued, answered])
    await writer.drained(5)
    writer.submit("rating", RatingGiven("7.1", Rating.SATISFIED))
    await writer.drained(5)
    writer.submit("queued_call", replace(answered, ended_at=T0 + timedelta(seconds=60)))
    await writer.drained(5)
    [stored] = await SeatRepository(db.sessions).queued(T0, T0 + timedelta(hours=1))
    assert stored == replace(answered, ended_at=T0 + timedelta(seconds=60), rating=Rating.SATISFIED)
    await writer.stop(5)
