"""The wallboard in a real browser, against a running engine: today's figures, seats, live push."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from callcenter.app import Application
from callcenter.domain.access import Role
from callcenter.domain.calls import CallOutcome, CallRecord, Disposition, HandledBy
from callcenter.domain.metrics import Outcome, QueuedCall
from sip_testbed.testbed import Testbed
from tests.conftest import engine_settings, started_engine
from tests.integration.pages import browser_page, screenshot, serving
from tests.integration.test_routing import SEAT_TABLES

pytestmark = pytest.mark.testbed

# the browser's day starts at midnight in the hotline's time zone
TIMEZONE = "Asia/Shanghai"
PASSWORD = "Wallboard-2026!"


@dataclass
class Served:
    app: Application
    url: str
    client: httpx.AsyncClient
    admin: dict[str, str]
    supervisor: str


@pytest.fixture
async def served(testbed: Testbed, pg_url: str) -> AsyncIterator[Served]:
    app = await started_engine(engine_settings(testbed, pg_url), SEAT_TABLES)
    now = datetime.now(UTC)
    admin = await app.tokens.create("admin", Role.ADMIN, now)
    supervisor = await app.tokens.create("wallboard", Role.SUPERVISOR, now)
    try:
        async with serving(app.api) as base, httpx.AsyncClient(base_url=base) as client:
            yield Served(app, base, client, {"Authorization": f"Bearer {admin}"}, supervisor)
    finally:
        await app.stop()


async def seed_today(served: Served) -> None:
    """Three calls queued a minute ago: answered after 5 s and after 20 s, one caller gave up."""
    t0 = datetime.now(UTC) - timedelta(seconds=60)
    base = {"queue": "lang:mandarin=1", "requirements": {"lang:mandarin": 1}, "priority": 0}
    await served.app.seat_store.save_queued(
        [
            QueuedCall(
                "w1",
                "13900000001",
                queued_at=t0,
                outcome=Outcome.ANSWERED,
                agent_id="a01",
                agent_answered_at=t0 + timedelta(seconds=5),
                ended_at=t0 + timedelta(seconds=35),
                **base,
            ),
            QueuedCall(
                "w2",
                "13900000002",
                queued_at=t0,
                outcome=Outcome.ANSWERED,
                agent_id="a01",
                agent_answered_at=t0 + timedelta(seconds=20),
                ended_at=t0 + timedelta(seconds=40),
                **base,
            ),
            QueuedCall(
                "w3",
                "13900000003",
                queued_at=t0,
                outcome=Outcome.ABANDONED,
                ended_at=t0 + timedelta(seconds=30),
                **base,
            ),
        ]
    )
    # their call records: the hotline answered 2 s before each queued (the greeting)
    answered = {"w1": t0 + timedelta(seconds=5), "w2": t0 + timedelta(seconds=20), "w3": None}
    await served.app.calls.save(
        [
            CallRecord(
                linkedid=linkedid,
                uniqueid=linkedid,
                caller_number=f"1390000000{n}",
                caller_name="",
                dialed_number="12345",
                trunk="trunk",
                entered_at=t0 - timedelta(seconds=3),
                answered_at=t0 - timedelta(seconds=2),
                ended_at=t0 + timedelta(seconds=40),
                disposition=Disposition.ANSWERED,
                handled_by=HandledBy.ENGINE,
                outcome=CallOutcome.AGENT if by_agent else CallOutcome.ABANDONED_QUEUE,
                queued_at=t0,
                agent_answered_at=by_agent,
            )
            for n, (linkedid, by_agent) in enumerate(answered.items(), start=1)
        ]
    )


async def tile(page: Page, kpi: str) -> list[str]:
    found = page.locator(f"#{kpi}")
    return [
        await found.locator(".value").text_content() or "",
        await found.get_attribute("class") or "",
    ]


def row(page: Page, agent_id: str) -> Locator:
    return page.locator(f'#agents tr[data-agent="{agent_id}"] td')


async def test_the_wallboard_shows_today_and_follows_the_seats_live(served: Served) -> None:
    for agent_id, name in (("a01", "王芳"), ("a02", "李强")):
        body = {
            "id": agent_id,
            "name": name,
            "endpoint": f"ep-{agent_id}",
            "skills": {"lang:mandarin": 3},
            "sip_contact": f"sip:{agent_id}@127.0.0.1:5199",
        }
        assert (
            await served.client.post("/agents", json=body, headers=served.admin)
        ).status_code == 201
        login = await served.client.post(f"/agents/{agent_id}/login", json={}, headers=served.admin)
        assert login.status_code == 200
    pause = await served.client.post(
        "/agents/a02/pause", json={"reason": "meal"}, headers=served.admin
    )
    assert pause.status_code == 200
    await seed_today(served)

    async with browser_page(TIMEZONE) as page:
        await page.goto(f"{served.url}/wallboard#token={served.supervisor}")
        await expect(page.locator("#status")).to_have_text("实时 live")
        await expect(row(page, "a02")).to_have_count(6)
        # the token left the address bar (it would end up in screenshots and history)
        assert await page.evaluate("location.hash") == ""
        await expect(page.locator("#kpi-offered .value")).to_have_text("3")
        assert await tile(page, "kpi-offered") == ["3", "kpi"]
        assert await tile(page, "kpi-connect") == ["66.7%", "kpi bad"]  # norm 95 %
        # 人工应答及时率: 7 s and 22 s from the hotline's answer; 1 of the 2 a person answered
        assert await tile(page, "kpi-15s") == ["50.0%", "kpi bad"]  # norm 80 %
        assert await page.locator("#connect-of").text_content() == "2 / 3"
        assert await page.locator("#timely-of").text_content() == "1 / 2"
        assert await tile(page, "kpi-abandoned") == ["1", "kpi"]
        cells = await row(page, "a01").all_text_contents()
        assert cells[:4] == ["a01", "王芳", "ep-a01", "空闲 ready"]
        assert cells[5] == "2"  # both answered calls
        assert (await row(page, "a02").all_text_contents())[3] == "小休 paused · 用餐 meal"
        await screenshot(page, "wallboard")

        # a seat changes: the board follows without a reload, and the event is listed
        ready = await served.client.post("/agents/a02/ready", headers=served.admin)
        assert ready.status_code == 200
        await expect(row(page, "a02").nth(3)).to_have_text("空闲 ready", timeout=3000)
        await expect(page.locator("#events")).to_contain_text(
            "agent_state agent_id=a02 state=ready"
        )

        # a revoked or wrong display token falls back to the sign-in form, with the reason
        await page.evaluate("sessionStorage.clear()")
        await page.goto(f"{served.url}/wallboard?again#token=cc_wrong")
        await expect(page.locator("#login-error")).to_contain_text("token")
        assert await page.locator("#board").is_hidden()

        # an agent's account may not watch the board; a supervisor signs in with a password
        now = datetime.now(UTC)
        await served.app.users.create("seat.a01", PASSWORD, Role.AGENT, now, subject="a01")
        await served.app.users.create(
            "duty.lead", PASSWORD, Role.SUPERVISOR, now, display_name="值班长 李娜"
        )
        await sign_in(page, "seat.a01")
        await expect(page.locator("#login-error")).to_contain_text("不能使用本页面")
        await screenshot(page, "wallboard-sign-in")
        assert await page.locator("#board").is_hidden()
        await sign_in(page, "duty.lead")
        await expect(page.locator("#status")).to_have_text("实时 live")
        await expect(page.locator("#kpi-offered .value")).to_have_text("3")
        await expect(page.locator("#who")).to_have_text("值班长 李娜")
        # a reload keeps the session; signing out ends it on the server too
        await page.reload()
        await expect(page.locator("#status")).to_have_text("实时 live")
        token = await page.evaluate("JSON.parse(sessionStorage['callcenter.session']).token")
        await page.click("#logout")
        await expect(page.locator("#login-username")).to_be_visible()
        gone = await served.client.get("/queues", headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 401


async def sign_in(page: Page, username: str) -> None:
    await page.fill("#login-username", username)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
