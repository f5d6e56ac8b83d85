"""/tickets/{id}/...: the workflow steps; a step the ticket's state does not allow answers 409."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from callcenter.api.auth import allowed
from callcenter.api.deps import ServicesDep, TicketsDep
from callcenter.api.tickets import Reason, TicketOut, detail
from callcenter.api.types import DbId, SafeStr
from callcenter.domain.access import Permission, Principal
from callcenter.domain.errors import InvalidInput
from callcenter.domain.tickets import CallbackResult, KnowledgeRef, Ticket
from callcenter.services.tickets import TicketService

router = APIRouter(prefix="/tickets", tags=["ticket workflow"])

Note = Annotated[SafeStr, Field(max_length=4_000)]
DepartmentCode = Annotated[SafeStr, Field(min_length=1, max_length=64)]


class NoteIn(BaseModel):
    note: Note = ""


class NoteRequired(BaseModel):
    note: Reason


class AnswerIn(BaseModel):
    answer: Reason
    # answered from a knowledge-base entry (直接答复): the version read to the citizen
    knowledge_entry_id: Annotated[int | None, Field(ge=1, le=2**62)] = None
    knowledge_version: Annotated[int | None, Field(ge=1, le=2**31)] = None


class ReasonIn(BaseModel):
    reason: Reason


class DispatchIn(BaseModel):
    lead: DepartmentCode
    co: Annotated[list[DepartmentCode], Field(max_length=20)] = Field(default_factory=list)
    note: Note = ""


class ExtensionIn(BaseModel):
    days: Annotated[int, Field(ge=1, le=365)]
    reason: Reason


class DecisionIn(BaseModel):
    approve: bool
    # working days granted; defaults to what was asked
    days: Annotated[int | None, Field(ge=1, le=365)] = None
    note: Note = ""


class ReplyIn(BaseModel):
    result: Reason


class ReviewIn(BaseModel):
    approve: bool
    note: Note = ""


class CallbackIn(BaseModel):
    result: CallbackResult
    comment: Note = ""


Center = Annotated[Principal, Depends(allowed(Permission.DISPATCH_TICKETS))]
Reviewer = Annotated[Principal, Depends(allowed(Permission.REVIEW_TICKETS))]
Department = Annotated[Principal, Depends(allowed(Permission.HANDLE_TICKETS))]


def _out(service: TicketService, ticket: Ticket, actor: Principal) -> TicketOut:
    return detail(ticket, actor, service.clock())


@router.post("/{ticket_id}/register", response_model=TicketOut)
async def register(ticket_id: DbId, actor: Center, service: TicketsDep) -> TicketOut:
    """A completed draft (e.g. from a voicemail) becomes a ticket to handle."""
    return _out(service, await service.register(ticket_id, actor), actor)


@router.post("/{ticket_id}/answer", response_model=TicketOut)
async def answer(
    ticket_id: DbId, body: AnswerIn, actor: Center, service: TicketsDep, found: ServicesDep
) -> TicketOut:
    """即时办结: answered on the call, perhaps from a knowledge-base entry (its id and version
    are kept with the ticket); the ticket goes on to the callback survey."""
    knowledge: KnowledgeRef | None = None
    if body.knowledge_entry_id is not None or body.knowledge_version is not None:
        if body.knowledge_entry_id is None or body.knowledge_version is None:
            raise InvalidInput("give both knowledge_entry_id and knowledge_version")
        if found.knowledge is None:
            raise InvalidInput("this engine has no knowledge base")
        knowledge = await found.knowledge.answer_ref(
            body.knowledge_entry_id, body.knowledge_version
        )
    return _out(service, await service.answer(ticket_id, body.answer, actor, knowledge), actor)


@router.post("/{ticket_id}/not-accept", response_model=TicketOut)
async def not_accept(
    ticket_id: DbId, body: ReasonIn, actor: Center, service: TicketsDep
) -> TicketOut:
    """不予受理: out of scope (110/119/120 emergencies, matters in court, ...), with the reason."""
    return _out(service, await service.not_accept(ticket_id, body.reason, actor), actor)


@router.post("/{ticket_id}/dispatch", response_model=TicketOut)
async def dispatch(
    ticket_id: DbId, body: DispatchIn, actor: Center, service: TicketsDep
) -> TicketOut:
    """交办 to a lead department, optionally with co-handling ones; the deadlines start now."""
    ticket = await service.dispatch(ticket_id, body.lead, body.co, actor, body.note)
    return _out(service, ticket, actor)


@router.post("/{ticket_id}/sign", response_model=TicketOut)
async def sign(ticket_id: DbId, body: NoteIn, actor: Department, service: TicketsDep) -> TicketOut:
    """签收 by the lead department."""
    return _out(service, await service.sign(ticket_id, actor, body.note), actor)


@router.post("/{ticket_id}/return", response_model=TicketOut)
async def give_back(
    ticket_id: DbId, body: ReasonIn, actor: Department, service: TicketsDep
) -> TicketOut:
    """退回: misrouted, back to the center for re-dispatch (within the return window)."""
    return _out(service, await service.give_back(ticket_id, body.reason, actor), actor)


@router.post("/{ticket_id}/extension", response_model=TicketOut)
async def request_extension(
    ticket_id: DbId, body: ExtensionIn, actor: Department, service: TicketsDep
) -> TicketOut:
    """延期: ask the center for more working days, before the deadline."""
    ticket = await service.request_extension(ticket_id, body.days, body.reason, actor)
    return _out(service, ticket, actor)


@router.post("/{ticket_id}/extension/decision", response_model=TicketOut)
async def decide_extension(
    ticket_id: DbId, body: DecisionIn, actor: Reviewer, service: TicketsDep
) -> TicketOut:
    ticket = await service.decide_extension(ticket_id, body.approve, actor, body.days, body.note)
    return _out(service, ticket, actor)


@router.post("/{ticket_id}/reply", response_model=TicketOut)
async def reply(
    ticket_id: DbId, body: ReplyIn, actor: Department, service: TicketsDep
) -> TicketOut:
    """办结回复: the department's result, for the center to review."""
    return _out(service, await service.reply(ticket_id, body.result, actor), actor)


@router.post("/{ticket_id}/review", response_model=TicketOut)
async def review(
    ticket_id: DbId, body: ReviewIn, actor: Reviewer, service: TicketsDep
) -> TicketOut:
    """Approve the reply (on to the callback), or send it back to be reworked (note required)."""
    return _out(service, await service.review(ticket_id, body.approve, actor, body.note), actor)


@router.post("/{ticket_id}/callback", response_model=TicketOut)
async def callback(
    ticket_id: DbId,
    body: CallbackIn,
    actor: Annotated[Principal, Depends(allowed(Permission.CALLBACK_TICKETS))],
    service: TicketsDep,
) -> TicketOut:
    """回访 result; dissatisfied sends the ticket back to the department to redo (重办)."""
    ticket = await service.record_callback(ticket_id, body.result, body.comment, actor)
    return _out(service, ticket, actor)


@router.post("/{ticket_id}/archive", response_model=TicketOut)
async def archive(ticket_id: DbId, body: NoteIn, actor: Reviewer, service: TicketsDep) -> TicketOut:
    """Archive a resolved or refused ticket; one awaiting its callback only with a reason."""
    return _out(service, await service.archive(ticket_id, actor, body.note), actor)


@router.post("/{ticket_id}/notes", response_model=TicketOut)
async def add_note(
    ticket_id: DbId,
    body: NoteRequired,
    actor: Annotated[Principal, Depends(allowed(Permission.NOTE_TICKETS))],
    service: TicketsDep,
) -> TicketOut:
    """A remark in the audit trail, e.g. a co-handling department's opinion (会办意见)."""
    return _out(service, await service.note(ticket_id, body.note, actor), actor)
