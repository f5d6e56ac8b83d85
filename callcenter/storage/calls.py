"""Call-record repository: upserts the domain's CallRecord and answers queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, and_, case, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


# the writer's statements use the tables themselves: no ORM objects for a run of records
_CALLS = cast(Table, Call.__table__)
_LEGS = cast(Table, CallLeg.__table__)


def _call_row(record: CallRecord) -> dict[str, Any]:
    """The columns of a call not yet stored."""
    cleared = record.outcome is not None and record.outcome is not CallOutcome.AGENT
    return {
        "linkedid": record.linkedid,
        "uniqueid": record.uniqueid,
        "caller_number": record.caller_number or "",
        "caller_name": record.caller_name or "",
        "dialed_number": record.dialed_number or "",
        "trunk": record.trunk or "",
        "entered_at": record.entered_at,
        "answered_at": record.answered_at,
        "ended_at": record.ended_at,
        "disposition": record.disposition.value,
        "hangup_cause": record.hangup_cause,
        "hangup_cause_text": record.hangup_cause_text or "",
        "handled_by": record.handled_by.value if record.handled_by else None,
        "end_estimated": record.end_estimated,
        # nobody answered: whatever MixMonitor left holds no conversation
        "recording": "" if cleared else record.recording or "",
        "ended_by": record.ended_by.value if record.ended_by else None,
        "direction": record.direction.value,
        "outcome": record.outcome.value if record.outcome else None,
        "queued_at": record.queued_at,
        # a person's answer counts once the call has its outcome
        "agent_answered_at": record.agent_answered_at if record.outcome else None,
        "node": record.node or None,
    }


def _merged_call(excluded: Any) -> dict[str, Any]:
    """How a stored call takes a newer record: a fallback journal knows less than AMI did, so
    a blank or unknown value never overwrites a known one."""
    table = _CALLS.c

    def text_kept(name: str) -> Any:
        return func.coalesce(func.nullif(excluded[name], ""), table[name], "")

    def known_kept(name: str) -> Any:
        return func.coalesce(excluded[name], table[name])

    return {
        "uniqueid": excluded.uniqueid,
        **{n: text_kept(n) for n in ("caller_number", "caller_name", "dialed_number", "trunk")},
        "entered_at": excluded.entered_at,
        "answered_at": known_kept("answered_at"),
        "ended_at": excluded.ended_at,
        "disposition": excluded.disposition,
        "hangup_cause": known_kept("hangup_cause"),
        "hangup_cause_text": text_kept("hangup_cause_text"),
        "handled_by": known_kept("handled_by"),
        "end_estimated": excluded.end_estimated,
        "recording": case(
            (
                and_(
                    excluded.outcome.is_not(None),
                    excluded.outcome != CallOutcome.AGENT.value,
                ),
                "",
            ),
            else_=text_kept("recording"),
        ),
        "ended_by": known_kept("ended_by"),
        "direction": excluded.direction,
        "outcome": known_kept("outcome"),
        "queued_at": known_kept("queued_at"),
        "agent_answered_at": case(
            (excluded.outcome.is_not(None), excluded.agent_answered_at),
            else_=table.agent_answered_at,
        ),
        "node": known_kept("node"),
    }


@dataclass(frozen=True, slots=True)
class IvrSteps:
    linkedid: str
    steps: tuple[FlowStep, ...]


async def write_calls(session: AsyncSession, records: Sequence[CallRecord]) -> None:
    """Insert or update records by linkedid, and their legs by uniqueid: two statements for
    the whole run (no rows loaded, no ORM objects). Legs are never removed. A record is the
    call's whole state so far: of several for one call, the last one is written."""
    latest = {record.linkedid: record for record in records}
    if not latest:
        return
    await session.flush()
    postgres = session.get_bind().dialect.name == "postgresql"
    make_insert = postgresql_insert if postgres else sqlite_insert
    calls = make_insert(_CALLS)
    upsert = calls.on_conflict_do_update(
        index_elements=[_CALLS.c.linkedid], set_=_merged_call(calls.excluded)
    ).returning(_CALLS.c.id, _CALLS.c.linkedid)
    result = await session.execute(upsert, [_call_row(record) for record in latest.values()])
    ids = {str(linkedid): int(call_id) for call_id, linkedid in result.all()}
    legs = {
        leg.uniqueid: {
            "call_id": ids[record.linkedid],
            "uniqueid": leg.uniqueid,
            "channel": leg.channel,
            "entered_at": leg.entered_at,
            "answered_at": leg.answered_at,
            "ended_at": leg.ended_at,
            "hangup_cause": leg.hangup_cause,
        }
        for record in latest.values()
        for leg in record.legs
    }
    if not legs:
        return
    leg_insert = make_insert(_LEGS)
    columns = ("channel", "entered_at", "answered_at", "ended_at", "hangup_cause")
    await session.execute(
        leg_insert.on_conflict_do_update(
            index_elements=[_LEGS.c.uniqueid],
            set_={name: leg_insert.excluded[name] for name in columns},
            # a leg stays with the call it was first written for
            where=_LEGS.c.call_id == leg_insert.excluded.call_id,
        ),
        list(legs.values()),
    )


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
        await session.execute(insert(cast(Table, IvrStepRow.__table__)), rows)
