"""Call-record repository: upserts the domain's CallRecord and answers queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from callcenter.domain.calls import (
    CallOutcome,
    CallRecord,
    Direction,
    Disposition,
    EndedBy,
    HandledBy,
    Leg,
)
from callcenter.domain.ivr import FlowStep
from callcenter.storage.models import Call, CallLeg, IvrStepRow


@dataclass(frozen=True, slots=True)
class CallQuery:
    since: datetime | None = None
    until: datetime | None = None
    caller: str | None = None
    outcome: CallOutcome | None = None
    limit: int = 50
    offset: int = 0


def to_record(row: Call) -> CallRecord:
    return CallRecord(
        linkedid=row.linkedid,
        uniqueid=row.uniqueid,
        caller_number=row.caller_number,
        caller_name=row.caller_name,
        dialed_number=row.dialed_number,
        trunk=row.trunk,
        entered_at=row.entered_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        disposition=Disposition(row.disposition),
        hangup_cause=row.hangup_cause,
        hangup_cause_text=row.hangup_cause_text,
        handled_by=HandledBy(row.handled_by) if row.handled_by else None,
        end_estimated=row.end_estimated,
        recording=row.recording or "",
        ended_by=EndedBy(row.ended_by) if row.ended_by else None,
        direction=Direction(row.direction or Direction.INBOUND.value),
        outcome=CallOutcome(row.outcome) if row.outcome else None,
        queued_at=row.queued_at,
        agent_answered_at=row.agent_answered_at,
        node=row.node or "",
        legs=tuple(
            Leg(
                uniqueid=leg.uniqueid,
                channel=leg.channel,
                entered_at=leg.entered_at,
                answered_at=leg.answered_at,
                ended_at=leg.ended_at,
                hangup_cause=leg.hangup_cause,
            )
            for leg in row.legs
        ),
    )


SelectT = TypeVar("SelectT", bound=Select[Any])


class CallRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def save(self, records: list[CallRecord]) -> None:
        """Insert or update records by linkedid in one transaction. Legs are never removed."""
        if not records:
            return
        async with self._sessions.begin() as session:
            await write_calls(session, records)

    async def save_steps(self, linkedid: str, steps: tuple[FlowStep, ...]) -> None:
        if not steps:
            return
        async with self._sessions.begin() as session:
            await write_steps(session, [IvrSteps(linkedid, steps)])

    async def steps(self, linkedid: str) -> list[FlowStep]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(IvrStepRow).where(IvrStepRow.linkedid == linkedid).order_by(IvrStepRow.id)
            )
            return [
                FlowStep(row.at, row.flow, row.node, row.event, row.value)  # type: ignore[arg-type]
                for row in rows.all()
            ]

    async def caller_of(self, linkedid: str) -> tuple[int, str] | None:
        """(call record id, caller number) for an Asterisk linkedid, once it is written."""
        async with self._sessions() as session:
            found = (
                await session.execute(
                    select(Call.id, Call.caller_number).where(Call.linkedid == linkedid)
                )
            ).first()
            return (int(found[0]), str(found[1] or "")) if found else None

    async def last_call_by_caller(self, since: datetime) -> dict[str, datetime]:
        """Each number that called in since `since`, with the time of its latest call."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Call.caller_number, func.max(Call.entered_at))
                .where(Call.entered_at >= since, Call.direction == Direction.INBOUND.value)
                .group_by(Call.caller_number)
            )
            return {str(number): at for number, at in rows.all() if number}

    async def open_calls(self) -> list[CallRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(select(Call).where(Call.ended_at.is_(None)))
            return [to_record(row) for row in rows.all()]

    async def get(self, call_id: int) -> tuple[int, CallRecord] | None:
        async with self._sessions() as session:
            row = await session.get(Call, call_id)
            return (row.id, to_record(row)) if row else None

    async def inbound(self, start: datetime, end: datetime) -> list[CallRecord]:
        """Calls into 12345 that entered within [start, end), without their legs (for figures)."""
        columns = (
            Call.linkedid,
            Call.entered_at,
            Call.answered_at,
            Call.ended_at,
            Call.disposition,
            Call.outcome,
            Call.queued_at,
            Call.agent_answered_at,
        )
        async with self._sessions() as session:
            rows = await session.execute(
                select(*columns).where(
                    Call.direction == Direction.INBOUND.value,
                    Call.entered_at >= start,
                    Call.entered_at < end,
                )
            )
            return [
                CallRecord(
                    linkedid=row.linkedid,
                    uniqueid=row.linkedid,
                    caller_number="",
                    caller_name="",
                    dialed_number="",
                    trunk="",
                    entered_at=row.entered_at,
                    answered_at=row.answered_at,
                    ended_at=row.ended_at,
                    disposition=Disposition(row.disposition),
                    outcome=CallOutcome(row.outcome) if row.outcome else None,
                    queued_at=row.queued_at,
                    agent_answered_at=row.agent_answered_at,
                )
                for row in rows.all()
            ]

    async def search(self, query: CallQuery) -> tuple[int, list[tuple[int, CallRecord]]]:
        async with self._sessions() as session:
            stmt = _filtered(select(Call), query)
            total = await session.scalar(_filtered(select(func.count(Call.id)), query))
            rows = await session.scalars(
                stmt.order_by(Call.entered_at.desc(), Call.id.desc())
                .limit(query.limit)
                .offset(query.offset)
            )
            return int(total or 0), [(row.id, to_record(row)) for row in rows.all()]


def _filtered(stmt: SelectT, query: CallQuery) -> SelectT:
    if query.since is not None:
        stmt = stmt.where(Call.entered_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(Call.entered_at < query.until)
    if query.caller:
        # the citizen's number: who called 12345, or whom the hotline called
        stmt = stmt.where(
            or_(
                Call.caller_number == query.caller,
                and_(
                    Call.direction == Direction.OUTBOUND.value,
                    Call.dialed_number == query.caller,
                ),
            )
        )
    if query.outcome is not None:
        stmt = stmt.where(Call.outcome == query.outcome.value)
    return stmt


def _copy(record: CallRecord, row: Call) -> None:
    row.uniqueid = record.uniqueid
    # a fallback journal knows less than AMI did; never overwrite a known value with a blank one
    row.caller_number = record.caller_number or row.caller_number or ""
    row.caller_name = record.caller_name or row.caller_name or ""
    row.dialed_number = record.dialed_number or row.dialed_number or ""
    row.trunk = record.trunk or row.trunk or ""
    row.entered_at = record.entered_at
    row.answered_at = record.answered_at or row.answered_at
    row.ended_at = record.ended_at
    row.disposition = record.disposition.value
    row.hangup_cause = record.hangup_cause if record.hangup_cause is not None else row.hangup_cause
    row.hangup_cause_text = record.hangup_cause_text or row.hangup_cause_text or ""
    row.handled_by = record.handled_by.value if record.handled_by else row.handled_by
    row.end_estimated = record.end_estimated
    if record.outcome is not None and record.outcome is not CallOutcome.AGENT:
        row.recording = ""  # nobody answered: whatever MixMonitor left holds no conversation
    else:
        row.recording = record.recording or row.recording or ""
    row.ended_by = record.ended_by.value if record.ended_by else row.ended_by
    row.direction = record.direction.value
    row.outcome = record.outcome.value if record.outcome else row.outcome
    row.queued_at = record.queued_at or row.queued_at
    row.agent_answered_at = record.agent_answered_at if record.outcome else row.agent_answered_at
    row.node = record.node or row.node


@dataclass(frozen=True, slots=True)
class IvrSteps:
    linkedid: str
    steps: tuple[FlowStep, ...]


async def write_calls(session: AsyncSession, records: Sequence[CallRecord]) -> None:
    """Insert or update records by linkedid. Legs are never removed. A record is the call's
    whole state so far: of several for one call, the last one is written."""
    latest = {record.linkedid: record for record in records}
    existing = {
        row.linkedid: row
        for row in (
            await session.scalars(
                select(Call).where(Call.linkedid.in_(latest)).options(selectinload(Call.legs))
            )
        ).all()
    }
    for record in latest.values():
        row = existing.get(record.linkedid)
        if row is None:
            row = Call(linkedid=record.linkedid, legs=[])
            session.add(row)
            existing[record.linkedid] = row
        _copy(record, row)
        known = {leg.uniqueid: leg for leg in row.legs}
        for leg in record.legs:
            leg_row = known.get(leg.uniqueid)
            if leg_row is None:
                leg_row = CallLeg(uniqueid=leg.uniqueid)
                row.legs.append(leg_row)
                known[leg.uniqueid] = leg_row
            leg_row.channel = leg.channel
            leg_row.entered_at = leg.entered_at
            leg_row.answered_at = leg.answered_at
            leg_row.ended_at = leg.ended_at
            leg_row.hangup_cause = leg.hangup_cause
    await session.flush()


async def write_steps(session: AsyncSession, batches: Sequence[IvrSteps]) -> None:
    """IVR steps are append-only: one multi-row insert."""
    rows = [
        {
            "linkedid": batch.linkedid,
            "at": step.at,
            "flow": step.flow,
            "node": step.node,
            "event": step.event,
            "value": step.value[:64],
        }
        for batch in batches
        for step in batch.steps
    ]
    if rows:
        await session.flush()
        await session.execute(insert(IvrStepRow), rows)
