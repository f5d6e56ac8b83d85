"""Ticket statistics: the per-department figures assessments score, and SLA colour counts.

Figures cover the lead assignments *received* in the period (dispatched in [since, until)), judged
as of ``now``; a ticket dispatched twice (after a return) counts once per receiving department.

- signed on time: first signed before the sign-for deadline;
- returned: sent back to the center as misrouted (those are never overdue);
- extended: at least one extension approved;
- completed: a reply approved by the center; on time when that reply came before the deadline
  of the first round (including approved extensions);
- overdue: not returned and either completed late or still not completed at the deadline;
- callbacks / satisfaction: every survey while the department led the ticket (a dissatisfied one
  followed by a satisfied one after the redo counts both); rate = (satisfied + basically) / all;
- redo: callbacks that sent the ticket back to be redone (重办);
- supervised: tickets with a supervision (督办) opened on them;
- callback reached: tickets whose citizen was reached for a callback while the department led.

``measures`` holds each figure's condition on an assignment, so the report's drill-down lists
exactly the tickets behind a number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    SQLColumnExpression,
    Subquery,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import Forbidden
from callcenter.domain.tickets import (
    HANDLING_STATUSES,
    AssignmentRole,
    CallbackResult,
    SlaColour,
    Ticket,
    is_center,
)
from callcenter.storage.ticket_archive import ARCHIVED_ASSIGNMENTS
from callcenter.storage.ticket_figures import CALLBACK_COLUMNS, KEPT, on_the_hour
from callcenter.storage.ticket_rows import listed, to_ticket
from callcenter.storage.ticket_tables import (
    AssignmentRow,
    DepartmentRow,
    FiguresRow,
    SupervisionRow,
    TicketRow,
)
from callcenter.storage.tickets import serial, sla_conditions, status_in, visible

# the most tickets in departments' hands GET /tickets/sla counts (the most urgent first)
SLA_CAP = 10_000


@dataclass(frozen=True, slots=True)
class SlaView:
    """Counts by lead department and colour (over the SLA_CAP most urgent tickets: ``capped``
    when there are more) and one page of those tickets, earliest deadline first (as a list
    shows them: ticket_rows.listed)."""

    counts: dict[str, dict[SlaColour, int]]
    capped: bool
    items: list[Ticket]


@dataclass(slots=True)
class DepartmentFigures:
    department: str
    name: str
    received: int = 0
    signed: int = 0
    signed_on_time: int = 0
    returned: int = 0
    extended: int = 0
    completed: int = 0
    completed_on_time: int = 0
    overdue: int = 0
    redo: int = 0
    supervised: int = 0
    callback_reached: int = 0
    callbacks: dict[CallbackResult, int] = field(default_factory=dict)

    @property
    def surveyed(self) -> int:
        return sum(self.callbacks.values())

    @property
    def satisfaction_rate(self) -> float | None:
        """Share of (basically) satisfied callbacks; None when nobody was surveyed."""
        if not self.surveyed:
            return None
        happy = self.callbacks.get(CallbackResult.SATISFIED, 0) + self.callbacks.get(
            CallbackResult.BASICALLY_SATISFIED, 0
        )
        return happy / self.surveyed


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows meet the condition (an aggregate's FILTER: no CASE evaluated per row)."""
    return func.count().filter(condition)


def scoped_department(viewer: Principal, department: str | None) -> str | None:
    """The department whose figures ``viewer`` may see: the center any (None: all),
    a department handler only its own."""
    if is_center(viewer):
        return department
    if viewer.role is not Role.DEPARTMENT or not viewer.subject:
        raise Forbidden("this token is not bound to a department")
    if department not in (None, viewer.subject):
        raise Forbidden("a department sees only its own figures")
    return viewer.subject


def cohort_of(
    since: datetime, until: datetime, department: str | None
) -> list[ColumnElement[bool]]:
    """Lead assignments received (dispatched) within [since, until)."""
    a = AssignmentRow
    cohort = [
        a.role == AssignmentRole.LEAD.value,
        a.dispatched_at >= since,
        a.dispatched_at < until,
    ]
    if department is not None:
        cohort.append(a.department_code == department)
    return cohort


def measures(now: datetime) -> dict[str, ColumnElement[bool]]:
    """Each counted figure as a condition on a lead assignment (judged as of ``now``)."""
    a = AssignmentRow
    return {
        "received": a.id.is_not(None),
        "signed": a.signed_at.is_not(None),
        "signed_on_time": a.signed_at < a.sign_due_at,
        "returned": a.returned_at.is_not(None),
        "extended": a.extended_days > 0,
        "completed": a.completed_at.is_not(None),
        "completed_on_time": a.completed_at < a.due_at,
        "overdue": and_(
            a.returned_at.is_(None),
            or_(
                and_(a.completed_at.is_(None), a.due_at <= now),
                a.completed_at >= a.due_at,
            ),
        ),
        "redo": a.redo_count > 0,
        "supervised": select(SupervisionRow.id)
        .where(SupervisionRow.ticket_id == a.ticket_id)
        .exists(),
        # the counts of the ticket's callbacks judging the department (kept on the assignment)
        "callback_reached": _surveys(a) > 0,
    }


def _surveys(a: type[AssignmentRow]) -> ColumnElement[int]:
    """How many callbacks judged the assignment's department on its ticket."""
    first, *others = (getattr(a, name) for name in CALLBACK_COLUMNS.values())
    total: ColumnElement[int] = first
    for column in others:
        total = total + column
    return total


# each counted figure (besides the callbacks by result) and the kept sum it starts from: the
# kept overdue are the completed late, the running ones are counted at each request
_KEPT_AS = {
    ("overdue" if kept == "completed_late" else kept): kept
    for kept in KEPT
    if kept not in CALLBACK_COLUMNS.values()
}
_COUNTED = tuple(_KEPT_AS)


def _per_department(
    department: SQLColumnExpression[str],
    counted: Mapping[str, ColumnElement[Any]],
    surveys: Callable[[str], ColumnElement[Any]],
    first_of_pair: ColumnElement[bool],
    where: list[ColumnElement[bool]],
) -> Select[Any]:
    """Per department, the counted figures and the callbacks by result, those taken on a
    pair's first reception in the period only (``surveys``: a callback count column)."""
    return (
        select(
            department,
            *(counted[figure].label(figure) for figure in _COUNTED),
            *(
                func.coalesce(func.sum(surveys(c)).filter(first_of_pair), 0).label(c)
                for c in CALLBACK_COLUMNS.values()
            ),
        )
        .where(*where)
        .group_by(department)
    )


def _read(rows: Sequence[Row[Any]]) -> list[DepartmentFigures]:
    """Figures from rows of (department, name, *_COUNTED, *callback counts by result)."""
    result: list[DepartmentFigures] = []
    for row in rows:
        code, name, *numbers = tuple(row)
        figures = DepartmentFigures(code, name)
        counted, surveyed = numbers[: len(_COUNTED)], numbers[len(_COUNTED) :]
        for attribute, number in zip(_COUNTED, counted, strict=True):
            setattr(figures, attribute, int(number or 0))
        for outcome, number in zip(CALLBACK_COLUMNS, surveyed, strict=True):
            if number:
                figures.callbacks[outcome] = int(number)
        result.append(figures)
    return result


def _named(figures: Subquery) -> Select[Any]:
    """Per-department figures with the department's name, joined to its 30-odd rows rather
    than to every assignment counted."""
    return (
        select(
            figures.c.department_code,
            DepartmentRow.name,
            *(figures.c[name] for name in _COUNTED),
            *(figures.c[c] for c in CALLBACK_COLUMNS.values()),
        )
        .join(DepartmentRow, DepartmentRow.code == figures.c.department_code)
        .order_by(figures.c.department_code)
    )


def _running_overdue(
    since: datetime, until: datetime, department: str | None, now: datetime
) -> Select[Any]:
    """Per department, the period's lead assignments past their deadline and neither completed
    nor returned (hot and archived; the running assignments' partial index): the part of
    "overdue" the kept figures cannot hold, judged as of ``now``."""
    parts = []
    for a in (AssignmentRow, ARCHIVED_ASSIGNMENTS):
        running = [
            # spelled out: the partial index ix_..._running is only usable on seeing the value
            a.role.in_(
                bindparam("lead", ["lead"], expanding=True, literal_execute=True, unique=True)
            ),
            a.completed_at.is_(None),
            a.returned_at.is_(None),
            a.dispatched_at >= since,
            a.dispatched_at < until,
            a.due_at <= now,
        ]
        if department is not None:
            running.append(a.department_code == department)
        parts.append(select(a.department_code).where(*running))
    every = union_all(*parts).subquery("running")
    return select(every.c.department_code, func.count()).group_by(every.c.department_code)


async def _kept(
    session: AsyncSession, since: datetime, until: datetime, department: str | None, now: datetime
) -> list[DepartmentFigures]:
    """The period's figures from the kept sums (storage/ticket_figures), ``since`` and
    ``until`` on whole hours: at most an hour's row per department and previous-lead hour,
    and the running overdue assignments counted as of ``now``."""
    f = FiguresRow
    period = [f.hour >= since, f.hour < until]
    if department is not None:
        period.append(f.department_code == department)
    # a pair's callbacks count on its first reception in the period
    first_of_pair = f.previous_lead_hour < since
    sums = {name: func.sum(getattr(f, kept)) for name, kept in _KEPT_AS.items()}
    kept = (
        _per_department(f.department_code, sums, lambda c: getattr(f, c), first_of_pair, period)
        .having(func.sum(f.received) > 0)
        .subquery("kept")
    )
    figures = _read((await session.execute(_named(kept))).all())
    running = dict((await session.execute(_running_overdue(since, until, department, now))).all())
    for department_figures in figures:
        department_figures.overdue += int(running.get(department_figures.department, 0))
    return figures


class TicketStatistics:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self.clock = clock

    async def departments(
        self,
        since: datetime,
        until: datetime,
        viewer: Principal,
        department: str | None = None,
    ) -> list[DepartmentFigures]:
        if not (on_the_hour(since) and on_the_hour(until)):
            return await self.counted(since, until, viewer, department)
        department = scoped_department(viewer, department)
        async with self._sessions() as session:
            await serial(session)
            return await _kept(session, since, until, department, self.clock())

    async def counted(
        self,
        since: datetime,
        until: datetime,
        viewer: Principal,
        department: str | None = None,
    ) -> list[DepartmentFigures]:
        """The same figures counted from the period's assignments (what the kept figures
        must always equal; a period not on whole hours is counted so)."""
        department = scoped_department(viewer, department)
        stmt = self._figures(since, cohort_of(since, until, department), measures(self.clock()))
        async with self._sessions() as session:
            await serial(session)
            return _read((await session.execute(stmt)).all())

    def _figures(
        self,
        since: datetime,
        cohort: list[ColumnElement[bool]],
        measure: dict[str, ColumnElement[bool]],
    ) -> Select[Any]:
        """Every figure per lead department in one pass over the period's assignments (the
        dispatched_at index), nothing else of the tables' history read:

        - the counted figures are conditions on each assignment;
        - the callbacks come from the counts kept on the assignments, taken once per (ticket,
          department) of the period: from its first assignment there, the one whose previous
          lead assignment of the same pair (``previous_lead_at``) is older than the period
          (a ticket received twice by one department in the period counts twice as received,
          its callbacks once);
        - supervised: each assignment's ticket looked up in the supervised tickets, hashed
          once."""
        a = AssignmentRow
        counted: dict[str, ColumnElement[int]] = {
            # redo counts every redo, the others count assignments
            "redo": func.coalesce(func.sum(a.redo_count), 0),
            # measures' EXISTS as an uncorrelated IN: the supervised tickets (督办 is for the
            # few) hashed once, not an index probe per assignment of the period
            "supervised": _count(a.ticket_id.in_(select(SupervisionRow.ticket_id))),
        }
        first_of_pair = or_(a.previous_lead_at.is_(None), a.previous_lead_at < since)
        every = {name: counted.get(name, _count(measure[name])) for name in _COUNTED}
        figures = _per_department(
            a.department_code, every, lambda c: getattr(a, c), first_of_pair, cohort
        ).subquery("figures")
        return _named(figures)

    async def sla(
        self,
        viewer: Principal,
        department: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> SlaView:
        """Tickets in departments' hands: counts by lead department and SLA colour, and a page of
        them, most urgent (earliest deadline) first.

        Both walk the open tickets' partial index ``(due_at, id)`` in deadline order and stop:
        the counts cover the first SLA_CAP tickets (``capped`` when there are more; the red ones,
        overdue, come first), the page costs its rows."""
        now = self.clock()
        # each open ticket's current lead, kept on its row (migration 0024): on PostgreSQL the
        # open tickets' index (due_at, id) includes it with status and warn_at, so the walk
        # below reads the index alone
        lead = TicketRow.open_lead_department
        in_hand = [
            # spelled out: the open tickets' partial index (due_at, id) serves these
            status_in(TicketRow.status, HANDLING_STATUSES),
            TicketRow.due_at.is_not(None),
            visible(viewer, open_only=True),
        ]
        if not is_center(viewer):
            # a department counts the tickets it leads, not those it only co-handles
            in_hand.append(lead == viewer.subject)
        if department is not None:
            in_hand.append(lead == department)
        # the most urgent SLA_CAP + 1 tickets, numbered: the last one only says there are more
        order = (TicketRow.due_at, TicketRow.id)
        urgent = (
            select(
                TicketRow.status,
                TicketRow.due_at,
                TicketRow.warn_at,
                lead.label("lead"),
                func.row_number().over(order_by=order).label("n"),
            )
            .where(*in_hand)
            .order_by(*order)
            .limit(SLA_CAP + 1)
            .subquery("urgent")
        )
        colours = sla_conditions(urgent.c.status, urgent.c.due_at, urgent.c.warn_at, now)
        colour = case(*((colours[c], c.value) for c in SlaColour), else_=None)
        counted = select(
            urgent.c.lead,
            colour.label("colour"),
            _count(urgent.c.n <= SLA_CAP),
            func.max(urgent.c.n),
        ).group_by(urgent.c.lead, colour)
        page = (
            select(TicketRow)
            .options(*listed(TicketRow))
            .where(*in_hand, lead.is_not(None))
            .order_by(TicketRow.due_at, TicketRow.id)
            .limit(limit)
            .offset(offset)
        )
        counts: dict[str, dict[SlaColour, int]] = {}
        async with self._sessions() as session:
            await serial(session)
            walked = 0
            for code, name, count, last in (await session.execute(counted)).all():
                walked = max(walked, int(last))
                if name is None or code is None:
                    continue
                bucket = counts.setdefault(code, {c: 0 for c in SlaColour})
                bucket[SlaColour(name)] = int(count)
            items = [to_ticket(row, listed=True) for row in (await session.scalars(page)).all()]
            capped = walked > SLA_CAP
        return SlaView(counts, capped, items)
