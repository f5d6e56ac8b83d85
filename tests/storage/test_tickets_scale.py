"""Tickets at scale on both backends: two-character Chinese search through the gram index, the
search budget, keyset cursors and capped totals (issue 17)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.api.errors import STATUS_BY_CODE
from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import InvalidInput, SearchBudgetExceeded
from callcenter.domain.ticket_search import grams, term_grams
from callcenter.domain.tickets import Category, TicketDetails
from callcenter.services.tickets import TicketService
from callcenter.storage import tickets as ticket_storage
from callcenter.storage.calendar_files import DEFAULT_CALENDAR_DIR, load_calendar
from callcenter.storage.db import make_engine, make_sessions, migrate
from callcenter.storage.tickets import TicketQuery, TicketRepository

CN = ZoneInfo("Asia/Shanghai")
AGENT = Principal(1, "agent", Role.AGENT)
CONTENTS = [
    "小区楼下烧烤店油烟扰民，晚上十点后仍在营业",
    "夜间施工噪音扰民，凌晨两点还在打桩",
    "饭店油烟机噪音大",
    "路灯不亮，晚上很黑",
    "WiFi signal in the Library is weak",
]
TRUNCATE = (
    "TRUNCATE tickets, ticket_figures, ticket_counters, ticket_events, tickets_archive, "
    "ticket_events_archive, "
    "ticket_assignments_archive, ticket_extensions_archive, ticket_callbacks_archive "
    "RESTART IDENTITY CASCADE"
)
# every row holds the pairs 甲乙 and 乙丁 but never the term 甲乙丁: the gram index hands all of
# them to the re-check, the slowest search there is
SLOW_CONTENT = "甲乙丙 乙丁 "
SLOW_TERM = "甲乙丁"
ROWS = 200_000


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.db), "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    made = make_engine(database_url)
    try:
        await migrate(made)
        if made.dialect.name == "postgresql":
            async with made.begin() as conn:
                await conn.execute(text(TRUNCATE))
        yield made
    finally:
        await made.dispose()


def repository(engine: AsyncEngine, clock: Clock, budget_ms: int = 3_000) -> TicketService:
    calendar = load_calendar(DEFAULT_CALENDAR_DIR)
    stored = TicketRepository(make_sessions(engine), search_budget_ms=budget_ms)
    return TicketService(stored, calendar, clock)


def details(content: str, phone: str = "13812345678") -> TicketDetails:
    return TicketDetails(caller_phone=phone, category=Category.COMPLAINT, content=content)


def test_grams_are_characters_and_pairs() -> None:
    assert grams("油烟A") == {"油", "烟", "a", "油烟", "烟a"}
    assert term_grams("油烟") == ["油烟"]
    assert term_grams("烟") == ["烟"]
    assert term_grams("油烟机") == ["油烟", "烟机"]


async def test_one_and_two_character_chinese_search(engine: AsyncEngine) -> None:
    repo = repository(engine, Clock(datetime(2026, 4, 1, 9, tzinfo=CN)))
    for i, content in enumerate(CONTENTS):
        await repo.create(details(content, phone=f"1380000000{i}"), AGENT)

    async def found(words: str) -> list[str]:
        _, hits = await repo.search(TicketQuery(text=words, sort="number"), AGENT)
        return [t.details.content for t in hits]

    assert await found("油烟") == [CONTENTS[0], CONTENTS[2]]
    assert await found("噪音") == [CONTENTS[1], CONTENTS[2]]
    assert await found("桩") == [CONTENTS[1]]
    assert await found("油烟 噪音") == [CONTENTS[2]]
    assert await found("油烟机") == [CONTENTS[2]]
    assert await found("烟油") == []
    assert await found("library WIFI") == [CONTENTS[4]]
    # an edit re-indexes the content
    first = (await repo.search(TicketQuery(text="路灯"), AGENT))[1][0]
    assert first.id is not None
    await repo.edit(first.id, {"content": "井盖缺失"}, Principal(2, "center", Role.SUPERVISOR))
    assert await found("路灯") == []
    assert await found("井盖") == ["井盖缺失"]
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(
                (
                    await conn.execute(
                        text(
                            "EXPLAIN SELECT id FROM tickets "
                            "WHERE ticket_grams(content) @> ARRAY['油烟']"
                        )
                    )
                ).scalars()
            )
        assert "ix_tickets_content_grams" in plan


async def _fill(engine: AsyncEngine, rows: int) -> None:
    columns = (
        "number, query_code, source, recording, caller_name, caller_phone, address, "
        "address_key, area, content, urgency, confidential, status, resolution, reply, "
        "created_at, created_by, updated_at, redo_count, rework_count"
    )
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(
                text(
                    f"INSERT INTO tickets ({columns}) SELECT 'S' || g, '000000', 'call', '', '', "
                    f"'139' || g, '', '', '', '{SLOW_CONTENT}' || g, 'normal', false, "
                    "'resolved', '', '', now() - g * interval '1 second', 'test', now(), 0, 0 "
                    "FROM generate_series(1, :rows) AS g"
                ),
                {"rows": rows},
            )
            await conn.execute(text("ANALYZE tickets"))
            return
        await conn.execute(
            text(
                "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :rows) "
                f"INSERT INTO tickets ({columns}) SELECT 'S' || g, '000000', 'call', '', '', "
                f"'139' || g, '', '', '', '{SLOW_CONTENT}' || g, 'normal', 0, 'resolved', '', '', "
                "datetime('2026-01-01', '-' || g || ' seconds'), 'test', "
                "'2026-01-01 00:00:00', 0, 0 FROM s"
            ),
            {"rows": rows},
        )
        await conn.execute(
            text("INSERT INTO ticket_fts(rowid, grams) SELECT id, :grams FROM tickets"),
            {"grams": " ".join(sorted(grams(SLOW_CONTENT)))},
        )


async def test_a_search_over_the_budget_answers_a_clear_error(engine: AsyncEngine) -> None:
    await _fill(engine, ROWS)
    clock = Clock(datetime(2026, 4, 1, 9, tzinfo=CN))
    roomy = repository(engine, clock, budget_ms=60_000)
    assert await roomy.search(TicketQuery(text=SLOW_TERM), AGENT) == (0, [])
    tight = repository(engine, clock, budget_ms=1)
    with pytest.raises(SearchBudgetExceeded, match="budget of 1 ms"):
        await tight.search(TicketQuery(text=SLOW_TERM), AGENT)
    assert STATUS_BY_CODE[SearchBudgetExceeded.code] == 503
    # the budget ended that search only: the next one runs
    total, hits = await roomy.search(TicketQuery(text="乙丁", limit=2), AGENT)
    assert len(hits) == 2 and total > 2


async def test_keyset_cursor_pages_and_the_capped_total(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime(2026, 4, 1, 9, tzinfo=CN)
    clock = Clock(start)
    repo = repository(engine, clock)
    for i in range(7):
        # two tickets share each instant: the id breaks the tie
        clock.now = start + timedelta(minutes=i // 2)
        await repo.create(details(f"工单 {i}"), AGENT)
    everything = await repo.page(TicketQuery(limit=50), AGENT)
    expected = [t.number for t in everything.items]
    assert len(expected) == 7 and everything.next_cursor is None
    for sort in ("-created_at", "created_at"):
        seen: list[str] = []
        cursor = None
        while True:
            page = await repo.page(TicketQuery(limit=3, sort=sort, cursor=cursor), AGENT)
            seen += [t.number for t in page.items]
            assert page.total == 7 and not page.capped
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == (expected if sort.startswith("-") else expected[::-1])
        offset_pages = [
            t.number
            for offset in (0, 3, 6)
            for t in (await repo.page(TicketQuery(limit=3, sort=sort, offset=offset), AGENT)).items
        ]
        assert offset_pages == seen
    first = await repo.page(TicketQuery(limit=3), AGENT)
    assert first.next_cursor is not None
    with pytest.raises(InvalidInput, match="another sort"):
        await repo.page(TicketQuery(limit=3, sort="created_at", cursor=first.next_cursor), AGENT)
    with pytest.raises(InvalidInput, match="cursor"):
        await repo.page(TicketQuery(limit=3, cursor="bm90LWEtY3Vyc29y"), AGENT)
    monkeypatch.setattr(ticket_storage, "TOTAL_CAP", 5)
    capped = await repo.page(TicketQuery(limit=2), AGENT)
    assert (capped.total, capped.capped, len(capped.items)) == (5, True, 2)


@pytest.mark.parametrize("window", [1, 3, 1000])
async def test_a_common_term_pages_the_same_from_the_first_rows_or_the_index(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    """Past the search cap a term's page is first looked for among the first rows of the order
    (WALK_WINDOW), then in the gram index: either way the same pages, newest first."""
    start = datetime(2026, 4, 1, 9, tzinfo=CN)
    clock = Clock(start)
    repo = repository(engine, clock)
    for i in range(9):
        clock.now = start + timedelta(minutes=i)
        await repo.create(details("油烟扰民" if i % 3 else "路灯不亮"), AGENT)
    expected = [t.id for t in (await repo.page(TicketQuery(text="油烟"), AGENT)).items]
    assert len(expected) == 6
    monkeypatch.setattr(ticket_storage, "SEARCH_TOTAL_CAP", 2)
    monkeypatch.setattr(ticket_storage, "WALK_WINDOW", window)
    for sort in ("-created_at", "created_at"):
        seen: list[int | None] = []
        cursor = None
        while True:
            page = await repo.page(
                TicketQuery(text="油烟", limit=2, sort=sort, cursor=cursor), AGENT
            )
            assert (page.total, page.capped) == (2, True)
            seen += [t.id for t in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == (expected if sort.startswith("-") else expected[::-1])
    offset = await repo.page(TicketQuery(text="油烟", limit=2, offset=2), AGENT)
    assert [t.id for t in offset.items] == expected[2:4]


@pytest.mark.parametrize(
    ("sample", "walk"),
    # with a cap of 5 (6 matches make "5+"): (4, 16) walks 油烟 to 6 matches; (4, 12) walks
    # 井盖, dense in the newest rows, and falls short (the index counts it); (30, 30) finds 6 in
    # the sample; (1, 3) leaves every term to the index
    [(4, 16), (4, 12), (30, 30), (1, 3)],
    ids=["walked", "walk-falls-short", "sample-holds-the-cap", "index"],
)
async def test_a_terms_total_is_the_same_from_the_newest_rows_or_the_index(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, sample: int, walk: int
) -> None:
    """A common term's total may be counted in the newest rows (PostgreSQL), a rarer one by
    the gram index: whichever way, the same capped totals, for Chinese and cased terms."""
    start = datetime(2026, 4, 1, 9, tzinfo=CN)
    clock = Clock(start)
    repo = repository(engine, clock)
    # 油烟 in every other ticket, WiFi in one in three (cased), 井盖 in the newest three and
    # the oldest five
    for i in range(30):
        clock.now = start + timedelta(minutes=i)
        words = ["油烟扰民" if i % 2 else "路灯不亮", "WiFi 弱" if i % 3 == 0 else ""]
        if i < 5 or i >= 27:
            words.append("井盖缺失")
        await repo.create(details("，".join(words)), AGENT)
    monkeypatch.setattr(ticket_storage, "SEARCH_TOTAL_CAP", 5)
    monkeypatch.setattr(ticket_storage, "COUNT_SAMPLE", sample)
    monkeypatch.setattr(ticket_storage, "COUNT_WALK", walk)
    for term, matches in (("油烟", 15), ("wifi", 10), ("WIFI 弱", 10), ("井盖", 8), ("烟油", 0)):
        page = await repo.page(TicketQuery(text=term, limit=3), AGENT)
        assert (page.total, page.capped) == (min(matches, 5), matches > 5), term
        assert len(page.items) == min(matches, 3), term


QUARTER_HOUR = 15 / 1440  # days


@pytest.mark.parametrize(
    ("window", "recent"),
    [(0, ()), (0, (QUARTER_HOUR,)), (0, (QUARTER_HOUR, 1)), (1_000_000, (QUARTER_HOUR,))],
    ids=["rare-whole", "rare-quarter-hour", "rare-quarter-hour-then-day", "none-rare"],
)
async def test_a_rare_terms_page_counts_its_matches_in_the_same_statement(
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    window: int,
    recent: tuple[float, ...],
) -> None:
    """A term rarer in the newest rows than a page per WALK_WINDOW rows (PostgreSQL) is first
    looked for among the recent days' tickets (RARE_WINDOWS; newest first), then in the gram
    index and counted by its page's statement (count(*) OVER ()): the same pages and capped
    totals, by offset and either order, whether a window holds the page or not."""
    start = datetime(2026, 4, 1, 9, tzinfo=CN)
    clock = Clock(start)
    repo = repository(engine, clock)
    contents = []
    for i in range(30):
        clock.now = start + timedelta(minutes=i)
        words = ["油烟扰民" if i % 2 else "路灯不亮", "WiFi 弱" if i % 3 == 0 else ""]
        if i < 5 or i >= 27:
            words.append("井盖缺失")
        created, _ = await repo.create(details("，".join(words)), AGENT)
        contents.append((created.id, created.details.content.lower()))
    monkeypatch.setattr(ticket_storage, "SEARCH_TOTAL_CAP", 5)
    monkeypatch.setattr(ticket_storage, "WALK_WINDOW", window)
    # tickets a minute apart, the clock at the newest: a quarter of an hour holds 15 of them
    monkeypatch.setattr(ticket_storage, "RARE_WINDOWS", recent)
    # the newest 2 rows sampled, 3 walked: no term's total found there (the index counts)
    monkeypatch.setattr(ticket_storage, "COUNT_SAMPLE", 2)
    monkeypatch.setattr(ticket_storage, "COUNT_WALK", 3)
    for term in ("油烟", "wifi", "井盖", "烟油"):
        oldest_first = [i for i, content in contents if term in content]
        for sort, expected in (("created_at", oldest_first), ("-created_at", oldest_first[::-1])):
            for offset in (0, 3, 7, 40):
                query = TicketQuery(text=term, limit=3, sort=sort, offset=offset)
                page = await repo.page(query, AGENT)
                assert [t.id for t in page.items] == expected[offset : offset + 3], query
                if page.items:
                    assert (page.total, page.capped) == (
                        min(len(expected), 5),
                        len(expected) > 5,
                    ), query


async def test_a_deep_offset_finds_its_first_row_by_the_index_to_the_same_pages(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From DEEP_OFFSET on a page by offset first finds its first row by (created_at, id),
    then continues from it: the same pages as the plain OFFSET, past the end an empty one."""
    start = datetime(2026, 4, 1, 9, tzinfo=CN)
    clock = Clock(start)
    repo = repository(engine, clock)
    for i in range(9):
        # two tickets share each instant: the id breaks the tie
        clock.now = start + timedelta(minutes=i // 2)
        await repo.create(details(f"工单 {i}", phone=f"1380000000{i % 2}"), AGENT)
    queries = [
        {"sort": sort, **extra}
        for sort in ("-created_at", "created_at")
        for extra in ({}, {"phone": "13800000001"})
    ]
    plain = {
        (i, offset): [
            t.id for t in (await repo.page(TicketQuery(limit=2, offset=offset, **q), AGENT)).items
        ]
        for i, q in enumerate(queries)
        for offset in range(0, 11)
    }
    monkeypatch.setattr(ticket_storage, "DEEP_OFFSET", 1)
    for (i, offset), ids in plain.items():
        page = await repo.page(TicketQuery(limit=2, offset=offset, **queries[i]), AGENT)
        assert [t.id for t in page.items] == ids, (queries[i], offset)
    assert plain[(0, 10)] == [] and len(plain[(0, 8)]) == 1


async def test_a_list_page_reads_no_extensions_nor_callbacks(engine: AsyncEngine) -> None:
    """A row of a list shows the ticket and its lead department: the page's statements read the
    tickets and their assignments, never their extensions or callbacks (two round trips per
    page); the ticket's own page still reads them."""
    repo = repository(engine, Clock(datetime(2026, 4, 1, 9, tzinfo=CN)))
    for i, content in enumerate(CONTENTS):
        await repo.create(details(content, phone=f"1380000000{i}"), AGENT)
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        for query in (TicketQuery(), TicketQuery(text="油烟"), TicketQuery(phone="13800000001")):
            _, found = await repo.search(query, AGENT)
            assert found and all(t.extensions == () and t.callbacks == () for t in found)
        listed = list(sent)
        sent.clear()
        assert found[0].id is not None
        await repo.get(found[0].id, AGENT)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert any("ticket_assignments" in s for s in listed)
    assert not [s for s in listed if "ticket_extensions" in s or "ticket_callbacks" in s]
    assert any("ticket_extensions" in s for s in sent)
    assert any("ticket_callbacks" in s for s in sent)
