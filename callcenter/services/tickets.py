"""The ticket service: who may do what to a ticket, each workflow step run under the ticket's
lock with its audit entry, numbering, duplicates and links. Storage only loads and saves."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from callcenter.domain.access import Principal, Role
from callcenter.domain.duplicates import Suggestion, suggest
from callcenter.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from callcenter.domain.ticket_workflow import TicketWorkflow
from callcenter.domain.tickets import (
    Action,
    AuditEntry,
    CallbackResult,
    Change,
    KnowledgeRef,
    Source,
    Ticket,
    TicketDetails,
    TicketPolicy,
    entry,
    is_center,
    ticket_scope,
    visible_to,
)
from callcenter.domain.workdays import WorkdayCalendar
from callcenter.storage.tickets import (
    Link,
    TicketPageResult,
    TicketQuery,
    TicketRepository,
    TicketTransaction,
)

# one workflow step: the workflow, the ticket as it is under its lock, now -> the change
Step = Callable[[TicketWorkflow, Ticket, datetime], Change]


class TicketService:
    """Every ticket use case: checks the actor, lets the workflow decide, has storage keep it."""

    def __init__(
        self,
        repository: TicketRepository,
        calendar: WorkdayCalendar,
        clock: Callable[[], datetime],
    ) -> None:
        self.repository = repository
        self.calendar = calendar
        self.clock = clock

    # policy ------------------------------------------------------------------------------------

    async def policy(self) -> TicketPolicy:
        return await self.repository.policy()

    async def set_policy(self, policy: TicketPolicy, actor: Principal) -> TicketPolicy:
        if actor.role is not Role.ADMIN:
            raise Forbidden("only administrators may change the ticket policy")
        await self.repository.add_policy(policy, actor.name, self.clock())
        return policy

    # creating ----------------------------------------------------------------------------------

    async def filed_recordings(self, paths: list[str]) -> set[str]:
        """Which of these recording paths a ticket already holds."""
        return await self.repository.filed_recordings(paths)

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
        async with self.repository.transaction() as tx:
            # every reference is checked, whatever else is given; a ticket from a call carries
            # the call's recording unless the engine names another (a voicemail's)
            call_recording = await _check_references(tx, details.topic, call_id)
            policy = await tx.policy()
            change = TicketWorkflow(self.calendar, policy).create(
                number=await tx.next_number(self.calendar.local_day(now).strftime("%Y%m%d")),
                query_code=f"{secrets.randbelow(10**6):06d}",
                source=source,
                details=details,
                actor=actor,
                now=now,
                call_id=call_id,
                recording=recording or call_recording,
                draft=draft,
            )
            ticket = await tx.insert(change, now)
            found = await self._alike(tx, ticket.details, ticket.id, policy, now)
        return ticket, found

    # reading -----------------------------------------------------------------------------------

    async def get(self, ticket_id: int, viewer: Principal) -> Ticket:
        ticket = await self.repository.get(ticket_id)
        if ticket is None or not visible_to(ticket, viewer):
            # a department must not learn that other departments' tickets exist
            raise NotFound(f"ticket {ticket_id} does not exist")
        return ticket

    async def events(self, ticket_id: int, viewer: Principal) -> list[AuditEntry]:
        await self.get(ticket_id, viewer)
        return await self.repository.events(ticket_id)

    async def search(self, query: TicketQuery, viewer: Principal) -> tuple[int, list[Ticket]]:
        """The total (counted up to TOTAL_CAP) and one page."""
        page = await self.page(query, viewer)
        return page.total, page.items

    async def page(self, query: TicketQuery, viewer: Principal) -> TicketPageResult:
        """One page of the tickets the viewer may see (see TicketRepository.page)."""
        scope = ticket_scope(viewer)
        if query.phone and not is_center(viewer):
            raise Forbidden("only the hotline center may search by phone number")
        if query.archive and not is_center(viewer):
            raise Forbidden("only the hotline center searches the archive")
        return await self.repository.page(query, scope, self.clock())

    async def lookup(self, query_code: str, phone: str) -> Ticket | None:
        """Citizen self-service: both the query code and the phone it was filed from must match."""
        if not query_code or not phone:
            return None
        return await self.repository.lookup(query_code, phone)

    # acting ------------------------------------------------------------------------------------

    async def act(self, ticket_id: int, actor: Principal, step: Step) -> Ticket:
        """Run one workflow step under the ticket's row lock; a refused step changes nothing."""
        now = self.clock()
        async with self.repository.transaction() as tx:
            ticket = await _locked(tx, ticket_id, actor)
            change = step(TicketWorkflow(self.calendar, await tx.policy()), ticket, now)
            return await tx.save(ticket_id, change, now)

    async def edit(self, ticket_id: int, changes: Mapping[str, Any], actor: Principal) -> Ticket:
        """Change the named TicketDetails fields, applied to the ticket as it is under the lock."""
        unknown = set(changes) - set(TicketDetails.__dataclass_fields__)
        if unknown:
            raise InvalidInput(f"cannot edit {', '.join(sorted(unknown))}")
        if changes.get("topic"):
            _topic_usable(changes["topic"], await self.repository.topic_active(changes["topic"]))
        return await self.act(
            ticket_id, actor, lambda w, t, now: w.edit(t, replace(t.details, **changes), actor, now)
        )

    async def register(self, ticket_id: int, actor: Principal) -> Ticket:
        return await self.act(ticket_id, actor, lambda w, t, now: w.register(t, actor, now))

    async def answer(
        self, ticket_id: int, answer: str, actor: Principal, knowledge: KnowledgeRef | None
    ) -> Ticket:
        return await self.act(
            ticket_id, actor, lambda w, t, now: w.answer(t, answer, actor, now, knowledge)
        )

    async def not_accept(self, ticket_id: int, reason: str, actor: Principal) -> Ticket:
        return await self.act(
            ticket_id, actor, lambda w, t, now: w.not_accept(t, reason, actor, now)
        )

    async def dispatch(
        self, ticket_id: int, lead: str, co: Sequence[str], actor: Principal, note: str = ""
    ) -> Ticket:
        known = await self.repository.departments_active([lead, *co])
        for code in [lead, *co]:
            if code not in known:
                raise InvalidInput(f"department {code} does not exist")
            if not known[code]:
                raise InvalidInput(f"department {code} is inactive")
        return await self.act(
            ticket_id, actor, lambda w, t, now: w.dispatch(t, lead, co, actor, now, note)
        )

    async def sign(self, ticket_id: int, actor: Principal, note: str = "") -> Ticket:
        return await self.act(ticket_id, actor, lambda w, t, now: w.sign(t, actor, now, note))

    async def give_back(self, ticket_id: int, reason: str, actor: Principal) -> Ticket:
        return await self.act(
            ticket_id, actor, lambda w, t, now: w.give_back(t, reason, actor, now)
        )

    async def request_extension(
        self, ticket_id: int, days: int, reason: str, actor: Principal
    ) -> Ticket:
        return await self.act(
            ticket_id, actor, lambda w, t, now: w.request_extension(t, days, reason, actor, now)
        )

    async def decide_extension(
        self, ticket_id: int, approve: bool, actor: Principal, days: int | None, note: str = ""
    ) -> Ticket:
        return await self.act(
            ticket_id,
            actor,
            lambda w, t, now: w.decide_extension(t, approve, actor, now, days, note),
        )

    async def reply(self, ticket_id: int, result: str, actor: Principal) -> Ticket:
        return await self.act(ticket_id, actor, lambda w, t, now: w.reply(t, result, actor, now))

    async def review(
        self, ticket_id: int, approve: bool, actor: Principal, note: str = ""
    ) -> Ticket:
        return await self.act(
            ticket_id, actor, lambda w, t, now: w.review(t, approve, actor, now, note)
        )

    async def record_callback(
        self, ticket_id: int, result: CallbackResult, comment: str, actor: Principal
    ) -> Ticket:
        return await self.act(
            ticket_id,
            actor,
            lambda w, t, now: w.record_callback(t, result, comment, actor, now),
        )

    async def archive(self, ticket_id: int, actor: Principal, note: str = "") -> Ticket:
        return await self.act(ticket_id, actor, lambda w, t, now: w.archive(t, actor, now, note))

    async def note(self, ticket_id: int, text: str, actor: Principal) -> Ticket:
        return await self.act(ticket_id, actor, lambda w, t, now: w.note(t, text, actor, now))

    # duplicates and links ----------------------------------------------------------------------

    async def duplicates(self, ticket_id: int, viewer: Principal) -> list[Suggestion]:
        ticket = await self.get(ticket_id, viewer)
        if not is_center(viewer):
            raise Forbidden("only the hotline center checks for duplicates")
        policy = await self.repository.policy()
        return await self._alike(
            self.repository, ticket.details, ticket.id, policy, ticket.created_at
        )

    async def preview_duplicates(
        self, details: TicketDetails, viewer: Principal
    ) -> list[Suggestion]:
        """Earlier tickets alike a ticket still being written (判重 as the agent types)."""
        if not is_center(viewer):
            raise Forbidden("only the hotline center checks for duplicates")
        policy = await self.repository.policy()
        return await self._alike(self.repository, details, None, policy, self.clock())

    async def _alike(
        self,
        store: TicketRepository | TicketTransaction,
        details: TicketDetails,
        exclude: int | None,
        policy: TicketPolicy,
        at: datetime,
    ) -> list[Suggestion]:
        since = at - timedelta(days=policy.duplicate_days)
        candidates = await store.duplicate_candidates(details, exclude, since, at)
        if not candidates:
            return []
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
        async with self.repository.transaction() as tx:
            first = await _locked(tx, low, actor)
            second = await _locked(tx, high, actor)
            if not await tx.add_link(low, high, now, actor.name, note):
                raise Conflict(f"tickets {ticket_id} and {other_id} are already linked")
            for ticket, other in ((first, second), (second, first)):
                item = entry(
                    ticket, ticket.status, Action.LINKED, actor, now, note, other=other.number
                )
                assert ticket.id is not None
                tx.append(ticket.id, item)

    async def links(self, ticket_id: int, viewer: Principal) -> list[Link]:
        """Tickets linked to this one that the viewer may see too."""
        await self.get(ticket_id, viewer)
        return await self.repository.links(ticket_id, ticket_scope(viewer))


async def _locked(tx: TicketTransaction, ticket_id: int, viewer: Principal) -> Ticket:
    ticket = await tx.lock(ticket_id)
    if ticket is None or not visible_to(ticket, viewer):
        # a department must not learn that other departments' tickets exist
        raise NotFound(f"ticket {ticket_id} does not exist")
    return ticket


def _topic_usable(topic: str, active: bool | None) -> None:
    if active is None:
        raise InvalidInput(f"topic {topic} is not in the classification dictionary")
    if not active:
        raise InvalidInput(f"topic {topic} is no longer in use")


async def _check_references(tx: TicketTransaction, topic: str, call_id: int | None) -> str:
    """Refuse unknown references; returns the call's recording (or "")."""
    if topic:
        _topic_usable(topic, await tx.topic_active(topic))
    if call_id is None:
        return ""
    recording = await tx.call_recording(call_id)
    if recording is None:
        raise InvalidInput(f"call {call_id} does not exist")
    return recording
