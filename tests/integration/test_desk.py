"""The agent desk in a real browser (Playwright, the system Chromium) against the running engine,
the real Asterisk testbed and PostgreSQL: a citizen with an earlier ticket calls, the desk pops
the call with that ticket within a second of the agent's phone ringing, the agent writes a
complaint linked to it, brings a department onto the call and ends it with the silent-call
script. Screenshots of each state go to var/artifacts/."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import text

from callcenter.domain.access import Role
from callcenter.domain.calls import EndedBy
from callcenter.domain.seats import SeatState
from sip_testbed.testbed import PSTN_PORT, Testbed
from tests.api.test_tickets_api import TICKET_TABLES
from tests.conftest import engine_settings, started_engine
from tests.integration.audio import wait_until_written, wav_figures
from tests.integration.pages import ARTIFACTS, browser_page, screenshot, serving
from tests.integration.phones import SippRun, waiting_calls
from tests.integration.test_routing import (
    SEAT_TABLES,
    Desk,
    add_agents,
    agent_port,
    on_call,
    settled,
)

pytestmark = pytest.mark.testbed

CITIZEN = "13688880001"
EARLIER = {
    "caller_phone": CITIZEN,
    "address": "东城区幸福路12号",
    "category": "complaint",
    "content": "小区楼下烧烤店油烟扰民，晚上十点后仍在营业",
}
TYPED = "楼下烧烤店油烟扰民，十点后还在营业，上次投诉后一直没人管"
HOUSING = {"code": "housing", "name": "市住建局", "kind": "bureau", "hotline": "123-29"}
USER_TABLES = "auth_audit, user_sessions, users"
KNOWLEDGE_TABLES = (
    "knowledge_misses, knowledge_index, knowledge_events, knowledge_versions, knowledge_entries"
)
# a standard answer the desk offers when the agent types about 油烟
ENTRY = {
    "title": "夜间经营油烟扰民的投诉渠道",
    "answer_markdown": "餐饮油烟扰民由属地街道和市场监管部门处理，可先向所在街道反映。",
    "department": "housing",
    "keywords": ["油烟", "烧烤", "饭店"],
}


async def published_entry(desk: Desk, **fields: Any) -> dict[str, Any]:
    """A knowledge entry drafted, submitted and published (the admin may do each step)."""
    made = await desk.client.post("/knowledge/entries", json=ENTRY | fields, headers=desk.admin)
    assert made.status_code == 201, made.text
    entry_id = made.json()["id"]
    for step in ("submit", "publish"):
        done = await desk.client.post(f"/knowledge/entries/{entry_id}/{step}", headers=desk.admin)
        assert done.status_code == 200, done.text
    entry: dict[str, Any] = done.json()
    return entry


@pytest.fixture
async def served(testbed: Testbed, pg_url: str) -> AsyncIterator[tuple[Desk, str]]:
    # a long wrap-up, so that the agent ends it from the desk
    settings = engine_settings(
        testbed, pg_url, trunk_contact=f"sip:127.0.0.1:{PSTN_PORT}", wrap_up_seconds=300
    )
    app = await started_engine(
        settings, f"{SEAT_TABLES}, {TICKET_TABLES}, {USER_TABLES}, {KNOWLEDGE_TABLES}"
    )
    token = await app.tokens.create("admin", Role.ADMIN, datetime.now(UTC))
    try:
        async with serving(app.api) as base, httpx.AsyncClient(base_url=base) as client:
            yield Desk(app, client, {"Authorization": f"Bearer {token}"}, datetime.now(UTC)), base
    finally:
        await app.stop()


@pytest.fixture
def phones(testbed: Testbed) -> Iterator[list[subprocess.Popen[bytes]]]:
    running: list[subprocess.Popen[bytes]] = []
    yield running
    for proc in running:
        proc.terminate()
    for proc in running:
        proc.wait(timeout=10)


async def offered_to(
    agent_id: str, events: asyncio.Queue[dict[str, Any]], call: asyncio.Task[SippRun]
) -> float:
    """Wait for the engine to ring the agent's phone; when it did (monotonic)."""
    deadline = time.monotonic() + 40
    seen = []
    while time.monotonic() < deadline:
        assert not call.done(), f"the citizen's call ended first: {call.result().output}"
        try:
            event = await asyncio.wait_for(events.get(), timeout=1)
        except TimeoutError:
            continue
        seen.append(event["type"])
        if event["type"] == "call_offered" and event["agent_id"] == agent_id:
            return time.monotonic()
    raise AssertionError(f"{agent_id} was never offered the call; events: {seen}")


async def sign_in(page: Page, base: str, username: str, password: str) -> None:
    await page.goto(f"{base}/desk")
    await page.fill("#login-username", username)
    await page.fill("#login-password", password)
    await page.keyboard.press("Enter")
    await expect(page.locator("#desk")).to_be_visible()


async def test_the_desk_pops_the_call_files_the_ticket_and_acts_on_the_call(
    served: tuple[Desk, str], testbed: Testbed, phones: list[subprocess.Popen[bytes]]
) -> None:
    desk, base = served
    admin = desk.admin
    # the agent's phone rings 1.5 s, answers and talks all along; the department's picks up,
    # listens for 6 s and leaves
    agent_phone = {"ANSWER_MS": "1500", "TALK_MS": "90000", "DTMF": "~" * 80}
    phones.append(
        testbed.sipp_background(
            "agent_answer", ["-p", str(agent_port(60)), "-mp", "17600"], agent_phone
        )
    )
    department = {"ANSWER_MS": "300", "TALK_MS": "6000", "DTMF": "______"}
    phones.append(
        testbed.sipp_background("agent_answer", ["-p", str(PSTN_PORT), "-mp", "17700"], department)
    )
    assert (await desk.client.post("/departments", json=HOUSING, headers=admin)).status_code == 201
    for topic in (
        {"code": "urban", "name": "城乡建设"},
        {"code": "urban.noise", "name": "噪声油烟扰民", "parent": "urban", "department": "housing"},
    ):
        assert (await desk.client.post("/topics", json=topic, headers=admin)).status_code == 201
    entry = await published_entry(desk)
    await add_agents(desk, {"a61": {"lang:mandarin": 3}}, ports={"a61": agent_port(60)})
    await desk.app.users.create(
        "zhang.wei",
        "desk-password-1",
        Role.AGENT,
        datetime.now(UTC),
        display_name="张伟",
        subject="a61",
    )
    earlier = await desk.client.post("/tickets", json=EARLIER, headers=admin)
    assert earlier.status_code == 201, earlier.text
    old = earlier.json()["ticket"]

    async with browser_page() as page:
        # a wrong password is refused on the form; the right one opens the desk
        await page.goto(f"{base}/desk")
        await page.fill("#login-username", "zhang.wei")
        await page.fill("#login-password", "not-it")
        await page.click("#login-submit")
        await expect(page.locator("#login-error")).to_contain_text("用户名或密码错误")
        await screenshot(page, "desk-login-refused")
        await sign_in(page, base, "zhang.wei", "desk-password-1")
        await expect(page.locator("#who")).to_have_text("张伟（a61）")
        await expect(page.locator("#feed-status")).to_have_text("实时 live")
        seat = page.locator("#seat-state")
        await expect(seat).to_have_text("空闲 ready")
        # seat controls: pause with a reason, then ready again from the keyboard (Alt+1)
        await page.select_option("#pause-reason", "meal")
        await page.click("#seat-pause")
        await expect(seat).to_have_text("小休 paused · 用餐 meal")
        assert desk.app.dispatcher.seat("a61").state is SeatState.PAUSED
        await page.keyboard.press("Alt+1")
        await expect(seat).to_have_text("空闲 ready")
        await screenshot(page, "desk-ready")

        # the citizen calls; the agent's phone rings; the pop shows the earlier ticket in 1 s
        async with desk.app.feed.subscribe() as events:
            call = asyncio.create_task(
                waiting_calls(testbed, [(CITIZEN, 0, "lang:mandarin=1")], patience_ms=90_000)
            )
            rang = await offered_to("a61", events, call)
        row = page.locator(f'#pop-tickets tr[data-ticket="{old["number"]}"]')
        await row.wait_for(timeout=5000)
        popped = time.monotonic() - rang
        assert popped < 1.0, f"the pop took {popped:.2f} s"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "desk-pop-seconds.txt").write_text(f"{popped:.3f}\n")
        await expect(page.locator("#pop-number")).to_have_text(CITIZEN)
        # the IVR path as the agent reads it: this caller keyed nothing on the way in
        await expect(page.locator("#pop-ivr")).to_have_text("直接转人工")
        cells = await row.locator("td").all_text_contents()
        assert cells[0] == old["number"] and cells[3] == old["query_code"]
        assert cells[1] == "待处理" and cells[4] == "投诉"
        await expect(page.locator("#caller-phone")).to_have_value(CITIZEN)
        await screenshot(page, "desk-pop")

        await on_call(desk, "a61")
        linkedid = desk.app.dispatcher.call_of("a61")
        await expect(page.locator("#pop-state")).to_have_attribute("data-state", "on_call")
        await expect(seat).to_have_text("通话中 on call")

        # the agent writes a complaint; the earlier ticket is offered as a duplicate
        await page.check("#category-complaint")
        # the topic suggests its department, which the three-way phone book then offers first
        await page.select_option("#topic", "urban.noise")
        await expect(page.locator("#suggested-department")).to_have_text("市住建局")
        await page.fill("#address", EARLIER["address"])
        await page.locator("#content").press_sequentially(TYPED, delay=5)
        offered = page.locator(f'#duplicates li[data-ticket="{old["number"]}"]')
        await expect(offered).to_be_visible()
        await offered.locator("button").click()
        await expect(offered.locator("button")).to_have_text("已关联 ✓")
        # the knowledge panel searched as the agent typed and offers the standard answer
        await expect(page.locator(f'#kb-results li[data-entry="{entry["id"]}"]')).to_be_visible()
        await screenshot(page, "desk-intake")

        # the draft survives a reload
        await page.reload()
        await expect(page.locator("#content")).to_have_value(TYPED)
        await expect(page.locator("#category-complaint")).to_be_checked()
        await expect(page.locator("#topic")).to_have_value("urban.noise")
        await expect(offered.locator("button")).to_have_text("已关联 ✓")

        await page.keyboard.press("Control+Enter")
        await expect(page.locator("#saved")).to_be_visible()
        number = await page.locator("#saved-number").text_content()
        code = await page.locator("#saved-code").text_content()
        await screenshot(page, "desk-saved")
        assert await page.evaluate("localStorage.length") == 0  # the draft is gone once saved

        # the ticket is in the database, linked to the call, with the code the page showed
        found = await desk.app.calls.caller_of(linkedid)
        assert found is not None
        call_id = found[0]
        async with desk.app.db.connect() as conn:
            stored = (
                await conn.execute(
                    text(
                        "SELECT id, call_id, query_code, category, caller_phone, content, "
                        "created_by, topic_code FROM tickets WHERE number = :n"
                    ),
                    {"n": number},
                )
            ).one()
        assert stored.call_id == call_id and stored.query_code == code
        assert (stored.category, stored.caller_phone) == ("complaint", CITIZEN)
        assert stored.content == TYPED and stored.created_by == "zhang.wei"
        assert stored.topic_code == "urban.noise"
        links = await desk.client.get(f"/tickets/{stored.id}/links", headers=admin)
        assert [link["number"] for link in links.json()] == [old["number"]]

        # the department button brings the department's phone onto the call
        await expect(page.locator("#threeway-department")).to_have_value("housing")
        await page.click("#threeway-dial")
        await expect(page.locator("#incall-result")).to_contain_text("市住建局")
        leg: dict[str, Any] = {}
        deadline = time.monotonic() + 30
        while not leg.get("ended_at"):
            assert time.monotonic() < deadline, leg
            await asyncio.sleep(0.5)
            record = (await desk.client.get(f"/calls/{call_id}", headers=admin)).json()
            leg = record["three_way"][0] if record["three_way"] else {}
        assert (leg["department"], leg["number"], leg["outcome"]) == (
            "housing",
            "12329",
            "answered",
        )
        recording = Path(leg["recording"])
        await wait_until_written(recording)
        length, loud = wav_figures(recording)
        assert 2.5 <= length <= 15 and loud >= 2, (length, loud)  # it heard the agent

        # the silent-call button: the agent is freed at once, the caller hears the script
        await page.click("#silent-call")
        await expect(page.locator("#incall-result")).to_contain_text("无声电话")
        await expect(seat).to_have_text("话后整理 wrap-up", timeout=3000)
        await screenshot(page, "desk-wrap-up")
        run = await call
        assert run.successful == 1, run.output
        [queued] = await settled(desk, 1)
        assert queued.silent and queued.linkedid == linkedid
        record = (await desk.client.get(f"/calls/{call_id}", headers=admin)).json()
        assert record["ended_by"] == EndedBy.HOTLINE.value
        talked = datetime.fromisoformat(record["ended_at"]) - queued.agent_answered_at  # type: ignore[operator]
        assert talked.total_seconds() >= 8  # the script played in full before the hang-up

        # wrap-up ends from the desk; the agent's own recent work lists the call and the ticket
        await page.click("#seat-end-wrap")
        await expect(seat).to_have_text("空闲 ready")
        await expect(page.locator("#recent-tickets")).to_contain_text(number or "?")
        await expect(page.locator("#recent-calls")).to_contain_text(CITIZEN)
        await screenshot(page, "desk-after-call")


async def test_a_department_handler_cannot_open_the_desk(served: tuple[Desk, str]) -> None:
    desk, base = served
    await desk.app.users.create(
        "water.desk", "desk-password-2", Role.DEPARTMENT, datetime.now(UTC), subject="water"
    )
    async with browser_page() as page:
        await page.goto(f"{base}/desk")
        await page.fill("#login-username", "water.desk")
        await page.fill("#login-password", "desk-password-2")
        await page.click("#login-submit")
        await expect(page.locator("#login-error")).to_contain_text("此账号不能使用本页面")
        assert await page.locator("#desk").is_hidden()
        # nor is the password left typed in the form for the next person at the screen
        await expect(page.locator("#login-password")).to_have_value("")
        # the page let go of the session it was given
        assert await page.evaluate("sessionStorage.length") == 0


async def test_the_agent_answers_on_the_spot_from_a_knowledge_entry(
    served: tuple[Desk, str],
) -> None:
    desk, base = served
    assert (await desk.client.post("/departments", json=HOUSING, headers=desk.admin)).is_success
    entry = await published_entry(desk)
    await add_agents(desk, {"a62": {"lang:mandarin": 3}}, ports={"a62": agent_port(61)})
    await desk.app.users.create(
        "li.na", "desk-password-3", Role.AGENT, datetime.now(UTC), subject="a62"
    )
    # a caller who asked to be called back is on the worklist, with a button to dial
    await desk.app.seat_store.add_callback(
        "1799.9", "13633330009", "lang:mandarin=1", datetime.now(UTC)
    )
    async with browser_page() as page:
        await sign_in(page, base, "li.na", "desk-password-3")
        worklist = page.locator("#callbacks li")
        await expect(worklist).to_have_count(1)
        await expect(worklist).to_contain_text("13633330009")
        await expect(worklist.locator("button")).to_have_text("回拨")
        await page.check("#category-consultation")
        await page.locator("#content").press_sequentially(
            "楼下饭店油烟很大，应该找哪个部门", delay=5
        )
        offered = page.locator(f'#kb-results li[data-entry="{entry["id"]}"]')
        await expect(offered).to_be_visible()
        await expect(offered.locator("mark").first).to_have_text("油烟")
        await offered.locator("button").click()
        await expect(page.locator("#answer-text")).to_contain_text(ENTRY["title"])
        await screenshot(page, "desk-knowledge")
        await page.click("#save")
        await expect(page.locator("#saved")).to_be_visible()
        number = await page.locator("#saved-number").text_content()
    async with desk.app.db.connect() as conn:
        stored = (
            await conn.execute(
                text(
                    "SELECT status, handling, resolution, knowledge_entry_id, knowledge_version"
                    " FROM tickets WHERE number = :n"
                ),
                {"n": number},
            )
        ).one()
    assert (stored.status, stored.handling) == ("awaiting_callback", "direct")
    assert stored.resolution == ENTRY["answer_markdown"]
    # the ticket keeps the entry and the version it was answered from
    assert (stored.knowledge_entry_id, stored.knowledge_version) == (entry["id"], entry["version"])
