"""/knowledge over HTTP on PostgreSQL and SQLite: the workflow and its audit trail, who edits what,
what agents never see, and a ticket answered from an entry keeping its version."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.api.knowledge_desk import Desk, knowledge_desk

FUND = {
    "title": "住房公积金提取条件及办理流程",
    "answer_markdown": "职工**购买**、建造自住住房，可以提取住房公积金。\n\n"
    "办理地点：市政务服务中心二楼公积金窗口。",
    "department": "housing",
    "topic": "housing.fund",
    "keywords": ["公积金", "提取", "取钱"],
    "basis": "《住房公积金管理条例》第二十四条",
}


@pytest.fixture(params=["sqlite", "postgresql"])
async def desk(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str) -> AsyncIterator[Desk]:
    url = pg_url if request.param == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'kb.db'}"
    async with knowledge_desk(url) as desk:
        yield desk


async def search(desk: Desk, q: str, who: str = "agent", **params: Any) -> list[int]:
    found = await desk.get("/knowledge/search", who, q=q, **params)
    return [item["id"] for item in found["items"]]


async def test_draft_review_publish_revise_retire_with_audit_trail(desk: Desk) -> None:
    draft = await desk.post("/knowledge/entries", "housing", FUND, expect=201)
    eid = draft["id"]
    assert (draft["version"], draft["status"]) == (1, "draft")
    assert await search(desk, "公积金怎么取") == []
    await desk.post(f"/knowledge/entries/{eid}/submit", "housing")
    # a department cannot publish its own entry, nor send it back
    await desk.post(f"/knowledge/entries/{eid}/publish", "housing", expect=403)
    await desk.post(f"/knowledge/entries/{eid}/return", "editor", {"reason": ""}, expect=422)
    back = await desk.post(f"/knowledge/entries/{eid}/return", "editor", {"reason": "缺少办理材料"})
    assert back["status"] == "returned"
    await desk.post(f"/knowledge/entries/{eid}/publish", "editor", expect=409)

    v2 = {**FUND, "answer_markdown": FUND["answer_markdown"] + "\n\n所需材料：身份证、购房合同。"}
    revised = await desk.put(f"/knowledge/entries/{eid}", "housing", v2)
    assert (revised["version"], revised["status"]) == (2, "draft")
    await desk.post(f"/knowledge/entries/{eid}/submit", "housing")
    desk.clock.now += timedelta(hours=1)
    published = await desk.post(f"/knowledge/entries/{eid}/publish", "editor")
    assert (published["status"], published["published_version"]) == ("published", 2)
    async with desk.engine.connect() as conn:
        counts = dict((await conn.execute(text("SELECT term, docs FROM knowledge_terms"))).all())
    assert counts["公积金"] == 1 and counts["合同"] == 1

    assert await search(desk, "公积金怎么取") == [eid]
    seen = await desk.get(f"/knowledge/entries/{eid}", "agent")
    assert seen["version"] == 2 and "购房合同" in seen["answer_markdown"]
    assert "<strong>购买</strong>" in seen["answer_html"]

    # a revision is a draft: agents keep reading version 2 until version 3 is published
    v3 = {**v2, "title": "住房公积金提取条件、材料及办理流程"}
    await desk.put(f"/knowledge/entries/{eid}", "housing", v3)
    assert (await desk.get(f"/knowledge/entries/{eid}", "agent"))["version"] == 2
    assert (await desk.get(f"/knowledge/entries/{eid}", "housing"))["version"] == 3
    await desk.get(f"/knowledge/entries/{eid}", "agent", expect=404, version=3)
    await desk.post(f"/knowledge/entries/{eid}/submit", "housing")
    await desk.post(f"/knowledge/entries/{eid}/publish", "editor")
    hit = (await desk.get("/knowledge/search", "agent", q="公积金怎么取"))["items"][0]
    assert (hit["id"], hit["version"], hit["title"]) == (eid, 3, v3["title"])

    retired = await desk.post(f"/knowledge/entries/{eid}/retire", "editor", {"reason": "政策废止"})
    assert (retired["status"], retired["published_version"]) == ("retired", None)
    assert await search(desk, "公积金怎么取") == []
    await desk.get(f"/knowledge/entries/{eid}", "agent", expect=404)
    # the index's term counts follow: nothing indexed holds any term any more
    async with desk.engine.connect() as conn:
        held = await conn.scalar(text("SELECT max(docs) FROM knowledge_terms"))
        assert held == 0

    history = await desk.get(f"/knowledge/entries/{eid}/history", "editor")
    assert [v["version"] for v in history["versions"]] == [1, 2, 3]
    # a saved version never changes: version 1 still reads as it was drafted
    assert history["versions"][0]["answer_markdown"] == FUND["answer_markdown"]
    assert history["versions"][0]["published_at"] is None
    assert history["versions"][1]["published_at"] is not None
    trail = [(e["action"], e["version"], e["actor"], e["note"]) for e in history["events"]]
    assert trail == [
        ("created", 1, "housing", ""),
        ("submitted", 1, "housing", ""),
        ("returned", 1, "editor", "缺少办理材料"),
        ("revised", 2, "housing", ""),
        ("submitted", 2, "housing", ""),
        ("published", 2, "editor", ""),
        ("revised", 3, "housing", ""),
        ("submitted", 3, "housing", ""),
        ("published", 3, "editor", ""),
        ("retired", 3, "editor", "政策废止"),
    ]
    # the history is for the owners and the editors
    await desk.get(f"/knowledge/entries/{eid}/history", "water", expect=404)
    await desk.get(f"/knowledge/entries/{eid}/history", "agent", expect=403)


async def test_a_department_edits_only_its_own_entries(desk: Desk) -> None:
    entry = await desk.post("/knowledge/entries", "housing", FUND, expect=201)
    eid = entry["id"]
    await desk.post("/knowledge/entries", "water", FUND, expect=403)
    await desk.post("/knowledge/entries", "agent", FUND, expect=403)
    await desk.post("/knowledge/entries", "supervisor", FUND, expect=403)
    await desk.put(f"/knowledge/entries/{eid}", "water", {**FUND, "title": "改"}, expect=403)
    await desk.post(f"/knowledge/entries/{eid}/submit", "water", expect=403)
    # nor may the owner hand its entry to another department
    moved = {**FUND, "department": "water"}
    await desk.put(f"/knowledge/entries/{eid}", "housing", moved, expect=403)
    # a department's worklist holds its own entries; another's draft is not readable
    assert (await desk.get("/knowledge/entries", "water"))["total"] == 0
    await desk.get("/knowledge/entries", "water", expect=403, department="housing")
    assert [e["id"] for e in (await desk.get("/knowledge/entries", "housing"))["items"]] == [eid]
    await desk.get(f"/knowledge/entries/{eid}", "water", expect=404)
    # an unknown department or topic is refused with the field named
    unknown = await desk.post(
        "/knowledge/entries", "editor", {**FUND, "topic": "nowhere"}, expect=422
    )
    assert unknown["message"].startswith("topic:")
    # editors work on every department's entries
    await desk.put(f"/knowledge/entries/{eid}", "editor", moved)
    assert (await desk.get(f"/knowledge/entries/{eid}", "water"))["department"] == "water"
    assert (await desk.get("/knowledge/entries", "housing"))["total"] == 0


async def test_agents_never_see_a_draft_or_an_expired_entry(desk: Desk) -> None:
    today = desk.base.today()
    draft = await desk.post("/knowledge/entries", "housing", FUND, expect=201)
    expired = await desk.published(
        **{
            **FUND,
            "title": "2025年公积金提取临时政策",
            "effective_until": str(today - timedelta(days=1)),
        }
    )
    future = await desk.published(
        **{**FUND, "title": "公积金提取新规", "effective_from": str(today + timedelta(days=3))}
    )
    soon = await desk.published(
        **{
            **FUND,
            "title": "公积金提取阶段性政策",
            "effective_until": str(today + timedelta(days=10)),
        }
    )
    lasting = await desk.published(**FUND)
    for who in ("agent", "supervisor"):
        assert set(await search(desk, "公积金提取", who)) == {soon["id"], lasting["id"]}
        for hidden in (draft, expired, future):
            await desk.get(f"/knowledge/entries/{hidden['id']}", who, expect=404)
    await desk.get("/knowledge/entries", "agent", expect=403)
    # the owners see what is about to lapse; other departments do not
    near = await desk.get("/knowledge/expiring", "housing", days=30)
    assert [e["id"] for e in near] == [soon["id"]]
    assert await desk.get("/knowledge/expiring", "water") == []
    assert [e["id"] for e in await desk.get("/knowledge/expiring", "editor")] == [soon["id"]]
    # a day after its `until` the entry leaves search without anyone touching it, and one
    # whose `from` has come joins it
    desk.clock.now += timedelta(days=11)
    assert set(await search(desk, "公积金提取")) == {future["id"], lasting["id"]}


async def test_search_filters_snippets_and_knowledge_gaps(desk: Desk) -> None:
    fund = await desk.published(**FUND)
    water = await desk.published(
        "water",
        title="停水通知查询及临时供水",
        answer_markdown="计划停水会提前24小时在官网公告；突发停水请拨打供水热线<script>x</script>。",
        department="water",
        topic="public",
        keywords=["停水", "供水"],
        region="东城区",
    )
    found = await desk.get("/knowledge/search", "agent", q="家里没水了怎么回事")
    assert [i["id"] for i in found["items"]] == [water["id"]]
    snippet = found["items"][0]["snippet_html"]
    assert (
        "<mark>停水</mark>" in snippet and "<script" not in snippet and "&lt;script&gt;" in snippet
    )
    assert await search(desk, "停水", department="housing") == []
    assert await search(desk, "停水", topic="public") == [water["id"]]
    assert await search(desk, "公积金", topic="housing") == [fund["id"]]
    assert await search(desk, "停水", region="西城区") == []
    assert await search(desk, "停水", region="东城区") == [water["id"]]
    # partial words as agents type them
    assert await search(desk, "公积") == [fund["id"]]
    entry = await desk.get(f"/knowledge/entries/{water['id']}", "agent")
    assert "<script>" not in entry["answer_html"]

    for _ in range(2):
        assert await search(desk, "宠物医院  营业时间") == []
    assert await search(desk, "飞机票改签") == []
    gaps = await desk.get("/knowledge/gaps", "supervisor")
    assert [(g["query"], g["count"]) for g in gaps] == [("宠物医院 营业时间", 2), ("飞机票改签", 1)]
    await desk.get("/knowledge/gaps", "agent", expect=403)
    await desk.get("/knowledge/search", "agent", expect=422, q="")


async def test_a_ticket_keeps_the_version_it_was_answered_from(desk: Desk) -> None:
    entry = await desk.published(**FUND)
    eid = entry["id"]
    body = {"caller_phone": "13800000000", "category": "consultation", "content": "公积金怎么取"}
    ticket = (await desk.post("/tickets", "agent", body, expect=201))["ticket"]
    draft = await desk.put(f"/knowledge/entries/{eid}", "housing", {**FUND, "title": "新标题"})
    refused = await desk.post(
        f"/tickets/{ticket['id']}/answer",
        "agent",
        {
            "answer": "按知识库答复",
            "knowledge_entry_id": eid,
            "knowledge_version": draft["version"],
        },
        expect=422,
    )
    assert "never published" in refused["message"]
    await desk.post(
        f"/tickets/{ticket['id']}/answer",
        "agent",
        {"answer": "按知识库答复", "knowledge_entry_id": eid},
        expect=422,
    )
    answered = await desk.post(
        f"/tickets/{ticket['id']}/answer",
        "agent",
        {"answer": "按知识库答复", "knowledge_entry_id": eid, "knowledge_version": 1},
    )
    assert answered["knowledge"] == {"entry_id": eid, "version": 1, "title": FUND["title"]}
    await desk.post(f"/knowledge/entries/{eid}/submit", "housing")
    await desk.post(f"/knowledge/entries/{eid}/publish", "editor")
    assert (await desk.get(f"/knowledge/entries/{eid}", "agent"))["title"] == "新标题"
    kept = await desk.get(f"/tickets/{ticket['id']}", "supervisor")
    assert kept["knowledge"] == {"entry_id": eid, "version": 1, "title": FUND["title"]}
    # and the version it names still reads as it was
    old = await desk.get(f"/knowledge/entries/{eid}", "editor", version=1)
    assert old["title"] == FUND["title"]
    plain = (await desk.post("/tickets", "agent", body, expect=201))["ticket"]
    answered = await desk.post(f"/tickets/{plain['id']}/answer", "agent", {"answer": "已答复"})
    assert answered["knowledge"] is None


async def test_statistics_share_answered_on_the_spot_and_entries_most_used(desk: Desk) -> None:
    fund = await desk.published(**FUND)
    water = await desk.published(
        "water", title="停水查询", answer_markdown="拨打供水热线。", department="water"
    )
    body = {"caller_phone": "13800000000", "category": "consultation", "content": "咨询"}
    uses = [fund["id"], fund["id"], water["id"], None]
    for entry_id in uses:
        ticket = (await desk.post("/tickets", "agent", body, expect=201))["ticket"]
        answer: dict[str, Any] = {"answer": "已答复"}
        if entry_id is not None:
            answer |= {"knowledge_entry_id": entry_id, "knowledge_version": 1}
        await desk.post(f"/tickets/{ticket['id']}/answer", "agent", answer)
    dispatched = (await desk.post("/tickets", "agent", body, expect=201))["ticket"]
    await desk.post(f"/tickets/{dispatched['id']}/dispatch", "agent", {"lead": "housing"})
    await desk.get("/knowledge/search", "agent", q="飞机票改签")
    desk.clock.now += timedelta(minutes=5)
    stats = await desk.get("/knowledge/stats", "supervisor")
    assert (stats["tickets"], stats["answered_directly"], stats["answered_from_knowledge"]) == (
        5,
        4,
        3,
    )
    assert stats["direct_share"] == pytest.approx(0.8)
    assert stats["knowledge_share"] == pytest.approx(0.6)
    assert [(e["entry_id"], e["uses"]) for e in stats["top_entries"]] == [
        (fund["id"], 2),
        (water["id"], 1),
    ]
    assert [g["query"] for g in stats["gaps"]] == ["飞机票改签"]
    assert stats["calls_answered"] == 0 and stats["call_direct_share"] is None
    await desk.get("/knowledge/stats", "agent", expect=403)
    await desk.get("/knowledge/stats", "housing", expect=403)
    assert (await desk.get("/knowledge/stats", "editor"))["tickets"] == 5
