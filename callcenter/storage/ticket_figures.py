"""Ticket statistics kept as they happen: the ``ticket_figures`` rows (migration 0025).

A month's statistics at city scale cover a quarter of a million lead assignments; counting them
at each request took 230 ms at 10 M tickets. Instead, each lead assignment's contribution to the
figures (ticket_stats.measures) is summed per UTC hour of dispatch and lead department, and
every write that changes an assignment changes those sums in the same transaction, by the
difference between what the assignment counted before and after (``Figures``). A period that
starts and ends on whole hours then reads at most 24 x 31 x departments rows.

What each figure keeps:

- everything ``measures`` counts from an assignment's own columns, as of its last write;
- ``completed_late``: the overdue assignments that are completed (late). The overdue ones still
  running (neither completed nor returned, the deadline passed) depend on the moment a report
  asks: ticket_stats counts them from the running assignments' partial index
  ``ix_ticket_assignments_running`` at each request;
- ``supervised``: lead assignments of a ticket with a supervision (督办): changed when a
  ticket's first supervision is opened (storage/supervisions) and when a supervised ticket is
  dispatched again;
- the callbacks by result, keyed by the hour of the assignment's previous lead assignment of the
  same (ticket, department) (``previous_lead_hour``; NO_PREVIOUS for none): a period counts a
  pair's callbacks on its first reception in the period, the one whose previous reception is
  older than the period's start (for a start on a whole hour, older than its hour).

Tickets moved to the archive keep their figures: a month's statistics do not change when its
tickets are archived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.domain.tickets import CallbackResult
from callcenter.storage.ticket_tables import FiguresRow, SupervisionRow

# the previous_lead_hour of an assignment with no previous lead assignment of its pair
NO_PREVIOUS = datetime(1970, 1, 1, tzinfo=UTC)
# an assignment's count of the ticket's callbacks judging its department, per result
CALLBACK_COLUMNS = {
    CallbackResult.SATISFIED: "callbacks_satisfied",
    CallbackResult.BASICALLY_SATISFIED: "callbacks_basically_satisfied",
    CallbackResult.DISSATISFIED: "callbacks_dissatisfied",
}
CALLBACKS = tuple(CALLBACK_COLUMNS.values())
# the sums each row keeps, in column order
KEPT = (
    "received",
    "signed",
    "signed_on_time",
    "returned",
    "extended",
    "completed",
    "completed_on_time",
    "completed_late",
    "redo",
    "supervised",
    "callback_reached",
    *CALLBACKS,
)
# an assignment's columns its figures are counted from
INPUTS = (
    "department_code",
    "dispatched_at",
    "previous_lead_at",
    "sign_due_at",
    "due_at",
    "signed_at",
    "returned_at",
    "completed_at",
    "extended_days",
    "redo_count",
    *CALLBACKS,
)

Key = tuple[datetime, str, datetime]


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def on_the_hour(at: datetime) -> bool:
    return hour_of(at) == at


def inputs_of(assignment: Any) -> dict[str, Any]:
    """An assignment row's columns its figures are counted from."""
    return {name: getattr(assignment, name) for name in INPUTS}


def key_of(values: Mapping[str, Any]) -> Key:
    previous = values["previous_lead_at"]
    return (
        hour_of(values["dispatched_at"]),
        values["department_code"],
        NO_PREVIOUS if previous is None else hour_of(previous),
    )


def counts_of(values: Mapping[str, Any]) -> dict[str, int]:
    """What one lead assignment counts towards, from its columns (``INPUTS``): the conditions
    of ticket_stats.measures, the running overdue and ``supervised`` left out."""
    signed_at, completed_at = values["signed_at"], values["completed_at"]
    due_at, returned = values["due_at"], values["returned_at"] is not None
    surveys = [int(values[name] or 0) for name in CALLBACKS]
    return {
        "received": 1,
        "signed": int(signed_at is not None),
        "signed_on_time": int(signed_at is not None and signed_at < values["sign_due_at"]),
        "returned": int(returned),
        "extended": int((values["extended_days"] or 0) > 0),
        "completed": int(completed_at is not None),
        "completed_on_time": int(completed_at is not None and completed_at < due_at),
        "completed_late": int(not returned and completed_at is not None and completed_at >= due_at),
        "redo": int(values["redo_count"] or 0),
        "callback_reached": int(sum(surveys) > 0),
        **dict(zip(CALLBACKS, surveys, strict=True)),
    }


class Figures:
    """The changes one transaction makes to the kept figures, summed per row."""

    def __init__(self) -> None:
        self.changes: dict[Key, dict[str, int]] = {}
        # lead assignments added by this transaction, per row (a supervised ticket's count
        # as supervised too)
        self.received: dict[Key, int] = {}

    def add(self, key: Key, counts: Mapping[str, int], sign: int = 1) -> None:
        row = self.changes.setdefault(key, {})
        for name, value in counts.items():
            if value:
                row[name] = row.get(name, 0) + sign * value

    def changed(self, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> None:
        """One lead assignment written: ``before`` its columns as stored (None: new)."""
        key = key_of(after)
        if before is None:
            self.received[key] = self.received.get(key, 0) + 1
        else:
            self.add(key_of(before), counts_of(before), -1)
        self.add(key, counts_of(after))

    async def apply(self, session: AsyncSession, ticket_id: int | None = None) -> None:
        """Write the changes (``ticket_id``: the ticket, to count its new lead assignments
        as supervised when it is)."""
        if self.received and ticket_id is not None:
            supervised = await session.scalar(
                select(exists().where(SupervisionRow.ticket_id == ticket_id))
            )
            if supervised:
                for key, count in self.received.items():
                    self.add(key, {"supervised": count})
        await upsert(session, self.changes)


async def upsert(session: AsyncSession, changes: Mapping[Key, Mapping[str, int]]) -> None:
    """Add the changes to their rows, made when missing. Rows are written in key order, so two
    transactions touching the same rows lock them in the same order (no deadlock)."""
    rows = [
        {
            "hour": hour,
            "department_code": department,
            "previous_lead_hour": previous,
            **{name: counts.get(name, 0) for name in KEPT},
        }
        for (hour, department, previous), counts in sorted(changes.items())
        if any(counts.values())
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(FiguresRow).values(rows)
    table = FiguresRow.__table__.c
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.hour, table.department_code, table.previous_lead_hour],
            set_={name: table[name] + stmt.excluded[name] for name in KEPT},
        )
    )


def supervised(assignments: Iterable[Mapping[str, Any]]) -> dict[Key, dict[str, int]]:
    """The change when a ticket's first supervision is opened: each of its lead assignments
    (their ``INPUTS``) now counts as supervised."""
    changes: dict[Key, dict[str, int]] = {}
    for assignment in assignments:
        row = changes.setdefault(key_of(assignment), {"supervised": 0})
        row["supervised"] += 1
    return changes


def _recount(postgres: bool) -> str:
    """The statement summing every lead assignment (hot and archived) into ticket_figures: the
    conditions of ``counts_of`` in SQL, the supervised tickets those with a supervision."""

    def hour(column: str) -> str:
        # the column's UTC hour, as the engine stores a datetime on the backend
        if postgres:
            return f"date_trunc('hour', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        return f"strftime('%Y-%m-%d %H:00:00.000000', {column})"

    def flag(condition: str) -> str:
        return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    none = "TIMESTAMPTZ '1970-01-01 00:00:00+00'" if postgres else "'1970-01-01 00:00:00.000000'"
    sums = {
        "received": "count(*)",
        "signed": "count(signed_at)",
        "signed_on_time": flag("signed_at < sign_due_at"),
        "returned": "count(returned_at)",
        "extended": flag("extended_days > 0"),
        "completed": "count(completed_at)",
        "completed_on_time": flag("completed_at < due_at"),
        "completed_late": flag("returned_at IS NULL AND completed_at >= due_at"),
        "redo": "sum(redo_count)",
        "supervised": flag("ticket_id IN (SELECT ticket_id FROM ticket_supervisions)"),
        "callback_reached": flag(f"{' + '.join(CALLBACKS)} > 0"),
        **{name: f"sum({name})" for name in CALLBACKS},
    }
    columns = ", ".join(("ticket_id", "role", *INPUTS))
    leads = " UNION ALL ".join(
        f"SELECT {columns} FROM {table} WHERE role = 'lead'"
        for table in ("ticket_assignments", "ticket_assignments_archive")
    )
    return (
        f"INSERT INTO ticket_figures (hour, department_code, previous_lead_hour, "
        f"{', '.join(KEPT)}) "
        f"SELECT {hour('dispatched_at')}, department_code, "
        f"COALESCE({hour('previous_lead_at')}, {none}), {', '.join(sums[k] for k in KEPT)} "
        f"FROM ({leads}) AS a GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )


async def rebuild(session: AsyncSession) -> int:
    """Recount the kept figures from the assignments (after data was changed by hand, or
    restored): every row replaced in the caller's transaction; returns how many rows there
    are. On PostgreSQL writers wait for it (the table is locked), and a write not yet
    committed when it starts adds its change on top of the recount, as it would have."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        await session.execute(text("LOCK TABLE ticket_figures IN EXCLUSIVE MODE"))
    await session.execute(text("DELETE FROM ticket_figures"))
    await session.execute(text(_recount(postgres)))
    return int(await session.scalar(select(func.count()).select_from(FiguresRow)) or 0)
