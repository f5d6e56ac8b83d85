"""The report page and the department desk: served openly under the strict policy, no inline
script or style, their own files and the vendored chart library only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from callcenter.web import mount

PAGES = {
    "/reporting": ["reports.js", "reports.css"],
    "/department-desk": ["department.js", "department.css"],
}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    mount(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        yield client


async def test_pages_are_served_under_the_strict_policy(client: httpx.AsyncClient) -> None:
    for path, assets in PAGES.items():
        page = await client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
        assert "<style" not in page.text and " style=" not in page.text
        for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert src.startswith("/"), src  # nothing from another origin
            assert (await client.get(src)).status_code == 200, src
        for name in assets:
            assert (await client.get(f"{path}/{name}")).status_code == 200
        assert (await client.get(f"{path}/../app.py")).status_code == 404
    chart = await client.get("/static/vendor/echarts.min.js")
    assert chart.status_code == 200 and b"Apache" in chart.content[:2000]
    # the vendored library's notes are kept in the repository, not served
    assert (await client.get("/static/vendor/README.md")).status_code == 404
