"""The ticket archive on both backends: tickets closed long ago move with their history, in
batches, all or nothing, and stay readable and searchable by the center (issue 17)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import Forbidden, NotFound
from callcenter.domain.tickets import CallbackResult, Status, Ticket
from callcenter.storage import ticket_archive
from callcenter.storage.db import make_sessions
from callcenter.storage.ticket_archive import TicketArchive
from callcenter.storage.tickets import TicketQuery, TicketRepository
from tests.storage.test_tickets_scale import (
    AGENT,
    CN,
    Clock,
    database_url,
    details,
    engine,
    repository,
)

__all__ = ["database_url", "engine"]  # the fixtures, shared with the scale tests

CENTER = Principal(2, "center", Role.SUPERVISOR)
DEPARTMENT = Principal(3, "water", Role.DEPARTMENT, "water")
START = datetime(2025, 1, 6, 9, tzinfo=CN)


async def _answered(repo: TicketRepository, content: str, phone: str) -> Ticket:
    """A ticket answered on the spot, then called back satisfied: resolved, with history."""
    ticket, _ = await repo.create(details(content, phone=phone), AGENT)
    assert ticket.id is not None
    await repo.act(ticket.id, AGENT, lambda w, t, now: w.answer(t, "已答复", AGENT, now))
    return await repo.act(
        ticket.id,
        AGENT,
        lambda w, t, now: w.record_callback(t, CallbackResult.SATISFIED, "满意", AGENT, now),
    )


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    tables = ("tickets", "tickets_archive", "ticket_events", "ticket_events_archive")
    tables += ("ticket_callbacks", "ticket_callbacks_archive")
    async with engine.connect() as conn:
        return {t: int(await conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in tables}


async def test_closed_tickets_move_to_the_archive_and_stay_readable(engine: AsyncEngine) -> None:
    clock = Clock(START)
    repo = repository(engine, clock)
    old = await _answered(repo, "小区楼下烧烤店油烟扰民", "13800000001")
    refused, _ = await repo.create(details("油烟问题不属于受理范围", phone="13800000002"), AGENT)
    assert refused.id is not None and old.id is not None
    await repo.act(refused.id, AGENT, lambda w, t, now: w.not_accept(t, "不属于", AGENT, now))
    still_open, _ = await repo.create(details("油烟仍在", phone="13800000003"), AGENT)
    clock.now = START + timedelta(days=100)
    recent = await _answered(repo, "油烟又来了", "13800000004")
    assert old.status is Status.RESOLVED and recent.id is not None and still_open.id is not None
    before = await _counts(engine)
    old_events = await repo.events(old.id, CENTER)

    archive = TicketArchive(make_sessions(engine), clock, after_days=30, batch=1)
    done = await archive.run()
    # the two closed more than 30 days ago, one per batch; the open and the recent one stay
    assert (done.moved, done.batches) == (2, 2)
    after = await _counts(engine)
    assert after["tickets"] == before["tickets"] - 2 and after["tickets_archive"] == 2
    assert after["ticket_events"] + after["ticket_events_archive"] == before["ticket_events"]
    assert after["ticket_callbacks_archive"] == 1
    assert after["ticket_callbacks"] + 1 == before["ticket_callbacks"]
    # running again moves nothing more
    assert (await archive.run()).moved == 0
    assert await _counts(engine) == after

    # read by id, by number, its trail, by the citizen's query code: as before the move
    again = await repo.get(old.id, CENTER)
    assert again == old
    assert await repo.events(old.id, CENTER) == old_events
    assert await repo.lookup(old.query_code, "13800000001") == old
    by_number = await repo.page(TicketQuery(number=old.number), CENTER)
    assert [t.id for t in by_number.items] == [old.id]
    # searches leave the archive out unless asked; asked, the pages merge newest first
    hot = await repo.page(TicketQuery(text="油烟"), CENTER)
    assert [t.id for t in hot.items] == [recent.id, still_open.id]
    both = await repo.page(TicketQuery(text="油烟", archive=True), CENTER)
    assert [t.id for t in both.items] == [recent.id, still_open.id, refused.id, old.id]
    assert both.total == 4
    paged = await repo.page(TicketQuery(text="油烟", archive=True, limit=2, offset=2), CENTER)
    assert [t.id for t in paged.items] == [refused.id, old.id]
    first = await repo.page(TicketQuery(text="油烟", archive=True, limit=3), CENTER)
    assert first.next_cursor is not None
    rest = await repo.page(
        TicketQuery(text="油烟", archive=True, limit=3, cursor=first.next_cursor), CENTER
    )
    assert [t.id for t in rest.items] == [old.id]
    with pytest.raises(Forbidden):
        await repo.page(TicketQuery(text="油烟", archive=True), DEPARTMENT)
    # archived tickets are read-only: a step finds no ticket to change
    with pytest.raises(NotFound):
        await repo.act(old.id, AGENT, lambda w, t, now: w.archive(t, AGENT, now))


async def test_a_failed_batch_moves_nothing(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(START)
    repo = repository(engine, clock)
    old = await _answered(repo, "路灯不亮", "13800000001")
    clock.now = START + timedelta(days=60)
    before = await _counts(engine)
    copy = ticket_archive._copy
    calls = 0

    async def crash_midway(*args: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:  # the ticket and its events copied, then the process dies
            raise RuntimeError("crash")
        await copy(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ticket_archive, "_copy", crash_midway)
    archive = TicketArchive(make_sessions(engine), clock, after_days=30)
    with pytest.raises(RuntimeError):
        await archive.run()
    assert await _counts(engine) == before  # every ticket in exactly one place
    monkeypatch.setattr(ticket_archive, "_copy", copy)
    assert (await archive.run()).moved == 1
    assert old.id is not None and (await repo.get(old.id, CENTER)) == old
