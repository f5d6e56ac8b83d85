"""Active/standby: the standby's API gate, and a journal taken over from a dead leader."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from fastapi import FastAPI

from callcenter.api.standby import StandbyGate
from callcenter.storage.spool import Spool, Spooled


async def test_the_standby_serves_reads_and_names_the_leader_for_writes() -> None:
    api = FastAPI()

    @api.get("/calls")
    async def calls() -> list[str]:
        return []

    @api.post("/agents")
    async def agents() -> dict[str, str]:
        return {"created": "yes"}

    leading = {"now": False}
    api.add_middleware(
        StandbyGate,
        leading=lambda: leading["now"],
        leader=lambda: "engine0 http://192.0.2.5:8012",
    )
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/calls")).status_code == 200
        refused = await client.post("/agents", json={})
        assert refused.status_code == 503
        assert refused.headers["x-callcenter-leader"] == "http://192.0.2.5:8012"
        assert refused.json()["leader"] == {"name": "engine0", "url": "http://192.0.2.5:8012"}
        leading["now"] = True
        assert (await client.post("/agents", json={})).json() == {"created": "yes"}


def test_a_journal_is_taken_over_behind_the_engines_own(tmp_path: Path) -> None:
    own = Spool(tmp_path / "own.sqlite3")
    own.append([Spooled(1, "call", json.dumps({"n": 1}))])
    dead = Spool(tmp_path / "dead.sqlite3")
    dead.append([Spooled(7, "call", json.dumps({"n": 2})), Spooled(9, "seat", "{}")])
    dead.close()
    assert own.take_over(tmp_path / "dead.sqlite3") == 2
    assert [(s.seq, s.kind, s.payload) for s in own.pending()] == [
        (1, "call", '{"n": 1}'),
        (2, "call", '{"n": 2}'),
        (3, "seat", "{}"),
    ]
    # taken once: the dead engine's journal is empty now, and a missing one is nothing
    assert own.take_over(tmp_path / "dead.sqlite3") == 0
    assert own.take_over(tmp_path / "missing.sqlite3") == 0
    assert own.take_over(tmp_path / "own.sqlite3") == 0
