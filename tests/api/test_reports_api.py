"""/reports for a seeded April 2026 (Qingming holiday on 4-6 April) on PostgreSQL and SQLite,
against a table worked out by hand; the workbook read back with openpyxl holds the same numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from tests.api.conftest import ticket_api
from tests.api.test_tickets_api import (
    DEPARTMENTS,
    PEOPLE,
    TICKET_TABLES,
    Clock,
    Desk,
    local,
)

CALL_TABLES = "queue_calls, agent_state_changes, agent_skills, agents, call_legs, calls"
AS_OF = local(5, 15, 12)
EAST = "东城区幸福路12号"


@pytest.fixture(params=["postgresql", "sqlite"])
async def desk(request: pytest.FixtureRequest, pg_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    """The same month on PostgreSQL and on SQLite (the engine's default database)."""
    url = pg_url
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'reports.sqlite3'}"
    clock = Clock(local(3, 30, 9))
    empty = f"{TICKET_TABLES}, {CALL_TABLES}"
    async with ticket_api(url, clock, PEOPLE, empty=empty, reports=True) as api:
        desk = Desk(api.client, clock, api.tokens, api.engine)
        await prepare(desk)
        yield desk


async def prepare(desk: Desk) -> None:
    """Departments and topics the seeded month files tickets under."""
    for department in DEPARTMENTS:
        await desk.post("/departments", "admin", department, expect=201)
    for code, name, parent in [
        ("urban", "城乡建设", None),
        ("urban.property", "物业管理", "urban"),
        ("traffic", "交通出行", None),
        ("hotline", "热线服务", None),
        ("hotline.attitude", "服务态度", "hotline"),
    ]:
        await desk.post("/topics", "admin", {"code": code, "name": name, "parent": parent}, 201)


async def act(desk: Desk, when: datetime, who: str, path: str, body: Any = None) -> Any:
    desk.clock.now = when
    return await desk.post(path, who, body)


async def new(desk: Desk, when: datetime, **fields: Any) -> str:
    desk.clock.now = when
    created = await desk.create(**fields)
    return f"/tickets/{created['id']}"


async def seed_tickets(desk: Desk) -> dict[str, int]:
    ids = {}
    # A1: housing, dispatched the day it came, signed and replied on time, satisfied
    a1 = await new(desk, local(4, 2, 9), address=EAST)
    await act(desk, local(4, 2, 9, 5), "agent", f"{a1}/dispatch", {"lead": "housing"})
    await act(desk, local(4, 2, 10), "housing", f"{a1}/sign")
    await act(desk, local(4, 10, 10), "housing", f"{a1}/reply", {"result": "已处理"})
    await act(desk, local(4, 10, 11), "supervisor", f"{a1}/review", {"approve": True})
    await act(desk, local(4, 11, 9), "agent", f"{a1}/callback", {"result": "satisfied"})
    # A2: registered on the Qingming holiday, dispatched on the next working day (in time);
    # signed late (due end of 8 April), never replied (due end of 28 April): overdue, supervised
    a2 = await new(desk, local(4, 4, 10), address=EAST)
    await act(desk, local(4, 7, 9), "agent", f"{a2}/dispatch", {"lead": "housing"})
    await act(desk, local(4, 9, 9), "housing", f"{a2}/sign")
    overdue = {"reason": "overdue", "note": "请抓紧办理", "due_at": local(5, 8).isoformat()}
    await desk.post(f"{a2}/supervisions", "supervisor", overdue, expect=201)
    # A3: registered on Friday 3 April, dispatched on 7 April (late); housing returns it, water
    # signs; a help request is due in 5 working days (end of 15 April) and the reply comes on
    # 20 April: late, overdue; the citizen is dissatisfied: redone
    a3 = await new(
        desk, local(4, 3, 9), category="help", topic="traffic", address="北京市朝阳区建国路1号"
    )
    await act(desk, local(4, 7, 9, 30), "agent", f"{a3}/dispatch", {"lead": "housing"})
    await act(desk, local(4, 7, 15), "housing", f"{a3}/return", {"reason": "属供水职责"})
    await act(desk, local(4, 8, 9), "agent", f"{a3}/dispatch", {"lead": "water"})
    await act(desk, local(4, 8, 10), "water", f"{a3}/sign")
    await act(desk, local(4, 20, 9), "water", f"{a3}/reply", {"result": "已处理"})
    await act(desk, local(4, 20, 10), "supervisor", f"{a3}/review", {"approve": True})
    await act(desk, local(4, 21, 9), "agent", f"{a3}/callback", {"result": "dissatisfied"})
    # A4: a complaint about the hotline's own service, still at the center (not dispatched)
    await new(desk, local(4, 13, 9), topic="hotline.attitude", address="12345热线")
    # A5: a consultation answered on the spot: nothing to dispatch
    a5 = await new(
        desk, local(4, 14, 9), category="consultation", topic="traffic", address="西城区金融街"
    )
    await act(desk, local(4, 14, 9, 5), "agent", f"{a5}/answer", {"answer": "已解答"})
    # A6: water, extended, supervised, replied in time (due end of 20 May with the extension)
    a6 = await new(desk, local(4, 20, 9), address=EAST)
    await act(desk, local(4, 20, 9, 5), "agent", f"{a6}/dispatch", {"lead": "water"})
    await act(desk, local(4, 20, 10), "water", f"{a6}/sign")
    await act(desk, local(4, 22, 9), "water", f"{a6}/extension", {"days": 5, "reason": "协调"})
    await act(desk, local(4, 22, 10), "supervisor", f"{a6}/extension/decision", {"approve": True})
    desk.clock.now = local(4, 23, 9)
    note = {"reason": "repeated_complaint", "note": "重复投诉", "due_at": local(5, 8).isoformat()}
    await desk.post(f"{a6}/supervisions", "supervisor", note, expect=201)
    await act(desk, local(5, 6, 9), "water", f"{a6}/reply", {"result": "已处理"})
    await act(desk, local(5, 6, 10), "supervisor", f"{a6}/review", {"approve": True})
    await act(desk, local(5, 7, 9), "agent", f"{a6}/callback", {"result": "satisfied"})
    # A8: water, dispatched in the last week of April, never signed; a help request due at the
    # end of 7 May (28-30 April, then 6-7 May after the Labour Day holiday): overdue
    a8 = await new(
        desk, local(4, 27, 9), category="help", topic="traffic", address="朝阳区建国路1号"
    )
    await act(desk, local(4, 27, 9, 5), "agent", f"{a8}/dispatch", {"lead": "water"})
    # M: registered in March, dispatched to housing on 1 April (received in April), never
    # signed, a complaint due at the end of 23 April: overdue. May's ticket: another month
    m = await new(desk, local(3, 31, 23, 50), address=EAST)
    await act(desk, local(4, 1, 9), "agent", f"{m}/dispatch", {"lead": "housing"})
    await new(desk, local(5, 1, 0, 10), address=EAST)
    for name, path in [("A1", a1), ("A2", a2), ("A3", a3), ("A6", a6), ("A8", a8), ("M", m)]:
        ids[name] = int(path.rsplit("/", 1)[1])
    return ids


def u(when: datetime) -> datetime:
    return when.astimezone(UTC)


async def seed_calls(desk: Desk) -> None:
    """Inbound calls (one through the IVR only), an outbound call, seat histories."""
    s = timedelta(seconds=1)
    calls = [
        # linkedid, entered, direction, queue row: (answered after, talk, agent, rating, missed)
        ("c0", local(3, 31, 23, 50), "inbound", (5, 60, "1001", None, [])),
        ("c1", local(4, 1, 9), "inbound", (5, 120, "1001", "satisfied", [])),
        ("c2", local(4, 1, 9, 10), "inbound", (20, 60, "1002", "dissatisfied", ["1001"])),
        ("c3", local(4, 1, 9, 20), "inbound", (None, 30, None, None, [])),
        ("c4", local(4, 1, 9, 30), "inbound", None),
        ("o1", local(4, 1, 10), "outbound", None),
        ("c5", local(4, 4, 10), "inbound", (10, 180, "1001", "basically_satisfied", [])),
        ("c6", local(4, 4, 10, 30), "inbound", (15, 60, "1001", None, [])),
        ("c7", local(4, 30, 23, 50), "inbound", (3, 120, "1002", None, [])),
    ]
    transitions = {
        "1001": [
            (local(3, 31, 23), "ready", ""),
            (local(3, 31, 23, 59), "logged_out", ""),
            (local(4, 1, 8), "ready", ""),
            (local(4, 1, 9) + 5 * s, "on_call", ""),
            (local(4, 1, 9, 2) + 5 * s, "wrap_up", "c1"),
            (local(4, 1, 9, 2) + 35 * s, "ready", ""),
            (local(4, 1, 9, 10), "ringing", ""),
            (local(4, 1, 9, 10) + 10 * s, "paused", "missed_call"),
            (local(4, 1, 9, 15), "ready", ""),
            (local(4, 1, 12), "paused", "meal"),
            (local(4, 1, 13), "ready", ""),
            (local(4, 1, 18), "logged_out", ""),
            (local(4, 4, 9), "ready", ""),
            (local(4, 4, 10) + 10 * s, "on_call", ""),
            (local(4, 4, 10, 3) + 10 * s, "wrap_up", "c5"),
            (local(4, 4, 10, 3) + 30 * s, "ready", ""),
            (local(4, 4, 10, 30) + 15 * s, "on_call", ""),
            (local(4, 4, 10, 31) + 15 * s, "wrap_up", "c6"),
            (local(4, 4, 10, 31) + 25 * s, "ready", ""),
            (local(4, 4, 17), "logged_out", ""),
        ],
        "1002": [
            (local(4, 1, 9), "ready", ""),
            (local(4, 1, 9, 10) + 20 * s, "on_call", ""),
            (local(4, 1, 9, 11) + 20 * s, "wrap_up", "c2"),
            (local(4, 1, 9, 12) + 20 * s, "ready", ""),
            (local(4, 1, 17), "logged_out", ""),
            (local(4, 30, 23), "ready", ""),
            (local(4, 30, 23, 50) + 3 * s, "on_call", ""),
            (local(4, 30, 23, 52) + 3 * s, "wrap_up", "c7"),
            (local(4, 30, 23, 52) + 33 * s, "ready", ""),
            (local(5, 1, 0, 10), "logged_out", ""),
        ],
    }
    async with desk.engine.begin() as conn:
        missed_as_json = "CAST(:missed AS json)" if conn.dialect.name == "postgresql" else ":missed"
        for agent, name in [("1001", "张三"), ("1002", "李四")]:
            await conn.execute(
                text(
                    "INSERT INTO agents (id, name, endpoint, active, created_at)"
                    " VALUES (:id, :name, :endpoint, true, :at)"
                ),
                {"id": agent, "name": name, "endpoint": f"agent{agent}", "at": u(local(3, 1))},
            )
        for agent, history in transitions.items():
            for at, state, extra in history:
                reason, call = ("", extra) if state == "wrap_up" else (extra, None)
                await conn.execute(
                    text(
                        "INSERT INTO agent_state_changes (agent_id, state, reason, call_id, at)"
                        " VALUES (:agent, :state, :reason, :call, :at)"
                    ),
                    {"agent": agent, "state": state, "reason": reason, "call": call, "at": u(at)},
                )
        for linkedid, entered, direction, queued in calls:
            answered_at = ended_at = None
            if queued is not None:
                wait, talk, agent, rating, missed = queued
                if wait is not None:
                    answered_at = entered + wait * s
                    ended_at = answered_at + talk * s
                else:
                    ended_at = entered + talk * s
            else:
                ended_at = entered + 60 * s
            await conn.execute(
                text(
                    "INSERT INTO calls (linkedid, uniqueid, caller_number, caller_name,"
                    " dialed_number, trunk, entered_at, answered_at, ended_at, disposition,"
                    " hangup_cause_text, end_estimated, recording, direction, outcome,"
                    " queued_at, agent_answered_at)"
                    " VALUES (:l, :l, '13800000000', '', '12345', 'trunk', :entered, :entered,"
                    " :ended, 'answered', '', false, '', :direction, :outcome, :queued,"
                    " :agent_answered)"
                ),
                {
                    "l": linkedid,
                    "entered": u(entered),
                    "ended": u(ended_at),
                    "direction": direction,
                    # the hotline answers as the call enters and asks for an agent at once, so
                    # the citizen's clock and the queue's agree here
                    "outcome": None
                    if direction != "inbound"
                    else "agent"
                    if answered_at
                    else "abandoned_queue"
                    if queued
                    else "abandoned_ivr",
                    "queued": u(entered) if queued else None,
                    "agent_answered": u(answered_at) if answered_at else None,
                },
            )
            if queued is None:
                continue
            await conn.execute(
                text(
                    "INSERT INTO queue_calls (linkedid, caller_number, queue, requirements,"
                    " priority, queued_at, outcome, agent_id, agent_answered_at, ended_at,"
                    " wait_seconds, missed_by, silent, rating)"
                    " VALUES (:l, '13800000000', 'general', '{}', 0, :queued, :outcome, :agent,"
                    f" :answered, :ended, :wait, {missed_as_json}, false, :rating)"
                ),
                {
                    "l": linkedid,
                    "queued": u(entered),
                    "outcome": "answered" if answered_at else "abandoned",
                    "agent": agent,
                    "answered": u(answered_at) if answered_at else None,
                    "ended": u(ended_at),
                    "wait": float(wait) if wait is not None else 30.0,
                    "missed": "[" + ",".join(f'"{m}"' for m in missed) + "]",
                    "rating": rating,
                },
            )


# ---- the hand-computed April ----
CENTER = {
    # 7 inbound calls in April (c1-c7 less the outbound o1; c0 was in March); answered by an
    # agent: c1 c2 c5 c6 c7; within 15 s of queueing: c1 (5 s) c5 (10) c6 (15) c7 (3)
    "connect_rate": (5, 7, False),
    "answer_15s_rate": (4, 5, True),
    # A4 about the hotline's attitude, over the 5 calls answered by a person
    "complaint_rate": (1, 5, False),
    # rated: c1 satisfied, c2 dissatisfied, c5 basically satisfied
    "service_satisfaction_rate": (2, 3, False),
    # due: A1 (2 Apr, same day) A2 (holiday 4 Apr -> 7 Apr, in time) A3 (3 Apr -> 7 Apr, late)
    # A4 (never dispatched) A6 (same day) A8 (same day); A5 was answered on the spot
    "dispatch_rate": (4, 6, False),
}
DEPARTMENT_ROWS = [
    # rank, code, received, signed on time, completed on time, returned, extended, overdue,
    # supervised, redo, callback reached, surveyed, satisfied
    # both finished 1 of 3 in time; housing's citizens were happier
    ("housing", 1, 4, 1, 1, 1, 0, 2, 1, 0, 1, 1, 1),  # A1 A2 A3 (returned) M; overdue A2 M
    ("water", 2, 3, 2, 1, 0, 1, 2, 1, 1, 2, 2, 1),  # A3 A6 A8; in time A6; overdue A3 A8
]
DEPARTMENT_RATES = {
    "housing": {
        "sign_rate": 1 / 4,
        "on_time_rate": 1 / 3,  # of the 3 it kept
        "overdue_rate": 2 / 3,
        "satisfaction_rate": 1.0,
    },
    "water": {
        "sign_rate": 2 / 3,
        "on_time_rate": 1 / 3,
        "overdue_rate": 2 / 3,
        "satisfaction_rate": 0.5,
    },
}
AGENTS = {
    # calls, talk, wrap-up, AHT, rated, satisfaction, missed, pauses, pause seconds
    "1001": (3, 360.0, 60.0, 140.0, 2, 1.0, 1, 2, 290.0 + 3600.0),
    "1002": (2, 180.0, 90.0, 135.0, 1, 0.0, 0, 0, 0.0),
}
DAILY = {
    # offered, answered, within 15 s, abandoned
    "2026-04-01": (4, 2, 1, 1),
    "2026-04-04": (2, 2, 2, 0),
    "2026-04-30": (1, 1, 1, 0),
}


async def test_april_assessment_matches_the_hand_count(desk: Desk) -> None:
    ids = await seed_tickets(desk)
    await seed_calls(desk)
    desk.clock.now = AS_OF
    report = await desk.get("/reports/assessment", "supervisor", period="2026-04")
    assert report["start"] == "2026-03-31T16:00:00Z" and report["end"] == "2026-04-30T16:00:00Z"
    center = {i["code"]: (i["numerator"], i["denominator"], i["met"]) for i in report["center"]}
    assert center == CENTER
    norms = {i["code"]: (i["norm"], i["at_least"]) for i in report["center"]}
    assert norms["connect_rate"] == (0.95, True) and norms["complaint_rate"] == (0.02, False)
    assert all(" / " in i["definition"] for i in report["center"])
    rows = [
        (
            d["department"],
            d["rank"],
            d["received"],
            d["signed_on_time"],
            d["completed_on_time"],
            d["returned"],
            d["extended"],
            d["overdue"],
            d["supervised"],
            d["redo"],
            d["callback_reached"],
            d["surveyed"],
            d["satisfied"],
        )
        for d in report["departments"]
    ]
    assert rows == DEPARTMENT_ROWS
    for d in report["departments"]:
        rates = {i["code"]: i["rate"] for i in d["indicators"]}
        assert rates == pytest.approx(DEPARTMENT_RATES[d["department"]])
    agents = {
        a["agent_id"]: (
            a["calls"],
            a["talk_seconds"],
            a["wrap_up_seconds"],
            a["average_handle_time_seconds"],
            a["rated"],
            a["satisfaction_rate"],
            a["missed"],
            a["pauses"],
            a["pause_seconds"],
        )
        for a in report["agents"]
    }
    assert agents == AGENTS
    daily = {
        d["day"]: (d["offered"], d["answered"], d["within_15s"], d["abandoned"])
        for d in report["daily"]
    }
    assert daily == DAILY

    # the tickets behind a number
    overdue = await desk.get(
        "/reports/assessment/tickets", "supervisor", period="2026-04", measure="overdue"
    )
    assert [t["id"] for t in overdue["items"]] == [ids["M"], ids["A3"], ids["A2"], ids["A8"]]
    assert [t["department"] for t in overdue["items"]] == ["housing", "water", "housing", "water"]
    received = await desk.get(
        "/reports/assessment/tickets",
        "supervisor",
        period="2026-04",
        measure="received",
        department="water",
    )
    assert [t["id"] for t in received["items"]] == [ids["A3"], ids["A6"], ids["A8"]]
    await desk.get("/reports/assessment/tickets", "supervisor", 422, period="2026-04", measure="x")

    # a department sees its own row, and nothing of the center's
    own = await desk.get("/reports/assessment", "housing", period="2026-04")
    assert [d["department"] for d in own["departments"]] == ["housing"]
    assert own["center"] is None and own["agents"] is None and own["daily"] is None
    await desk.get("/reports/assessment", "housing", 403, period="2026-04", department="water")
    await desk.get(
        "/reports/assessment/tickets",
        "housing",
        403,
        period="2026-04",
        measure="received",
        department="water",
    )
    await desk.get("/reports/assessment", "agent", 403, period="2026-04")
    await desk.get("/reports/assessment", "supervisor", 422, period="2026-13")

    # the quarter holds April's tickets and calls (and March's)
    quarter = await desk.get("/reports/assessment", "supervisor", period="2026-Q2")
    assert {i["code"]: i["numerator"] for i in quarter["center"]}["connect_rate"] == 5

    # the workbook: one sheet per section, the same numbers
    reply = await desk.client.get(
        "/reports/assessment",
        params={"period": "2026-04", "format": "xlsx"},
        headers={"Authorization": f"Bearer {desk.tokens['supervisor']}"},
    )
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(reply.content))
    assert book.sheetnames == ["中心考核指标", "承办单位考核", "坐席绩效", "每日话务"]
    sheet = book["中心考核指标"]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]][:4] == ["指标", "分子", "分母", "比率"]
    by_name = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert by_name["人工接通率"][1:4] == (5, 7, pytest.approx(5 / 7))
    assert by_name["人工接通率"][5] == "未达标"
    assert by_name["人工应答及时率(15秒)"][1:3] == (4, 5)
    assert by_name["转办及时率"][1:3] == (4, 6)
    assert sheet.cell(2, 4).number_format == "0.00%"
    league = list(book["承办单位考核"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[0], *r[3:14]) for r in league] == DEPARTMENT_ROWS
    assert league[0][15] == pytest.approx(1 / 3)  # housing's 按期办结率
    scorecards = {r[0]: r for r in book["坐席绩效"].iter_rows(min_row=2, values_only=True)}
    assert scorecards["1001"][1:4] == ("张三", 3, 140.0)
    days = {r[0]: r[1:5] for r in book["每日话务"].iter_rows(min_row=2, values_only=True)}
    assert days == DAILY

    # CSV: the same sections, one after another
    reply = await desk.client.get(
        "/reports/assessment",
        params={"period": "2026-04", "format": "csv", "department": "housing"},
        headers={"Authorization": f"Bearer {desk.tokens['supervisor']}"},
    )
    lines = list(csv.reader(io.StringIO(reply.text.removeprefix("\ufeff"))))
    header = lines.index(["# 承办单位考核"])
    assert lines[header + 1][:4] == ["排名", "单位代码", "承办单位", "收到工单"]
    assert lines[header + 2][1:5] == ["housing", "市住建局", "4", "1"]


async def test_hot_issues_and_the_day_in_quarter_hours(desk: Desk) -> None:
    ids = await seed_tickets(desk)
    await seed_calls(desk)
    desk.clock.now = AS_OF
    hot = await desk.get("/reports/hot", "supervisor", period="2026-04", minimum=1)
    assert [(t["topic"], t["count"]) for t in hot["topics"]] == [
        ("traffic", 3),  # A3 A5 A8
        ("urban.property", 3),  # A1 A2 A6
        ("hotline.attitude", 1),  # A4
    ]
    assert [(d["district"], d["count"]) for d in hot["districts"]] == [
        ("东城区", 3),
        ("朝阳区", 2),  # "北京市朝阳区…" and "朝阳区…"
        ("", 1),
        ("西城区", 1),
    ]
    # 24-30 April against 17-23 April: traffic 1 (A8) against 0
    assert hot["week_ending"] == "2026-04-30"
    assert [(r["topic"], r["this_week"], r["last_week"]) for r in hot["rising"]] == [
        ("traffic", 1, 0)
    ]
    assert hot["repeats"] == [
        {
            "address": hot["repeats"][0]["address"],
            "topic": "urban.property",
            "count": 3,
            "ticket_ids": [ids["A1"], ids["A2"], ids["A6"]],
        }
    ]
    assert len(hot["days"]) == 30 and hot["trend"]["urban.property"][1] == 1  # A1 on 2 April
    assert sum(hot["trend"]["traffic"]) == 3
    noisy = await desk.get("/reports/hot", "supervisor", period="2026-04")
    assert noisy["minimum"] == 5 and noisy["rising"] == []
    behind = await desk.get(
        "/reports/hot/tickets",
        "supervisor",
        period="2026-04",
        address=hot["repeats"][0]["address"],
        topic="urban.property",
    )
    assert [t["id"] for t in behind["items"]] == [ids["A1"], ids["A2"], ids["A6"]]
    chaoyang = await desk.get(
        "/reports/hot/tickets", "supervisor", period="2026-04", district="朝阳区"
    )
    assert [t["id"] for t in chaoyang["items"]] == [ids["A3"], ids["A8"]]
    # water sees the hot issues of the tickets it was given: A3 A6 A8
    water = await desk.get("/reports/hot", "water", period="2026-04", minimum=1)
    assert sorted((t["topic"], t["count"]) for t in water["topics"]) == [
        ("traffic", 2),
        ("urban.property", 1),
    ]
    workbook = await desk.client.get(
        "/reports/hot",
        params={"period": "2026-04", "format": "xlsx", "minimum": 1},
        headers={"Authorization": f"Bearer {desk.tokens['supervisor']}"},
    )
    book = load_workbook(io.BytesIO(workbook.content))
    assert book.sheetnames == ["热点-按类别", "热点-按区县", "热点-周环比上升", "热点-重复投诉"]
    assert next(book["热点-按类别"].iter_rows(min_row=2, values_only=True)) == (
        "traffic",
        "交通出行",
        3,
    )

    day = await desk.get("/reports/intraday", "supervisor", day="2026-04-01")
    slots = day["slots"]
    assert len(slots) == 96 and day["start"] == "2026-03-31T16:00:00Z"
    # 09:00-09:15: c1 and c2 answered; 09:15-09:30: c3 abandoned (c4 never asked for an agent)
    assert {k: slots[36][k] for k in ("offered", "answered", "abandoned", "on_duty")} == {
        "offered": 2,
        "answered": 2,
        "abandoned": 0,
        "on_duty": 2,
    }
    assert (slots[37]["offered"], slots[37]["abandoned"]) == (1, 1)
    assert [slots[n]["on_duty"] for n in (31, 32, 35, 67, 68, 71, 72)] == [0, 1, 1, 2, 1, 1, 0]
    await desk.get("/reports/intraday", "housing", 403, day="2026-04-01")
