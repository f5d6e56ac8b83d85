"""/tickets: create, read, search, edit and link tickets; what each viewer may see of them."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, model_validator

from callcenter.api.auth import allowed
from callcenter.api.ticketing import Ticketing, backends
from callcenter.api.types import DbId, Instant, Offset, SafeStr
from callcenter.domain.access import Permission, Principal
from callcenter.domain.duplicates import Suggestion
from callcenter.domain.errors import InvalidInput, NotFound
from callcenter.domain.ticket_search import total_text
from callcenter.domain.tickets import (
    AuditEntry,
    CallbackResult,
    Category,
    Handling,
    SlaColour,
    Source,
    Status,
    Ticket,
    TicketDetails,
    Urgency,
    caller_hidden,
    is_center,
    mask_phone,
    sla_colour,
)
from callcenter.storage.recording_files import VOICEMAIL_ID
from callcenter.storage.tickets import SORTS, TicketQuery

router = APIRouter(prefix="/tickets", tags=["tickets"])

Phone = Annotated[str, Field(max_length=32, pattern=r"^[0-9+\-]*$")]
Text = Annotated[SafeStr, Field(max_length=10_000)]
Reason = Annotated[SafeStr, Field(min_length=1, max_length=4_000)]
Short = Annotated[SafeStr, Field(max_length=64)]
Name = Annotated[SafeStr, Field(max_length=128)]
Address = Annotated[SafeStr, Field(max_length=255)]


class DetailsIn(BaseModel):
    caller_name: Name = ""
    caller_phone: Phone = ""
    address: Address = ""
    area: Short = ""
    category: Category | None = None
    topic: Short = ""
    content: Text = ""
    urgency: Urgency = Urgency.NORMAL
    confidential: bool = False

    def details(self) -> TicketDetails:
        return TicketDetails(**{name: getattr(self, name) for name in DetailsIn.model_fields})


class TicketIn(DetailsIn):
    source: Source = Source.CALL
    # the call the ticket came from: the ticket takes the call's recording
    call_id: DbId | None = None
    # or a voicemail the engine recorded, named by its call's linkedid (never by a path)
    voicemail: Annotated[str | None, Field(pattern=VOICEMAIL_ID.pattern)] = None
    # a voicemail may be saved incomplete, for an agent to finish and register
    draft: bool = False

    @model_validator(mode="before")
    @classmethod
    def _no_paths(cls, data: Any) -> Any:
        if isinstance(data, dict) and "recording" in data:
            raise ValueError(
                "a ticket's recording is named by call_id or voicemail, never by a path"
            )
        return data


class TicketEdit(BaseModel):
    """Only the fields given are changed."""

    caller_name: Name | None = None
    caller_phone: Phone | None = None
    address: Address | None = None
    area: Short | None = None
    category: Category | None = None
    topic: Short | None = None
    content: Text | None = None
    urgency: Urgency | None = None
    confidential: bool | None = None


class AssignmentOut(BaseModel):
    department: str
    role: str
    dispatched_at: datetime
    sign_due_at: datetime
    due_at: datetime
    signed_at: datetime | None
    returned_at: datetime | None
    completed_at: datetime | None
    ended_at: datetime | None
    extended_days: int
    redo_count: int


class ExtensionOut(BaseModel):
    id: int | None
    department: str
    days: int
    reason: str
    requested_at: datetime
    requested_by: str
    outcome: str | None
    granted_days: int
    decided_at: datetime | None
    decided_by: str
    note: str


class CallbackOut(BaseModel):
    result: CallbackResult
    comment: str
    at: datetime
    by: str
    department: str | None


class TicketSummary(BaseModel):
    """A row of a ticket list: phone numbers masked for everyone but the center."""

    id: int
    number: str
    status: Status
    category: Category | None
    topic: str
    urgency: Urgency
    confidential: bool
    caller_hidden: bool
    caller_name: str | None
    caller_phone: str | None
    address: str
    summary: str
    created_at: datetime
    lead_department: str | None
    due_at: datetime | None
    sla: SlaColour | None
    redo_count: int


class KnowledgeOut(BaseModel):
    """The knowledge-base entry version the ticket was answered from (直接答复)."""

    entry_id: int
    version: int
    title: str


class TicketOut(TicketSummary):
    query_code: str | None
    source: Source
    area: str
    content: str
    call_id: int | None
    recording: str | None
    handling: Handling | None
    resolution: str
    reply: str
    created_by: str
    co_departments: list[str]
    round_started_at: datetime | None
    sign_due_at: datetime | None
    return_due_at: datetime | None
    warn_at: datetime | None
    signed_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    archived_at: datetime | None
    rework_count: int
    satisfaction: CallbackResult | None
    assignments: list[AssignmentOut]
    extensions: list[ExtensionOut]
    callbacks: list[CallbackOut]
    knowledge: KnowledgeOut | None = None


def summary(ticket: Ticket, viewer: Principal, now: datetime) -> TicketSummary:
    return TicketSummary(**_summary_fields(ticket, viewer, now, masked=not is_center(viewer)))


def _summary_fields(
    ticket: Ticket, viewer: Principal, now: datetime, masked: bool
) -> dict[str, Any]:
    assert ticket.id is not None
    details = ticket.details
    hidden = caller_hidden(ticket, viewer)
    phone = None if hidden else details.caller_phone
    lead = ticket.lead
    return {
        "id": ticket.id,
        "number": ticket.number,
        "status": ticket.status,
        "category": details.category,
        "topic": details.topic,
        "urgency": details.urgency,
        "confidential": details.confidential,
        "caller_hidden": hidden,
        "caller_name": None if hidden else details.caller_name,
        "caller_phone": mask_phone(phone) if phone and masked else phone,
        "address": details.address,
        "summary": details.content[:120],
        "created_at": ticket.created_at,
        "lead_department": lead.department if lead else None,
        "due_at": ticket.due_at,
        "sla": sla_colour(ticket, now),
        "redo_count": ticket.redo_count,
    }


def detail(ticket: Ticket, viewer: Principal, now: datetime) -> TicketOut:
    """The full ticket; departments never see a hidden caller, nor the citizen's query code."""
    hidden = caller_hidden(ticket, viewer)
    center = is_center(viewer)
    return TicketOut(
        **_summary_fields(ticket, viewer, now, masked=False),
        query_code=ticket.query_code if center else None,
        source=ticket.source,
        area=ticket.details.area,
        content=ticket.details.content,
        # the recording carries the caller's voice: hidden with the caller
        call_id=None if hidden else ticket.call_id,
        recording=None if hidden else ticket.recording,
        handling=ticket.handling,
        resolution=ticket.resolution,
        reply=ticket.reply,
        created_by=ticket.created_by,
        co_departments=ticket.departments[1:] if ticket.lead else ticket.departments,
        round_started_at=ticket.round_started_at,
        sign_due_at=ticket.sign_due_at,
        return_due_at=ticket.return_due_at,
        warn_at=ticket.warn_at,
        signed_at=ticket.signed_at,
        replied_at=ticket.replied_at,
        closed_at=ticket.closed_at,
        archived_at=ticket.archived_at,
        rework_count=ticket.rework_count,
        satisfaction=ticket.satisfaction,
        knowledge=(
            KnowledgeOut(
                entry_id=ticket.knowledge.entry_id,
                version=ticket.knowledge.version,
                title=ticket.knowledge.title,
            )
            if ticket.knowledge is not None
            else None
        ),
        assignments=[
            AssignmentOut(
                department=a.department,
                role=a.role.value,
                dispatched_at=a.dispatched_at,
                sign_due_at=a.sign_due_at,
                due_at=a.due_at,
                signed_at=a.signed_at,
                returned_at=a.returned_at,
                completed_at=a.completed_at,
                ended_at=a.ended_at,
                extended_days=a.extended_days,
                redo_count=a.redo_count,
            )
            for a in ticket.assignments
        ],
        extensions=[
            ExtensionOut(
                id=e.id,
                department=e.department,
                days=e.days,
                reason=e.reason,
                requested_at=e.requested_at,
                requested_by=e.requested_by,
                outcome=e.outcome.value if e.outcome else None,
                granted_days=e.granted_days,
                decided_at=e.decided_at,
                decided_by=e.decided_by,
                note=e.note,
            )
            for e in ticket.extensions
        ],
        callbacks=[
            CallbackOut(
                result=c.result, comment=c.comment, at=c.at, by=c.by, department=c.department
            )
            for c in ticket.callbacks
        ],
    )


class SuggestionOut(BaseModel):
    ticket_id: int
    number: str
    created_at: datetime
    status: str
    score: float
    same_phone: bool
    same_address: bool

    @classmethod
    def of(cls, s: Suggestion) -> SuggestionOut:
        return cls(
            ticket_id=s.ticket_id,
            number=s.number,
            created_at=s.created_at,
            status=s.status,
            score=s.score,
            same_phone=s.same_phone,
            same_address=s.same_address,
        )


class CreatedOut(BaseModel):
    ticket: TicketOut
    # earlier tickets from the same phone or address with similar content (判重)
    duplicates: list[SuggestionOut]


class TicketPage(BaseModel):
    # counted up to 10,000: beyond that total_capped is true and total_text says "10000+"
    total: int
    total_capped: bool = False
    total_text: str = ""
    limit: int
    offset: int
    items: list[TicketSummary]
    # the next page by keyset (sort by created_at only): pass it back as cursor=
    next_cursor: str | None = None


class EventOut(BaseModel):
    at: datetime
    action: str
    actor: str
    actor_role: str
    actor_subject: str | None
    from_status: Status | None
    to_status: Status
    note: str
    details: dict[str, Any]


_CALLER_FIELDS = {"caller_name", "caller_phone"}


def event_out(item: AuditEntry, hide_caller: bool) -> EventOut:
    details = dict(item.details)
    if hide_caller and "changed" in details:
        details["changed"] = {
            name: ["(hidden)", "(hidden)"] if name in _CALLER_FIELDS else values
            for name, values in details["changed"].items()
        }
    return EventOut(
        at=item.at,
        action=item.action.value,
        actor=item.actor,
        actor_role=item.actor_role,
        actor_subject=item.actor_subject,
        from_status=item.from_status,
        to_status=item.to_status,
        note=item.note,
        details=details,
    )


class LinkIn(BaseModel):
    ticket_id: DbId
    note: Annotated[SafeStr, Field(max_length=2_000)] = ""


class LinkOut(BaseModel):
    ticket_id: int
    number: str
    linked_at: datetime
    linked_by: str
    note: str


class LookupIn(BaseModel):
    query_code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]
    phone: Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[0-9+\-]+$")]


class LookupOut(BaseModel):
    """What a citizen is told about their ticket (by phone or on the web)."""

    number: str
    status: Status
    category: Category | None
    created_at: datetime
    due_at: datetime | None
    result: str | None


Backends = Annotated[Ticketing, Depends(backends)]


@router.post("", status_code=201, response_model=CreatedOut)
async def create_ticket(
    body: TicketIn,
    actor: Annotated[Principal, Depends(allowed(Permission.CREATE_TICKETS))],
    ticketing: Backends,
) -> CreatedOut:
    repo = ticketing.tickets
    recording = ""
    if body.voicemail is not None:
        files = ticketing.files
        found_file = await asyncio.to_thread(files.voicemail, body.voicemail) if files else None
        if found_file is None:
            raise InvalidInput(f"voicemail {body.voicemail} does not exist")
        recording = found_file
    ticket, found = await repo.create(
        body.details(),
        actor,
        source=body.source,
        call_id=body.call_id,
        recording=recording,
        draft=body.draft,
    )
    return CreatedOut(
        ticket=detail(ticket, actor, repo.clock()),
        duplicates=[SuggestionOut.of(s) for s in found],
    )


@router.get("", response_model=TicketPage)
async def list_tickets(
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    ticketing: Backends,
    number: Annotated[SafeStr | None, Query(max_length=32)] = None,
    status: Annotated[list[Status] | None, Query()] = None,
    category: Category | None = None,
    topic: Annotated[SafeStr | None, Query(max_length=64)] = None,
    department: Annotated[SafeStr | None, Query(max_length=64)] = None,
    since: Annotated[Instant | None, Query(alias="from")] = None,
    until: Annotated[Instant | None, Query(alias="to")] = None,
    sla: SlaColour | None = None,
    q: Annotated[
        SafeStr | None, Query(max_length=200, description="words all found in content")
    ] = None,
    phone: Annotated[SafeStr | None, Query(max_length=32)] = None,
    sort: Annotated[str, Query(pattern="^-?(" + "|".join(SORTS) + ")$")] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
    cursor: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="next_cursor of the previous page (deep pages: no OFFSET scan)",
        ),
    ] = None,
    archive: Annotated[
        bool,
        Query(description="include tickets moved to the archive (the center only)"),
    ] = False,
) -> TicketPage:
    if since is not None and until is not None and until <= since:
        raise InvalidInput("'to' must be later than 'from'")
    query = TicketQuery(
        number=number,
        statuses=tuple(status or ()),
        category=category,
        topic=topic,
        department=department,
        since=since,
        until=until,
        sla=sla,
        text=q,
        phone=phone,
        sort=sort,
        limit=limit,
        offset=offset,
        cursor=cursor,
        archive=archive,
    )
    repo = ticketing.tickets
    page = await repo.page(query, viewer)
    now = repo.clock()
    return TicketPage(
        total=page.total,
        total_capped=page.capped,
        total_text=total_text(page.total, page.capped),
        limit=limit,
        offset=offset,
        items=[summary(ticket, viewer, now) for ticket in page.items],
        next_cursor=page.next_cursor,
    )


@router.post("/lookup", response_model=LookupOut)
async def lookup_ticket(
    body: LookupIn,
    _actor: Annotated[Principal, Depends(allowed(Permission.CREATE_TICKETS))],
    ticketing: Backends,
) -> LookupOut:
    """Citizen self-service through the center (IVR, web desk): query code + phone."""
    ticket = await ticketing.tickets.lookup(body.query_code, body.phone)
    if ticket is None:
        raise NotFound("no ticket matches this query code and phone number")
    done = ticket.status in (Status.AWAITING_CALLBACK, Status.RESOLVED, Status.ARCHIVED)
    answer = ticket.reply if ticket.handling is Handling.DISPATCHED else ticket.resolution
    if ticket.status is Status.NOT_ACCEPTED:
        done, answer = True, ticket.resolution
    return LookupOut(
        number=ticket.number,
        status=ticket.status,
        category=ticket.details.category,
        created_at=ticket.created_at,
        due_at=ticket.due_at,
        result=answer if done else None,
    )


@router.get("/{ticket_id}", response_model=TicketOut)
async def get_ticket(
    ticket_id: DbId,
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    ticketing: Backends,
) -> TicketOut:
    repo = ticketing.tickets
    return detail(await repo.get(ticket_id, viewer), viewer, repo.clock())


@router.patch("/{ticket_id}", response_model=TicketOut)
async def edit_ticket(
    ticket_id: DbId,
    body: TicketEdit,
    actor: Annotated[Principal, Depends(allowed(Permission.DISPATCH_TICKETS))],
    ticketing: Backends,
) -> TicketOut:
    repo = ticketing.tickets
    changes = body.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise InvalidInput("fields cannot be set to null; send an empty text to clear one")
    ticket = await repo.edit(ticket_id, changes, actor)
    return detail(ticket, actor, repo.clock())


@router.get("/{ticket_id}/events", response_model=list[EventOut])
async def ticket_events(
    ticket_id: DbId,
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    ticketing: Backends,
) -> list[EventOut]:
    """The audit trail, oldest first."""
    repo = ticketing.tickets
    ticket = await repo.get(ticket_id, viewer)
    hide = caller_hidden(ticket, viewer)
    return [event_out(item, hide) for item in await repo.events(ticket_id, viewer)]


@router.get("/{ticket_id}/duplicates", response_model=list[SuggestionOut])
async def ticket_duplicates(
    ticket_id: DbId,
    viewer: Annotated[Principal, Depends(allowed(Permission.DISPATCH_TICKETS))],
    ticketing: Backends,
) -> list[SuggestionOut]:
    """Earlier tickets (within the policy's window) that look like the same matter."""
    return [SuggestionOut.of(s) for s in await ticketing.tickets.duplicates(ticket_id, viewer)]


@router.get("/{ticket_id}/links", response_model=list[LinkOut])
async def ticket_links(
    ticket_id: DbId,
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    ticketing: Backends,
) -> list[LinkOut]:
    links = await ticketing.tickets.links(ticket_id, viewer)
    return [
        LinkOut(
            ticket_id=link.ticket_id,
            number=link.number,
            linked_at=link.linked_at,
            linked_by=link.linked_by,
            note=link.note,
        )
        for link in links
    ]


@router.post("/{ticket_id}/links", status_code=201, response_model=list[LinkOut])
async def link_ticket(
    ticket_id: DbId,
    body: LinkIn,
    actor: Annotated[Principal, Depends(allowed(Permission.DISPATCH_TICKETS))],
    ticketing: Backends,
) -> list[LinkOut]:
    """Mark another ticket as the same matter (a duplicate or repeated complaint)."""
    await ticketing.tickets.link(ticket_id, body.ticket_id, actor, body.note.strip())
    return await ticket_links(ticket_id, actor, ticketing)
