"""/wallboard: served openly under a strict policy; its figures come from token-checked routes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from callcenter.app import Application
from callcenter.domain.access import Role
from callcenter.settings import load_settings
from callcenter.storage.db import migrate

SCRIPT = Path(__file__).parents[2] / "callcenter" / "web" / "static" / "wallboard" / "wallboard.js"


@pytest.fixture
async def api(pg_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[Role, str]]]:
    app = Application(load_settings(database_url=pg_url, ami_secret="not-used-in-this-test"))
    await migrate(app.db)
    async with app.db.begin() as conn:
        await conn.execute(text("TRUNCATE api_tokens RESTART IDENTITY CASCADE"))
    issued = {}
    for role in Role:
        subject = "a01" if role is Role.AGENT else None
        issued[role] = await app.tokens.create(role.value, role, datetime.now(UTC), subject)
    await app.dispatcher.start()
    transport = httpx.ASGITransport(app=app.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        yield client, issued
    await app.dispatcher.stop()
    await app.db.dispose()


async def test_the_page_and_its_files_are_served_under_a_strict_policy(
    api: tuple[httpx.AsyncClient, dict[Role, str]],
) -> None:
    client, _ = api
    page = await client.get("/wallboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "connect-src 'self' ws://engine wss://engine" in policy
    # no inline script or style: everything the policy allows comes from /wallboard/
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    assert "<style" not in page.text and " style=" not in page.text
    for name, kind in (("wallboard.js", "text/javascript"), ("wallboard.css", "text/css")):
        asset = await client.get(f"/wallboard/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
    assert (await client.get("/wallboard/../settings.py")).status_code == 404
    assert (await client.get("/wallboard/app.py")).status_code == 404
    forged = await client.get("/wallboard", headers={"Host": "evil; script-src *"})
    assert "evil" not in forged.headers["content-security-policy"]


async def test_every_route_the_page_reads_needs_a_supervisor_token(
    api: tuple[httpx.AsyncClient, dict[Role, str]],
) -> None:
    client, tokens = api
    paths = re.findall(r'this\.get\("([^"?]+)', SCRIPT.read_text())
    assert sorted(paths) == ["/agents", "/metrics/summary", "/queues"]
    query = {"/metrics/summary": {"from": "2026-11-26T00:00:00+08:00"}}
    for path in paths:
        params = query.get(path, {})
        assert (await client.get(path, params=params)).status_code == 401, path
        supervisor = {"Authorization": f"Bearer {tokens[Role.SUPERVISOR]}"}
        assert (await client.get(path, params=params, headers=supervisor)).status_code == 200
    # a department handler has no business on the wallboard
    handler = {"Authorization": f"Bearer {tokens[Role.DEPARTMENT]}"}
    assert (
        await client.get("/metrics/summary", params=query["/metrics/summary"], headers=handler)
    ).status_code == 403


def run_node(program: str) -> object:
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "Node.js runs the wallboard's own logic (make host-deps installs it)"
    done = subprocess.run(
        [node, "-e", f"const w = require({json.dumps(str(SCRIPT))});\n{program}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_figures_are_formatted_and_judged_against_the_hotline_norms() -> None:
    summary = {
        "connect_rate": 0.9612,
        "answered_within_15s_rate": 0.75,
        "offered": 1000,
        "answered": 961,
        "abandoned": 39,
        "short_abandoned": 12,
        "deflected": 3,
        "average_speed_of_answer_seconds": 9.4,
        "average_handle_time_seconds": 305,
        "satisfaction_rate": None,
        "ratings": {"satisfied": 4, "dissatisfied": 1},
        "agents": [{"agent_id": "a01", "calls_handled": 17}],
    }
    queues = {
        "queues": [
            {"queue": "lang:mandarin=1", "waiting": 2, "longest_wait_seconds": 21.2, "agents": {}},
            {"queue": "lang:english=1", "waiting": 1, "longest_wait_seconds": 4, "agents": {}},
        ]
    }
    agents = [
        {
            "id": "a01",
            "name": "王芳",
            "active": True,
            "seat": {
                "state": "paused",
                "pause_reason": "meal",
                "since": "2026-11-26T01:00:00Z",
                "extension": "8001",
            },
        },
        {"id": "a02", "name": "gone", "active": False, "seat": {"state": "logged_out"}},
    ]
    out = run_node(
        f"const now = new Date('2026-11-26T01:03:05Z');\n"
        f"const v = w.summaryView({json.dumps(summary)}, {json.dumps(queues)}, now);\n"
        f"console.log(JSON.stringify({{view: v, agents: w.agentRows({json.dumps(agents)}, "
        f"{json.dumps(summary)}, now), durations: [5, 65, 3725].map(w.duration), "
        "line: w.eventLine({type: 'agent_state', agent_id: 'a01', state: 'ready', reason: null})"
        "}));"
    )
    assert isinstance(out, dict)
    view = out["view"]
    assert view["kpi-connect"] == {"value": "96.1%", "verdict": "good"}  # norm: >= 95 %
    assert view["kpi-15s"] == {"value": "75.0%", "verdict": "bad"}  # norm: >= 80 % in 15 s
    assert view["kpi-waiting"] == {"value": "3", "verdict": "bad"}  # someone waits over 15 s
    assert view["kpi-asa"] == {"value": "9 s", "verdict": "good"}
    assert view["kpi-satisfaction"] == {"value": "–", "verdict": ""}  # no rating rate: no verdict
    assert view["notes"] == {
        "longest": "21 s",
        "answered": "961",
        "short": "12",
        "deflected": "3",
        "aht": "5:05",
        "rated": "5",
    }
    # inactive agents are left off; the paused one shows why and for how long
    assert out["agents"] == [
        {
            "id": "a01",
            "cells": ["a01", "王芳", "8001", "小休 paused · 用餐 meal", "3:05", "17"],
            "state": "paused",
        }
    ]
    assert out["durations"] == ["5 s", "1:05", "1:02:05"]
    assert out["line"] == "agent_state agent_id=a01 state=ready"
