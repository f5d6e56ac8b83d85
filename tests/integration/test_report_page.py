"""The report page in a real browser against the engine's API over HTTP: a supervisor signs in,
the charts hold exactly the API's figures, the workbook downloads with the same numbers."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from playwright.async_api import Page
from sqlalchemy import text

from callcenter.app import Application
from callcenter.settings import load_settings
from callcenter.storage.db import migrate
from tests.api.test_reports_api import AS_OF, CALL_TABLES, prepare, seed_calls, seed_tickets
from tests.api.test_tickets_api import PEOPLE, TICKET_TABLES, Clock, Desk, local
from tests.integration.pages import browser_page, screenshot, serving

PASSWORD = "Report-Page-2026!"


@dataclass
class Served:
    app: Application
    url: str
    desk: Desk


@pytest.fixture
async def served(pg_url: str) -> AsyncIterator[Served]:
    clock = Clock(local(3, 30, 9))
    app = Application(
        load_settings(database_url=pg_url, ami_secret="not-used-in-this-test"), clock=clock
    )
    await migrate(app.db)
    async with app.db.begin() as conn:
        await conn.execute(
            text(
                f"TRUNCATE {TICKET_TABLES}, {CALL_TABLES}, users, user_sessions, auth_audit"
                " RESTART IDENTITY CASCADE"
            )
        )
    tokens = {
        name: await app.tokens.create(name, role, clock(), subject)
        for name, (role, subject) in PEOPLE.items()
    }
    try:
        async with serving(app.api) as base, httpx.AsyncClient(base_url=base) as client:
            desk = Desk(client, clock, tokens, app.db)
            await prepare(desk)
            yield Served(app, base, desk)
    finally:
        await app.db.dispose()


async def sign_in(page: Page, url: str, username: str) -> None:
    await page.goto(url + "/reporting")
    await page.fill("#login-username", username)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#report:not([hidden])")


async def show(page: Page, period: str, day: str | None = None) -> None:
    await page.fill("#period", period)
    if day is not None:
        await page.fill("#day", day)
    await page.click("#show")
    await page.wait_for_selector(f'body[data-loaded="{period}"]')


async def series(page: Page, chart: str) -> list[dict[str, Any]]:
    """The series the page handed to ECharts for one chart."""
    found: list[dict[str, Any]] = await page.evaluate(
        """(id) => echarts.getInstanceByDom(document.getElementById(id)).getOption().series
              .map((s) => ({ name: s.name, type: s.type, data: s.data }))""",
        chart,
    )
    return found


async def test_the_report_page_draws_the_api_figures_and_downloads_the_workbook(
    served: Served,
) -> None:
    desk = served.desk
    await seed_tickets(desk)
    await seed_calls(desk)
    desk.clock.now = AS_OF
    await served.app.users.create("leader", PASSWORD, PEOPLE["supervisor"][0], AS_OF)
    assessment = await desk.get("/reports/assessment", "supervisor", period="2026-04")
    hot = await desk.get("/reports/hot", "supervisor", period="2026-04")
    intraday = await desk.get("/reports/intraday", "supervisor", day="2026-04-01")
    errors: list[str] = []
    async with browser_page() as page:
        # no script error, no refused resource (the browser's own favicon request aside)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "response",
            lambda r: (
                errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        page.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )
        await sign_in(page, served.url, "leader")
        await show(page, "2026-04", "2026-04-01")

        daily = await series(page, "chart-daily")
        assert [s["data"] for s in daily] == [
            [d["connect_rate"] for d in assessment["daily"]],
            [d["answer_15s_rate"] for d in assessment["daily"]],
        ]
        slots = intraday["slots"]
        assert [s["data"] for s in await series(page, "chart-intraday")] == [
            [s["offered"] for s in slots],
            [s["answered"] for s in slots],
            [s["abandoned"] for s in slots],
            [s["on_duty"] for s in slots],
        ]
        league = await series(page, "chart-league")
        rates = [{i["code"]: i["rate"] for i in d["indicators"]} for d in assessment["departments"]]
        assert [s["data"] for s in league] == [
            [r["on_time_rate"] for r in rates],
            [r["satisfaction_rate"] for r in rates],
        ]
        trend = await series(page, "chart-trend")
        top = [t["topic"] for t in hot["topics"][:5]]
        assert [s["data"] for s in trend] == [hot["trend"][code] for code in top]
        assert [s["name"] for s in trend] == [t["name"] for t in hot["topics"][:5]]
        # the canvas was drawn on, not just configured
        drawn = await page.evaluate(
            "() => document.querySelectorAll('#chart-daily canvas, #chart-league canvas').length"
        )
        assert drawn >= 2

        # the table shows the verdict on each norm
        center = await page.locator("#center tbody tr").all_inner_texts()
        assert any("人工接通率" in row and "未达标" in row for row in center)
        assert any("15秒" in row and "达标" in row and "80.00%" in row for row in center)

        # the tickets behind housing's overdue figure
        await page.locator("#league tbody tr").nth(0).locator("a.drill").nth(5).click()
        await page.wait_for_selector("#behind-section:not([hidden])")
        assert await page.locator("#behind tbody tr").count() == 2  # A2 and M

        async with page.expect_download() as info:
            await page.click("#xlsx")
        download = await info.value
        assert download.suggested_filename == "考核-2026-04.xlsx"
        book = load_workbook(io.BytesIO((await download.path()).read_bytes()))
        by_name = {r[0]: r for r in book["中心考核指标"].iter_rows(min_row=2, values_only=True)}
        for indicator in assessment["center"]:
            row = by_name[indicator["name"]]
            assert row[1:3] == (indicator["numerator"], indicator["denominator"])
        await screenshot(page, "report-page")
    assert errors == []


async def test_a_department_sees_its_own_row_and_no_center_figures(served: Served) -> None:
    desk = served.desk
    await seed_tickets(desk)
    desk.clock.now = AS_OF
    await served.app.users.create(
        "housing-clerk", PASSWORD, PEOPLE["housing"][0], AS_OF, subject="housing"
    )
    async with browser_page() as page:
        await sign_in(page, served.url, "housing-clerk")
        await show(page, "2026-04")
        assert await page.locator("#center-section").is_hidden()
        assert await page.locator("#agents-section").is_hidden()
        rows = await page.locator("#league tbody tr").all_inner_texts()
        assert len(rows) == 1 and "市住建局" in rows[0]
