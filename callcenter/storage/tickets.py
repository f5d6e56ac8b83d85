"""Ticket repository: loads and saves tickets, their audit trail, links, numbers and search."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    Text,
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from callcenter.domain.access import Principal
from callcenter.domain.duplicates import Candidate, address_key
from callcenter.domain.errors import (
    InvalidInput,
    NotFound,
    SearchBudgetExceeded,
)
from callcenter.domain.ticket_search import SEARCH_TOTAL_CAP, TOTAL_CAP, grams, term_grams
from callcenter.domain.tickets import (
    HANDLING_STATUSES,
    OPEN_STATUSES,
    AuditEntry,
    Category,
    Change,
    Scope,
    SlaColour,
    Status,
    Ticket,
    TicketDetails,
    TicketPolicy,
    ticket_scope,
    visible_to,
)
from callcenter.storage.models import Call
from callcenter.storage.ticket_archive import ARCHIVED, ARCHIVED_ASSIGNMENTS, ARCHIVED_EVENTS
from callcenter.storage.ticket_rows import event_row, listed, to_entry, to_ticket, write
from callcenter.storage.ticket_tables import (
    AssignmentRow,
    CounterRow,
    DepartmentRow,
    EventRow,
    LinkRow,
    PolicyRow,
    TicketRow,
    TopicRow,
)

SelectT = TypeVar("SelectT", bound=Select[Any])
SORTS = {
    "created_at": (TicketRow.created_at,),
    "due_at": (TicketRow.due_at,),
    "number": (TicketRow.number,),
}


@dataclass(frozen=True, slots=True)
class TicketQuery:
    number: str | None = None
    statuses: tuple[Status, ...] = ()
    category: Category | None = None
    topic: str | None = None
    department: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sla: SlaColour | None = None
    text: str | None = None
    phone: str | None = None
    # who registered it (a token's or a person's name): an agent's own recent tickets
    creator: str | None = None
    sort: str = "-created_at"
    limit: int = 50
    offset: int = 0
    # an opaque keyset cursor (from a previous page's next_cursor): the page after that row
    cursor: str | None = None
    # include the tickets moved to the archive (storage/ticket_archive.py; the center only)
    archive: bool = False


@dataclass(frozen=True, slots=True)
class TicketPageResult:
    """A page of tickets: the total counted up to TOTAL_CAP (capped says it went beyond). The
    items are tickets as a list shows them (ticket_rows.listed): with their assignments, without
    their extensions and callbacks."""

    total: int
    capped: bool
    items: list[Ticket]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Link:
    ticket_id: int
    number: str
    linked_at: datetime
    linked_by: str
    note: str


async def locked(session: AsyncSession, ticket_id: int, viewer: Principal) -> TicketRow:
    """The ticket's row, locked for this transaction; NotFound too if the viewer may not see it."""
    row = await session.scalar(select(TicketRow).where(TicketRow.id == ticket_id).with_for_update())
    if row is None or not visible_to(to_ticket(row), viewer):
        # a department must not learn that other departments' tickets exist
        raise NotFound(f"ticket {ticket_id} does not exist")
    return row


async def current_policy(session: AsyncSession) -> TicketPolicy:
    body = await session.scalar(select(PolicyRow.body).order_by(PolicyRow.id.desc()).limit(1))
    return TicketPolicy.model_validate(body) if body is not None else TicketPolicy()


def visible(viewer: Principal, open_only: bool = False) -> ColumnElement[bool]:
    """The condition limiting a ticket query to what the viewer may see (``open_only``: the
    query asks for open tickets only)."""
    return in_scope(ticket_scope(viewer), open_only)


def in_scope(scope: Scope, open_only: bool = False) -> ColumnElement[bool]:
    """Every ticket (None), or those dispatched to one department now."""
    return true() if scope is None else TicketRow.id.in_(_dispatched_to(scope, open_only=open_only))


def _dispatched_to(department: str, archived: bool = False, open_only: bool = False) -> Select[Any]:
    """The tickets dispatched to a department now. ``open_only``, when the query itself admits
    open tickets only: the department's open ones, from the partial index over its open
    assignments (migration 0023) rather than its whole history; the same rows then."""
    a = ARCHIVED_ASSIGNMENTS if archived else AssignmentRow
    stmt = select(a.ticket_id).where(a.department_code == department, a.ended_at.is_(None))
    # archived tickets are closed: their flag is false, and their table has no such index
    return stmt.where(a.ticket_open == true()) if open_only and not archived else stmt


def admits_open_only(query: TicketQuery) -> bool:
    """Whether the query admits open tickets only (its statuses, or an SLA colour)."""
    if query.sla is not None:
        return True
    return bool(query.statuses) and set(query.statuses) <= OPEN_STATUSES


# an API read's transaction: no parallel workers, no JIT compilation (a rare term's page at
# 10 M tickets is estimated past jit_above_cost and spent 7 ms compiling for a 30 ms read)
SERIAL = {"max_parallel_workers_per_gather": "0", "jit": "off"}


async def serial(session: AsyncSession) -> None:
    """PostgreSQL: no parallel workers and no JIT for this transaction. An API read costs a
    page or a month: starting workers costs more than it saves, and under concurrent requests
    on a few cores they only queue behind each other; compiling its plan costs more than
    running it."""
    if session.get_bind().dialect.name == "postgresql":
        await set_local(session, SERIAL)


async def set_local(session: AsyncSession, settings: dict[str, str]) -> None:
    """PostgreSQL: SET LOCAL of several settings in one round trip (set_config(.., true))."""
    names = list(settings)
    calls = ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(names)))
    values = {f"n{i}": name for i, name in enumerate(names)}
    values |= {f"v{i}": settings[name] for i, name in enumerate(names)}
    await session.execute(text(f"SELECT {calls}"), values)


def sla_conditions(
    status: SQLColumnExpression[str],
    due_at: SQLColumnExpression[datetime | None],
    warn_at: SQLColumnExpression[datetime | None],
    now: datetime,
) -> dict[SlaColour, ColumnElement[bool]]:
    """domain.tickets.sla_colour_at in SQL, over any columns (a test checks they agree)."""
    handling = status_in(status, HANDLING_STATUSES)
    return {
        SlaColour.RED: and_(handling, due_at <= now),
        SlaColour.YELLOW: and_(handling, due_at > now, warn_at <= now),
        SlaColour.GREEN: and_(handling, due_at > now, or_(warn_at.is_(None), warn_at > now)),
    }


def status_in(status: SQLColumnExpression[str], statuses: Iterable[Status]) -> ColumnElement[bool]:
    """status IN (...) with the values written into the SQL: a partial index over open tickets
    is only usable when PostgreSQL sees the values (a prepared statement's $n hides them)."""
    values = sorted(s.value for s in statuses)
    return status.in_(
        bindparam("statuses", values, expanding=True, literal_execute=True, unique=True)
    )


def sla_condition(colour: SlaColour, now: datetime) -> ColumnElement[bool]:
    return sla_conditions(TicketRow.status, TicketRow.due_at, TicketRow.warn_at, now)[colour]


# sorts a keyset cursor can continue (rows are ordered by (created_at, id))
KEYSET_SORTS = ("created_at", "-created_at")
# sorts a page merged from the hot tables and the archive can take (never null)
MERGED_SORTS = ("created_at", "number")
# the most candidates one duplicate check compares (the newest first)
DUPLICATE_CANDIDATES = 200
# the rows of a list's order a common term's page is first looked for in
WALK_WINDOW = 5_000
# the recent days (last day, last week) in which a rare term's newest matches are looked for
RARE_WINDOWS = (1, 7)
# a term's total: the newest rows that measure how common it is, and the most rows it may be
# counted in (PostgreSQL; see TicketRepository._common_term_total)
COUNT_SAMPLE = 2_000
COUNT_WALK = 50_000
# from this offset on, a page by offset first finds its first row by the index alone
DEEP_OFFSET = 1_000
# the default statement budget of a ticket list or search
SEARCH_BUDGET_MS = 3_000


def encode_cursor(sort: str, created_at: datetime, ticket_id: int) -> str:
    raw = json.dumps([sort, created_at.astimezone(UTC).isoformat(), ticket_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sort, at, ticket_id = json.loads(raw)
        when = datetime.fromisoformat(at)
        if sort not in KEYSET_SORTS or not isinstance(ticket_id, int) or when.tzinfo is None:
            raise ValueError(sort)
        return sort, when, ticket_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as err:
        raise InvalidInput("cursor is not one this server handed out") from err


def _word_conditions(
    content: SQLColumnExpression[str], words: str | None, dialect: str
) -> list[ColumnElement[bool]]:
    """Every word occurs in the content, case-insensitively."""
    terms = (words or "").split()
    if dialect == "postgresql":
        # lower() LIKE rather than ILIKE: the trigram index cannot serve it, so the planner
        # never ANDs that lossy bitmap with the grams' exact one (a lossy bitmap re-computes
        # ticket_grams on every candidate row). A term without cased letters (Chinese) is
        # found as it is, by strpos (which no index serves either): lower() maps cased letters
        # to cased letters only, so it cannot make such a term appear, and folding every row
        # costs three times the search
        return [
            func.strpos(content, term) > 0
            if _uncased(term)
            else func.lower(content).like(_like(term.lower()), escape="\\")
            for term in terms
        ]
    return [content.ilike(_like(term), escape="\\") for term in terms]


def _uncased(term: str) -> bool:
    return all(c.lower() == c == c.upper() for c in term)


def _cap(query: TicketQuery) -> int:
    """How far a page's total is counted: a search by words reads a row per match counted."""
    return SEARCH_TOTAL_CAP if query.text else TOTAL_CAP


def _unfiltered(query: TicketQuery) -> TicketQuery:
    """The query with no condition but the viewer's scope (its order and page kept)."""
    return TicketQuery(
        sort=query.sort,
        limit=query.limit,
        offset=query.offset,
        cursor=query.cursor,
        archive=query.archive,
    )


def _open_list(query: TicketQuery) -> bool:
    """Whether the query is a department's open list: open statuses and nothing else, newest
    or oldest first (what its open assignments' index pages alone)."""
    return (
        bool(query.statuses)
        and set(query.statuses) <= OPEN_STATUSES
        and query.sort in KEYSET_SORTS
        and replace(query, statuses=()) == _unfiltered(query)
    )


async def _open_list_page(
    session: AsyncSession,
    query: TicketQuery,
    department: str,
    after: tuple[datetime, int] | None,
    limit: int,
    offset: int,
) -> tuple[int, list[TicketRow]]:
    """A department's open tickets in some statuses: counted (up to the cap + 1) and paged from
    its open assignments' index (migration 0026: status and creation time kept on them), only
    the page's tickets read."""
    a = AssignmentRow
    mine = (
        select(a.ticket_created_at, a.ticket_id)
        .where(
            a.department_code == department,
            a.ended_at.is_(None),
            a.ticket_open == true(),
            status_in(cast(SQLColumnExpression[str], a.open_status), query.statuses),
        )
        .distinct()
    )
    cap = _cap(query)
    total = await session.scalar(select(func.count()).select_from(mine.limit(cap + 1).subquery()))
    key = tuple_(a.ticket_created_at, a.ticket_id)
    if after is not None:
        mine = mine.where(
            key < tuple_(*after) if query.sort.startswith("-") else key > tuple_(*after)
        )
    order = [c.desc() if query.sort.startswith("-") else c.asc() for c in key.clauses]
    page = mine.order_by(*order).limit(limit).offset(offset)
    ids = [ticket_id for _, ticket_id in (await session.execute(page)).all()]
    return int(total or 0), await _rows_by_id(session, ids)


async def _rows_by_id(session: AsyncSession, ids: list[int]) -> list[TicketRow]:
    """The tickets of ``ids`` (as a list shows them), in that order."""
    if not ids:
        return []
    found = await session.scalars(
        select(TicketRow).options(*listed(TicketRow)).where(TicketRow.id.in_(ids))
    )
    by_id = {row.id: row for row in found.all()}
    return [by_id[i] for i in ids if i in by_id]


def _fts_phrase(gram: str) -> str:
    return '"' + gram.replace('"', '""') + '"'


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class TicketRepository:
    """Loads and saves tickets; what a step may do and who may take it is decided by the ticket
    service (services/tickets.py), which hands this repository plain data."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        search_budget_ms: int = SEARCH_BUDGET_MS,
    ) -> None:
        self._sessions = sessions
        self.search_budget_ms = search_budget_ms

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[TicketTransaction]:
        """One transaction: what it locks stays locked until it commits (or rolls back)."""
        async with self._sessions.begin() as session:
            yield TicketTransaction(session)

    # policy ------------------------------------------------------------------------------------

    async def policy(self) -> TicketPolicy:
        async with self._sessions() as session:
            return await current_policy(session)

    async def add_policy(self, policy: TicketPolicy, by: str, at: datetime) -> None:
        async with self._sessions.begin() as session:
            session.add(
                PolicyRow(created_at=at, created_by=by, body=policy.model_dump(mode="json"))
            )

    # references --------------------------------------------------------------------------------

    async def filed_recordings(self, paths: list[str]) -> set[str]:
        """Which of these recording paths a ticket already holds."""
        if not paths:
            return set()
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TicketRow.recording).where(TicketRow.recording.in_(paths))
            )
            return set(rows.all())

    async def topic_active(self, topic: str) -> bool | None:
        """Whether a topic of the classification is in use (None: there is no such topic)."""
        async with self._sessions() as session:
            return await session.scalar(select(TopicRow.active).where(TopicRow.code == topic))

    async def departments_active(self, codes: Sequence[str]) -> dict[str, bool]:
        """Of these department codes, those that exist, with whether each is active."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(DepartmentRow.code, DepartmentRow.active).where(
                    DepartmentRow.code.in_(codes)
                )
            )
            return {code: active for code, active in rows.all()}

    # reading -----------------------------------------------------------------------------------

    async def get(self, ticket_id: int) -> Ticket | None:
        """The ticket, from the hot tables or else the archive (read-only there)."""
        async with self._sessions() as session:
            row = await session.get(TicketRow, ticket_id)
            if row is None:
                row = await session.get(ARCHIVED, ticket_id)
            return to_ticket(row) if row is not None else None

    async def events(self, ticket_id: int) -> list[AuditEntry]:
        async with self._sessions() as session:
            for table in (EventRow, ARCHIVED_EVENTS):
                rows = (
                    await session.scalars(
                        select(table).where(table.ticket_id == ticket_id).order_by(table.id)
                    )
                ).all()
                if rows:
                    return [to_entry(row) for row in rows]
            return []

    async def page(self, query: TicketQuery, scope: Scope, now: datetime) -> TicketPageResult:
        """One page of the tickets in scope, costing the page rather than the table: the total
        is counted up to TOTAL_CAP, deep pages continue from a keyset cursor on (created_at, id),
        and every statement runs within the search budget (SearchBudgetExceeded past it).

        With ``archive`` (and always for a ticket number) the center's page also holds the
        archived tickets that match: each table gives its own page and the two are merged."""
        descending = query.sort.startswith("-")
        columns = SORTS.get(query.sort.lstrip("-"))
        if columns is None:
            raise InvalidInput(f"cannot sort by {query.sort!r}")
        after: tuple[datetime, int] | None = None
        if query.cursor is not None:
            sort, at, last_id = decode_cursor(query.cursor)
            if sort != query.sort:
                raise InvalidInput("the cursor belongs to another sort order")
            if query.offset:
                raise InvalidInput("give either a cursor or an offset")
            after = (at, last_id)
        tables = [TicketRow]
        # archived tickets are closed: never in an SLA colour
        if (query.archive or query.number) and scope is None and query.sla is None:
            if query.sort.lstrip("-") not in MERGED_SORTS:
                raise InvalidInput("a search of the archive sorts by created_at or number")
            tables.append(ARCHIVED)
        merged = len(tables) > 1
        cap = _cap(query)
        total = 0
        capped = False
        rows: list[TicketRow] = []
        async with self._budgeted() as session:
            for t in tables:
                counted, found = await self._page_of(
                    session,
                    t,
                    query,
                    scope,
                    now,
                    after,
                    # merged pages: each table's first offset + limit rows, sliced below
                    limit=query.limit + query.offset if merged else query.limit,
                    offset=0 if merged else query.offset,
                )
                total += min(counted, cap)
                capped = capped or counted > cap
                rows += found
            items = [to_ticket(row, listed=True) for row in rows]
        if merged:
            column = columns[0].key
            items.sort(key=lambda t: (getattr(t, column), t.id or 0), reverse=descending)
            items = items[query.offset : query.offset + query.limit]
        following = None
        if len(items) == query.limit and query.sort in KEYSET_SORTS:
            last = items[-1]
            assert last.id is not None
            following = encode_cursor(query.sort, last.created_at, last.id)
        capped = capped or total > cap
        return TicketPageResult(min(total, cap), capped, items, following)

    async def _page_of(
        self,
        session: AsyncSession,
        t: type[TicketRow],
        query: TicketQuery,
        scope: Scope,
        now: datetime,
        after: tuple[datetime, int] | None,
        limit: int,
        offset: int,
    ) -> tuple[int, list[TicketRow]]:
        """One table's rows of the page and its total (counted up to the cap + 1)."""
        descending = query.sort.startswith("-")
        columns = [getattr(t, c.key) for c in SORTS[query.sort.lstrip("-")]]
        cap = _cap(query)
        if t is TicketRow and scope is not None and _open_list(query):
            return await _open_list_page(session, query, scope, after, limit, offset)
        if t is TicketRow and scope is not None and query == _unfiltered(query):
            # a department's whole list: its current assignments' index holds the count
            a = AssignmentRow
            counting: Select[Any] = (
                select(a.ticket_id)
                .where(a.department_code == scope, a.ended_at.is_(None))
                .distinct()
            )
        else:
            counting = self._filtered(select(t.id), query, scope, now, session, t=t)
        dialect = session.get_bind().dialect.name
        order = [c.desc() if descending else c.asc() for c in (*columns, t.id)]
        if (
            t is TicketRow
            and scope is not None
            and admits_open_only(query)
            and not query.text
            and after is None
        ):
            # a department's open tickets (its open list, its worklist): few, read from its
            # open assignments and sorted whole for the page anyway, so the page's statement
            # counts them as it goes (count(*) OVER (): no second pass over them)
            counted_rows = cast(Select[Any], select(t, func.count().over().label("total")))
            both = self._filtered(counted_rows, query, scope, now, session, t=t)
            both = both.options(*listed(t)).order_by(*order).limit(limit).offset(offset)
            found = (await session.execute(both)).all()
            if found:
                return int(found[0][1]), [row for row, _ in found]
        total = -1
        if query.text and scope is None and t is TicketRow and dialect == "postgresql":
            total, sampled = await self._common_term_total(session, query, cap)
            if total < 0 and after is None and sampled * WALK_WINDOW < limit * COUNT_SAMPLE:
                # a rare term: the newest rows hold less than a page of it per WALK_WINDOW
                rare = await self._rare_page(session, query, now, limit, offset, counting)
                if rare is not None:
                    return rare
        if total < 0:
            counted = await session.scalar(
                select(func.count()).select_from(counting.limit(cap + 1).subquery())
            )
            total = int(counted or 0)
        keyset = None
        if after is not None:
            key = tuple_(t.created_at, t.id)
            keyset = key < tuple_(*after) if descending else key > tuple_(*after)
        if query.text and total > cap and query.sort in KEYSET_SORTS:
            # a term found in more rows than the cap is common: its first matches in the
            # (created_at, id) order are likely among the first WALK_WINDOW rows. A full page
            # found there is the page (no match before it was skipped); otherwise the gram
            # index below finds every match and sorts them
            window = self._filtered(select(t), replace(query, text=None), scope, now, t=t)
            if keyset is not None:
                window = window.where(keyset)
            first = aliased(t, window.order_by(*order).limit(WALK_WINDOW).subquery("first"))
            walked = [c.desc() if descending else c.asc() for c in (first.created_at, first.id)]
            recent = (
                select(first)
                .options(*listed(first))
                .where(*_word_conditions(first.content, query.text, dialect))
                .order_by(*walked)
                .limit(limit)
                .offset(offset)
            )
            rows = list((await session.scalars(recent)).all())
            if len(rows) == limit:
                return total, rows
        if offset >= DEEP_OFFSET and not query.text and query.sort in KEYSET_SORTS:
            # a deep page by offset: the skipped rows are counted off the (created_at, id)
            # index alone (no row read for each), the page then continues from the row found
            keys = cast(Select[Any], select(t.created_at, t.id))
            skipped = self._filtered(keys, query, scope, now, session, t=t)
            if keyset is not None:
                skipped = skipped.where(keyset)
            pivot = (
                await session.execute(skipped.order_by(*order).offset(offset).limit(1))
            ).first()
            if pivot is None:
                return total, []
            key = tuple_(t.created_at, t.id)
            keyset = key <= tuple_(*pivot) if descending else key >= tuple_(*pivot)
            offset = 0
        stmt = self._filtered(select(t), query, scope, now, session, t=t)
        if keyset is not None:
            stmt = stmt.where(keyset)
        stmt = stmt.options(*listed(t)).order_by(*order).limit(limit).offset(offset)
        rows = list((await session.scalars(stmt)).all())
        return total, rows

    async def _rare_page(
        self,
        session: AsyncSession,
        query: TicketQuery,
        now: datetime,
        limit: int,
        offset: int,
        counting: Select[Any],
    ) -> tuple[int, list[TicketRow]] | None:
        """A rare term's page and total (PostgreSQL, the center's whole list; None: no page).

        Newest first, its matches are first looked for among the tickets of the last day, then
        of the last week (RARE_WINDOWS): the gram index's matches ANDed with the creation
        times' index read only those days' rows. A window holding offset + limit matches holds
        the page, as every match newer than its start is in it. Otherwise (or oldest first) the
        gram index finds every match, sorted for the page and counted by the same statement
        (count(*) OVER ()) rather than by a count and a walk of the newest rows beforehand.
        The matches' keys are materialised first: given the page's ORDER BY and LIMIT, the
        planner would rather walk the (created_at, id) index filtering every row (seconds at
        10 M tickets)."""
        t = TicketRow
        descending = query.sort.startswith("-")
        columns = [getattr(t, c.key) for c in SORTS[query.sort.lstrip("-")]]
        cap = _cap(query)
        windows = RARE_WINDOWS if query.sort == "-created_at" else ()
        for days in (*windows, None):
            keys = self._filtered(
                cast(Select[Any], select(t.id, *columns)), query, None, now, session
            )
            if days is not None:
                keys = keys.where(t.created_at >= now - timedelta(days=days))
            matches = keys.cte("matches").prefix_with("MATERIALIZED")
            ranked = [matches.c[c.key] for c in columns] + [matches.c.id]
            page = (
                select(matches.c.id, func.count().over())
                .order_by(*(c.desc() if descending else c.asc() for c in ranked))
                .limit(limit)
                .offset(offset)
            )
            found = (await session.execute(page)).all()
            matched = int(found[0][1]) if found else 0
            if days is not None and matched < offset + limit:
                continue  # the window holds too few: a wider one
            if not found:
                return None
            rows = await _rows_by_id(session, [ticket_id for ticket_id, _ in found])
            if days is not None and matched <= cap:
                # the window's count is not the term's: counted (up to the cap) by the index
                counted = await session.scalar(
                    select(func.count()).select_from(counting.limit(cap + 1).subquery())
                )
                matched = int(counted or 0)
            return min(matched, cap + 1), rows
        return None

    async def _common_term_total(
        self, session: AsyncSession, query: TicketQuery, cap: int
    ) -> tuple[int, int]:
        """A common term's total (cap + 1: "1000+") from the newest rows, or -1 when the term
        is not common enough there for that (the gram index counts it then); and how many
        of the newest COUNT_SAMPLE rows hold it (cap + 1 when not sampled: other conditions).

        The gram index reads every match of a term before the first is counted: a term in one
        ticket in 30 costs 33,000 posting entries at 1 M tickets, ten times that at 10 M. The
        newest rows hold cap + 1 matches of such a term within cap / density rows, however
        large the table. The first COUNT_SAMPLE rows measure the density; a term dense enough
        to be found cap + 1 times within COUNT_WALK rows is counted there, and if the walk falls
        short (the term was denser in the sample than further on) the index counts it."""
        if replace(query, text=None) != _unfiltered(query):
            # other conditions: the gram index and those conditions' own indexes count it
            return -1, cap + 1
        t = TicketRow
        newest = (t.created_at.desc(), t.id.desc())

        async def matches_in(rows: int) -> int:
            walked = select(t.content).order_by(*newest).limit(rows).subquery("walked")
            found = (
                select(walked.c.content)
                .where(*_word_conditions(walked.c.content, query.text, "postgresql"))
                .limit(cap + 1)
                .subquery()
            )
            return int(await session.scalar(select(func.count()).select_from(found)) or 0)

        sample = await matches_in(COUNT_SAMPLE)
        if sample > cap:
            return sample, sample
        # expected matches within COUNT_WALK rows, with a margin, against cap + 1
        if sample * COUNT_WALK < 1.25 * (cap + 1) * COUNT_SAMPLE:
            return -1, sample
        walked = await matches_in(COUNT_WALK)
        return (walked if walked > cap else -1), sample

    @asynccontextmanager
    async def _budgeted(self) -> AsyncIterator[AsyncSession]:
        """A read transaction whose statements stop at the search budget: PostgreSQL's
        statement_timeout, SQLite's interrupt."""
        budget = self.search_budget_ms
        try:
            async with self._sessions.begin() as session:
                bind = session.get_bind()
                if bind.dialect.name == "postgresql":
                    # one round trip: the budget; a custom plan (a generic one, which asyncpg's
                    # prepared statements get after five runs, cannot prove a partial index's
                    # WHERE from $n: plan with the values); no parallel workers (serial)
                    budgeted = {"statement_timeout": str(int(budget))}
                    budgeted["plan_cache_mode"] = "force_custom_plan"
                    await set_local(session, budgeted | SERIAL)
                    yield session
                    return
                raw = await (await session.connection()).get_raw_connection()
                driver: Any = raw.driver_connection
                loop = asyncio.get_running_loop()
                handle: asyncio.TimerHandle | None = None

                def stop() -> None:
                    # an interrupt between two statements is lost: repeat until the search ends
                    nonlocal handle
                    driver._conn.interrupt()
                    handle = loop.call_later(0.002, stop)

                handle = loop.call_later(budget / 1000, stop)
                try:
                    yield session
                finally:
                    handle.cancel()
        except DBAPIError as err:
            if _over_budget(err):
                raise SearchBudgetExceeded(
                    f"the ticket search ran past its budget of {budget} ms; "
                    "narrow it (a period, a department, a longer term)"
                ) from err
            raise

    def _filtered(
        self,
        stmt: SelectT,
        query: TicketQuery,
        scope: Scope,
        now: datetime,
        session: AsyncSession | None = None,
        grams: bool = True,
        t: type[TicketRow] = TicketRow,
    ) -> SelectT:
        archived = t is not TicketRow
        opened = admits_open_only(query)
        # the archive is the center's (the service checks): no department scope to apply there
        stmt = stmt if archived else stmt.where(in_scope(scope, opened))
        if query.creator:
            stmt = stmt.where(t.created_by == query.creator)
        if query.number:
            stmt = stmt.where(t.number == query.number)
        if query.statuses:
            stmt = stmt.where(status_in(t.status, query.statuses))
        if query.category:
            stmt = stmt.where(t.category == query.category.value)
        if query.topic:
            stmt = stmt.where(t.topic_code == query.topic)
        if query.department:
            stmt = stmt.where(t.id.in_(_dispatched_to(query.department, archived, opened)))
        if query.since is not None:
            stmt = stmt.where(t.created_at >= query.since)
        if query.until is not None:
            stmt = stmt.where(t.created_at < query.until)
        if query.sla is not None:
            stmt = stmt.where(sla_conditions(t.status, t.due_at, t.warn_at, now)[query.sla])
        if query.phone:
            stmt = stmt.where(t.caller_phone == query.phone)
        terms = (query.text or "").split()
        dialect = session.get_bind().dialect.name if session is not None else ""
        keys = sorted({g for term in terms for g in term_grams(term)}) if grams else []
        if keys and dialect == "postgresql":
            # the character-gram GIN index (migration 0020) finds the candidates
            stmt = stmt.where(
                func.ticket_grams(t.content, type_=ARRAY(Text)).contains(
                    bindparam("grams", keys, type_=ARRAY(Text), unique=True)
                )
            )
        elif keys and dialect == "sqlite":
            phrases = [_fts_phrase(k) for k in keys if any(c.isalnum() for c in k)]
            if phrases:
                stmt = stmt.where(
                    t.id.in_(
                        select(literal_column("rowid"))
                        .select_from(text("ticket_fts"))
                        .where(text("ticket_fts MATCH :grams").bindparams(grams=" ".join(phrases)))
                    )
                )
        # the candidates are re-checked for the terms themselves
        return stmt.where(*_word_conditions(t.content, query.text, dialect))

    async def lookup(self, query_code: str, phone: str) -> Ticket | None:
        """The registered ticket with this query code, filed from this phone."""
        async with self._sessions() as session:
            for t in (TicketRow, ARCHIVED):
                row = await session.scalar(
                    select(t).where(
                        t.caller_phone == phone,
                        t.query_code == query_code,
                        t.status != Status.DRAFT.value,
                    )
                )
                if row is not None:
                    return to_ticket(row)
            return None

    async def duplicate_candidates(
        self, details: TicketDetails, exclude: int | None, since: datetime, until: datetime
    ) -> list[Candidate]:
        async with self._sessions() as session:
            return await candidates(session, details, exclude, since, until)

    async def links(self, ticket_id: int, scope: Scope) -> list[Link]:
        """Tickets linked to this one that are in scope too."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(LinkRow)
                .where(or_(LinkRow.ticket_id == ticket_id, LinkRow.other_id == ticket_id))
                .order_by(LinkRow.id)
            )
            links = rows.all()
            others = [r.other_id if r.ticket_id == ticket_id else r.ticket_id for r in links]
            numbers = dict(
                (
                    await session.execute(
                        select(TicketRow.id, TicketRow.number).where(
                            TicketRow.id.in_(others), in_scope(scope)
                        )
                    )
                ).all()
            )
            return [
                Link(other, numbers[other], r.linked_at, r.linked_by, r.note)
                for r, other in zip(links, others, strict=True)
                if other in numbers
            ]


class TicketTransaction:
    """What a workflow step reads and writes inside its one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._rows: dict[int, TicketRow] = {}

    async def lock(self, ticket_id: int) -> Ticket | None:
        """The ticket, its row locked until the transaction ends (None: no such ticket)."""
        row = await self._session.scalar(
            select(TicketRow).where(TicketRow.id == ticket_id).with_for_update()
        )
        if row is None:
            return None
        self._rows[ticket_id] = row
        return to_ticket(row)

    async def policy(self) -> TicketPolicy:
        return await current_policy(self._session)

    async def call_recording(self, call_id: int) -> str | None:
        """The call's recording ("" without one); None when there is no such call."""
        call = await self._session.get(Call, call_id)
        return None if call is None else call.recording or ""

    async def topic_active(self, topic: str) -> bool | None:
        return await self._session.scalar(select(TopicRow.active).where(TopicRow.code == topic))

    async def next_number(self, day: str) -> str:
        """Date + sequence per local day (``day`` is YYYYMMDD).

        PostgreSQL: a sequence per day (ticket_no_YYYYMMDD), so creators never queue on one row;
        the day's counter row only marks that the day's sequence was started (a row inserted
        afresh, e.g. after the tables were emptied, restarts it). A rolled-back create leaves a
        gap in the day's numbers. SQLite (one writer anyway): the counter row itself.
        """
        session = self._session
        if session.get_bind().dialect.name == "postgresql":
            return f"{day}-{await _pg_sequence_number(session, day):04d}"
        bump = (
            update(CounterRow)
            .where(CounterRow.day == day)
            .values(last=CounterRow.last + 1)
            .returning(CounterRow.last)
        )
        last = (await session.execute(bump)).scalar_one_or_none()
        if last is None:
            try:
                async with session.begin_nested():
                    await session.execute(insert(CounterRow).values(day=day, last=1))
                last = 1
            except IntegrityError:
                # another creator made the day's row first
                last = (await session.execute(bump)).scalar_one()
        return f"{day}-{last:04d}"

    async def insert(self, change: Change, now: datetime) -> Ticket:
        """A new ticket with its first audit entry; returns it with its id."""
        row = TicketRow(assignments=[], extensions=[], callbacks=[])
        figures = write(change.ticket, row, now)
        self._session.add(row)
        await self._session.flush()
        # a new ticket has no supervision yet
        await figures.apply(self._session)
        self._session.add(event_row(row.id, change.entry))
        await _index_content(self._session, row.id, row.content, new=True)
        self._rows[row.id] = row
        return to_ticket(row)

    async def save(self, ticket_id: int, change: Change, now: datetime) -> Ticket:
        """A locked ticket's new state and the audit entry of the step that made it."""
        row = self._rows[ticket_id]
        content = row.content
        figures = write(change.ticket, row, now)
        self._session.add(event_row(row.id, change.entry))
        await self._session.flush()
        await figures.apply(self._session, row.id)
        if row.content != content:
            await _index_content(self._session, row.id, row.content, new=False)
        return to_ticket(row)

    def append(self, ticket_id: int, item: AuditEntry) -> None:
        """An audit entry without a change of the ticket's state."""
        self._session.add(event_row(ticket_id, item))

    async def add_link(self, low: int, high: int, at: datetime, by: str, note: str) -> bool:
        """Record two tickets as the same matter; False when they already are."""
        try:
            async with self._session.begin_nested():
                self._session.add(
                    LinkRow(ticket_id=low, other_id=high, linked_at=at, linked_by=by, note=note)
                )
                await self._session.flush()
        except IntegrityError:
            return False
        return True

    async def duplicate_candidates(
        self, details: TicketDetails, exclude: int | None, since: datetime, until: datetime
    ) -> list[Candidate]:
        return await candidates(self._session, details, exclude, since, until)


async def candidates(
    session: AsyncSession,
    details: TicketDetails,
    exclude: int | None,
    since: datetime,
    until: datetime,
) -> list[Candidate]:
    """Tickets created in [since, until] from the same phone or at the same address, the
    newest first (at most DUPLICATE_CANDIDATES): what a duplicate check compares."""
    key = address_key(details.address)
    same: list[ColumnElement[bool]] = []
    if details.caller_phone:
        same.append(TicketRow.caller_phone == details.caller_phone)
    if key:
        same.append(TicketRow.address_key == key)
    if not same:
        return []
    rows = await session.execute(
        select(
            TicketRow.id,
            TicketRow.number,
            TicketRow.created_at,
            TicketRow.caller_phone,
            TicketRow.address,
            TicketRow.content,
            TicketRow.status,
        )
        .where(
            or_(*same),
            TicketRow.id != (exclude or 0),
            TicketRow.created_at >= since,
            TicketRow.created_at <= until,
        )
        .order_by(TicketRow.created_at.desc())
        .limit(DUPLICATE_CANDIDATES)
    )
    return [Candidate(*values) for values in rows.all()]


async def _index_content(session: AsyncSession, ticket_id: int, content: str, *, new: bool) -> None:
    """SQLite: keep the FTS5 gram row of a ticket's content (PostgreSQL indexes an expression)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    if not new:
        await session.execute(text("DELETE FROM ticket_fts WHERE rowid = :id"), {"id": ticket_id})
    await session.execute(
        text("INSERT INTO ticket_fts(rowid, grams) VALUES (:id, :grams)"),
        {"id": ticket_id, "grams": " ".join(sorted(grams(content)))},
    )


def _over_budget(err: DBAPIError) -> bool:
    """A statement stopped by the budget: PostgreSQL's 57014, SQLite's interrupt."""
    origin = err.orig
    code = getattr(origin, "sqlstate", None) or getattr(origin, "pgcode", None)
    message = str(origin)
    return code == "57014" or "statement timeout" in message or message == "interrupted"


async def _pg_sequence_number(session: AsyncSession, day: str) -> int:
    """The next number of the day from its own sequence (see TicketRepository._next_number)."""
    if not day.isdigit():
        raise ValueError(day)
    sequence = f"ticket_no_{day}"
    started = await session.scalar(
        pg_insert(CounterRow)
        .values(day=day, last=0)
        .on_conflict_do_nothing(index_elements=[CounterRow.day])
        .returning(CounterRow.day)
    )
    if started is not None:
        # the day's first ticket (or the first after the counters were emptied)
        await session.execute(text(f"CREATE SEQUENCE IF NOT EXISTS {sequence}"))
        await session.execute(text(f"ALTER SEQUENCE {sequence} RESTART WITH 1"))
        return int(await session.scalar(text(f"SELECT nextval('{sequence}')")) or 0)
    try:
        async with session.begin_nested():
            return int(await session.scalar(text(f"SELECT nextval('{sequence}')")) or 0)
    except DBAPIError:
        # a day begun before this version (its counter row counted): continue from the row
        last = await session.scalar(select(CounterRow.last).where(CounterRow.day == day))
        async with session.begin_nested():
            await session.execute(
                text(f"CREATE SEQUENCE IF NOT EXISTS {sequence} START WITH {int(last or 0) + 1}")
            )
        return int(await session.scalar(text(f"SELECT nextval('{sequence}')")) or 0)
