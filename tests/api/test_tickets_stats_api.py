"""Statistics for a seeded month (March 2026) against figures worked out by hand."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from callcenter.domain.access import Principal, Role
from callcenter.domain.tickets import OPEN_STATUSES, Status
from callcenter.storage.db import make_sessions
from callcenter.storage.ticket_figures import rebuild
from callcenter.storage.ticket_stats import TicketStatistics
from tests.api.test_tickets_api import Desk, desk, desk_on, local

# migration 0025's backfill, the statement a test compares with the figures writes keep
backfill = importlib.import_module("migrations.versions.0025_ticket_figures").backfill

__all__ = ["desk"]  # the fixture, shared with the main ticket API tests


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.db), "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite+aiosqlite:///{tmp_path / 'stats.sqlite3'}"


@pytest.fixture
async def either_desk(database_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    """The desk on PostgreSQL and on SQLite (the embedded default)."""
    async with desk_on(database_url, tmp_path) as opened:
        yield opened


AS_OF = local(4, 15, 12)


async def step(desk: Desk, when: datetime, who: str, path: str, body: Any = None) -> Any:
    desk.clock.now = when
    return await desk.post(path, who, body)


async def ticket(
    desk: Desk, when: datetime, category: str, lead: str, co: list[str] | None = None
) -> str:
    desk.clock.now = when
    created = await desk.create(category=category)
    path = f"/tickets/{created['id']}"
    await desk.post(f"{path}/dispatch", "agent", {"lead": lead, "co": co or []})
    return path


async def closed(desk: Desk, path: str, who: str, replied: datetime, result: str) -> None:
    """Reply, approval an hour later, and a callback the next day."""
    await step(desk, replied, who, f"{path}/reply", {"result": "done"})
    await step(
        desk,
        replied.replace(hour=replied.hour + 1),
        "supervisor",
        f"{path}/review",
        {"approve": True},
    )
    await step(
        desk, replied.replace(day=replied.day + 1), "agent", f"{path}/callback", {"result": result}
    )


async def seed(desk: Desk) -> None:
    # H6, dispatched in February: its March callback belongs to February's figures
    h6 = await ticket(desk, local(2, 26, 9), "complaint", "housing")
    await step(desk, local(2, 26, 10), "housing", f"{h6}/sign")
    await closed(desk, h6, "housing", local(3, 2, 9), "dissatisfied")  # redone from 3 March

    # H1: signed and completed on time, satisfied
    h1 = await ticket(desk, local(3, 2, 9), "complaint", "housing")
    await step(desk, local(3, 2, 10), "housing", f"{h1}/sign")
    await closed(desk, h1, "housing", local(3, 10, 10), "satisfied")
    # H2: a consultation (5 days, due end of 10 March), signed late, replied late
    h2 = await ticket(desk, local(3, 3, 9), "consultation", "housing")
    await step(desk, local(3, 5, 9), "housing", f"{h2}/sign")  # sign-for was due end of 4 March
    await closed(desk, h2, "housing", local(3, 12, 9), "basically_satisfied")
    # H3: returned by housing the same day, then water's: signed, never replied (due 26 March)
    h3 = await ticket(desk, local(3, 4, 9), "complaint", "housing")
    await step(desk, local(3, 4, 15), "housing", f"{h3}/return", {"reason": "属供水职责"})
    await step(desk, local(3, 5, 9), "agent", f"{h3}/dispatch", {"lead": "water"})
    await step(desk, local(3, 5, 10), "water", f"{h3}/sign")
    # H4: a help request (due end of 16 March), extended by 5 days, redone after a callback
    h4 = await ticket(desk, local(3, 9, 9), "help", "housing")
    await step(desk, local(3, 9, 10), "housing", f"{h4}/sign")
    await step(desk, local(3, 13, 9), "housing", f"{h4}/extension", {"days": 5, "reason": "协调"})
    await step(desk, local(3, 13, 10), "supervisor", f"{h4}/extension/decision", {"approve": True})
    await closed(desk, h4, "housing", local(3, 20, 9), "dissatisfied")
    await step(desk, local(3, 23, 10), "housing", f"{h4}/sign")
    await closed(desk, h4, "housing", local(3, 25, 9), "satisfied")
    # H5: dispatched on 30 March, not signed yet, due 21 April: neither signed nor overdue
    await ticket(desk, local(3, 30, 9), "complaint", "housing")

    # W1: housing co-handles (not counted for housing); replied before its deadline (end of
    # 31 March), approved after it: completed on time; the citizen was dissatisfied
    w1 = await ticket(desk, local(3, 10, 9), "complaint", "water", co=["housing"])
    await step(desk, local(3, 10, 9, 30), "water", f"{w1}/sign")
    await step(desk, local(3, 31, 16), "water", f"{w1}/reply", {"result": "done"})
    await step(desk, local(4, 1, 9), "supervisor", f"{w1}/review", {"approve": True})
    await step(desk, local(4, 2, 9), "agent", f"{w1}/callback", {"result": "dissatisfied"})
    # W3: late on 31 March (still March in Beijing), signed after its sign-for deadline
    w3 = await ticket(desk, local(3, 31, 23), "complaint", "water")
    await step(desk, local(4, 2, 8), "water", f"{w3}/sign")
    # W4: half an hour into April: another month
    await ticket(desk, local(4, 1, 0, 30), "complaint", "water")
    # answered directly: no department to judge
    desk.clock.now = local(3, 11, 9)
    direct = await desk.create(category="consultation")
    await desk.post(f"/tickets/{direct['id']}/answer", "agent", {"answer": "已解答"})


EXPECTED = {
    "housing": {
        "name": "市住建局",
        "received": 5,  # H1 H2 H3 H4 H5
        "signed": 3,  # H1 H2 H4
        "signed_on_time": 2,  # H1 H4
        "returned": 1,  # H3
        "extended": 1,  # H4
        "completed": 3,  # H1 H2 H4
        "completed_on_time": 2,  # H1 H4 (first round, extension included)
        "overdue": 1,  # H2
        "redo": 1,  # H4
        "callbacks": {"satisfied": 2, "basically_satisfied": 1, "dissatisfied": 1},
        "surveyed": 4,
        "satisfaction_rate": 0.75,
    },
    "water": {
        "name": "市供水公司",
        "received": 3,  # H3 (re-dispatched) W1 W3
        "signed": 3,
        "signed_on_time": 2,  # H3 W1
        "returned": 0,
        "extended": 0,
        "completed": 1,  # W1
        "completed_on_time": 1,
        "overdue": 1,  # H3, open since its deadline
        "redo": 1,  # W1
        "callbacks": {"satisfied": 0, "basically_satisfied": 0, "dissatisfied": 1},
        "surveyed": 1,
        "satisfaction_rate": 0.0,
    },
}


async def test_march_figures_match_the_hand_count(either_desk: Desk) -> None:
    desk = either_desk
    await seed(desk)
    desk.clock.now = AS_OF
    stats = await desk.get("/tickets/stats", "supervisor", month="2026-03")
    assert stats["from"] == "2026-02-28T16:00:00Z" and stats["to"] == "2026-03-31T16:00:00Z"
    rows = {
        row["department"]: {k: v for k, v in row.items() if k != "department"}
        for row in stats["departments"]
    }
    assert rows == EXPECTED
    window = {"from": local(3, 1).isoformat(), "to": local(4, 1).isoformat()}
    same = await desk.get("/tickets/stats", "supervisor", **window)
    assert same["departments"] == stats["departments"]
    # a department sees its own row only
    own = await desk.get("/tickets/stats", "housing", month="2026-03")
    assert [row["department"] for row in own["departments"]] == ["housing"]
    await desk.get("/tickets/stats", "housing", expect=403, month="2026-03", department="water")
    await desk.get("/tickets/stats", "agent", expect=403, month="2026-03")
    await desk.get("/tickets/stats", "supervisor", expect=422)
    await desk.get("/tickets/stats", "supervisor", expect=422, month="2026-13")
    april = await desk.get("/tickets/stats", "supervisor", month="2026-04")
    assert [(r["department"], r["received"]) for r in april["departments"]] == [("water", 1)]


async def test_sla_counts_on_the_report_day(desk: Desk) -> None:
    await seed(desk)
    desk.clock.now = AS_OF
    sla = await desk.get("/tickets/sla", "supervisor")
    # housing: H5 (due 22 April) green, H6 redone from 3 March (due 25 March) red;
    # water: W1's redo, W3 and W4 green, H3 red
    assert sla["departments"] == [
        {"department": "housing", "green": 1, "yellow": 0, "red": 1},
        {"department": "water", "green": 3, "yellow": 0, "red": 1},
    ]
    red = await desk.get("/tickets", "supervisor", sla="red", sort="created_at")
    assert [t["lead_department"] for t in red["items"]] == ["housing", "water"]
    assert [t["sla"] for t in red["items"]] == ["red", "red"]


async def test_sla_page_walks_the_deadlines(desk: Desk, monkeypatch: Any) -> None:
    """GET /tickets/sla pages the tickets in departments' hands, earliest deadline first, and
    its counts stop at the cap (saying so) instead of reading every open ticket."""
    from callcenter.storage import ticket_stats

    await seed(desk)
    desk.clock.now = AS_OF
    whole = await desk.get("/tickets/sla", "supervisor")
    assert whole["capped"] is False and whole["limit"] == 50 and whole["offset"] == 0
    items = whole["items"]
    assert len(items) == 6 == sum(whole["total"].values())
    deadlines = [t["due_at"] for t in items]
    assert deadlines == sorted(deadlines)
    assert [t["sla"] for t in items[:2]] == ["red", "red"]  # the overdue ones first
    assert {t["lead_department"] for t in items} == {"housing", "water"}
    # pages continue where the previous one stopped
    first = await desk.get("/tickets/sla", "supervisor", limit=4)
    rest = await desk.get("/tickets/sla", "supervisor", limit=4, offset=4)
    assert [t["id"] for t in first["items"] + rest["items"]] == [t["id"] for t in items]
    assert first["departments"] == whole["departments"]  # the page does not change the counts
    # a department sees the tickets it leads
    water = await desk.get("/tickets/sla", "water")
    assert {t["lead_department"] for t in water["items"]} == {"water"}
    assert len(water["items"]) == sum(water["total"].values()) == 4
    # past the cap the counts cover the most urgent tickets and say they are capped
    monkeypatch.setattr(ticket_stats, "SLA_CAP", 3)
    capped = await desk.get("/tickets/sla", "supervisor")
    assert capped["capped"] is True
    assert sum(capped["total"].values()) == 3
    assert capped["total"]["red"] == 2  # the red ones come first
    assert len(capped["items"]) == 6  # the page is a page, not a count
    await desk.get("/tickets/sla", "supervisor", expect=422, limit=0)
    await desk.get("/tickets/sla", "supervisor", expect=422, offset=-1)


# every callback counted on the assignments of its (ticket, department), by result
RECOUNT = """
SELECT a.id, c.result, count(c.id)
FROM ticket_assignments AS a JOIN ticket_callbacks AS c
  ON c.ticket_id = a.ticket_id AND c.department_code = a.department_code
GROUP BY a.id, c.result
"""
KEPT = """
SELECT id, callbacks_satisfied, callbacks_basically_satisfied, callbacks_dissatisfied
FROM ticket_assignments
"""


async def test_the_callback_counts_kept_on_assignments_match_the_callbacks(
    either_desk: Desk,
) -> None:
    """Statistics count callbacks from the assignments (migration 0023): the counts written
    with each ticket are those of its callbacks, on every assignment, ended ones included."""
    desk = either_desk
    await seed(desk)
    async with desk.engine.connect() as conn:
        recount: dict[int, dict[str, int]] = {}
        for assignment, result, count in (await conn.execute(text(RECOUNT))).all():
            recount.setdefault(assignment, {})[result] = count
        kept = {
            assignment: {
                result: count
                for result, count in zip(
                    ("satisfied", "basically_satisfied", "dissatisfied"), counts, strict=True
                )
                if count
            }
            for assignment, *counts in (await conn.execute(text(KEPT))).all()
        }
    assert {a: c for a, c in kept.items() if c} == recount
    # H6, H1, H2, H4 (two: dissatisfied, then satisfied after the redo) for housing, W1 for
    # water (housing only co-handled it: not judged)
    assert sorted(sum(c.values()) for c in recount.values()) == [1, 1, 1, 1, 2]


# each ticket's open lead department kept on its row, and the one its assignments say
LEADS = f"""
SELECT t.id, t.open_lead_department, (
  SELECT a.department_code FROM ticket_assignments AS a
  WHERE a.ticket_id = t.id AND a.ended_at IS NULL AND a.role = 'lead'
    AND t.status IN ({", ".join(f"'{s.value}'" for s in OPEN_STATUSES)})
  ORDER BY a.id LIMIT 1)
FROM tickets AS t
"""
FIRST_LEAD = """
SELECT ticket_id, department_code FROM ticket_assignments WHERE role = 'lead' ORDER BY id
"""


async def test_the_lead_department_kept_on_tickets_follows_the_assignments(
    either_desk: Desk,
) -> None:
    """The SLA view counts by the lead department kept on each open ticket (migration 0024):
    through dispatch, give-back, redispatch to another department and redo it is the department
    of the ticket's running lead assignment; none when there is none or the ticket is closed."""
    desk = either_desk
    await seed(desk)
    async with desk.engine.connect() as conn:
        leads = (await conn.execute(text(LEADS))).all()
        first: dict[int, str] = {}
        for ticket_id, department in (await conn.execute(text(FIRST_LEAD))).all():
            first.setdefault(ticket_id, department)
    assert leads and all(kept == running for _, kept, running in leads)
    assert {kept for _, kept, _ in leads} >= {"housing", "water", None}
    # closed tickets have a lead assignment in the seed, and keep none on the row
    assert any(kept is None and t in first for t, kept, _ in leads)
    # a ticket whose lead moved: the row follows the move, not the first dispatch
    assert any(kept is not None and first.get(t) not in (None, kept) for t, kept, _ in leads)


async def test_a_departments_open_list_reads_the_open_flag_kept_on_assignments(
    either_desk: Desk,
) -> None:
    """A department's open tickets come from its assignments' open flag (migration 0023): the
    flag follows the ticket's status through every step, and the open list, the worklist and
    the SLA view of a department find the same tickets as its whole list filtered by status."""
    desk = either_desk
    await seed(desk)
    desk.clock.now = AS_OF
    async with desk.engine.connect() as conn:
        flags = (
            await conn.execute(
                text(
                    "SELECT a.ticket_open, t.status, a.open_status, "
                    "a.ticket_created_at = t.created_at FROM ticket_assignments AS a "
                    "JOIN tickets AS t ON t.id = a.ticket_id"
                )
            )
        ).all()
    assert flags and all(
        bool(flag) == (Status(status) in OPEN_STATUSES) for flag, status, *_ in flags
    )
    assert {bool(flag) for flag, *_ in flags} == {True, False}
    # the status and creation time kept on assignments (migration 0026) are the ticket's
    assert all(kept == (status if flag else None) for flag, status, kept, _ in flags)
    assert all(created for *_, created in flags)
    for who in ("housing", "water", "east"):
        everything = await desk.get("/tickets", who, limit=200)
        for statuses in (["dispatched", "in_progress"], ["in_progress"], ["resolved"]):
            listed = await desk.get("/tickets", who, limit=200, status=statuses)
            expected = [t["id"] for t in everything["items"] if t["status"] in statuses]
            assert [t["id"] for t in listed["items"]] == expected
            assert listed["total"] == len(expected)
        worklist = await desk.get("/worklist", who)
        handling = {"dispatched", "in_progress", "extension_requested"}
        assert sorted(t["id"] for t in worklist["items"]) == sorted(
            t["id"] for t in everything["items"] if t["status"] in handling
        )
    # an open list walked a ticket at a time by its cursors, and by offsets, oldest first too
    for sort in ("-created_at", "created_at"):
        everything = await desk.get("/tickets", "housing", limit=200, sort=sort)
        statuses = ["dispatched", "in_progress", "extension_requested"]
        expected = [t["id"] for t in everything["items"] if t["status"] in statuses]
        assert len(expected) >= 2
        walked, cursor = [], None
        while True:
            page = await desk.get(
                "/tickets",
                "housing",
                limit=1,
                sort=sort,
                status=statuses,
                **({"cursor": cursor} if cursor else {}),
            )
            walked += [t["id"] for t in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        assert walked == expected
        offsets = [
            (await desk.get("/tickets", "housing", limit=1, offset=n, sort=sort, status=statuses))[
                "items"
            ][0]["id"]
            for n in range(len(expected))
        ]
        assert offsets == expected
    by_center = await desk.get("/tickets", "supervisor", department="water", status="in_progress")
    water = await desk.get("/tickets", "water", status="in_progress")
    assert [t["id"] for t in by_center["items"]] == [t["id"] for t in water["items"]]


async def test_a_ticket_received_twice_counts_its_callbacks_once_per_period(
    either_desk: Desk,
) -> None:
    """Housing receives R1 twice in May (returned, then dispatched to it again) and R2 in May
    and again in June: each reception counts as received, the callbacks of a (ticket,
    department) count once in each period that received it (the previous lead assignment's
    time kept on the assignment says which reception is the period's first)."""
    desk = either_desk
    r1 = await ticket(desk, local(5, 4, 9), "complaint", "housing")
    await step(desk, local(5, 4, 10), "housing", f"{r1}/return", {"reason": "再核实"})
    await step(desk, local(5, 5, 9), "agent", f"{r1}/dispatch", {"lead": "housing"})
    await step(desk, local(5, 5, 10), "housing", f"{r1}/sign")
    await closed(desk, r1, "housing", local(5, 11, 9), "satisfied")
    r2 = await ticket(desk, local(5, 28, 9), "complaint", "housing")
    await step(desk, local(5, 28, 10), "housing", f"{r2}/return", {"reason": "再核实"})
    await step(desk, local(6, 2, 9), "agent", f"{r2}/dispatch", {"lead": "housing"})
    await step(desk, local(6, 2, 10), "housing", f"{r2}/sign")
    await closed(desk, r2, "housing", local(6, 9, 9), "dissatisfied")
    desk.clock.now = local(6, 30, 12)
    may = await desk.get("/tickets/stats", "supervisor", month="2026-05")
    june = await desk.get("/tickets/stats", "supervisor", month="2026-06")
    (housing_may,) = may["departments"]
    (housing_june,) = june["departments"]
    assert (housing_may["received"], housing_may["returned"]) == (3, 2)
    assert housing_may["callbacks"] == {
        "satisfied": 1,
        "basically_satisfied": 0,
        "dissatisfied": 1,
    }
    assert housing_may["surveyed"] == 2
    assert (housing_june["received"], housing_june["returned"]) == (1, 0)
    assert housing_june["callbacks"]["dissatisfied"] == 1 and housing_june["surveyed"] == 1


def _as_dicts(figures: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            **{name: getattr(f, name) for name in f.__slots__ if name != "callbacks"},
            "callbacks": dict(f.callbacks),
        }
        for f in figures
    ]


FIGURES_ROWS = "SELECT * FROM ticket_figures ORDER BY hour, department_code, previous_lead_hour"


async def test_the_kept_figures_equal_the_figures_counted_from_the_assignments(
    either_desk: Desk,
) -> None:
    """Statistics read the sums kept per hour of dispatch (migration 0025), changed with every
    write: for every month, whole-hour windows and moments of asking, they equal the figures
    counted from the assignments themselves, supervised tickets (督办) and redispatches
    included; and migration 0025's backfill and the operator's recount compute the very rows
    the writes kept."""
    desk = either_desk
    await seed(desk)
    # a supervision on H3 (returned by housing, led by water since) and one on a fresh ticket
    # dispatched again afterwards (its new lead assignment counts as supervised too)
    async with desk.engine.connect() as conn:
        h3 = await conn.scalar(
            text("SELECT ticket_id FROM ticket_assignments WHERE returned_at IS NOT NULL")
        )
    supervised = await ticket(desk, local(3, 16, 9), "complaint", "housing")
    due = local(3, 28, 18).isoformat()
    desk.clock.now = local(3, 16, 10)
    for path in (f"/tickets/{h3}", supervised):
        note = {"reason": "overdue", "note": "请加快办理", "due_at": due}
        await desk.post(f"{path}/supervisions", "supervisor", note, expect=201)
    await step(desk, local(3, 16, 15), "housing", f"{supervised}/return", {"reason": "非本单位"})
    await step(desk, local(3, 17, 9), "agent", f"{supervised}/dispatch", {"lead": "water"})
    statistics = TicketStatistics(make_sessions(desk.engine), lambda: desk.clock.now)
    center = Principal(0, "supervisor", Role.SUPERVISOR)
    windows = [
        (local(2, 1), local(3, 1)),
        (local(3, 1), local(4, 1)),
        (local(4, 1), local(5, 1)),
        (local(3, 4, 9), local(3, 17, 10)),  # whole hours inside the month
        (local(1, 1), local(6, 1)),
    ]
    compared = 0
    for now in (local(3, 20, 12), AS_OF, local(6, 1)):
        desk.clock.now = now
        for since, until in windows:
            for department in (None, "housing", "water"):
                kept = await statistics.departments(since, until, center, department)
                counted = await statistics.counted(since, until, center, department)
                assert _as_dicts(kept) == _as_dicts(counted), (now, since, until, department)
                compared += len(kept)
    assert compared > 20
    # the figures include supervised and overdue ones (the comparison is not of zeros)
    desk.clock.now = AS_OF
    march = {f.department: f for f in await statistics.departments(*windows[1], center)}
    assert march["housing"].supervised == 2 and march["water"].supervised == 2
    assert march["housing"].overdue == 1 and march["water"].overdue == 2

    async with desk.engine.begin() as conn:
        kept_rows = (await conn.execute(text(FIGURES_ROWS))).all()
        await conn.execute(text("DELETE FROM ticket_figures"))
        await conn.execute(text(backfill(conn.dialect.name == "postgresql")))
        rebuilt = (await conn.execute(text(FIGURES_ROWS))).all()
    assert len(kept_rows) > 5
    assert rebuilt == kept_rows
    # the operator's recount (python -m callcenter rebuild-ticket-figures) gives them too
    async with make_sessions(desk.engine).begin() as session:
        await session.execute(text("DELETE FROM ticket_figures"))
        assert await rebuild(session) == len(kept_rows)
    async with desk.engine.connect() as conn:
        assert (await conn.execute(text(FIGURES_ROWS))).all() == kept_rows
