"""Tickets at city scale (issue 17): every ticket view through the API, 1 and 8 clients.

`make bench-tickets` (or `python -m benchmarks.tickets --size 1000000 --small 100000`) builds two
throw-away PostgreSQL databases in the same run, a small one (the baseline, 100k by default) and
a large one (1 M by default; `--size 10000000` for 10 M), with the shape of a big city's hotline:
3 years of tickets, 30 departments, 200 topics, 4% open (the recent ones), repeat callers and one
heavy caller (a ticket in 700), a lead assignment for three tickets in four, a callback for each
closed dispatched ticket, a supervision (督办) on about one ticket in a hundred, an audit entry per
ticket (the real trail is ~6 per ticket; no operation timed here reads it). Each operation is
timed through the API (FastAPI in process, httpx), with one client and with eight concurrent ones,
p50/p99; the ratio large/small shows what grows with the table. The plan (EXPLAIN ANALYZE) of
each operation's statements is printed at the large size.

The server is PostgreSQL at $CALLCENTER_TEST_PG (a superuser URL; default the local one); the
databases are dropped at the end, except the large one named by ``--keep-db NAME``: a later run
with ``--reuse-db NAME`` migrates it (new indexes are built on it) and times it without generating
it again (``--small 0`` leaves the baseline out).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.api.app import create_api
from callcenter.api.deps import Services, Ticketing
from callcenter.domain.access import Role
from callcenter.domain.tickets import OPEN_STATUSES
from callcenter.services.tickets import TicketService
from callcenter.storage.calendar_files import DEFAULT_CALENDAR_DIR, load_calendar
from callcenter.storage.db import make_engine, make_sessions, migrate
from callcenter.storage.departments import DepartmentRepository
from callcenter.storage.supervisions import SupervisionRepository
from callcenter.storage.ticket_stats import TicketStatistics
from callcenter.storage.tickets import TicketRepository, encode_cursor
from callcenter.storage.tokens import TokenRepository
from callcenter.storage.topics import TopicRepository

OPEN = ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES))
PG_ADMIN = os.environ.get("CALLCENTER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
HEAVY_PHONE = "13900000000"
# what the application keeps with each ticket (migration 0023), filled for generated data: each
# assignment's count of its callbacks by result
CALLBACK_COUNTS = """
UPDATE ticket_assignments AS a SET
  callbacks_satisfied = c.satisfied, callbacks_basically_satisfied = c.basically,
  callbacks_dissatisfied = c.dissatisfied
FROM (SELECT ticket_id, department_code,
        count(*) FILTER (WHERE result = 'satisfied') AS satisfied,
        count(*) FILTER (WHERE result = 'basically_satisfied') AS basically,
        count(*) FILTER (WHERE result = 'dissatisfied') AS dissatisfied
      FROM ticket_callbacks GROUP BY ticket_id, department_code) AS c
WHERE a.ticket_id = c.ticket_id AND a.department_code = c.department_code
"""
TABLES = (
    "tickets",
    "ticket_assignments",
    "ticket_callbacks",
    "ticket_events",
    "ticket_supervisions",
)
PHRASES = [
    "小区楼下烧烤店油烟扰民",
    "夜间施工噪音扰民",
    "路灯不亮晚上很黑",
    "公积金提取需要什么材料",
    "小区物业乱收停车费",
    "垃圾清运不及时气味难闻",
    "道路积水无法通行",
    "广场舞音响声音太大扰民",
    "供暖温度不达标家里很冷",
    "自来水水压太低",
    "电动车充电桩不够用",
    "公交车班次太少等车很久",
    "医保报销比例咨询",
    "学校周边交通拥堵",
    "外卖骑手闯红灯很危险",
    "商铺占道经营影响通行",
    "楼道堆放杂物有消防隐患",
    "空调外机噪音扰民",
    "违章建筑影响采光",
    "宠物狗不拴绳吓到孩子",
    "社保卡补办流程咨询",
    "工地渣土车遗撒",
    "老旧小区加装电梯咨询",
    "农民工工资拖欠",
    "网约车乱收费",
    "餐馆后厨卫生差",
    "河道有异味",
    "高空抛物很危险",
    "出租屋群租安全隐患",
    "饭店排风口对着住户窗户",
]


# the schema revision the generator's statements are written for
GENERATED_AT = "0024"


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def _generate(engine: AsyncEngine, size: int) -> None:
    """Fill the migrated database: indexes dropped during the load and rebuilt after it."""
    phrases = "ARRAY[" + ",".join(f"'{p}'" for p in PHRASES) + "]"
    open_from = size - size // 20
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        rows = await conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(:t) AND NOT "
                "EXISTS (SELECT 1 FROM pg_constraint WHERE conname = indexname)"
            ),
            {"t": list(TABLES)},
        )
        indexes = rows.all()
        for name, _ in indexes:
            await conn.execute(text(f"DROP INDEX {name}"))
        await conn.execute(
            text(
                "INSERT INTO departments (code, name, kind, parent_code, hotline, active, "
                "created_at, updated_at) SELECT 'd' || lpad(i::text, 2, '0'), '部门' || i, "
                "'bureau', NULL, '', true, now(), now() FROM generate_series(1, 30) AS i"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO ticket_topics (code, name, parent_code, active, created_at, "
                "updated_at) SELECT 't' || lpad(i::text, 3, '0'), '分类' || i, NULL, true, "
                "now(), now() FROM generate_series(1, 200) AS i"
            )
        )
        started = time.perf_counter()
        await conn.execute(
            text(
                f"""
INSERT INTO tickets (id, number, query_code, source, recording, caller_name, caller_phone,
  address, address_key, area, category, topic_code, content, urgency, confidential, status,
  handling, resolution, reply, created_at, created_by, updated_at, round_started_at, due_at,
  warn_at, signed_at, replied_at, closed_at, redo_count, rework_count, open_lead_department)
SELECT g, to_char(c, 'YYYYMMDD') || '-' || lpad(g::text, 8, '0'),
  lpad((g * 7919 % 1000000)::text, 6, '0'), 'call', '', '市民',
  CASE WHEN g % 700 = 0 THEN '{HEAVY_PHONE}'
       WHEN g % 10 = 0 THEN '1390001' || lpad((g / 10 % 5000)::text, 4, '0')
       ELSE '138' || lpad((g * 48271 % 99999999)::text, 8, '0') END,
  '幸福路' || (g % 20000) || '号', '幸福路' || (g % 20000) || '号', '',
  (ARRAY['complaint','consultation','help','report','suggestion'])[1 + g % 5],
  't' || lpad((1 + g * 31 % 200)::text, 3, '0'),
  p[1 + g * 7 % 30] || '，' || p[1 + g * 13 % 30] || '，' || p[1 + g * 17 % 30]
    || CASE WHEN g % 997 = 0 THEN '，井盖缺失' ELSE '' END || '，地址幸福路' || (g % 20000) || '号',
  'normal', false,
  CASE WHEN o
       THEN (ARRAY['pending','dispatched','in_progress','in_progress','dispatched'])[1 + g % 5]
       ELSE (ARRAY['resolved','archived','resolved'])[1 + g % 3] END,
  CASE WHEN g % 4 = 0 THEN 'direct' ELSE 'dispatched' END, '', '', c, 'bench', c,
  c, CASE WHEN o AND g % 5 = 0 THEN NULL ELSE c + interval '15 days' END,
  CASE WHEN o AND g % 5 = 0 THEN NULL ELSE c + interval '13 days' END,
  CASE WHEN o THEN NULL ELSE c + interval '5 hours' END,
  CASE WHEN o THEN NULL ELSE c + interval '10 days' END,
  CASE WHEN o THEN NULL ELSE c + interval '12 days' END, 0, 0,
  -- an open ticket's lead assignment, inserted below (a ticket in four is handled directly,
  -- none is pending)
  CASE WHEN o AND g % 4 <> 0 THEN 'd' || lpad((1 + g % 30)::text, 2, '0') END
FROM (SELECT g, now() - interval '1095 days' + g * (interval '1095 days' / :n) AS c,
             g > :open_from AND g % 5 <> 0 AS o, {phrases} AS p
      FROM generate_series(1::bigint, :n) AS g) AS s
"""
            ),
            {"n": size, "open_from": open_from},
        )
        await conn.execute(
            text(
                f"""
INSERT INTO ticket_assignments (ticket_id, department_code, role, dispatched_at, sign_due_at,
  due_at, signed_at, returned_at, completed_at, ended_at, extended_days, redo_count, ticket_open)
SELECT id, 'd' || lpad((1 + id % 30)::text, 2, '0'), 'lead', created_at + interval '1 hour',
  created_at + interval '1 day', created_at + interval '15 days', signed_at, NULL,
  CASE WHEN closed_at IS NULL THEN NULL ELSE created_at + interval '9 days' END, NULL, 0, 0,
  status IN ({OPEN})
FROM tickets WHERE id % 4 <> 0 AND status <> 'pending'
UNION ALL
SELECT id, 'd' || lpad((1 + (id + 7) % 30)::text, 2, '0'), 'lead',
  created_at + interval '20 minutes',
  created_at + interval '1 day', created_at + interval '15 days', NULL,
  created_at + interval '50 minutes', NULL, created_at + interval '50 minutes', 0, 0,
  status IN ({OPEN})
FROM tickets WHERE id % 50 = 1
"""
            )
        )
        await conn.execute(
            text(
                """
INSERT INTO ticket_callbacks (ticket_id, department_code, result, comment, at, by)
SELECT id, 'd' || lpad((1 + id % 30)::text, 2, '0'),
  (ARRAY['satisfied','basically_satisfied','satisfied','dissatisfied'])[1 + id % 4], '',
  created_at + interval '12 days', 'bench'
FROM tickets WHERE closed_at IS NOT NULL AND id % 4 <> 0
"""
            )
        )
        # each assignment's count of its callbacks by result (written with the ticket)
        await conn.execute(text(CALLBACK_COUNTS))
        # a supervision (督办) on about one dispatched ticket in a hundred
        await conn.execute(
            text(
                """
INSERT INTO ticket_supervisions (ticket_id, reason, note, due_at, opened_at, opened_by, closed_at,
  closed_by, closing_note)
SELECT id, 'overdue', '', created_at + interval '8 days', created_at + interval '3 days', 'bench',
  CASE WHEN closed_at IS NULL THEN NULL ELSE created_at + interval '9 days' END, '', ''
FROM tickets WHERE id % 97 = 3 AND status <> 'pending'
"""
            )
        )
        await conn.execute(
            text(
                "INSERT INTO ticket_events (ticket_id, at, actor, actor_role, actor_subject, "
                "action, from_status, to_status, note, details) SELECT id, created_at, 'bench', "
                "'agent', NULL, 'created', NULL, 'pending', '', '{}' FROM tickets"
            )
        )
        await conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('tickets', 'id'), "
                "(SELECT max(id) FROM tickets))"
            )
        )
        loaded = time.perf_counter()
        for _, definition in indexes:
            await conn.execute(text(definition))
        print(
            f"  generated {size:,} tickets in {loaded - started:.0f} s, "
            f"indexes rebuilt in {time.perf_counter() - loaded:.0f} s"
        )
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
        counts = {t: await conn.scalar(text(f"SELECT count(*) FROM {t}")) for t in TABLES}
    print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))


@dataclass
class Bench:
    client: httpx.AsyncClient
    tokens: dict[str, str]
    engine: AsyncEngine
    cursors: list[str]
    month: str
    ids: list[int]

    async def get(self, who: str, path: str, **params: Any) -> None:
        reply = await self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {self.tokens[who]}"}
        )
        if reply.status_code != 200:
            raise RuntimeError(f"{path} {params}: {reply.status_code} {reply.text[:200]}")

    async def create(self) -> None:
        body = {
            "caller_phone": HEAVY_PHONE,
            "address": "幸福路700号",
            "category": "complaint",
            "topic": "t001",
            "content": "小区楼下烧烤店油烟扰民，晚上十点后仍在营业",
        }
        reply = await self.client.post(
            "/tickets", json=body, headers={"Authorization": f"Bearer {self.tokens['agent']}"}
        )
        if reply.status_code != 201:
            raise RuntimeError(f"create: {reply.status_code} {reply.text[:200]}")


Operation = Callable[[Bench, random.Random], Awaitable[None]]
OPERATIONS: dict[str, Operation] = {
    "get by id": lambda b, r: b.get("center", f"/tickets/{r.choice(b.ids)}"),
    "list all, first page": lambda b, r: b.get("center", "/tickets", limit=50),
    "list, deep page (offset 10k-50k)": lambda b, r: b.get(
        "center", "/tickets", limit=50, offset=r.randrange(10_000, 50_000)
    ),
    "list, deep page (cursor)": lambda b, r: b.get(
        "center", "/tickets", limit=50, cursor=r.choice(b.cursors)
    ),
    "a department's list (its token)": lambda b, r: b.get("d07", "/tickets", limit=50),
    "a department's open list": lambda b, r: b.get(
        "d07", "/tickets", limit=50, status=["dispatched", "in_progress"]
    ),
    "search, 2 characters (油烟)": lambda b, r: b.get("center", "/tickets", q="油烟"),
    "search, rare 2 characters (井盖)": lambda b, r: b.get("center", "/tickets", q="井盖"),
    "search, common phrase (噪音扰民)": lambda b, r: b.get("center", "/tickets", q="噪音扰民"),
    "by phone (heavy caller)": lambda b, r: b.get("center", "/tickets", phone=HEAVY_PHONE),
    "GET /tickets/sla": lambda b, r: b.get("center", "/tickets/sla"),
    "GET /tickets/stats, one month": lambda b, r: b.get("center", "/tickets/stats", month=b.month),
    "create from the heavy number": lambda b, r: b.create(),
}


async def _time(bench: Bench, operation: Operation, clients: int, rounds: int) -> list[float]:
    samples: list[float] = []

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(rounds):
            started = time.perf_counter()
            await operation(bench, rng)
            samples.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(client(i) for i in range(clients)))
    return samples


PLAN_KEYS = (
    "Scan",
    "Join",
    "Limit",
    "Sort",
    "Aggregate",
    "Execution",
    "Index Cond",
    "Filter",
    "Recheck",
    "Buffers",
    "SubPlan",
    "WindowAgg",
    "JIT",
    "Timing:",
)


def _explained(head: str, statement: str) -> bool:
    """Statements worth a plan: the operation's own SELECTs (not tokens, policies, or the
    selectin loads of a page's assignments and callbacks)."""
    if not head.startswith(("SELECT", "WITH")) or "api_tokens" in statement:
        return False
    if "ticket_extensions" in statement or "ticket_policies" in statement:
        return False
    # a selectin load lists the page's ids as parameters
    if (
        "FROM ticket_callbacks" in statement
        and "WHERE ticket_callbacks.ticket_id IN ($" in statement
    ):
        return False
    return not (
        "FROM ticket_assignments" in statement
        and "WHERE ticket_assignments.ticket_id IN ($" in statement
    )


async def _explain(bench: Bench, name: str, operation: Operation) -> list[str]:
    """EXPLAIN ANALYZE of the statements one run of the operation sends (selectin loads aside)."""
    captured: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    sync_engine = bench.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        await operation(bench, random.Random(1))
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)
    lines: list[str] = []
    # one transaction, the operation's SET LOCALs (and set_config calls) replayed in order: the
    # plans are the ones the operation ran with
    async with bench.engine.connect() as conn, conn.begin():
        for statement, parameters in captured:
            head = statement.lstrip().upper()
            if head.startswith("SET "):
                await conn.exec_driver_sql(statement)
                continue
            if head.startswith("SELECT SET_CONFIG("):
                await conn.exec_driver_sql(statement, tuple(parameters) if parameters else ())
                continue
            if not _explained(head, statement):
                continue
            plan = await conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) " + statement,
                tuple(parameters) if parameters else (),
            )
            for (line,) in plan.all():
                if any(key in line for key in PLAN_KEYS):
                    lines.append("    " + line.rstrip())
            lines.append("    --")
    return [f"  [{name}]", *lines]


async def _measure(
    url: str, size: int, rounds: int, explain: bool, generate: bool = True, only: str = ""
) -> dict[str, dict[int, tuple[float, float]]]:
    engine = make_engine(url)
    try:
        if generate:
            # the generator writes the tables as of migration 0024; the later migrations
            # backfill what they keep (0025: the statistics' sums) as on a real upgrade
            await migrate(engine, GENERATED_AT)
            await _generate(engine, size)
            started = time.perf_counter()
            await migrate(engine)
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE ticket_figures, ticket_assignments"))
                kept = await conn.scalar(text("SELECT count(*) FROM ticket_figures"))
            print(
                f"  migrated to head in {time.perf_counter() - started:.0f} s "
                f"(ticket_figures: {kept:,} rows)"
            )
        else:
            await migrate(engine)
            # a reused database may just have been migrated (a backfill leaves dead rows and
            # stale statistics): what autovacuum would do before long
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                for table in (*TABLES, "ticket_figures"):
                    await conn.execute(text(f"VACUUM ANALYZE {table}"))
        sessions = make_sessions(engine)
        clock = lambda: datetime.now(UTC)  # noqa: E731
        calendar = load_calendar(DEFAULT_CALENDAR_DIR)
        ticketing = Ticketing(
            tickets=TicketService(TicketRepository(sessions), calendar, clock),
            departments=DepartmentRepository(sessions),
            topics=TopicRepository(sessions),
            supervisions=SupervisionRepository(sessions, clock),
            statistics=TicketStatistics(sessions, clock),
            files=None,
        )
        store = TokenRepository(sessions)
        tokens = {
            "center": await store.create("center", Role.SUPERVISOR, clock(), None),
            "agent": await store.create("agent", Role.AGENT, clock(), "7"),
            "d07": await store.create("d07", Role.DEPARTMENT, clock(), "d07"),
        }
        async with engine.connect() as conn:
            ids = list(
                (
                    await conn.execute(
                        text(f"SELECT id FROM tickets WHERE id % {max(size // 1000, 1)} = 0")
                    )
                ).scalars()
            )
            cursors = []
            for offset in (10_000, 20_000, 30_000, 40_000, 50_000):
                offset = min(offset, size // 2)
                row = (
                    await conn.execute(
                        text(
                            "SELECT created_at, id FROM tickets "
                            "ORDER BY created_at DESC, id DESC OFFSET :o LIMIT 1"
                        ),
                        {"o": offset - 1},
                    )
                ).one()
                cursors.append(encode_cursor("-created_at", row[0], row[1]))
            month = await conn.scalar(
                text("SELECT to_char(now() - interval '2 months', 'YYYY-MM')")
            )
        app = create_api(Services(clock=clock, tokens=store, ticketing=ticketing))
        # as the engine does once started (callcenter/app.py): start-up's objects out of the
        # collector's generations
        gc.freeze()
        results: dict[str, dict[int, tuple[float, float]]] = {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=120
        ) as client:
            bench = Bench(client, tokens, engine, cursors, str(month), ids)
            plans: list[str] = []
            for name, operation in OPERATIONS.items():
                if only and only not in name:
                    continue
                await _time(bench, operation, 1, 2)  # warm up
                results[name] = {}
                for clients in (1, 8):
                    samples = await _time(
                        bench, operation, clients, rounds if clients == 1 else max(rounds // 2, 3)
                    )
                    results[name][clients] = (
                        statistics.median(samples),
                        _percentile(samples, 0.99),
                    )
                print(
                    f"  {name}: "
                    + "  ".join(
                        f"{c} client(s) {p50:.1f}/{p99:.1f} ms"
                        for c, (p50, p99) in results[name].items()
                    ),
                    flush=True,
                )
                if explain:
                    plans += await _explain(bench, name, operation)
        if explain:
            print(f"\nPlans at {size:,} tickets:")
            print("\n".join(plans))
        # the tickets this run created are the newest rows: a kept database timed again
        # would search a newest end made of them
        async with engine.begin() as conn:
            made = "SELECT id FROM tickets WHERE created_by <> 'bench'"
            await conn.execute(text(f"DELETE FROM ticket_events WHERE ticket_id IN ({made})"))
            await conn.execute(text("DELETE FROM tickets WHERE created_by <> 'bench'"))
        return results
    finally:
        await engine.dispose()


async def _database(name: str) -> str:
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    return _url(name)


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


def _url(name: str) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def run(
    size: int, small: int, rounds: int, keep: str = "", reuse: str = "", only: str = ""
) -> None:
    """Time the baseline (``small``; 0: none) and the large size. The large database is named
    ``keep`` and kept, or is the existing ``reuse`` (not generated again); the others are
    throw-away."""
    figures: dict[int, dict[str, dict[int, tuple[float, float]]]] = {}
    sizes = [n for n in dict.fromkeys((small, size)) if n]
    for n in sizes:
        large = n == size
        name = (
            (keep or reuse) if large and (keep or reuse) else f"cc_bench_tickets_{n}_{os.getpid()}"
        )
        reused = large and bool(reuse)
        print(f"\n{n:,} tickets (database {name}{', reused' if reused else ''}):", flush=True)
        try:
            url = _url(name) if reused else await _database(name)
            figures[n] = await _measure(
                url, n, rounds, explain=large, generate=not reused, only=only
            )
        finally:
            if not (large and (keep or reuse)):
                await _drop(name)
    if len(sizes) < 2:
        _table({size: figures[size]}, size)
        return
    print(f"\nTickets through the API, p50/p99 ms; ratio = p99 at {size:,} / p99 at {small:,}")
    print(
        f"| operation | {small:,}: 1 client | 8 clients | {size:,}: 1 client | 8 clients "
        "| ratio (1 / 8) |"
    )
    print("|---|---|---|---|---|---|")
    for op in figures[size]:
        s, b = figures[small][op], figures[size][op]
        ratio = " / ".join(f"{b[c][1] / s[c][1]:.2f}" for c in (1, 8))
        cells = [f"{f[c][0]:.1f} / {f[c][1]:.1f}" for f in (s, b) for c in (1, 8)]
        print(f"| {op} | " + " | ".join(cells) + f" | {ratio} |")


def _table(figures: dict[int, dict[str, dict[int, tuple[float, float]]]], size: int) -> None:
    print(f"\nTickets through the API at {size:,}, p50/p99 ms")
    print("| operation | 1 client | 8 clients |")
    print("|---|---|---|")
    for op, by_clients in figures[size].items():
        cells = [f"{by_clients[c][0]:.1f} / {by_clients[c][1]:.1f}" for c in (1, 8)]
        print(f"| {op} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="tickets (10000000 for 10 M)")
    parser.add_argument("--small", type=int, default=100_000, help="the baseline size")
    parser.add_argument("--rounds", type=int, default=20, help="requests per client (1 client)")
    parser.add_argument(
        "--database",
        help="time and explain an existing generated database (a SQLAlchemy URL) instead",
    )
    parser.add_argument("--only", default="", help="the operations whose name holds this")
    parser.add_argument(
        "--keep-db", default="", metavar="NAME", help="generate the large size as NAME, keep it"
    )
    parser.add_argument(
        "--reuse-db",
        default="",
        metavar="NAME",
        help="time the kept database NAME (migrated first) instead of generating the large size",
    )
    args = parser.parse_args()
    for name in (args.keep_db, args.reuse_db):
        if name and not name.replace("_", "").isalnum():
            parser.error(f"not a database name: {name!r}")
    if args.keep_db and args.reuse_db:
        parser.error("give --keep-db or --reuse-db, not both")
    if args.database:
        asyncio.run(
            _measure(args.database, args.size, args.rounds, True, generate=False, only=args.only)
        )
        return
    asyncio.run(run(args.size, args.small, args.rounds, args.keep_db, args.reuse_db, args.only))


if __name__ == "__main__":
    main()
