"""Ticket repository: runs each workflow step in one locked transaction with its audit entry."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

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

from callcenter.domain.access import Principal, Role
from callcenter.domain.duplicates import Candidate, Suggestion, address_key, suggest
from callcenter.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    SearchBudgetExceeded,
)
from callcenter.domain.ticket_search import SEARCH_TOTAL_CAP, TOTAL_CAP, grams, term_grams
from callcenter.domain.ticket_workflow import TicketWorkflow
from callcenter.domain.tickets import (
    HANDLING_STATUSES,
    Action,
    AuditEntry,
    Category,
    Change,
    SlaColour,
    Source,
    Status,
    Ticket,
    TicketDetails,
    TicketPolicy,
    entry,
    is_center,
    visible_to,
)
from callcenter.domain.workdays import WorkdayCalendar
from callcenter.storage.models import Call
from callcenter.storage.ticket_archive import ARCHIVED, ARCHIVED_ASSIGNMENTS, ARCHIVED_EVENTS
from callcenter.storage.ticket_rows import event_row, to_entry, to_ticket, write
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

Step = Callable[[TicketWorkflow, Ticket, datetime], Change]
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
    """A page of tickets: the total counted up to TOTAL_CAP (capped says it went beyond)."""

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


def visible(viewer: Principal) -> ColumnElement[bool]:
    """The condition limiting a ticket query to what the viewer may see."""
    if is_center(viewer):
        return true()
    if viewer.role is not Role.DEPARTMENT or not viewer.subject:
        raise Forbidden("this token is not bound to a department")
    return TicketRow.id.in_(_dispatched_to(viewer.subject))


def _dispatched_to(department: str, archived: bool = False) -> Select[Any]:
    a = ARCHIVED_ASSIGNMENTS if archived else AssignmentRow
    return select(a.ticket_id).where(a.department_code == department, a.ended_at.is_(None))


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
        # ticket_grams on every candidate row)
        return [func.lower(content).like(_like(term.lower()), escape="\\") for term in terms]
    return [content.ilike(_like(term), escape="\\") for term in terms]


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


def _fts_phrase(gram: str) -> str:
    return '"' + gram.replace('"', '""') + '"'


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class TicketRepository:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        calendar: WorkdayCalendar,
        clock: Callable[[], datetime],
        search_budget_ms: int = SEARCH_BUDGET_MS,
    ) -> None:
        self._sessions = sessions
        self.calendar = calendar
        self.clock = clock
        self.search_budget_ms = search_budget_ms

    # policy ------------------------------------------------------------------------------------

    async def policy(self) -> TicketPolicy:
        async with self._sessions() as session:
            return await current_policy(session)

    async def set_policy(self, policy: TicketPolicy, actor: Principal) -> TicketPolicy:
        if actor.role is not Role.ADMIN:
            raise Forbidden("only administrators may change the ticket policy")
        async with self._sessions.begin() as session:
            session.add(
                PolicyRow(
                    created_at=self.clock(),
                    created_by=actor.name,
                    body=policy.model_dump(mode="json"),
                )
            )
        return policy

    # creating ----------------------------------------------------------------------------------

    async def filed_recordings(self, paths: list[str]) -> set[str]:
        """Which of these recording paths a ticket already holds."""
        if not paths:
            return set()
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TicketRow.recording).where(TicketRow.recording.in_(paths))
            )
            return set(rows.all())

    async def create(
        self,
        details: TicketDetails,
        actor: Principal,
        *,
        source: Source = Source.CALL,
        call_id: int | None = None,
        recording: str = "",
        draft: bool = False,
    ) -> tuple[Ticket, list[Suggestion]]:
        """Register a ticket and suggest earlier tickets that look like the same matter."""
        now = self.clock()
        async with self._sessions.begin() as session:
            # every reference is checked, whatever else is given; a ticket from a call carries
            # the call's recording unless the engine names another (a voicemail's)
            call_recording = await _check_references(session, details.topic, call_id)
            recording = recording or call_recording
            policy = await current_policy(session)
            workflow = TicketWorkflow(self.calendar, policy)
            change = workflow.create(
                number=await self._next_number(session, now),
                query_code=f"{secrets.randbelow(10**6):06d}",
                source=source,
                details=details,
                actor=actor,
                now=now,
                call_id=call_id,
                recording=recording,
                draft=draft,
            )
            row = TicketRow(assignments=[], extensions=[], callbacks=[])
            write(change.ticket, row, now)
            session.add(row)
            await session.flush()
            session.add(event_row(row.id, change.entry))
            await _index_content(session, row.id, row.content, new=True)
            ticket = to_ticket(row)
            found = await self._suggestions(session, ticket, policy, now)
        return ticket, found

    async def _next_number(self, session: AsyncSession, now: datetime) -> str:
        """Date + sequence per local day.

        PostgreSQL: a sequence per day (ticket_no_YYYYMMDD), so creators never queue on one row;
        the day's counter row only marks that the day's sequence was started (a row inserted
        afresh, e.g. after the tables were emptied, restarts it). A rolled-back create leaves a
        gap in the day's numbers. SQLite (one writer anyway): the counter row itself.
        """
        day = self.calendar.local_day(now).strftime("%Y%m%d")
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

    # reading -----------------------------------------------------------------------------------

    async def get(self, ticket_id: int, viewer: Principal) -> Ticket:
        """The ticket, from the hot tables or else the archive (read-only there)."""
        async with self._sessions() as session:
            row = await session.get(TicketRow, ticket_id)
            if row is None:
                row = await session.get(ARCHIVED, ticket_id)
            if row is None or not visible_to(ticket := to_ticket(row), viewer):
                raise NotFound(f"ticket {ticket_id} does not exist")
            return ticket

    async def events(self, ticket_id: int, viewer: Principal) -> list[AuditEntry]:
        await self.get(ticket_id, viewer)
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

    async def search(self, query: TicketQuery, viewer: Principal) -> tuple[int, list[Ticket]]:
        """The total (counted up to TOTAL_CAP) and one page."""
        page = await self.page(query, viewer)
        return page.total, page.items

    async def page(self, query: TicketQuery, viewer: Principal) -> TicketPageResult:
        """One page of tickets, costing the page rather than the table: the total is counted up
        to TOTAL_CAP, deep pages continue from a keyset cursor on (created_at, id), and every
        statement runs within the search budget (SearchBudgetExceeded past it).

        With ``archive`` (and always for a ticket number) the center's page also holds the
        archived tickets that match: each table gives its own page and the two are merged."""
        now = self.clock()
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
        if query.archive and not is_center(viewer):
            raise Forbidden("only the hotline center searches the archive")
        tables = [TicketRow]
        # archived tickets are closed: never in an SLA colour
        if (query.archive or query.number) and is_center(viewer) and query.sla is None:
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
                    viewer,
                    now,
                    after,
                    # merged pages: each table's first offset + limit rows, sliced below
                    limit=query.limit + query.offset if merged else query.limit,
                    offset=0 if merged else query.offset,
                )
                total += min(counted, cap)
                capped = capped or counted > cap
                rows += found
            items = [to_ticket(row) for row in rows]
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
        viewer: Principal,
        now: datetime,
        after: tuple[datetime, int] | None,
        limit: int,
        offset: int,
    ) -> tuple[int, list[TicketRow]]:
        """One table's rows of the page and its total (counted up to the cap + 1)."""
        descending = query.sort.startswith("-")
        columns = [getattr(t, c.key) for c in SORTS[query.sort.lstrip("-")]]
        cap = _cap(query)
        if t is TicketRow and viewer.role is Role.DEPARTMENT and query == _unfiltered(query):
            # a department's whole list: its current assignments' index holds the count
            a = AssignmentRow
            counting: Select[Any] = (
                select(a.ticket_id)
                .where(a.department_code == viewer.subject, a.ended_at.is_(None))
                .distinct()
            )
        else:
            counting = self._filtered(select(t.id), query, viewer, now, session, t=t)
        counted = await session.scalar(
            select(func.count()).select_from(counting.limit(cap + 1).subquery())
        )
        total = int(counted or 0)
        order = [c.desc() if descending else c.asc() for c in (*columns, t.id)]
        keyset = None
        if after is not None:
            key = tuple_(t.created_at, t.id)
            keyset = key < tuple_(*after) if descending else key > tuple_(*after)
        dialect = session.get_bind().dialect.name
        if query.text and total > cap and query.sort in KEYSET_SORTS:
            # a term found in more rows than the cap is common: its first matches in the
            # (created_at, id) order are likely among the first WALK_WINDOW rows. A full page
            # found there is the page (no match before it was skipped); otherwise the gram
            # index below finds every match and sorts them
            window = self._filtered(select(t), replace(query, text=None), viewer, now, t=t)
            if keyset is not None:
                window = window.where(keyset)
            first = aliased(t, window.order_by(*order).limit(WALK_WINDOW).subquery("first"))
            walked = [c.desc() if descending else c.asc() for c in (first.created_at, first.id)]
            recent = (
                select(first)
                .where(*_word_conditions(first.content, query.text, dialect))
                .order_by(*walked)
                .limit(limit)
                .offset(offset)
            )
            rows = list((await session.scalars(recent)).all())
            if len(rows) == limit:
                return total, rows
        stmt = self._filtered(select(t), query, viewer, now, session, t=t)
        if keyset is not None:
            stmt = stmt.where(keyset)
        stmt = stmt.order_by(*order).limit(limit).offset(offset)
        rows = list((await session.scalars(stmt)).all())
        return total, rows

    @asynccontextmanager
    async def _budgeted(self) -> AsyncIterator[AsyncSession]:
        """A read transaction whose statements stop at the search budget: PostgreSQL's
        statement_timeout, SQLite's interrupt."""
        budget = self.search_budget_ms
        try:
            async with self._sessions.begin() as session:
                bind = session.get_bind()
                if bind.dialect.name == "postgresql":
                    await session.execute(text(f"SET LOCAL statement_timeout = {int(budget)}"))
                    # a generic plan (asyncpg prepares, PostgreSQL switches after five runs)
                    # cannot prove a partial index's WHERE from $n: plan with the values
                    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
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
        viewer: Principal,
        now: datetime,
        session: AsyncSession | None = None,
        grams: bool = True,
        t: type[TicketRow] = TicketRow,
    ) -> SelectT:
        archived = t is not TicketRow
        # the archive is the center's (page() checks): no department scope to apply there
        stmt = stmt if archived else stmt.where(visible(viewer))
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
            stmt = stmt.where(t.id.in_(_dispatched_to(query.department, archived)))
        if query.since is not None:
            stmt = stmt.where(t.created_at >= query.since)
        if query.until is not None:
            stmt = stmt.where(t.created_at < query.until)
        if query.sla is not None:
            stmt = stmt.where(sla_conditions(t.status, t.due_at, t.warn_at, now)[query.sla])
        if query.phone:
            if not is_center(viewer):
                raise Forbidden("only the hotline center may search by phone number")
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
        """Citizen self-service: both the query code and the phone it was filed from must match."""
        if not query_code or not phone:
            return None
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

    # acting ------------------------------------------------------------------------------------

    async def act(self, ticket_id: int, actor: Principal, step: Step) -> Ticket:
        """Run one workflow step under the ticket's row lock; a refused step changes nothing."""
        now = self.clock()
        async with self._sessions.begin() as session:
            row = await locked(session, ticket_id, actor)
            workflow = TicketWorkflow(self.calendar, await current_policy(session))
            content = row.content
            change = step(workflow, to_ticket(row), now)
            write(change.ticket, row, now)
            session.add(event_row(row.id, change.entry))
            await session.flush()
            if row.content != content:
                await _index_content(session, row.id, row.content, new=False)
            return to_ticket(row)

    async def edit(self, ticket_id: int, changes: Mapping[str, Any], actor: Principal) -> Ticket:
        """Change the named TicketDetails fields, applied to the ticket as it is under the lock."""
        unknown = set(changes) - set(TicketDetails.__dataclass_fields__)
        if unknown:
            raise InvalidInput(f"cannot edit {', '.join(sorted(unknown))}")
        if changes.get("topic"):
            async with self._sessions() as session:
                await _check_references(session, changes["topic"], None)
        return await self.act(
            ticket_id, actor, lambda w, t, now: w.edit(t, replace(t.details, **changes), actor, now)
        )

    async def dispatch(
        self, ticket_id: int, lead: str, co: Sequence[str], actor: Principal, note: str = ""
    ) -> Ticket:
        async with self._sessions() as session:
            codes = [lead, *co]
            rows = await session.execute(
                select(DepartmentRow.code, DepartmentRow.active).where(
                    DepartmentRow.code.in_(codes)
                )
            )
            known = dict(rows.all())
        for code in codes:
            if code not in known:
                raise InvalidInput(f"department {code} does not exist")
            if not known[code]:
                raise InvalidInput(f"department {code} is inactive")
        return await self.act(
            ticket_id, actor, lambda w, t, now: w.dispatch(t, lead, co, actor, now, note)
        )

    # duplicates --------------------------------------------------------------------------------

    async def duplicates(self, ticket_id: int, viewer: Principal) -> list[Suggestion]:
        ticket = await self.get(ticket_id, viewer)
        if not is_center(viewer):
            raise Forbidden("only the hotline center checks for duplicates")
        async with self._sessions() as session:
            policy = await current_policy(session)
            return await self._suggestions(session, ticket, policy, ticket.created_at)

    async def preview_duplicates(
        self, details: TicketDetails, viewer: Principal
    ) -> list[Suggestion]:
        """Earlier tickets alike a ticket still being written (判重 as the agent types)."""
        if not is_center(viewer):
            raise Forbidden("only the hotline center checks for duplicates")
        async with self._sessions() as session:
            policy = await current_policy(session)
            return await self._alike(session, details, None, policy, self.clock())

    async def _suggestions(
        self, session: AsyncSession, ticket: Ticket, policy: TicketPolicy, at: datetime
    ) -> list[Suggestion]:
        return await self._alike(session, ticket.details, ticket.id, policy, at)

    async def _alike(
        self,
        session: AsyncSession,
        details: TicketDetails,
        exclude: int | None,
        policy: TicketPolicy,
        at: datetime,
    ) -> list[Suggestion]:
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
                TicketRow.created_at >= at - timedelta(days=policy.duplicate_days),
                TicketRow.created_at <= at,
            )
            .order_by(TicketRow.created_at.desc())
            .limit(DUPLICATE_CANDIDATES)
        )
        candidates = [Candidate(*values) for values in rows.all()]
        # the comparison is CPU work: off the event loop, so calls and pages keep moving
        return await asyncio.to_thread(
            lambda: suggest(
                content=details.content,
                phone=details.caller_phone,
                address=details.address,
                candidates=candidates,
                threshold=policy.duplicate_threshold,
            )
        )

    async def link(self, ticket_id: int, other_id: int, actor: Principal, note: str = "") -> None:
        """Record that two tickets are the same matter, in both tickets' audit trails."""
        if not is_center(actor):
            raise Forbidden("only the hotline center links duplicate tickets")
        if ticket_id == other_id:
            raise InvalidInput("a ticket cannot be linked to itself")
        now = self.clock()
        low, high = sorted((ticket_id, other_id))
        try:
            async with self._sessions.begin() as session:
                first = await locked(session, low, actor)
                second = await locked(session, high, actor)
                session.add(
                    LinkRow(
                        ticket_id=low, other_id=high, linked_at=now, linked_by=actor.name, note=note
                    )
                )
                for row, other in ((first, second), (second, first)):
                    ticket = to_ticket(row)
                    item = entry(
                        ticket, ticket.status, Action.LINKED, actor, now, note, other=other.number
                    )
                    session.add(event_row(row.id, item))
        except IntegrityError as err:
            raise Conflict(f"tickets {ticket_id} and {other_id} are already linked") from err

    async def links(self, ticket_id: int, viewer: Principal) -> list[Link]:
        """Tickets linked to this one that the viewer may see too."""
        await self.get(ticket_id, viewer)
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
                            TicketRow.id.in_(others), visible(viewer)
                        )
                    )
                ).all()
            )
            return [
                Link(other, numbers[other], r.linked_at, r.linked_by, r.note)
                for r, other in zip(links, others, strict=True)
                if other in numbers
            ]


async def _check_references(session: AsyncSession, topic: str, call_id: int | None) -> str:
    """Refuse unknown references; returns the call's recording (or "")."""
    if topic:
        active = await session.scalar(select(TopicRow.active).where(TopicRow.code == topic))
        if active is None:
            raise InvalidInput(f"topic {topic} is not in the classification dictionary")
        if not active:
            raise InvalidInput(f"topic {topic} is no longer in use")
    if call_id is None:
        return ""
    call = await session.get(Call, call_id)
    if call is None:
        raise InvalidInput(f"call {call_id} does not exist")
    return call.recording or ""


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
