"""Every page and the shared files are served openly under one strict policy, scripts only from
files (no inline code), and nothing outside a page's own folder."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from callcenter.app import Application
from callcenter.settings import load_settings

STATIC = Path(__file__).parents[2] / "callcenter" / "web" / "static"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = Application(
        load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}",
            ami_secret="not-used-in-this-test",
        )
    )
    transport = httpx.ASGITransport(app=app.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as http:
        yield http
    await app.db.dispose()


async def test_the_desk_and_its_files_are_served_under_the_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/desk")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "default-src 'none'" in policy
    assert "unsafe" not in policy
    html = page.text
    assert "<script>" not in html and " style=" not in html and " on" not in html.split("<body")[0]
    assert not re.search(r"\son[a-z]+=", html), "no inline event handlers"
    for src in re.findall(r'(?:src|href)="(/[^"]+)"', html):
        asset = await client.get(src)
        assert asset.status_code == 200, src
        assert asset.headers["content-security-policy"] == policy
    assert (await client.get("/desk/desk.html")).status_code == 404
    assert (await client.get("/desk/../app.py")).status_code == 404
    assert (await client.get("/static/common/../desk/desk.js")).status_code == 404
    assert (await client.get("/static/common/nothing.js")).status_code == 404


def test_the_chinese_strings_live_in_one_file() -> None:
    # the page scripts hold no Chinese text of their own: wording changes in strings.js only
    for script in ("desk/desk.js", "common/login.js", "common/session.js"):
        code = (STATIC / script).read_text()
        code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("//"))
        assert not re.search(r"[\u4e00-\u9fff]", code), script
