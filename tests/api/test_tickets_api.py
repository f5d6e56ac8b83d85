"""/tickets over HTTP against PostgreSQL: the whole lifecycle, scoping, 409s, search, duplicates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.domain.access import Role
from callcenter.domain.calls import CallRecord, Disposition, HandledBy
from callcenter.storage.calls import CallQuery, CallRepository
from callcenter.storage.db import make_sessions
from callcenter.storage.recording_files import RecordingFiles
from tests.api.conftest import ticket_api

CN = ZoneInfo("Asia/Shanghai")
TICKET_TABLES = (
    "ticket_figures, ticket_events, ticket_links, ticket_supervisions, ticket_callbacks, "
    "ticket_extensions, "
    "ticket_assignments, tickets, ticket_topics, departments, ticket_counters, ticket_policies, "
    "api_tokens"
)
# who holds a token: role and subject (a department handler's subject is its department code)
PEOPLE: dict[str, tuple[Role, str | None]] = {
    "agent": (Role.AGENT, "7"),
    "supervisor": (Role.SUPERVISOR, None),
    "admin": (Role.ADMIN, None),
    "housing": (Role.DEPARTMENT, "housing"),
    "water": (Role.DEPARTMENT, "water"),
    "east": (Role.DEPARTMENT, "district.east"),
    "nobody": (Role.DEPARTMENT, None),
}
DEPARTMENTS = [
    {"code": "city", "name": "市政府", "kind": "city"},
    {"code": "district.east", "name": "东城区", "kind": "district", "parent": "city"},
    {"code": "street.a", "name": "幸福街道", "kind": "street", "parent": "district.east"},
    {"code": "housing", "name": "市住建局", "kind": "bureau", "parent": "city", "hotline": "63001"},
    {"code": "water", "name": "市供水公司", "kind": "company", "hotline": "63002"},
]
COMPLAINT = {
    "caller_name": "王女士",
    "caller_phone": "13812345678",
    "address": "东城区幸福路12号",
    "category": "complaint",
    "topic": "urban.property",
    "content": "小区楼下烧烤店油烟扰民，晚上十点后仍在营业",
}


async def saved_call(desk: Desk, linkedid: str, recording: str) -> int:
    """A call record (as the engine writes it) with its recording; returns its id."""
    calls = CallRepository(make_sessions(desk.engine))
    entered = desk.clock()
    await calls.save(
        [
            CallRecord(
                linkedid=linkedid,
                uniqueid=linkedid,
                caller_number="13812345678",
                caller_name="",
                dialed_number="12345",
                trunk="trunk",
                entered_at=entered,
                answered_at=entered,
                ended_at=entered,
                disposition=Disposition.ANSWERED,
                hangup_cause=16,
                handled_by=HandledBy.ENGINE,
                legs=(),
                recording=recording,
            )
        ]
    )
    found = await calls.search(CallQuery(caller="13812345678", since=entered, limit=1))
    call_id: int = found[1][0][0]
    return call_id


def local(m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=CN)


def at(text_time: str) -> datetime:
    return datetime.fromisoformat(text_time)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Desk:
    """An HTTP client for the ticket API, a settable clock, and a token per person."""

    client: httpx.AsyncClient
    clock: Clock
    tokens: dict[str, str]
    engine: AsyncEngine
    files: RecordingFiles | None = None  # where voicemail a ticket may name is kept

    async def call(self, method: str, path: str, who: str, expect: int = 200, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        reply = await self.client.request(method, path, headers=headers, **kwargs)
        assert reply.status_code == expect, (method, path, who, reply.status_code, reply.text)
        return reply.json()

    async def get(self, path: str, who: str, expect: int = 200, **params: Any) -> Any:
        return await self.call("GET", path, who, expect, params=params)

    async def post(self, path: str, who: str, body: Any = None, expect: int = 200) -> Any:
        return await self.call("POST", path, who, expect, json=body or {})

    async def create(self, who: str = "agent", expect: int = 201, **fields: Any) -> dict[str, Any]:
        created = await self.post("/tickets", who, {**COMPLAINT, **fields}, expect=expect)
        ticket: dict[str, Any] = created["ticket"] if expect == 201 else created
        return ticket


@asynccontextmanager
async def desk_on(url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    """The desk over a database (PostgreSQL, emptied first, or SQLite) with the departments
    and topics of these tests."""
    files = RecordingFiles(tmp_path / "recordings", tmp_path / "voicemail")
    files.voicemail_dir.mkdir()
    clock = Clock(local(2, 13, 9))
    async with ticket_api(url, clock, PEOPLE, empty=TICKET_TABLES, files=files) as api:
        desk = Desk(api.client, clock, api.tokens, api.engine, files)
        for department in DEPARTMENTS:
            await desk.post("/departments", "admin", department, expect=201)
        await desk.post("/topics", "admin", {"code": "urban", "name": "城乡建设"}, expect=201)
        topic = {"code": "urban.property", "name": "物业管理", "parent": "urban"}
        await desk.post("/topics", "admin", topic, expect=201)
        yield desk


@pytest.fixture
async def desk(pg_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    async with desk_on(pg_url, tmp_path) as opened:
        yield opened


async def test_full_lifecycle_through_the_api(desk: Desk) -> None:
    clock = desk.clock
    clock.now = local(2, 13, 10)  # the Friday before the Spring Festival
    ticket = await desk.create()
    tid = ticket["id"]
    assert ticket["number"] == "20260213-0001" and ticket["status"] == "pending"
    assert len(ticket["query_code"]) == 6 and ticket["caller_phone"] == "13812345678"

    clock.now = local(2, 13, 10, 5)
    route = {"lead": "housing", "co": ["district.east"], "note": "请住建局牵头"}
    ticket = await desk.post(f"/tickets/{tid}/dispatch", "agent", route)
    assert ticket["status"] == "dispatched"
    assert ticket["lead_department"] == "housing" and ticket["co_departments"] == ["district.east"]
    assert at(ticket["sign_due_at"]) == local(2, 15)
    assert at(ticket["due_at"]) == local(3, 13)
    assert ticket["sla"] == "green"

    clock.now = local(2, 14, 9, 30)  # the worked Saturday
    ticket = await desk.post(f"/tickets/{tid}/sign", "housing", {"note": "已签收"})
    assert ticket["status"] == "in_progress"

    clock.now = local(2, 24, 10)
    asked = {"days": 5, "reason": "需协调城管联合执法"}
    ticket = await desk.post(f"/tickets/{tid}/extension", "housing", asked)
    assert ticket["status"] == "extension_requested"
    clock.now = local(2, 24, 15)
    ticket = await desk.post(
        f"/tickets/{tid}/extension/decision", "supervisor", {"approve": True, "note": "同意"}
    )
    assert ticket["status"] == "in_progress" and at(ticket["due_at"]) == local(3, 20)
    assert ticket["extensions"][0]["outcome"] == "approved"

    clock.now = local(3, 16, 11)
    result = {"result": "已责令整改，加装油烟净化器"}
    ticket = await desk.post(f"/tickets/{tid}/reply", "housing", result)
    assert ticket["status"] == "replied"
    clock.now = local(3, 16, 15)
    ticket = await desk.post(f"/tickets/{tid}/review", "supervisor", {"approve": True})
    assert ticket["status"] == "awaiting_callback"

    clock.now = local(3, 17, 10)
    survey = {"result": "dissatisfied", "comment": "仍有油烟"}
    ticket = await desk.post(f"/tickets/{tid}/callback", "agent", survey)
    assert ticket["status"] == "dispatched" and ticket["redo_count"] == 1
    assert at(ticket["due_at"]) == local(4, 9)  # 15 working days again, across Qingming

    clock.now = local(3, 17, 14)
    await desk.post(f"/tickets/{tid}/sign", "housing")
    clock.now = local(3, 25, 9)
    await desk.post(f"/tickets/{tid}/reply", "housing", {"result": "店铺已停业整顿"})
    clock.now = local(3, 25, 10)
    await desk.post(f"/tickets/{tid}/review", "supervisor", {"approve": True})
    clock.now = local(3, 26, 10)
    survey = {"result": "satisfied", "comment": "问题解决了"}
    ticket = await desk.post(f"/tickets/{tid}/callback", "agent", survey)
    assert ticket["status"] == "resolved" and ticket["satisfaction"] == "satisfied"
    clock.now = local(3, 27, 9)
    ticket = await desk.post(f"/tickets/{tid}/archive", "supervisor")
    assert ticket["status"] == "archived"

    trail = await desk.get(f"/tickets/{tid}/events", "supervisor")
    assert [(e["action"], e["from_status"], e["to_status"], e["actor"]) for e in trail] == [
        ("created", None, "pending", "agent"),
        ("dispatched", "pending", "dispatched", "agent"),
        ("signed", "dispatched", "in_progress", "housing"),
        ("extension_requested", "in_progress", "extension_requested", "housing"),
        ("extension_approved", "extension_requested", "in_progress", "supervisor"),
        ("replied", "in_progress", "replied", "housing"),
        ("reply_approved", "replied", "awaiting_callback", "supervisor"),
        ("redo", "awaiting_callback", "dispatched", "agent"),
        ("signed", "dispatched", "in_progress", "housing"),
        ("replied", "in_progress", "replied", "housing"),
        ("reply_approved", "replied", "awaiting_callback", "supervisor"),
        ("callback", "awaiting_callback", "resolved", "agent"),
        ("archived", "resolved", "archived", "supervisor"),
    ]
    assert [at(e["at"]) for e in trail][-1] == local(3, 27, 9)
    assert trail[1]["note"] == "请住建局牵头" and trail[7]["note"] == "仍有油烟"
    assert trail[2]["actor_subject"] == "housing" and trail[2]["actor_role"] == "department"

    # the citizen checks progress with the query code and their phone number
    code = {"query_code": ticket["query_code"], "phone": "13812345678"}
    status = await desk.post("/tickets/lookup", "agent", code)
    assert status["status"] == "archived" and status["result"] == "店铺已停业整顿"
    wrong = {"query_code": ticket["query_code"], "phone": "13800000000"}
    assert (await desk.post("/tickets/lookup", "agent", wrong, expect=404))["error"] == "not_found"


async def test_a_department_sees_and_acts_only_on_its_own_tickets(desk: Desk) -> None:
    mine = await desk.create()
    theirs = await desk.create(content="自来水发黄，有异味", address="西城区长安路1号")
    await desk.post(f"/tickets/{mine['id']}/dispatch", "agent", {"lead": "housing"})
    await desk.post(f"/tickets/{theirs['id']}/dispatch", "agent", {"lead": "water"})
    pending = await desk.create(content="咨询公积金提取")

    listed = await desk.get("/tickets", "housing")
    assert [t["id"] for t in listed["items"]] == [mine["id"]] and listed["total"] == 1
    assert len((await desk.get("/tickets", "agent"))["items"]) == 3
    for path in (f"/tickets/{theirs['id']}", f"/tickets/{pending['id']}"):
        missing = await desk.get(path, "housing", expect=404)
        assert missing["error"] == "not_found"
    await desk.get(f"/tickets/{theirs['id']}/events", "housing", expect=404)
    await desk.post(f"/tickets/{theirs['id']}/sign", "housing", expect=404)
    await desk.post(f"/tickets/{theirs['id']}/notes", "housing", {"note": "x"}, expect=404)
    assert (await desk.get("/tickets", "housing", department="water"))["total"] == 0
    # roles: departments do not create or dispatch; the center does not sign
    await desk.post("/tickets", "housing", COMPLAINT, expect=403)
    await desk.post(f"/tickets/{mine['id']}/dispatch", "housing", {"lead": "water"}, expect=403)
    await desk.post(f"/tickets/{mine['id']}/sign", "agent", expect=403)
    await desk.post(f"/tickets/{mine['id']}/sign", "admin", expect=403)
    # a department token must name its department
    refused = await desk.get("/tickets", "nobody", expect=403)
    assert "names no department" in refused["message"]
    # nor does anyone get in without a valid token
    assert (await desk.client.get("/tickets")).status_code == 401
    forged = {"Authorization": "Bearer cc_forged"}
    assert (await desk.client.get("/tickets", headers=forged)).status_code == 401


async def test_reporters_stay_unknown_to_departments(desk: Desk) -> None:
    call_id = await saved_call(desk, "100.1", "recordings/2026/02/13/100.1.wav")
    report = await desk.create(
        category="report",
        content="某餐馆使用地沟油",
        caller_name="李先生",
        caller_phone="13911112222",
        call_id=call_id,
    )
    secret = await desk.create(confidential=True, caller_phone="13933334444")
    plain = await desk.create(caller_phone="13955556666")
    for ticket in (report, secret, plain):
        await desk.post(f"/tickets/{ticket['id']}/dispatch", "agent", {"lead": "housing"})

    seen = await desk.get(f"/tickets/{report['id']}", "housing")
    assert seen["caller_hidden"] is True
    assert seen["caller_name"] is None and seen["caller_phone"] is None
    assert seen["recording"] is None and seen["query_code"] is None
    assert seen["call_id"] is None
    assert seen["content"] == "某餐馆使用地沟油"
    assert (await desk.get(f"/tickets/{secret['id']}", "housing"))["caller_phone"] is None
    detail = await desk.get(f"/tickets/{plain['id']}", "housing")
    assert detail["caller_phone"] == "13955556666"  # the handler may call the citizen back
    listed = {t["id"]: t for t in (await desk.get("/tickets", "housing"))["items"]}
    assert listed[report["id"]]["caller_phone"] is None
    assert listed[report["id"]]["caller_name"] is None
    assert listed[plain["id"]]["caller_phone"] == "139****6666"  # masked in lists
    # the center sees everything, unmasked
    center = await desk.get(f"/tickets/{report['id']}", "agent")
    assert center["caller_phone"] == "13911112222" and center["caller_name"] == "李先生"
    assert center["recording"] == "recordings/2026/02/13/100.1.wav"
    rows = {t["id"]: t for t in (await desk.get("/tickets", "supervisor"))["items"]}
    assert rows[plain["id"]]["caller_phone"] == "13955556666"
    # nor can a department find a reporter by phone number
    await desk.get("/tickets", "housing", expect=403, phone="13911112222")
    found = await desk.get("/tickets", "agent", phone="13911112222")
    assert [t["id"] for t in found["items"]] == [report["id"]]


async def test_an_illegal_transition_is_409_and_changes_nothing(desk: Desk) -> None:
    ticket = await desk.create()
    tid = ticket["id"]
    await desk.post(f"/tickets/{tid}/dispatch", "agent", {"lead": "housing"})
    before = await desk.get(f"/tickets/{tid}", "supervisor")
    trail = await desk.get(f"/tickets/{tid}/events", "supervisor")

    refused = await desk.post(f"/tickets/{tid}/reply", "housing", {"result": "done"}, expect=409)
    assert refused["error"] == "illegal_transition"
    assert "it is dispatched" in refused["message"] and ticket["number"] in refused["message"]
    await desk.post(f"/tickets/{tid}/archive", "supervisor", {"note": "x"}, expect=409)
    await desk.post(f"/tickets/{tid}/review", "supervisor", {"approve": True}, expect=409)
    await desk.post(f"/tickets/{tid}/answer", "agent", {"answer": "x"}, expect=409)
    await desk.post(f"/tickets/{tid}/dispatch", "agent", {"lead": "water"}, expect=409)
    survey = {"result": "satisfied"}
    await desk.post(f"/tickets/{tid}/callback", "agent", survey, expect=409)
    await desk.call("PATCH", f"/tickets/{tid}", "agent", 409, json={"content": "改"})

    assert await desk.get(f"/tickets/{tid}", "supervisor") == before
    assert await desk.get(f"/tickets/{tid}/events", "supervisor") == trail
    # the return window: 24 working hours from dispatch on Friday 09:00 → Saturday (worked) 09:00
    desk.clock.now = local(2, 14, 9)
    late = await desk.post(f"/tickets/{tid}/return", "housing", {"reason": "错派"}, expect=409)
    assert "window closed" in late["message"]
    assert await desk.get(f"/tickets/{tid}", "supervisor") == before


async def test_return_and_redispatch_keep_the_history(desk: Desk) -> None:
    ticket = await desk.create()
    tid = ticket["id"]
    await desk.post(f"/tickets/{tid}/dispatch", "agent", {"lead": "housing", "co": ["water"]})
    desk.clock.now = local(2, 13, 15)
    back = await desk.post(f"/tickets/{tid}/return", "housing", {"reason": "属供水公司职责"})
    assert back["status"] == "returned" and back["lead_department"] is None
    await desk.get(f"/tickets/{tid}", "housing", expect=404)  # no longer theirs
    await desk.post(f"/tickets/{tid}/dispatch", "agent", {"lead": "water"})
    current = await desk.get(f"/tickets/{tid}", "water")
    assert [(a["department"], a["role"]) for a in current["assignments"]] == [
        ("housing", "lead"),
        ("water", "co"),
        ("water", "lead"),
    ]
    assert current["assignments"][0]["returned_at"] is not None
    assert [a["ended_at"] is None for a in current["assignments"]] == [False, False, True]
    again = await desk.post(f"/tickets/{tid}/dispatch", "agent", {"lead": "housing"}, expect=409)
    assert again["error"] == "illegal_transition"
    fresh = await desk.create()
    unknown = await desk.post(
        f"/tickets/{fresh['id']}/dispatch", "agent", {"lead": "nowhere"}, expect=422
    )
    assert "department nowhere does not exist" in unknown["message"]


async def test_drafts_from_voicemail_are_completed_then_registered(desk: Desk) -> None:
    draft = await desk.create(
        source="voicemail",
        draft=True,
        category=None,
        topic="",
        content="留言转写：路灯不亮",
        voicemail="1771000000.1",
        expect=422,
    )
    assert "voicemail 1771000000.1 does not exist" in draft["message"]
    recorded = desk.files.voicemail_dir / "1771000000.1.wav"
    recorded.write_bytes(b"RIFF")
    draft = await desk.create(
        source="voicemail",
        draft=True,
        category=None,
        topic="",
        content="留言转写：路灯不亮",
        voicemail="1771000000.1",
    )
    assert draft["status"] == "draft" and draft["recording"] == str(recorded)
    tid = draft["id"]
    incomplete = await desk.post(f"/tickets/{tid}/register", "agent", expect=422)
    assert "category" in incomplete["message"]
    edited = await desk.call("PATCH", f"/tickets/{tid}", "agent", json={"category": "help"})
    assert edited["category"] == "help" and edited["status"] == "draft"
    await desk.call("PATCH", f"/tickets/{tid}", "agent", 422, json={"topic": "nonexistent"})
    await desk.call("PATCH", f"/tickets/{tid}", "agent", 422, json={"category": None})
    assert (await desk.post(f"/tickets/{tid}/register", "agent"))["status"] == "pending"
    trail = await desk.get(f"/tickets/{tid}/events", "agent")
    assert [e["action"] for e in trail] == ["created", "edited", "registered"]
    assert trail[1]["details"]["changed"] == {"category": [None, "help"]}
    # the IVR cannot read back a draft
    code = {"query_code": draft["query_code"], "phone": "13812345678"}
    assert (await desk.post("/tickets/lookup", "agent", code))["status"] == "pending"


async def test_search_filters_sorting_and_chinese_full_text(desk: Desk) -> None:
    clock = desk.clock
    contents = [
        ("complaint", "小区楼下烧烤店油烟扰民，晚上十点后仍在营业", "housing"),
        ("complaint", "夜间施工噪音扰民，凌晨两点还在打桩", "housing"),
        ("help", "路灯不亮，晚上很黑，老人出行不便", "water"),
        ("consultation", "公积金提取需要什么材料 100%确定吗", None),
    ]
    ids = []
    for day, (category, content, lead) in enumerate(contents, start=2):
        clock.now = local(3, day, 10)
        ticket = await desk.create(category=category, content=content)
        ids.append(ticket["id"])
        if lead:
            await desk.post(f"/tickets/{ticket['id']}/dispatch", "agent", {"lead": lead})

    async def found(**params: Any) -> list[int]:
        page = await desk.get("/tickets", "supervisor", **params)
        return [t["id"] for t in page["items"]]

    assert await found(q="扰民") == [ids[1], ids[0]]  # newest first
    assert await found(q="夜间施工") == [ids[1]]
    assert await found(q="烧烤 油烟") == [ids[0]]  # every word must occur
    assert await found(q="烧烤 施工") == []
    assert await found(q="100%") == [ids[3]]
    assert await found(q="%") == [ids[3]]  # a literal percent sign, not a wildcard
    assert await found(q="_") == []
    assert await found(category="help") == [ids[2]]
    assert await found(department="housing") == [ids[1], ids[0]]
    assert await found(status="pending") == [ids[3]]
    assert await found(status=["pending", "dispatched"], sort="created_at") == ids
    assert await found(topic="urban.property", limit=2, offset=1) == [ids[2], ids[1]]
    window = {"from": local(3, 3).isoformat(), "to": local(3, 5).isoformat()}
    assert await found(**window) == [ids[2], ids[1]]
    number = (await desk.get(f"/tickets/{ids[2]}", "agent"))["number"]
    assert number == "20260304-0001" and await found(number=number) == [ids[2]]
    assert await found(sort="due_at", status="dispatched") == [ids[2], ids[0], ids[1]]
    page = await desk.get("/tickets", "supervisor", limit=1)
    assert page["total"] == 4 and len(page["items"]) == 1
    await desk.get("/tickets", "supervisor", expect=422, sort="caller_phone")
    await desk.get("/tickets", "supervisor", expect=422, limit=500)
    await desk.get("/tickets", "supervisor", expect=422, **{"from": "2026-03-03T00:00:00"})

    # SLA colours as the clock runs: the help ticket (5 days from Wed 4 March) is due 12 March
    clock.now = local(3, 6, 12)
    assert await found(sla="green", sort="created_at") == ids[:3]
    clock.now = local(3, 11, 12)
    assert await found(sla="yellow") == [ids[2]]
    clock.now = local(3, 12)
    assert await found(sla="red") == [ids[2]]
    sla = await desk.get("/tickets/sla", "supervisor")
    assert sla["total"] == {"green": 2, "yellow": 0, "red": 1}
    assert sla["departments"] == [
        {"department": "housing", "green": 2, "yellow": 0, "red": 0},
        {"department": "water", "green": 0, "yellow": 0, "red": 1},
    ]
    water = await desk.get("/tickets/sla", "water")
    assert water["total"] == {"green": 0, "yellow": 0, "red": 1}


async def test_duplicates_are_suggested_and_linked(desk: Desk) -> None:
    clock = desk.clock
    clock.now = local(3, 2, 10)
    first = await desk.create()
    elsewhere = await desk.create(caller_phone="13700000000", address="西城区", content="油烟扰民")
    clock.now = local(3, 20, 10)
    created = await desk.post(
        "/tickets",
        "agent",
        {**COMPLAINT, "content": "楼下烧烤店油烟扰民，营业到很晚，上次投诉后没有改善"},
        expect=201,
    )
    suggested = created["duplicates"]
    assert [s["ticket_id"] for s in suggested] == [first["id"]]
    assert suggested[0]["same_phone"] and suggested[0]["same_address"]
    assert suggested[0]["number"] == first["number"]
    tid = created["ticket"]["id"]
    assert [s["ticket_id"] for s in await desk.get(f"/tickets/{tid}/duplicates", "agent")] == [
        first["id"]
    ]
    linked = await desk.post(
        f"/tickets/{tid}/links", "agent", {"ticket_id": first["id"], "note": "重复投诉"}, 201
    )
    assert [link["number"] for link in linked] == [first["number"]]
    again = await desk.post(f"/tickets/{first['id']}/links", "agent", {"ticket_id": tid}, 409)
    assert again["error"] == "conflict"
    await desk.post(f"/tickets/{tid}/links", "agent", {"ticket_id": tid}, 422)
    back = await desk.get(f"/tickets/{first['id']}/links", "agent")
    assert [link["ticket_id"] for link in back] == [tid]
    for one in (tid, first["id"]):
        trail = await desk.get(f"/tickets/{one}/events", "agent")
        assert trail[-1]["action"] == "linked"
    # a department sees a link only to tickets of its own
    await desk.post(f"/tickets/{tid}/dispatch", "agent", {"lead": "housing"})
    assert await desk.get(f"/tickets/{tid}/links", "housing") == []
    await desk.post(f"/tickets/{first['id']}/dispatch", "agent", {"lead": "housing"})
    assert [link["ticket_id"] for link in await desk.get(f"/tickets/{tid}/links", "housing")] == [
        first["id"]
    ]
    # beyond the 30-day window nothing is suggested
    clock.now = local(4, 2, 10)
    late = await desk.post("/tickets", "agent", COMPLAINT, expect=201)
    assert first["id"] not in [s["ticket_id"] for s in late["duplicates"]]
    assert elsewhere["id"] not in [s["ticket_id"] for s in late["duplicates"]]


async def test_supervision_is_opened_listed_and_closed(desk: Desk) -> None:
    ticket = await desk.create()
    tid = ticket["id"]
    await desk.post(f"/tickets/{tid}/dispatch", "agent", {"lead": "housing"})
    body = {
        "reason": "media_exposure",
        "note": "媒体曝光，请三日内办结",
        "due_at": "2026-02-25T18:00:00+08:00",
    }
    await desk.post(f"/tickets/{tid}/supervisions", "agent", body, expect=403)
    opened = await desk.post(f"/tickets/{tid}/supervisions", "supervisor", body, expect=201)
    assert opened["ticket_number"] == ticket["number"] and opened["overdue"] is False
    assert (await desk.get("/supervisions", "housing", open=True))["total"] == 1
    assert (await desk.get("/supervisions", "water"))["total"] == 0
    desk.clock.now = local(2, 26, 9)
    overdue = await desk.get("/supervisions", "supervisor", overdue=True)
    assert [s["id"] for s in overdue["items"]] == [opened["id"]]
    done = {"note": "已督促办结"}
    closed = await desk.post(f"/supervisions/{opened['id']}/close", "supervisor", done)
    assert closed["closed_at"] is not None and closed["overdue"] is False
    await desk.post(f"/supervisions/{opened['id']}/close", "supervisor", done, expect=409)
    assert (await desk.get("/supervisions", "supervisor", open=True))["total"] == 0
    assert (await desk.get("/supervisions", "supervisor", open=False))["total"] == 1
    actions = [e["action"] for e in await desk.get(f"/tickets/{tid}/events", "housing")]
    assert actions[-2:] == ["supervision_opened", "supervision_closed"]


async def test_policy_is_admin_only_and_applies_to_new_dispatches(desk: Desk) -> None:
    policy = await desk.get("/tickets/policy", "agent")
    assert policy["limits"]["complaint"] == 15 and policy["sign_days"] == 1
    change = {"limits": {"complaint": 10}, "warn_share": 0.3}
    await desk.call("PUT", "/tickets/policy", "supervisor", 403, json=change)
    updated = await desk.call("PUT", "/tickets/policy", "admin", json=change)
    assert updated["limits"]["complaint"] == 10 and updated["limits"]["report"] == 30
    await desk.call("PUT", "/tickets/policy", "admin", 422, json={"limits": {"complaint": 0}})
    desk.clock.now = local(3, 2, 9)
    ticket = await desk.create()
    ticket = await desk.post(f"/tickets/{ticket['id']}/dispatch", "agent", {"lead": "housing"})
    assert at(ticket["due_at"]) == local(3, 17)  # 10 working days: 3-6, 9-13, 16


async def test_a_ticket_links_to_its_call_and_recording(desk: Desk) -> None:
    desk.clock.now = local(3, 2, 9)
    call_id = await saved_call(desk, "1772413200.7", "/run/recordings/2026/03/02/1772413200.7.wav")
    # a recording is never named by a path: only through its call (or a voicemail's id)
    refused = await desk.create(
        call_id=call_id, recording="recordings/1772413200.7.wav", expect=422
    )
    assert "never by a path" in refused["message"]
    # naming only the call is enough: the ticket takes the call's recording
    ticket = await desk.create(call_id=call_id)
    assert ticket["call_id"] == call_id
    assert ticket["recording"] == "/run/recordings/2026/03/02/1772413200.7.wav"
    missing = await desk.post("/tickets", "agent", {**COMPLAINT, "call_id": 987654321}, 422)
    assert "call 987654321 does not exist" in missing["message"]


async def test_pages_continue_by_cursor_and_say_their_total(desk: Desk) -> None:
    ids = []
    for minute in range(5):
        desk.clock.now = local(3, 2, 10, minute)
        ids.append((await desk.create(content=f"饭店油烟扰民 {minute}"))["id"])
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, "q": "油烟"} | ({"cursor": cursor} if cursor else {})
        page = await desk.get("/tickets", "supervisor", **params)
        assert (page["total"], page["total_text"], page["total_capped"]) == (5, "5", False)
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    await desk.get("/tickets", "supervisor", expect=422, cursor="not a cursor!")
    await desk.get("/tickets", "supervisor", expect=422, cursor="bm90LWEtY3Vyc29y")
    first = await desk.get("/tickets", "supervisor", limit=2)
    await desk.get("/tickets", "supervisor", expect=422, cursor=first["next_cursor"], offset=2)
