"""Report queries: calls, agents, dispatch and hot issues aggregated in SQL for domain/reports.

How calls are counted (one place, ``_answered_by_person`` and friends), as /metrics/summary
counts them: the denominator of 人工接通率 is every inbound row of ``calls`` that entered in the
period; a call counts as answered by a person when its outcome says so (``calls.outcome =
'agent'``); the 15-second clock is the citizen's, from the hotline answering the call to the
agent answering (``calls.agent_answered_at - calls.answered_at``). Agents' figures and the
intraday chart count the queue's own rows (``queue_calls``), where agents and ratings are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.access import Principal
from callcenter.domain.calls import CallOutcome
from callcenter.domain.metrics import Outcome, Rating
from callcenter.domain.reports import (
    REPEAT_MINIMUM,
    SERVICE_TOPIC,
    AgentCounts,
    CallCounts,
    CenterCounts,
    DepartmentCounts,
    dispatch_timeliness,
)
from callcenter.domain.seats import SeatState
from callcenter.domain.tickets import AssignmentRole, CallbackResult, Category, Status
from callcenter.domain.workdays import WorkdayCalendar
from callcenter.storage.models import Call
from callcenter.storage.routing_tables import AgentRow, AgentStateRow, QueueCallRow
from callcenter.storage.ticket_stats import (
    TicketStatistics,
    cohort_of,
    measures,
    scoped_department,
)
from callcenter.storage.ticket_tables import AssignmentRow, TicketRow, TopicRow

ANSWER_TARGET_SECONDS = 15.0
# the most tickets a drill-down lists
DRILL_LIMIT = 1000


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# ---- how a call is counted ----
def _call_answered_by_person() -> ColumnElement[bool]:
    return Call.outcome == CallOutcome.AGENT.value


def _call_answered_within_target() -> ColumnElement[bool]:
    wait = func.extract("epoch", Call.agent_answered_at) - func.extract("epoch", Call.answered_at)
    return and_(_call_answered_by_person(), wait <= ANSWER_TARGET_SECONDS)


def _answered_by_person() -> ColumnElement[bool]:
    return and_(
        QueueCallRow.outcome == Outcome.ANSWERED.value,
        QueueCallRow.agent_answered_at.is_not(None),
    )


def _answered_within_target() -> ColumnElement[bool]:
    return and_(_answered_by_person(), QueueCallRow.wait_seconds <= ANSWER_TARGET_SECONDS)


def _abandoned() -> ColumnElement[bool]:
    return QueueCallRow.outcome == Outcome.ABANDONED.value


def _content() -> ColumnElement[bool]:
    return QueueCallRow.rating.in_([Rating.SATISFIED.value, Rating.BASICALLY_SATISFIED.value])


@dataclass(frozen=True, slots=True)
class DayCalls:
    day: date
    counts: CallCounts


@dataclass(frozen=True, slots=True)
class QueuedSample:
    """One call that asked for an agent, for the intraday chart."""

    queued_at: datetime
    answered: bool
    abandoned: bool


@dataclass(frozen=True, slots=True)
class TicketLine:
    id: int
    number: str
    created_at: datetime
    category: str | None
    topic: str | None
    address: str
    status: str
    department: str | None


class ReportQueries:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        calendar: WorkdayCalendar,
        statistics: TicketStatistics,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self.calendar = calendar
        self.statistics = statistics
        self.clock = clock

    # ---- dialect helpers ----
    def _dialect(self) -> str:
        return self._sessions.kw["bind"].dialect.name  # type: ignore[no-any-return]

    def _local_day(self, column: Any, at: datetime) -> ColumnElement[Any]:
        """The local calendar day of a UTC column (SQLite: the zone's offset at ``at``)."""
        if self._dialect() == "postgresql":
            return func.date(func.timezone(str(self.calendar.tz), column))
        offset = at.astimezone(self.calendar.tz).utcoffset() or timedelta(0)
        return func.date(column, f"{int(offset.total_seconds()):+d} seconds")

    @staticmethod
    def _as_date(value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    # ---- calls ----
    def _call_columns(self) -> list[ColumnElement[int]]:
        return [
            func.count(Call.id),
            _count(_call_answered_by_person()),
            _count(_call_answered_within_target()),
            _count(_abandoned()),
            func.count(QueueCallRow.rating),
            _count(_content()),
        ]

    def _inbound(self, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
        return [Call.direction == "inbound", Call.entered_at >= start, Call.entered_at < end]

    async def calls(self, start: datetime, end: datetime) -> CallCounts:
        stmt = (
            select(*self._call_columns())
            .select_from(Call)
            .outerjoin(QueueCallRow, QueueCallRow.linkedid == Call.linkedid)
            .where(*self._inbound(start, end))
        )
        async with self._sessions() as session:
            row = (await session.execute(stmt)).one()
        return CallCounts(*(int(n) for n in row))

    async def calls_by_day(self, start: datetime, end: datetime) -> list[DayCalls]:
        day = self._local_day(Call.entered_at, start).label("day")
        stmt = (
            select(day, *self._call_columns())
            .select_from(Call)
            .outerjoin(QueueCallRow, QueueCallRow.linkedid == Call.linkedid)
            .where(*self._inbound(start, end))
            .group_by(day)
            .order_by(day)
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [
            DayCalls(self._as_date(d), CallCounts(*(int(n) for n in numbers)))
            for d, *numbers in rows
        ]

    async def queued_samples(self, start: datetime, end: datetime) -> list[QueuedSample]:
        """Calls that asked for an agent within [start, end) (one day, for the intraday chart)."""
        stmt = (
            select(QueueCallRow.queued_at, _answered_by_person(), _abandoned())
            .where(QueueCallRow.queued_at >= start, QueueCallRow.queued_at < end)
            .order_by(QueueCallRow.queued_at)
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [QueuedSample(at, bool(answered), bool(left)) for at, answered, left in rows]

    # ---- the center's ticket indicators ----
    async def service_complaints(self, start: datetime, end: datetime) -> int:
        stmt = select(func.count(TicketRow.id)).where(
            TicketRow.created_at >= start,
            TicketRow.created_at < end,
            TicketRow.category == Category.COMPLAINT.value,
            or_(
                TicketRow.topic_code == SERVICE_TOPIC,
                TicketRow.topic_code.like(f"{SERVICE_TOPIC}.%"),
            ),
        )
        async with self._sessions() as session:
            return int(await session.scalar(stmt) or 0)

    async def dispatch(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(dispatched in time, due for dispatch) for tickets registered in [start, end): those
        dispatched, and those still waiting at the center for a dispatch."""
        first = (
            select(
                AssignmentRow.ticket_id,
                func.min(AssignmentRow.dispatched_at).label("first_at"),
            )
            .where(AssignmentRow.role == AssignmentRole.LEAD.value)
            .group_by(AssignmentRow.ticket_id)
            .subquery()
        )
        created = self._local_day(TicketRow.created_at, start).label("created")
        dispatched = self._local_day(first.c.first_at, start).label("dispatched")
        stmt = (
            select(created, dispatched, func.count(TicketRow.id))
            .select_from(TicketRow)
            .outerjoin(first, first.c.ticket_id == TicketRow.id)
            .where(
                TicketRow.created_at >= start,
                TicketRow.created_at < end,
                or_(first.c.first_at.is_not(None), TicketRow.status == Status.PENDING.value),
            )
            .group_by(created, dispatched)
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        today = self.calendar.local_day(self.clock())
        return dispatch_timeliness(
            (
                (self._as_date(c), self._as_date(d) if d is not None else None, int(n))
                for c, d, n in rows
            ),
            self.calendar,
            today,
        )

    async def center(self, start: datetime, end: datetime) -> CenterCounts:
        timely, due = await self.dispatch(start, end)
        return CenterCounts(
            calls=await self.calls(start, end),
            service_complaints=await self.service_complaints(start, end),
            dispatch_due=due,
            dispatched_in_time=timely,
        )

    # ---- departments ----
    async def departments(
        self, start: datetime, end: datetime, viewer: Principal, department: str | None
    ) -> list[DepartmentCounts]:
        figures = await self.statistics.departments(start, end, viewer, department)
        return [
            DepartmentCounts(
                department=f.department,
                name=f.name,
                received=f.received,
                signed_on_time=f.signed_on_time,
                completed_on_time=f.completed_on_time,
                returned=f.returned,
                extended=f.extended,
                overdue=f.overdue,
                supervised=f.supervised,
                redo=f.redo,
                callback_reached=f.callback_reached,
                surveyed=f.surveyed,
                satisfied=f.callbacks.get(CallbackResult.SATISFIED, 0)
                + f.callbacks.get(CallbackResult.BASICALLY_SATISFIED, 0),
            )
            for f in figures
        ]

    async def department_tickets(
        self,
        start: datetime,
        end: datetime,
        viewer: Principal,
        department: str | None,
        measure: str,
    ) -> list[TicketLine]:
        """The tickets behind one department figure (``received``, ``overdue``, ...)."""
        department = scoped_department(viewer, department)
        conditions = measures(self.clock())
        a = AssignmentRow
        stmt = (
            select(TicketRow, a.department_code)
            .join(a, a.ticket_id == TicketRow.id)
            .where(*cohort_of(start, end, department), conditions[measure])
            .order_by(TicketRow.created_at, TicketRow.id)
            .limit(DRILL_LIMIT)
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [_line(ticket, code) for ticket, code in rows]

    # ---- agents ----
    async def agents(self, start: datetime, end: datetime) -> list[AgentCounts]:
        """Per agent: calls answered in the period, talk, wrap-up and pause time within it,
        ratings, and calls that rang the agent's phone unanswered."""
        q = QueueCallRow
        calls_stmt = (
            select(
                q.agent_id,
                func.count(q.id),
                func.coalesce(
                    func.sum(
                        func.extract("epoch", q.ended_at)
                        - func.extract("epoch", q.agent_answered_at)
                    ),
                    0,
                ),
                func.count(q.rating),
                _count(_content()),
            )
            .where(q.queued_at >= start, q.queued_at < end, _answered_by_person())
            .where(q.agent_id.is_not(None), q.ended_at.is_not(None))
            .group_by(q.agent_id)
        )
        s = AgentStateRow
        following = (
            func.lead(s.at).over(partition_by=s.agent_id, order_by=(s.at, s.id)).label("until")
        )
        spans = (
            select(s.agent_id, s.state, s.reason, s.at, following)
            .where(s.at < end)
            .where(
                or_(
                    s.at >= start,
                    # the state the period opened in
                    s.id.in_(select(func.max(s.id)).where(s.at < start).group_by(s.agent_id)),
                )
            )
            .subquery()
        )
        begin = case((spans.c.at < start, literal(start)), else_=spans.c.at)
        finish = case(
            (or_(spans.c.until.is_(None), spans.c.until > end), literal(end)),
            else_=spans.c.until,
        )
        seconds = func.extract("epoch", finish) - func.extract("epoch", begin)
        paused = spans.c.state == SeatState.PAUSED.value
        states_stmt = select(
            spans.c.agent_id,
            func.coalesce(func.sum(case((spans.c.state == SeatState.WRAP_UP.value, seconds))), 0),
            # every pause begun in the period, the automatic one after a missed call included
            _count(and_(paused, spans.c.at >= start)),
            func.coalesce(func.sum(case((paused, seconds))), 0),
        ).group_by(spans.c.agent_id)
        missed_stmt = select(q.missed_by).where(
            q.queued_at >= start, q.queued_at < end, q.missed_by.is_not(None)
        )
        async with self._sessions() as session:
            names = dict((await session.execute(select(AgentRow.id, AgentRow.name))).all())
            handled = {
                r[0]: r[1:] for r in (await session.execute(calls_stmt)).all() if r[0] is not None
            }
            states = {r[0]: r[1:] for r in (await session.execute(states_stmt)).all()}
            missed: dict[str, int] = {}
            for (agents,) in (await session.execute(missed_stmt)).all():
                for agent in agents or []:
                    missed[agent] = missed.get(agent, 0) + 1
        result = []
        for agent in sorted(set(handled) | set(states) | set(missed)):
            calls, talk, rated, content = handled.get(agent, (0, 0, 0, 0))
            wrap, pauses, pause_seconds = states.get(agent, (0, 0, 0))
            result.append(
                AgentCounts(
                    agent_id=agent,
                    name=str(names.get(agent, "")),
                    calls=int(calls),
                    talk_seconds=float(talk),
                    wrap_up_seconds=float(wrap),
                    rated=int(rated),
                    satisfied=int(content),
                    missed=missed.get(agent, 0),
                    pauses=int(pauses),
                    pause_seconds=float(pause_seconds),
                )
            )
        return result

    # ---- hot issues ----
    def _tickets_in(
        self, start: datetime, end: datetime, viewer: Principal
    ) -> list[ColumnElement[bool]]:
        department = scoped_department(viewer, None)
        conditions = [TicketRow.created_at >= start, TicketRow.created_at < end]
        if department is not None:
            conditions.append(
                TicketRow.id.in_(
                    select(AssignmentRow.ticket_id).where(
                        AssignmentRow.department_code == department
                    )
                )
            )
        return conditions

    async def by_topic(
        self, start: datetime, end: datetime, viewer: Principal
    ) -> list[tuple[str, str, int]]:
        """(topic code, name, tickets) registered in the period, most first; '' for none."""
        topic = func.coalesce(TicketRow.topic_code, "")
        stmt = (
            select(topic, func.coalesce(TopicRow.name, ""), func.count(TicketRow.id))
            .select_from(TicketRow)
            .outerjoin(TopicRow, TopicRow.code == TicketRow.topic_code)
            .where(*self._tickets_in(start, end, viewer))
            .group_by(topic, TopicRow.name)
        )
        async with self._sessions() as session:
            rows = [(str(c), str(n), int(k)) for c, n, k in (await session.execute(stmt)).all()]
        return sorted(rows, key=lambda r: (-r[2], r[0]))

    async def by_district(
        self, start: datetime, end: datetime, viewer: Principal
    ) -> list[tuple[str, int]]:
        """(district named in the address, tickets), most first; '' where none is named.

        The district is stored with the ticket (``tickets.district``, written with the address):
        grouping the period's rows by it costs no regular expression per row."""
        stmt = (
            select(TicketRow.district, func.count(TicketRow.id))
            .where(*self._tickets_in(start, end, viewer))
            .group_by(TicketRow.district)
        )
        async with self._sessions() as session:
            rows = [(str(d), int(n)) for d, n in (await session.execute(stmt)).all()]
        return sorted(rows, key=lambda r: (-r[1], r[0]))

    async def topic_days(
        self, start: datetime, end: datetime, viewer: Principal
    ) -> list[tuple[date, str, int]]:
        """Tickets per local day and topic (the trend lines and week-over-week comparison)."""
        day = self._local_day(TicketRow.created_at, start).label("day")
        topic = func.coalesce(TicketRow.topic_code, "").label("topic")
        stmt = (
            select(day, topic, func.count(TicketRow.id))
            .where(*self._tickets_in(start, end, viewer))
            .group_by(day, topic)
            .order_by(day, topic)
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [(self._as_date(d), str(t), int(n)) for d, t, n in rows]

    async def repeats(
        self, start: datetime, end: datetime, viewer: Principal, minimum: int = REPEAT_MINIMUM
    ) -> list[tuple[str, str, list[int]]]:
        """Complaints about the same address and topic, at least ``minimum`` in the period:
        (address as matched, topic, ticket ids)."""
        topic = func.coalesce(TicketRow.topic_code, "")
        stmt = (
            select(TicketRow.address_key, topic, TicketRow.id)
            .where(
                *self._tickets_in(start, end, viewer),
                TicketRow.category == Category.COMPLAINT.value,
                TicketRow.address_key != "",
            )
            .order_by(TicketRow.address_key, topic, TicketRow.id)
        )
        groups: dict[tuple[str, str], list[int]] = {}
        async with self._sessions() as session:
            # grouped in SQL first so only the repeated groups' ids come back
            keyed = (
                select(TicketRow.address_key, topic.label("topic"))
                .where(
                    *self._tickets_in(start, end, viewer),
                    TicketRow.category == Category.COMPLAINT.value,
                    TicketRow.address_key != "",
                )
                .group_by(TicketRow.address_key, topic)
                .having(func.count(TicketRow.id) >= minimum)
            )
            wanted = {(k, t) for k, t in (await session.execute(keyed)).all()}
            if wanted:
                keys = {k for k, _ in wanted}
                rows = await session.execute(stmt.where(TicketRow.address_key.in_(keys)))
                for key, code, ticket_id in rows.all():
                    if (key, code) in wanted:
                        groups.setdefault((key, code), []).append(int(ticket_id))
        ordered = sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))
        return [(key, code, ids) for (key, code), ids in ordered]

    async def hot_tickets(
        self,
        start: datetime,
        end: datetime,
        viewer: Principal,
        *,
        topic: str | None = None,
        district: str | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[TicketLine]:
        """The tickets behind a hot-issue number (a topic, a district, a repeat group)."""
        stmt = select(TicketRow, literal(None)).where(*self._tickets_in(start, end, viewer))
        if topic is not None:
            stmt = stmt.where(func.coalesce(TicketRow.topic_code, "") == topic)
        if district is not None:
            stmt = stmt.where(TicketRow.district == district)
        if ids is not None:
            stmt = stmt.where(TicketRow.id.in_(list(ids)))
        stmt = stmt.order_by(TicketRow.created_at, TicketRow.id).limit(DRILL_LIMIT)
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [_line(ticket, code) for ticket, code in rows]


def _line(ticket: TicketRow, department: str | None) -> TicketLine:
    return TicketLine(
        id=ticket.id,
        number=ticket.number,
        created_at=ticket.created_at,
        category=ticket.category,
        topic=ticket.topic_code,
        address=ticket.address,
        status=ticket.status,
        department=department,
    )
