"""Knowledge import (XLSX, CSV) and export on PostgreSQL and SQLite: a bad row is named by sheet,
row and column and nothing is imported; the export reads back in."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.api.knowledge_desk import Desk, knowledge_desk

HEADER = ["标题", "答案", "部门", "主题", "关键词", "依据", "生效日期", "失效日期", "区域"]
FUND = [
    "公积金提取",
    "购房可提取。",
    "housing",
    "housing.fund",
    "公积金，提取",
    "条例",
    "2026-01-01",
]
RENT = ["租房提取公积金", "无房租房可按月提取。", "housing", "housing.fund", "租房;房租"]
WATER = ["停水查询", "拨打供水热线。", "water", "public", "停水、没水", "", "", "", "东城区"]


@pytest.fixture(params=["sqlite", "postgresql"])
async def desk(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str) -> AsyncIterator[Desk]:
    url = pg_url if request.param == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'kb.db'}"
    async with knowledge_desk(url) as desk:
        yield desk


def workbook(sheets: dict[str, list[list[Any]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(desk: Desk, who: str, data: bytes, expect: int = 200, **params: Any) -> Any:
    return await desk.call(
        "POST", "/knowledge/import", who, expect, content=data, params={"name": "kb.xlsx", **params}
    )


async def test_a_bad_row_is_named_and_nothing_is_imported(desk: Desk) -> None:
    bad_date = [*RENT, "", "", "2026-13-40"]
    data = workbook(
        {"住房": [HEADER, FUND, bad_date], "供水": [HEADER, WATER, ["", "答", "water"]]}
    )
    refused = await upload(desk, "editor", data, expect=422)
    problems = [(p["sheet"], p["row"], p["column"]) for p in refused["problems"]]
    assert problems == [("住房", 3, "H (effective_until)"), ("供水", 3, "A (title)")]
    assert "2026-13-40" in refused["problems"][0]["message"]
    assert (await desk.get("/knowledge/entries", "editor"))["total"] == 0

    unknown = await upload(desk, "editor", workbook({"s": [[*HEADER, "备注"], FUND]}), expect=422)
    assert unknown["problems"][0]["column"] == "J" and "备注" in unknown["problems"][0]["message"]
    nodept = await upload(desk, "editor", workbook({"s": [["标题", "答案"], FUND]}), expect=422)
    assert "department" in nodept["problems"][0]["message"]
    # a department imports its own entries only, and cannot publish them
    mixed = workbook({"s": [HEADER, FUND, WATER]})
    refused = await upload(desk, "housing", mixed, expect=422)
    assert [(p["row"], p["column"]) for p in refused["problems"]] == [(3, "C (department)")]
    await upload(desk, "housing", workbook({"s": [HEADER, FUND]}), expect=403, publish=True)
    await upload(desk, "agent", workbook({"s": [HEADER, FUND]}), expect=403)
    await upload(desk, "editor", b"\x00\x01garbage", expect=422)
    assert (await desk.get("/knowledge/entries", "editor"))["total"] == 0

    done = await upload(desk, "housing", workbook({"s": [HEADER, FUND, RENT]}))
    assert (done["created"], done["published"]) == (2, 0)
    assert (await desk.get("/knowledge/search", "agent", q="公积金"))["total"] == 0


async def test_import_publishes_and_the_export_reads_back(desk: Desk) -> None:
    data = workbook({"住房": [HEADER, FUND, RENT], "供水": [HEADER, WATER]})
    done = await upload(desk, "editor", data, publish=True)
    assert (done["created"], done["published"]) == (3, 3)
    found = await desk.get("/knowledge/search", "agent", q="没水了")
    assert [i["title"] for i in found["items"]] == ["停水查询"]
    water = await desk.get(f"/knowledge/entries/{found['items'][0]['id']}", "agent")
    assert water["keywords"] == ["停水", "没水"] and water["region"] == "东城区"
    formula = {"title": "像公式的答案", "answer_markdown": "=SUM(A1:A9)", "department": "water"}
    await desk.post("/knowledge/entries", "editor", formula, expect=201)

    exported = await desk.call("GET", "/knowledge/export", "editor", params={"format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(exported.content))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:4] == ("编号", "版本", "状态", "标题") and len(rows) == 5
    # text that looks like a formula stays text
    assert "=SUM(A1:A9)" in [r[4] for r in rows]
    await desk.call("GET", "/knowledge/export", "housing", 403)

    exported = await desk.call("GET", "/knowledge/export", "editor", params={"format": "csv"})
    text = exported.content.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert len(table) == 5 and "'=SUM(A1:A9)" in [r[4] for r in table]
    # the export imports back unchanged; an edited row becomes a new version
    again = await upload(desk, "editor", exported.content, name="kb.csv")
    assert (again["created"], again["revised"], again["unchanged"]) == (0, 0, 4)
    table[1][3] = table[1][3] + "（修订）"
    out = io.StringIO()
    csv.writer(out).writerows(table)
    edited = await upload(desk, "editor", out.getvalue().encode("gb18030"), name="kb.csv")
    assert (edited["revised"], edited["unchanged"]) == (1, 3)
    entry = await desk.get(f"/knowledge/entries/{table[1][0]}", "editor")
    assert (entry["version"], entry["status"], entry["title"]) == (2, "draft", table[1][3])
