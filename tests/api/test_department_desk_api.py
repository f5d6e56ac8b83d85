"""The department desk's API on PostgreSQL: the worklist (own tickets, earliest deadline first,
working time left) and attachments (checked, stored under the run directory, readable only by
those who may read the ticket)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ticket_api
from tests.api.test_reports_api import act, new, prepare
from tests.api.test_tickets_api import PEOPLE, TICKET_TABLES, Clock, Desk, local

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
async def desk(pg_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    clock = Clock(local(3, 30, 9))
    empty = f"ticket_attachments, {TICKET_TABLES}"
    files = tmp_path / "attachments"
    async with ticket_api(pg_url, clock, PEOPLE, empty=empty, attachments=files) as api:
        desk = Desk(api.client, clock, api.tokens, api.engine)
        await prepare(desk)
        yield desk


async def upload(
    desk: Desk, ticket: int, who: str, name: str, kind: str, data: bytes
) -> httpx.Response:
    return await desk.client.post(
        f"/tickets/{ticket}/attachments",
        params={"name": name},
        content=data,
        headers={"Authorization": f"Bearer {desk.tokens[who]}", "Content-Type": kind},
    )


async def test_worklist_holds_own_tickets_earliest_deadline_first(desk: Desk) -> None:
    # A: a complaint dispatched Thursday 2 April: due at the end of 24 April (Qingming skipped)
    a = await new(desk, local(4, 2, 9))
    await act(desk, local(4, 2, 9, 5), "agent", f"{a}/dispatch", {"lead": "housing"})
    # B: water's; C: a confidential help request for housing, due at the end of 10 April
    # (5 working days: 3, 7, 8, 9, 10 April)
    b = await new(desk, local(4, 2, 10))
    await act(desk, local(4, 2, 10, 5), "agent", f"{b}/dispatch", {"lead": "water"})
    c = await new(desk, local(4, 2, 11), category="help", confidential=True, caller_name="举报人")
    await act(desk, local(4, 2, 11, 5), "agent", f"{c}/dispatch", {"lead": "housing"})
    await act(desk, local(4, 3, 9), "housing", f"{c}/sign")
    desk.clock.now = local(4, 23, 12)
    work = await desk.get("/worklist", "housing")
    ids = [int(p.rsplit("/", 1)[1]) for p in (a, c)]
    assert [t["id"] for t in work["items"]] == [ids[1], ids[0]]
    overdue, due_soon = work["items"]
    # C overdue since the end of 10 April: 13-17, 20-22 April and half of 23 April
    assert overdue["sla"] == "red" and overdue["working_seconds_left"] == -(8 * 24 + 12) * 3600
    assert overdue["caller_hidden"] is True and overdue["caller_name"] is None
    assert overdue["caller_phone"] is None and overdue["signed_at"] is not None
    # A: the rest of 23 April and all of 24 April
    assert due_soon["working_seconds_left"] == 36 * 3600 and due_soon["signed_at"] is None
    assert (await desk.get("/worklist", "water"))["total"] == 1
    center = await desk.get("/worklist", "supervisor")
    assert center["total"] == 3
    only_red = await desk.get("/worklist", "housing", sla="red")
    assert [t["id"] for t in only_red["items"]] == [ids[1]]


async def test_attachments_are_checked_and_shown_only_to_readers(desk: Desk) -> None:
    a = await new(desk, local(4, 2, 9))
    await act(desk, local(4, 2, 9, 5), "agent", f"{a}/dispatch", {"lead": "housing"})
    ticket = int(a.rsplit("/", 1)[1])
    desk.clock.now = local(4, 2, 15)
    made = await upload(desk, ticket, "housing", "../../答复函.pdf", "application/pdf", PDF)
    assert made.status_code == 201, made.text
    attachment = made.json()
    assert attachment["name"] == "答复函.pdf" and attachment["size"] == len(PDF)
    assert attachment["department"] == "housing"
    refused = [
        ("run.exe", "application/x-msdownload", b"MZ\x90\x00"),
        ("photo.png", "image/png", PDF),  # a PDF called a PNG
        ("note.pdf", "text/plain", b"hello"),  # the name says PDF, the type text
        ("empty.txt", "text/plain", b""),
        ("big.pdf", "application/pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)),
    ]
    for name, kind, data in refused:
        reply = await upload(desk, ticket, "housing", name, kind, data)
        assert reply.status_code == 422, (name, reply.status_code, reply.text)
    # water may neither add to nor read housing's ticket
    assert (await upload(desk, ticket, "water", "x.txt", "text/plain", b"x")).status_code == 404
    path = f"/tickets/{ticket}/attachments"
    await desk.get(path, "water", 404)
    await desk.get(f"{path}/{attachment['id']}", "water", 404)
    listed = await desk.get(path, "supervisor")
    assert [x["name"] for x in listed] == ["答复函.pdf"]
    reply = await desk.client.get(
        f"{path}/{attachment['id']}",
        headers={"Authorization": f"Bearer {desk.tokens['supervisor']}"},
    )
    assert reply.status_code == 200 and reply.content == PDF
    assert reply.headers["content-type"] == "application/pdf"
    assert reply.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in reply.headers["content-security-policy"]
    # once returned to the center, the ticket (and its files) leave housing's sight
    await act(desk, local(4, 2, 16), "housing", f"{a}/return", {"reason": "不属本单位职责"})
    await desk.get(path, "housing", 404)
