"""Voicemail filing on PostgreSQL: linked to its call, retried through an outage, recovered."""

from __future__ import annotations

import asyncio
import math
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.app import utcnow
from callcenter.domain.calls import CallRecord
from callcenter.domain.tickets import Source, Status
from callcenter.services.tickets import TicketService
from callcenter.services.voicemail import VoicemailDesk
from callcenter.speech.transcription import Transcriber
from callcenter.storage.calendar_files import DEFAULT_CALENDAR_DIR, load_calendar
from callcenter.storage.calls import CallRepository
from callcenter.storage.db import make_engine, make_sessions, migrate
from callcenter.storage.ticket_tables import TicketRow
from callcenter.storage.tickets import TicketRepository


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(pg_url)
    await migrate(engine)
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE tickets, calls RESTART IDENTITY CASCADE"))
    try:
        yield engine
    finally:
        await engine.dispose()


def message(path: Path, seconds: float = 1.0) -> Path:
    """An 8 kHz mono recording as Asterisk leaves it."""
    frames = b"".join(
        struct.pack("<h", int(3000 * math.sin(2 * math.pi * 220 * n / 8000)))
        for n in range(int(8000 * seconds))
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(frames)
    return path


async def drafts(engine: AsyncEngine) -> list[tuple[str, str, int | None, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                TicketRow.status,
                TicketRow.caller_phone,
                TicketRow.call_id,
                TicketRow.recording,
                TicketRow.source,
            ).order_by(TicketRow.id)
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


class FlakyTickets:
    """The real repository behind a database that is down for the first `failures` writes."""

    def __init__(self, real: TicketService, failures: int) -> None:
        self.real = real
        self.failures = failures

    async def create(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("database is down")
        return await self.real.create(*args, **kwargs)  # type: ignore[arg-type]

    async def filed_recordings(self, paths: list[str]) -> set[str]:
        return await self.real.filed_recordings(paths)


async def test_a_message_is_linked_to_its_call_and_survives_an_outage(
    db: AsyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = CallRepository(make_sessions(db))
    await calls.save(
        [CallRecord("1795.7", "1795.7", "13900001111", "", "12345", "trunk", utcnow())]
    )
    found = await calls.caller_of("1795.7")
    assert found is not None
    call_id = found[0]
    repo = TicketService(
        TicketRepository(make_sessions(db)), load_calendar(DEFAULT_CALENDAR_DIR), utcnow
    )
    call_of = calls.caller_of

    flaky = FlakyTickets(repo, failures=2)
    desk = VoicemailDesk(flaky, Transcriber(None), call_of, retry_max_seconds=0.2)  # type: ignore[arg-type]
    await desk("1795.7", "13900001111", str(message(tmp_path / "1795.7.wav")))
    await asyncio.wait_for(desk.drained(), timeout=20)

    [(status, phone, linked, recording, source)] = await drafts(db)
    assert (status, phone, linked, source) == (
        Status.DRAFT.value,
        "13900001111",
        call_id,
        Source.VOICEMAIL.value,
    )
    assert recording == str(tmp_path / "1795.7.norm.wav")
    assert sum("could not file the voicemail" in r.getMessage() for r in caplog.records) == 2


async def test_messages_never_filed_are_filed_at_the_next_start(
    db: AsyncEngine, tmp_path: Path
) -> None:
    repo = TicketService(
        TicketRepository(make_sessions(db)), load_calendar(DEFAULT_CALENDAR_DIR), utcnow
    )

    async def call_of(linkedid: str) -> tuple[int, str] | None:
        return None  # the call record is gone too: the message still becomes a draft

    desk = VoicemailDesk(repo, Transcriber(None), call_of)
    await desk("1795.1", "13900002222", str(message(tmp_path / "1795.1.wav")))
    await desk.drained()
    message(tmp_path / "1795.2.wav")  # recorded, then the engine stopped before filing it

    assert await desk.recover(tmp_path) == 1
    await desk.drained()
    assert await desk.recover(tmp_path) == 0  # filed once, never twice
    rows = await drafts(db)
    assert [(r[1], Path(r[3]).name) for r in rows] == [
        ("13900002222", "1795.1.norm.wav"),
        ("", "1795.2.norm.wav"),
    ]
