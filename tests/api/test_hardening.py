"""The API's edge on PostgreSQL: no input becomes a 500, the body is bounded and read only after
the token is checked, recordings are served and referred to only as the engine knows them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from callcenter.app import Application
from callcenter.domain.access import Principal, Role
from callcenter.domain.calls import CallRecord, Disposition, HandledBy
from callcenter.domain.errors import InvalidInput
from callcenter.domain.tickets import TicketDetails
from callcenter.settings import load_settings
from callcenter.storage.calls import CallQuery
from callcenter.storage.db import migrate

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
INT64_OVER = 2**63
TICKET = {"category": "help", "content": "路灯不亮"}
TABLES = (
    "ticket_figures, ticket_events, ticket_links, ticket_supervisions, ticket_callbacks, "
    "ticket_extensions, "
    "ticket_assignments, tickets, ticket_topics, departments, ticket_counters, ticket_policies, "
    "call_legs, calls, api_tokens"
)


@dataclass
class Edge:
    app: Application
    client: httpx.AsyncClient
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def request(
        self, method: str, path: str, who: str = "admin", **kw: Any
    ) -> httpx.Response:
        headers = {**self.auth(who), **kw.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kw)

    async def raw_json(
        self, method: str, path: str, body: str, who: str = "admin"
    ) -> httpx.Response:
        """A body as typed, for what json.dumps would never write (NaN, 1e400, lone surrogates)."""
        headers = {**self.auth(who), "content-type": "application/json"}
        return await self.client.request(method, path, headers=headers, content=body.encode())


@pytest.fixture
async def edge(pg_url: str, tmp_path: Path) -> AsyncIterator[Edge]:
    settings = load_settings(
        database_url=pg_url,
        ami_secret="not-used-in-this-test",
        run_dir=tmp_path / "run",
        max_body_bytes=64 * 1024,
    )
    app = Application(settings, clock=lambda: T0)
    await migrate(app.db)
    async with app.db.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    people: dict[str, tuple[Role, str | None]] = {
        "admin": (Role.ADMIN, None),
        "supervisor": (Role.SUPERVISOR, None),
        "agent": (Role.AGENT, "1001"),
        "housing": (Role.DEPARTMENT, "housing"),
    }
    tokens = {
        who: await app.tokens.create(who, role, T0, subject)
        for who, (role, subject) in people.items()
    }
    transport = httpx.ASGITransport(app=app.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        edge = Edge(app, client, tokens)
        reply = await edge.request(
            "POST", "/departments", json={"code": "housing", "name": "住建局", "kind": "bureau"}
        )
        assert reply.status_code == 201, reply.text
        yield edge
    await app.db.dispose()


def refused(reply: httpx.Response, field: str | None = None) -> None:
    """A 422 naming the field, in a body that encodes."""
    assert reply.status_code == 422, (reply.status_code, reply.text)
    body = reply.json()
    assert body["error"] == "invalid_input"
    if field is not None:
        assert field in body["message"], body["message"]


async def test_a_nul_byte_is_refused_wherever_text_is_stored(edge: Edge) -> None:
    agent = {"id": "nul1", "name": "a\u0000b", "endpoint": "nul1ep", "sip_contact": "sip:x@h"}
    refused(await edge.request("POST", "/agents", json=agent), "name")
    skills = {"skills": {"lang:a\u0000b": 1}}
    refused(await edge.request("PUT", "/agents/1001/skills", json=skills), "skills")
    assert (await edge.request("GET", "/agents/nul1")).status_code == 404
    refused(await edge.request("POST", "/tickets", json={"content": "烧烤\u0000扰民"}), "content")
    department = {"code": "water", "name": "供\u0000水", "kind": "company"}
    refused(await edge.request("POST", "/departments", json=department), "name")
    refused(await edge.request("GET", "/tickets/sla", params={"department": "a\u0000"}))
    refused(await edge.request("GET", "/departments/a%00b"))
    ticket = await edge.request("POST", "/tickets", json=TICKET)
    tid = ticket.json()["ticket"]["id"]
    note = {"reason": "other", "note": "x\u0000", "due_at": "2026-12-01T00:00:00+08:00"}
    refused(await edge.request("POST", f"/tickets/{tid}/supervisions", json=note), "note")
    refused(await edge.request("POST", f"/tickets/{tid}/dispatch", json={"lead": "h\u0000"}))
    async with edge.app.db.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM departments")) == 1
        assert await conn.scalar(text("SELECT count(*) FROM tickets")) == 1


async def test_integers_beyond_64_bits_are_refused(edge: Edge) -> None:
    refused(await edge.request("GET", f"/tickets/{INT64_OVER}"))
    refused(await edge.request("GET", f"/calls/{INT64_OVER}"))
    refused(await edge.request("GET", "/calls", params={"offset": INT64_OVER}), "offset")
    refused(await edge.request("GET", "/tickets", params={"offset": INT64_OVER}), "offset")
    refused(await edge.request("GET", "/supervisions", params={"ticket_id": INT64_OVER}))
    refused(await edge.request("POST", "/tickets", json={"call_id": 2**64}), "call_id")
    refused(await edge.request("POST", "/tickets/1/links", json={"ticket_id": 2**64}))
    refused(await edge.request("POST", f"/supervisions/{INT64_OVER}/close", json={"note": "x"}))
    # the largest id a BIGINT holds is fine: it does not exist
    assert (await edge.request("GET", f"/tickets/{INT64_OVER - 1}")).status_code == 404


async def test_instants_are_kept_within_sane_years(edge: Edge) -> None:
    for path in ("/calls", "/tickets"):
        refused(await edge.request("GET", path, params={"from": "0001-01-01T00:00:00+05:00"}))
        refused(await edge.request("GET", path, params={"to": "9999-12-31T23:59:59-23:59"}))
    refused(
        await edge.request(
            "GET", "/metrics/summary", params={"from": "0001-01-01T00:00:00+05:00"}, who="admin"
        ),
        "from",
    )
    far = {"from": "2026-01-01T00:00:00+08:00", "to": "9999-12-31T23:59:59-23:59"}
    refused(await edge.request("GET", "/tickets/stats", params=far), "to")
    for month in ("0000-01", "9999-12", "0001-01", "2026-13"):
        refused(await edge.request("GET", "/tickets/stats", params={"month": month}), "month")
    ok = await edge.request("GET", "/tickets/stats", params={"month": "2026-02"})
    assert ok.status_code == 200, ok.text
    tid = (await edge.request("POST", "/tickets", json=TICKET)).json()["ticket"]["id"]
    due = {"reason": "other", "note": "n", "due_at": "9999-12-31T23:59:59-23:59"}
    refused(await edge.request("POST", f"/tickets/{tid}/supervisions", json=due), "due_at")
    # a time given in any zone is kept as the same instant, in UTC
    due["due_at"] = "2026-12-01T08:00:00+08:00"
    opened = await edge.request("POST", f"/tickets/{tid}/supervisions", json=due)
    assert opened.status_code == 201, opened.text
    assert datetime.fromisoformat(opened.json()["due_at"]) == datetime(2026, 12, 1, tzinfo=UTC)


async def test_unencodable_input_gets_a_422_that_encodes(edge: Edge) -> None:
    refused(await edge.raw_json("PUT", "/tickets/policy", '{"warn_share": NaN}'), "warn_share")
    refused(await edge.raw_json("PUT", "/tickets/policy", '{"warn_share": Infinity}'))
    refused(await edge.raw_json("POST", "/agents/1001/wrap-up/extend", '{"seconds": 1e400}'))
    refused(await edge.raw_json("POST", "/tickets", '{"content": "\\ud800"}'), "content")
    refused(await edge.raw_json("POST", "/tickets", '{"caller_name": "\\udfff"}'), "caller_name")
    refused(await edge.raw_json("POST", "/tickets", "{not json"))
    async with edge.app.db.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM tickets")) == 0
        assert await conn.scalar(text("SELECT count(*) FROM ticket_policies")) == 0


async def test_a_ticket_names_its_recording_only_as_the_engine_knows_it(edge: Edge) -> None:
    refused(await edge.request("POST", "/tickets", json={"recording": "/etc/shadow"}), "path")
    refused(await edge.request("POST", "/tickets", json={"voicemail": "../../etc/shadow"}))
    missing = await edge.request("POST", "/tickets", json={"voicemail": "1764000000.5"})
    refused(missing, "voicemail 1764000000.5 does not exist")
    # a voicemail the engine recorded, named by its call's id
    voicemail = edge.app.settings.voicemail_dir
    voicemail.mkdir(parents=True)
    (voicemail / "1764000000.5.wav").write_bytes(b"RIFF")
    draft = {"source": "voicemail", "draft": True, "voicemail": "1764000000.5"}
    made = await edge.request("POST", "/tickets", json=draft)
    assert made.status_code == 201, made.text
    assert made.json()["ticket"]["recording"] == str(voicemail / "1764000000.5.wav")
    # and the voicemail recovery counts it as filed
    assert await edge.app.voicemail.recover(voicemail) == 0


async def test_every_reference_is_checked_on_every_path(edge: Edge) -> None:
    """The engine's own path (a voicemail draft names its recording) checks topic and call too:
    SQLite stored such tickets, PostgreSQL answered 500."""
    engine = Principal(token_id=0, name="engine", role=Role.AGENT)
    tickets = edge.app.tickets
    with pytest.raises(InvalidInput, match="topic nowhere"):
        await tickets.create(TicketDetails(topic="nowhere"), engine, recording="/var/x.wav")
    with pytest.raises(InvalidInput, match="call 424242"):
        await tickets.create(TicketDetails(), engine, call_id=424242, recording="/var/x.wav")
    refused(await edge.request("POST", "/tickets", json={"topic": "nowhere", "call_id": 1}))


async def _call_with_recording(app: Application, recording: str) -> int:
    linkedid = f"1764000001.{abs(hash(recording)) % 1000}"
    await app.calls.save(
        [
            CallRecord(
                linkedid=linkedid,
                uniqueid=linkedid,
                caller_number="13700000009",
                caller_name="",
                dialed_number="12345",
                trunk="trunk",
                entered_at=T0,
                answered_at=T0,
                ended_at=T0 + timedelta(seconds=5),
                disposition=Disposition.ANSWERED,
                hangup_cause=16,
                handled_by=HandledBy.ENGINE,
                legs=(),
                recording=recording,
            )
        ]
    )
    _, rows = await app.calls.search(CallQuery(caller="13700000009", limit=500))
    return next(call_id for call_id, record in rows if record.linkedid == linkedid)


async def test_recordings_are_served_only_from_the_recordings_folder(
    edge: Edge, tmp_path: Path
) -> None:
    inside = edge.app.settings.recordings_dir / "2026" / "11" / "20" / "a.wav"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"RIFF-inside")
    outside = tmp_path / "secret.wav"
    outside.write_bytes(b"RIFF-outside")
    sneaky = edge.app.settings.recordings_dir / "2026" / "link.wav"
    sneaky.symlink_to(outside)
    dotted = str(edge.app.settings.recordings_dir / ".." / ".." / "secret.wav")
    good = await _call_with_recording(edge.app, str(inside))
    served = await edge.request("GET", f"/calls/{good}/recording", who="supervisor")
    assert served.status_code == 200 and served.content == b"RIFF-inside"
    for stored in (str(outside), str(sneaky), dotted, "/etc/passwd"):
        call_id = await _call_with_recording(edge.app, stored)
        reply = await edge.request("GET", f"/calls/{call_id}/recording", who="supervisor")
        assert reply.status_code == 404, (stored, reply.status_code)


async def test_the_token_is_checked_before_the_body_is_read(edge: Edge) -> None:
    client = edge.client
    huge = b'{"content": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    # no token: 401, whatever the body is
    reply = await client.post(
        "/tickets", content=huge, headers={"content-type": "application/json"}
    )
    assert reply.status_code == 401
    reply = await client.post("/tickets", content=b"{not json", headers={"content-type": "x"})
    assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"
    forged = {"Authorization": "Bearer cc_forged", "content-type": "application/json"}
    assert (await client.post("/tickets", content=b"{", headers=forged)).status_code == 401
    # with a token, a body past the limit is refused unread (413), declared or streamed
    reply = await edge.request("POST", "/tickets", content=huge)
    assert reply.status_code == 413 and reply.json()["error"] == "too_large"

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"content": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    reply = await edge.request("POST", "/tickets", content=chunks())
    assert reply.status_code == 413
    # the routes that need no token stay open
    assert (await client.get("/health")).status_code == 200
    async with edge.app.db.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM tickets")) == 0


async def test_any_case_of_bearer_is_a_bearer(edge: Edge) -> None:
    token = edge.tokens["supervisor"]
    for scheme in ("Bearer", "bearer", "BEARER"):
        reply = await edge.client.get("/queues", headers={"Authorization": f"{scheme} {token}"})
        assert reply.status_code == 200, scheme
        assert await _websocket_accepted(edge.app, {"authorization": f"{scheme} {token}"}), scheme
    assert not await _websocket_accepted(edge.app, {"authorization": "bearer cc_forged"})


async def _websocket_accepted(app: Application, headers: Mapping[str, str]) -> bool:
    """Opens /ws/events over raw ASGI (httpx speaks no websocket) and says if it was accepted."""
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": "/ws/events",
        "raw_path": b"/ws/events",
        "root_path": "",
        "scheme": "ws",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "subprotocols": [],
        "state": {},
    }
    await app.api(scope, receive, send)
    return any(m["type"] == "websocket.accept" for m in sent)


async def test_three_way_for_an_unknown_agent_is_404(edge: Edge) -> None:
    reply = await edge.request("POST", "/agents/nobody/three-way", json={"number": "63001"})
    assert reply.status_code == 404, reply.text
    monitor = {"mode": "listen", "endpoint": "sup1"}
    reply = await edge.request("POST", "/agents/nobody/monitor", json=monitor)
    assert reply.status_code == 404, reply.text


def test_the_422_answer_never_echoes_input() -> None:
    from callcenter.api.errors import validation_details

    details = validation_details(
        [{"loc": ("body", "x\ud800"), "msg": "bad \udfff", "type": "t", "input": float("nan")}]
    )
    encoded = json.dumps(details, allow_nan=False).encode("utf-8")
    assert b"input" not in encoded and b"NaN" not in encoded


async def test_routes_that_take_files_name_their_own_body_limit(edge: Edge) -> None:
    """The default limit (64 KiB here) would refuse a department's photo or an editor's
    workbook: those routes declare their own limit, and the gate keeps it."""
    import_path = "/knowledge/import?name=base.csv"
    bigger = b"x" * (200 * 1024)
    # past the default limit but within the import's own: the route reads it (and judges it)
    reply = await edge.request("POST", import_path, content=bigger)
    assert reply.status_code != 413, reply.text
    # past the import's own limit: refused unread
    reply = await edge.request("POST", import_path, content=b"x" * (21 * 1024 * 1024))
    assert reply.status_code == 413
    # the same size on an ordinary route is still refused
    reply = await edge.request("POST", "/tickets", content=bigger)
    assert reply.status_code == 413
