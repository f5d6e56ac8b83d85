"""Repository of agents, their skills and seat history, queued calls and callback requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.metrics import Outcome, QueuedCall, Rating
from callcenter.domain.seats import AgentProfile, SeatState, Transition
from callcenter.storage.routing_tables import (
    AgentRow,
    AgentSkillRow,
    AgentStateRow,
    CallbackRequestRow,
    QueueCallRow,
)


def _profile(row: AgentRow, skills: Sequence[AgentSkillRow]) -> AgentProfile:
    return AgentProfile(
        id=row.id,
        name=row.name,
        endpoint=row.endpoint,
        skills={s.skill: s.level for s in skills},
        sip_contact=row.sip_contact,
        sip_md5=row.sip_md5,
        active=row.active,
    )


def _transition(row: AgentStateRow) -> Transition:
    return Transition(row.agent_id, SeatState(row.state), row.at, row.reason, row.call_id)


def _queued(row: QueueCallRow) -> QueuedCall:
    return QueuedCall(
        linkedid=row.linkedid,
        caller_number=row.caller_number,
        queue=row.queue,
        requirements=dict(row.requirements),
        priority=row.priority,
        queued_at=row.queued_at,
        outcome=Outcome(row.outcome),
        agent_id=row.agent_id,
        agent_answered_at=row.agent_answered_at,
        ended_at=row.ended_at,
        overflow_rule=row.overflow_rule,
        missed_by=tuple(row.missed_by),
        silent=bool(row.silent),
        rating=Rating(row.rating) if row.rating else None,
    )


class SeatRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # ---- agents ----
    async def save_agent(self, profile: AgentProfile, now: datetime) -> None:
        async with self._sessions.begin() as session:
            await write_agents(session, [AgentSaved(profile, now)])

    async def agents(self) -> list[AgentProfile]:
        async with self._sessions() as session:
            rows = (await session.scalars(select(AgentRow).order_by(AgentRow.id))).all()
            skills = (await session.scalars(select(AgentSkillRow))).all()
        by_agent: dict[str, list[AgentSkillRow]] = {}
        for skill in skills:
            by_agent.setdefault(skill.agent_id, []).append(skill)
        return [_profile(row, by_agent.get(row.id, [])) for row in rows]

    # ---- seat history ----
    async def record(self, transitions: Sequence[Transition]) -> None:
        if not transitions:
            return
        async with self._sessions.begin() as session:
            await write_transitions(session, transitions)

    async def last_transitions(self) -> dict[str, Transition]:
        async with self._sessions() as session:
            latest = (
                select(AgentStateRow.agent_id, func.max(AgentStateRow.id).label("id"))
                .group_by(AgentStateRow.agent_id)
                .subquery()
            )
            rows = await session.scalars(
                select(AgentStateRow).join(latest, AgentStateRow.id == latest.c.id)
            )
            return {row.agent_id: _transition(row) for row in rows.all()}

    async def transitions(self, start: datetime, end: datetime) -> list[Transition]:
        """Transitions within [start, end), preceded by each agent's last one before start."""
        async with self._sessions() as session:
            before = (
                select(AgentStateRow.agent_id, func.max(AgentStateRow.id).label("id"))
                .where(AgentStateRow.at < start)
                .group_by(AgentStateRow.agent_id)
                .subquery()
            )
            opening = await session.scalars(
                select(AgentStateRow).join(before, AgentStateRow.id == before.c.id)
            )
            within = await session.scalars(
                select(AgentStateRow)
                .where(AgentStateRow.at >= start, AgentStateRow.at < end)
                .order_by(AgentStateRow.at, AgentStateRow.id)
            )
            return [_transition(row) for row in [*opening.all(), *within.all()]]

    # ---- queued calls ----
    async def save_queued(self, calls: Sequence[QueuedCall]) -> None:
        if not calls:
            return
        async with self._sessions.begin() as session:
            await write_queued(session, calls)

    async def queued(self, start: datetime, end: datetime) -> list[QueuedCall]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(QueueCallRow)
                .where(QueueCallRow.queued_at >= start, QueueCallRow.queued_at < end)
                .order_by(QueueCallRow.queued_at)
            )
            return [_queued(row) for row in rows.all()]

    async def agent_calls(self, agent_id: str, limit: int) -> list[QueuedCall]:
        """The calls offered to or taken by an agent, newest first (the desk's own history)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(QueueCallRow)
                .where(QueueCallRow.agent_id == agent_id)
                .order_by(QueueCallRow.queued_at.desc())
                .limit(limit)
            )
            return [_queued(row) for row in rows.all()]

    async def queued_call(self, linkedid: str) -> QueuedCall | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(QueueCallRow).where(QueueCallRow.linkedid == linkedid)
            )
            return _queued(row) if row else None

    async def rate(self, linkedid: str, rating: Rating) -> None:
        async with self._sessions.begin() as session:
            await write_ratings(session, [RatingGiven(linkedid, rating)])

    async def add_callback(
        self, linkedid: str, caller_number: str, queue: str, at: datetime
    ) -> None:
        async with self._sessions.begin() as session:
            await write_callbacks(session, [CallbackAsked(linkedid, caller_number, queue, at)])


# ---- writes inside a caller's transaction (the writer batches many into one) ----
@dataclass(frozen=True, slots=True)
class AgentSaved:
    profile: AgentProfile
    at: datetime


@dataclass(frozen=True, slots=True)
class RatingGiven:
    linkedid: str
    rating: Rating


@dataclass(frozen=True, slots=True)
class CallbackAsked:
    linkedid: str
    caller_number: str
    queue: str
    at: datetime


async def write_agents(session: AsyncSession, saved: Sequence[AgentSaved]) -> None:
    for item in saved:
        profile = item.profile
        row = await session.get(AgentRow, profile.id)
        if row is None:
            row = AgentRow(id=profile.id, created_at=item.at)
            session.add(row)
        row.name = profile.name
        row.endpoint = profile.endpoint
        row.sip_contact = profile.sip_contact
        row.sip_md5 = profile.sip_md5
        row.active = profile.active
        await session.flush()
        await session.execute(delete(AgentSkillRow).where(AgentSkillRow.agent_id == profile.id))
        session.add_all(
            AgentSkillRow(agent_id=profile.id, skill=skill, level=level)
            for skill, level in profile.skills.items()
        )
        await session.flush()


# the writer's statements use the tables themselves: no ORM bulk layer for a run of records
_STATES = cast(Table, AgentStateRow.__table__)
_QUEUED = cast(Table, QueueCallRow.__table__)


async def write_transitions(session: AsyncSession, transitions: Sequence[Transition]) -> None:
    """Seat history is append-only: one multi-row insert."""
    if not transitions:
        return
    await session.flush()
    await session.execute(
        insert(_STATES),
        [
            {
                "agent_id": t.agent_id,
                "state": t.state.value,
                "reason": t.reason,
                "call_id": t.call_id,
                "at": t.at,
            }
            for t in transitions
        ],
    )


async def write_queued(session: AsyncSession, calls: Sequence[QueuedCall]) -> None:
    """Insert or update by linkedid in one statement; a QueuedCall is the call's whole state
    so far, so of several for one call the last one is written."""
    latest = {call.linkedid: call for call in calls}
    rows = [
        {
            "linkedid": call.linkedid,
            "caller_number": call.caller_number,
            "queue": call.queue,
            "requirements": dict(call.requirements),
            "priority": call.priority,
            "queued_at": call.queued_at,
            "outcome": call.outcome.value,
            "silent": call.silent,
            "rating": call.rating.value if call.rating else None,
            "agent_id": call.agent_id,
            "agent_answered_at": call.agent_answered_at,
            "ended_at": call.ended_at,
            "wait_seconds": call.wait.total_seconds() if call.wait is not None else None,
            "overflow_rule": call.overflow_rule,
            "missed_by": list(call.missed_by),
        }
        for call in latest.values()
    ]
    if not rows:
        return
    await session.flush()
    upsert = (
        postgresql_insert(_QUEUED)
        if session.get_bind().dialect.name == "postgresql"
        else sqlite_insert(_QUEUED)
    )
    updated: dict[str, ColumnElement[Any]] = {
        name: upsert.excluded[name] for name in rows[0] if name not in ("linkedid", "rating")
    }
    # a rating arrives after the call is over: never blank one out
    updated["rating"] = func.coalesce(upsert.excluded.rating, _QUEUED.c.rating)
    await session.execute(
        upsert.on_conflict_do_update(index_elements=[_QUEUED.c.linkedid], set_=updated),
        rows,
    )


async def write_ratings(session: AsyncSession, ratings: Sequence[RatingGiven]) -> None:
    for given in ratings:
        row = await session.scalar(
            select(QueueCallRow).where(QueueCallRow.linkedid == given.linkedid)
        )
        if row is not None:
            row.rating = given.rating.value
    await session.flush()


async def write_callbacks(session: AsyncSession, asked: Sequence[CallbackAsked]) -> None:
    session.add_all(
        CallbackRequestRow(
            linkedid=item.linkedid,
            caller_number=item.caller_number,
            queue=item.queue,
            requested_at=item.at,
            status="pending",
        )
        for item in asked
    )
    await session.flush()
