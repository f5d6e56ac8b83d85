"""The department desk in a real browser against the engine's API over HTTP: a handler signs in,
sees only the department's tickets (overdue first), signs one and replies with a file; the
center sees the reply and the file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from callcenter.app import Application
from callcenter.domain.access import Role
from callcenter.settings import load_settings
from callcenter.storage.db import migrate
from tests.api.test_reports_api import act, new, prepare
from tests.api.test_tickets_api import PEOPLE, TICKET_TABLES, Clock, Desk, local
from tests.integration.pages import browser_page, screenshot, serving

PASSWORD = "Desk-Page-2026!"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
async def served(pg_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, Desk, Application]]:
    clock = Clock(local(3, 30, 9))
    settings = load_settings(
        database_url=pg_url, ami_secret="not-used-in-this-test", run_dir=tmp_path
    )
    app = Application(settings, clock=clock)
    await migrate(app.db)
    async with app.db.begin() as conn:
        await conn.execute(
            text(
                f"TRUNCATE ticket_attachments, {TICKET_TABLES}, users, user_sessions, auth_audit"
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
            yield base, desk, app
    finally:
        await app.db.dispose()


async def test_a_handler_signs_and_replies_with_a_file_and_the_center_sees_it(
    served: tuple[str, Desk, Application], tmp_path: Path
) -> None:
    base, desk, app = served
    # housing: H1 a complaint due at the end of 24 April, H2 a help request overdue since the
    # end of 10 April and supervised; W1 is water's
    h1 = await new(desk, local(4, 2, 9), address="东城区幸福路12号")
    await act(desk, local(4, 2, 9, 5), "agent", f"{h1}/dispatch", {"lead": "housing"})
    h2 = await new(desk, local(4, 2, 10), category="help", confidential=True, caller_name="举报人")
    await act(desk, local(4, 2, 10, 5), "agent", f"{h2}/dispatch", {"lead": "housing"})
    await act(desk, local(4, 3, 9), "housing", f"{h2}/sign")
    w1 = await new(desk, local(4, 2, 11))
    await act(desk, local(4, 2, 11, 5), "agent", f"{w1}/dispatch", {"lead": "water"})
    desk.clock.now = local(4, 13, 9)
    notice = {"reason": "overdue", "note": "请说明超期原因", "due_at": local(4, 30).isoformat()}
    await desk.post(f"{h2}/supervisions", "supervisor", notice, expect=201)
    desk.clock.now = local(4, 23, 12)
    await app.users.create(
        "housing-clerk", PASSWORD, Role.DEPARTMENT, desk.clock.now, subject="housing"
    )
    number = {p: (await desk.get(p, "supervisor"))["number"] for p in (h1, h2, w1)}
    proof = tmp_path / "答复函.pdf"
    proof.write_bytes(PDF)
    errors: list[str] = []
    async with browser_page() as page:
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )
        await page.goto(base + "/department-desk")
        await page.fill("#login-username", "housing-clerk")
        await page.fill("#login-password", PASSWORD)
        await page.click("#login-submit")
        await page.wait_for_selector("body[data-listed]")
        rows = page.locator("#tickets tbody tr.ticket")
        texts = await rows.all_inner_texts()
        # only housing's tickets, the overdue one first
        assert [t.split("\t")[0] for t in texts] == [number[h2], number[h1]]
        assert await rows.nth(0).get_attribute("data-sla") == "red"
        assert "已超期 8天12小时" in texts[0] and "剩余 1天12小时" in texts[1]
        # the reporter of the confidential ticket stays hidden
        await rows.nth(0).click()
        await page.wait_for_selector("#detail:not([hidden])")
        assert "保密" in await page.locator("#facts").inner_text()
        assert "举报人" not in await page.content()
        # the supervision notice, answered
        await page.fill("#supervisions input.answer", "已协调，本周内办结")
        await page.click("#supervisions button")
        await page.wait_for_selector("#supervisions button:text('已完成')")

        await rows.nth(1).click()
        await page.wait_for_selector("#a-sign:not([hidden])")
        await page.click("#sign")
        await page.wait_for_selector("#a-reply:not([hidden])")
        await page.fill("#reply-text", "已责令物业整改，油烟已处理")
        await page.set_input_files("#reply-files", str(proof))
        await page.click("#reply")
        await page.wait_for_selector("#detail[hidden]", state="attached")
        assert [t.split("\t")[0] for t in await rows.all_inner_texts()] == [number[h2]]
        await screenshot(page, "department-desk")
    assert errors == []

    # the center sees the reply and the file
    ticket = await desk.get(h1, "supervisor")
    assert ticket["status"] == "replied" and ticket["reply"] == "已责令物业整改，油烟已处理"
    files = await desk.get(f"{h1}/attachments", "supervisor")
    assert [(f["name"], f["size"], f["department"]) for f in files] == [
        ("答复函.pdf", len(PDF), "housing")
    ]
    events = await desk.get(f"{h2}/events", "supervisor")
    assert any("督办反馈：已协调，本周内办结" in e["note"] for e in events)
