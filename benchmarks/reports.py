"""The monthly assessment over 1 million tickets on PostgreSQL (`make bench-reports`).

A throw-away database gets a month (March 2026) of 1,000,000 tickets across 50 departments with
their lead assignments, callbacks and supervisions, 300,000 inbound calls and 100 agents' seat
histories, all generated inside PostgreSQL (generate_series) so the set-up stays bounded. Then:

- the report as the API builds it (SQL aggregates: department league, the center's indicators,
  agent scorecards, calls per day, hot issues), timed over several runs: p50 and p99;
- the department league and center indicators again, computed row by row in Python from the
  same rows (what a report written without aggregates would do): p50 and p99, and the ratio.

The two must agree on every figure, or the benchmark fails. Set BENCH_TICKETS / BENCH_CALLS for
a smaller or larger run; CALLCENTER_TEST_PG names the PostgreSQL server (superuser URL).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from sqlalchemy import func, select, text

from benchmarks.tickets import CALLBACK_COUNTS
from callcenter.domain.access import Principal, Role
from callcenter.domain.reports import (
    DISTRICT_PATTERN,
    CallCounts,
    CenterCounts,
    DepartmentCounts,
    center_indicators,
    dispatch_timeliness,
    parse_period,
)
from callcenter.domain.tickets import OPEN_STATUSES
from callcenter.services.reports import Reports
from callcenter.storage.calendar_files import DEFAULT_CALENDAR_DIR, load_calendar
from callcenter.storage.db import make_engine, make_sessions, migrate
from callcenter.storage.models import Call
from callcenter.storage.reports import ReportQueries
from callcenter.storage.routing_tables import QueueCallRow
from callcenter.storage.seats import SeatRepository
from callcenter.storage.ticket_stats import TicketStatistics
from callcenter.storage.ticket_tables import (
    AssignmentRow,
    CallbackRow,
    DepartmentRow,
    SupervisionRow,
    TicketRow,
)

PG_ADMIN = os.environ.get("CALLCENTER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TICKETS = int(os.environ.get("BENCH_TICKETS", "1000000"))
CALLS = int(os.environ.get("BENCH_CALLS", "300000"))
SQL_RUNS = 5
PYTHON_RUNS = 2
PERIOD = parse_period("2026-03")
AS_OF = datetime(2026, 4, 20, 4, 0, tzinfo=UTC)
VIEWER = Principal(0, "bench", Role.SUPERVISOR)

SEED = [
    """INSERT INTO departments (code, name, kind, hotline, active, created_at, updated_at)
       SELECT 'd' || g, '单位' || g, 'bureau', '', true, now(), now()
       FROM generate_series(0, 49) g""",
    """INSERT INTO ticket_topics (code, name, active, created_at, updated_at)
       SELECT 'topic' || g, '类别' || g, true, now(), now() FROM generate_series(0, 29) g
       UNION ALL SELECT 'hotline', '热线服务', true, now(), now()""",
    # a ticket every 2.68 s through March (local time); every 20th answered on the spot
    """INSERT INTO tickets (id, number, query_code, source, recording, caller_name, caller_phone,
         address, address_key, area, category, topic_code, content, urgency, confidential,
         status, handling, resolution, reply, created_at, created_by, updated_at, redo_count,
         rework_count)
       SELECT g, 'B' || g, lpad((g % 999999)::text, 6, '0'), 'call', '', '',
         '138' || lpad((g % 99999999)::text, 8, '0'),
         (ARRAY['东城区','西城区','朝阳区','海淀区','丰台区','北京市通州区','大兴区','某街道'])
           [1 + g % 8] || '幸福路' || (g % 4999) || '号',
         'k' || (g % 8) || '-' || (g % 4999),
         '', (ARRAY['consultation','help','complaint','report','suggestion','praise'])[1 + g % 6],
         CASE WHEN g % 500 = 0 THEN 'hotline' ELSE 'topic' || (g % 30) END,
         '', 'normal', false,
         CASE WHEN g % 20 = 0 THEN 'resolved' WHEN g % 97 = 0 THEN 'pending'
              ELSE 'in_progress' END,
         CASE WHEN g % 20 = 0 THEN 'direct' WHEN g % 97 = 0 THEN NULL ELSE 'dispatched' END,
         '', '', ts, 'bench', ts, 0, 0
       FROM (SELECT g, timestamptz '2026-02-28 16:00:00+00'
                         + make_interval(secs => (g - 1) * (2678400.0 / {tickets})) AS ts
             FROM generate_series(1, {tickets}) g) s""",
    # the district as the application stores it with the address (migration 0021's backfill)
    "UPDATE tickets SET district = substring(address from '"
    + DISTRICT_PATTERN.replace("{", "{{").replace("}", "}}")
    + "') WHERE address ~ '[区县]'",
    """INSERT INTO ticket_assignments (ticket_id, department_code, role, dispatched_at,
         sign_due_at, due_at, signed_at, returned_at, completed_at, ended_at, extended_days,
         redo_count)
       SELECT id, 'd' || (id % 50), 'lead', d, d + interval '1 day', d + interval '15 days',
         CASE WHEN id % 10 = 0 THEN NULL ELSE d + (id % 30) * interval '1 hour' END,
         CASE WHEN id % 33 = 0 THEN d + interval '2 hours' END,
         CASE WHEN id % 10 <> 0 AND id % 33 <> 0 AND id % 4 <> 0
              THEN d + (id % 20) * interval '1 day' END,
         CASE WHEN id % 33 = 0 THEN d + interval '2 hours' END,
         CASE WHEN id % 19 = 0 THEN 5 ELSE 0 END,
         CASE WHEN id % 23 = 0 THEN 1 ELSE 0 END
       FROM (SELECT id, created_at + (id % 7) * interval '3 hours' AS d FROM tickets
             WHERE handling = 'dispatched') s""",
    """INSERT INTO ticket_callbacks (ticket_id, department_code, result, comment, at, by)
       SELECT ticket_id, department_code,
         (ARRAY['satisfied','basically_satisfied','dissatisfied'])[1 + ticket_id % 3], '',
         completed_at + interval '1 day', 'bench'
       FROM ticket_assignments WHERE completed_at IS NOT NULL""",
    # what the application writes with each ticket (migration 0023): the callbacks' counts on
    # the assignments they judge, and whether the ticket is open
    CALLBACK_COUNTS,
    """UPDATE ticket_assignments SET ticket_open = true
       WHERE ticket_id IN (SELECT id FROM tickets WHERE status IN ("""
    + ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES))
    + "))",
    """INSERT INTO ticket_supervisions (ticket_id, reason, note, due_at, opened_at, opened_by,
         closed_by, closing_note)
       SELECT id, 'overdue', '', created_at + interval '20 days', created_at + interval '16 days',
         'bench', '', ''
       FROM tickets WHERE id % 50 = 7""",
    """INSERT INTO agents (id, name, endpoint, active, created_at)
       SELECT 'a' || g, '坐席' || g, 'agent' || g, true, now() FROM generate_series(0, 99) g""",
    # inbound calls through March; every 10th ends in the IVR, the rest ask for an agent
    """INSERT INTO calls (linkedid, uniqueid, caller_number, caller_name, dialed_number, trunk,
         entered_at, answered_at, ended_at, disposition, hangup_cause_text, end_estimated,
         recording, direction)
       SELECT 'c' || g, 'c' || g, '139' || lpad(g::text, 8, '0'), '', '12345', 'trunk', ts, ts,
         ts + interval '3 minutes', 'answered', '', false, '', 'inbound'
       FROM (SELECT g, timestamptz '2026-02-28 16:00:00+00'
                         + make_interval(secs => (g - 1) * (2678400.0 / {calls})) AS ts
             FROM generate_series(1, {calls}) g) s""",
    """INSERT INTO queue_calls (linkedid, caller_number, queue, requirements, priority, queued_at,
         outcome, agent_id, agent_answered_at, ended_at, wait_seconds, missed_by, silent, rating)
       SELECT linkedid, caller_number, 'general', '{{}}', 0, entered_at,
         CASE WHEN id % 7 = 0 THEN 'abandoned' ELSE 'answered' END,
         CASE WHEN id % 7 = 0 THEN NULL ELSE 'a' || (id % 100) END,
         CASE WHEN id % 7 = 0 THEN NULL ELSE entered_at + (id % 40) * interval '1 second' END,
         entered_at + (id % 40 + 60 + id % 300) * interval '1 second',
         id % 40,
         CASE WHEN id % 13 = 0 THEN json_build_array('a' || ((id + 1) % 100))
              ELSE '[]'::json END,
         false,
         CASE WHEN id % 7 = 0 OR id % 3 <> 0 THEN NULL
              ELSE (ARRAY['satisfied','basically_satisfied','dissatisfied'])[1 + id % 11 % 3]
              END
       FROM calls WHERE id % 10 <> 0""",
    # the call's outcome as the engine records it (reports count calls by it)
    """UPDATE calls SET outcome = CASE q.outcome WHEN 'answered' THEN 'agent'
         ELSE 'abandoned_queue' END, queued_at = q.queued_at,
         agent_answered_at = q.agent_answered_at
       FROM queue_calls q WHERE q.linkedid = calls.linkedid""",
    # each answered call: on call, wrap-up, ready; each agent's day: ready, lunch, logged out
    """INSERT INTO agent_state_changes (agent_id, state, reason, call_id, at)
       SELECT agent_id, s.state, '', CASE WHEN s.state = 'wrap_up' THEN linkedid END,
         CASE s.state WHEN 'on_call' THEN agent_answered_at WHEN 'wrap_up' THEN ended_at
              ELSE ended_at + interval '20 seconds' END
       FROM queue_calls, (VALUES ('on_call'), ('wrap_up'), ('ready')) AS s(state)
       WHERE outcome = 'answered'""",
    """INSERT INTO agent_state_changes (agent_id, state, reason, call_id, at)
       SELECT 'a' || a, s.state, s.reason, NULL,
         timestamptz '2026-02-28 16:00:00+00' + d * interval '1 day' + s.at
       FROM generate_series(0, 99) a, generate_series(0, 30) d,
         (VALUES ('paused', 'meal', interval '4 hours'), ('ready', '', interval '5 hours'),
                 ('logged_out', '', interval '10 hours')) AS s(state, reason, at)""",
    "ANALYZE",
]


def percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def timed(runs: int, work: Callable[[], Awaitable[Any]]) -> tuple[list[float], Any]:
    samples, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await work()
        samples.append(time.perf_counter() - started)
    return samples, result


class RowByRow:
    """The department league and center counts from plain rows, in Python."""

    def __init__(self, queries: ReportQueries) -> None:
        self.queries = queries

    async def run(self, start: datetime, end: datetime) -> tuple[list[DepartmentCounts], Any]:
        sessions = self.queries._sessions  # the baseline reads the same database
        now = self.queries.clock()
        a = AssignmentRow
        async with sessions() as session:
            names = dict(
                (await session.execute(select(DepartmentRow.code, DepartmentRow.name))).all()
            )
            assignments = (
                await session.execute(
                    select(
                        a.ticket_id,
                        a.department_code,
                        a.role,
                        a.dispatched_at,
                        a.sign_due_at,
                        a.due_at,
                        a.signed_at,
                        a.returned_at,
                        a.completed_at,
                        a.extended_days,
                        a.redo_count,
                    )
                )
            ).all()
            callbacks = (
                await session.execute(
                    select(CallbackRow.ticket_id, CallbackRow.department_code, CallbackRow.result)
                )
            ).all()
            supervised_ids = {
                row[0] for row in (await session.execute(select(SupervisionRow.ticket_id))).all()
            }
            tickets = (
                await session.execute(select(TicketRow.id, TicketRow.created_at, TicketRow.status))
            ).all()
            calls = (
                await session.execute(
                    select(
                        Call.direction,
                        Call.entered_at,
                        QueueCallRow.outcome,
                        QueueCallRow.agent_answered_at,
                        QueueCallRow.wait_seconds,
                        QueueCallRow.rating,
                    ).outerjoin(QueueCallRow, QueueCallRow.linkedid == Call.linkedid)
                )
            ).all()
        figures: dict[str, Counter[str]] = defaultdict(Counter)
        cohort: set[tuple[int, str]] = set()
        first_dispatch: dict[int, datetime] = {}
        for row in assignments:
            if row.role != "lead":
                continue
            known = first_dispatch.get(row.ticket_id)
            if known is None or row.dispatched_at < known:
                first_dispatch[row.ticket_id] = row.dispatched_at
            if not start <= row.dispatched_at < end:
                continue
            f = figures[row.department_code]
            cohort.add((row.ticket_id, row.department_code))
            f["received"] += 1
            f["signed_on_time"] += bool(row.signed_at and row.signed_at < row.sign_due_at)
            f["returned"] += row.returned_at is not None
            f["extended"] += row.extended_days > 0
            f["completed_on_time"] += bool(row.completed_at and row.completed_at < row.due_at)
            f["overdue"] += row.returned_at is None and (
                (row.completed_at is None and row.due_at <= now)
                or (row.completed_at is not None and row.completed_at >= row.due_at)
            )
            f["redo"] += row.redo_count
            f["supervised"] += row.ticket_id in supervised_ids
        reached: set[tuple[int, str]] = set()
        for ticket_id, code, result in callbacks:
            if (ticket_id, code) in cohort:
                reached.add((ticket_id, code))
                figures[code]["surveyed"] += 1
                figures[code]["satisfied"] += result in ("satisfied", "basically_satisfied")
        for _ticket, code in reached:
            figures[code]["callback_reached"] += 1
        departments = [
            DepartmentCounts(
                department=code,
                name=names[code],
                received=f["received"],
                signed_on_time=f["signed_on_time"],
                completed_on_time=f["completed_on_time"],
                returned=f["returned"],
                extended=f["extended"],
                overdue=f["overdue"],
                supervised=f["supervised"],
                redo=f["redo"],
                callback_reached=f["callback_reached"],
                surveyed=f["surveyed"],
                satisfied=f["satisfied"],
            )
            for code, f in sorted(figures.items())
        ]
        counts = Counter[str]()
        for call in calls:
            if call.direction != "inbound" or not start <= call.entered_at < end:
                continue
            counts["offered"] += 1
            answered = call.outcome == "answered" and call.agent_answered_at is not None
            counts["answered"] += answered
            counts["within"] += answered and call.wait_seconds <= 15
            counts["abandoned"] += call.outcome == "abandoned"
            counts["rated"] += call.rating is not None
            counts["satisfied"] += call.rating in ("satisfied", "basically_satisfied")
        calendar = self.queries.calendar
        by_day: Counter[tuple[date, date | None]] = Counter()
        for ticket_id, created_at, status in tickets:
            if not start <= created_at < end:
                continue
            dispatched = first_dispatch.get(ticket_id)
            if dispatched is None and status != "pending":
                continue
            by_day[
                (
                    calendar.local_day(created_at),
                    calendar.local_day(dispatched) if dispatched else None,
                )
            ] += 1
        timely, due = dispatch_timeliness(
            ((c, d, n) for (c, d), n in by_day.items()), calendar, calendar.local_day(now)
        )
        calls_counts = CallCounts(
            counts["offered"],
            counts["answered"],
            counts["within"],
            counts["abandoned"],
            counts["rated"],
            counts["satisfied"],
        )
        return departments, (calls_counts, timely, due)


async def main_async() -> None:
    name = f"cc_bench_reports_{os.getpid()}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name}")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    host = PG_ADMIN.split("@", 1)[1].rsplit("/", 1)[0]
    user = PG_ADMIN.split("://", 1)[1].split("@", 1)[0]
    engine = make_engine(f"postgresql+asyncpg://{user}@{host}/{name}")
    try:
        await migrate(engine)
        started = time.perf_counter()
        async with engine.begin() as conn:
            for statement in SEED:
                await conn.execute(text(statement.format(tickets=TICKETS, calls=CALLS)))
        print(
            f"seeded {TICKETS:,} tickets and {CALLS:,} calls for {PERIOD.label} "
            f"in {time.perf_counter() - started:.1f} s"
        )
        sessions = make_sessions(engine)
        calendar = load_calendar(DEFAULT_CALENDAR_DIR)
        statistics_ = TicketStatistics(sessions, lambda: AS_OF)
        queries = ReportQueries(sessions, calendar, statistics_, lambda: AS_OF)
        reports = Reports(queries, SeatRepository(sessions))
        start, end = reports.bounds(PERIOD)

        async def league_and_center() -> tuple[list[DepartmentCounts], CenterCounts]:
            return await queries.departments(start, end, VIEWER, None), await queries.center(
                start, end
            )

        async def whole() -> None:
            await reports.assessment(PERIOD, VIEWER)
            await reports.hot(PERIOD, VIEWER)

        async def districts_by_pattern() -> list[tuple[str, int]]:
            """The hot issues' districts as before migration 0021: a regular expression over
            every address of the period."""
            district = func.coalesce(func.substring(TicketRow.address, DISTRICT_PATTERN), "")
            stmt = (
                select(district, func.count(TicketRow.id))
                .where(TicketRow.created_at >= start, TicketRow.created_at < end)
                .group_by(district)
            )
            async with sessions() as session:
                return sorted((str(d), int(n)) for d, n in (await session.execute(stmt)).all())

        async def districts_stored() -> list[tuple[str, int]]:
            return sorted(await queries.by_district(start, end, VIEWER))

        pattern, by_pattern = await timed(SQL_RUNS, districts_by_pattern)
        stored, by_column = await timed(SQL_RUNS, districts_stored)
        assert by_pattern == by_column, "the stored districts differ from the pattern's"
        print(
            f"districts of the month: by pattern over addresses p50 {percentile(pattern, 0.5):.3f}"
            f" s, by the stored column p50 {percentile(stored, 0.5):.3f} s "
            f"(ratio {percentile(pattern, 0.5) / percentile(stored, 0.5):.1f}x)"
        )
        for piece in ("by_topic", "by_district", "topic_days", "repeats"):
            method = getattr(queries, piece)
            took, _ = await timed(3, lambda m=method: m(start, end, VIEWER))
            print(f"  hot issues, {piece}: p50 {percentile(took, 0.5):.3f} s")
        took, _ = await timed(2, lambda: reports.hot(PERIOD, VIEWER))
        print(f"  hot issues, whole: p50 {percentile(took, 0.5):.3f} s")
        took, _ = await timed(2, lambda: reports.assessment(PERIOD, VIEWER))
        print(f"  assessment, whole: p50 {percentile(took, 0.5):.3f} s")
        for piece, work in (
            ("league (ticket statistics)", lambda: queries.departments(start, end, VIEWER, None)),
            ("center", lambda: queries.center(start, end)),
            ("agents", lambda: queries.agents(start, end)),
            ("calls by day", lambda: queries.calls_by_day(start, end)),
        ):
            took, _ = await timed(2, work)
            print(f"  assessment, {piece}: p50 {percentile(took, 0.5):.3f} s")
        await league_and_center()  # warm the caches both ways start from
        sql, (departments, center) = await timed(SQL_RUNS, league_and_center)
        full, _ = await timed(SQL_RUNS, whole)
        baseline, (py_departments, (py_calls, timely, due)) = await timed(
            PYTHON_RUNS, lambda: RowByRow(queries).run(start, end)
        )
        assert departments == py_departments, "the SQL and Python department figures differ"
        assert center.calls == py_calls, (center.calls, py_calls)
        assert (center.dispatched_in_time, center.dispatch_due) == (timely, due)
        received = sum(d.received for d in departments)
        print(f"departments: {len(departments)}, tickets received in the month: {received:,}")
        for indicator in center_indicators(center):
            print(
                f"  {indicator.name}: {indicator.numerator:,} / {indicator.denominator:,}"
                f" = {indicator.rate or 0:.2%} (met: {indicator.met})"
            )
        p50, p99 = percentile(sql, 0.5), percentile(sql, 0.99)
        b50, b99 = percentile(baseline, 0.5), percentile(baseline, 0.99)
        print(
            f"league + center, SQL aggregates ({SQL_RUNS} runs):  p50 {p50:.3f} s  p99 {p99:.3f} s"
        )
        print(
            f"league + center, row by row in Python ({PYTHON_RUNS} runs): "
            f"p50 {b50:.3f} s  p99 {b99:.3f} s"
        )
        print(f"  ratio (Python / SQL) p50: {b50 / p50:.1f}x  p99: {b99 / p99:.1f}x")
        print(
            "whole monthly report (league, center, agents, days, hot issues), "
            f"{SQL_RUNS} runs: p50 {percentile(full, 0.5):.3f} s  "
            f"p99 {percentile(full, 0.99):.3f} s"
            f"  (mean {statistics.fmean(full):.3f} s)"
        )
    finally:
        await engine.dispose()
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()


def main() -> None:
    # progress shows as it comes, also when the output goes to a file
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
