"""/tickets: create, read, search, edit and link tickets; what each viewer may see of them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Self

from fastapi import APIRouter, Depends, Query
from pydantic import (
    AliasPath,
    BaseModel,
    Field,
    ModelWrapValidatorHandler,
    ValidationInfo,
    field_validator,
    model_validator,
)

from callcenter.api.auth import allowed
from callcenter.api.deps import TicketingDep, TicketsDep
from callcenter.api.types import DbId, FromDomain, Instant, Offset, SafeStr
from callcenter.domain.access import Permission, Principal
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


class AssignmentOut(FromDomain):
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


class ExtensionOut(FromDomain):
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


class CallbackOut(FromDomain):
    result: CallbackResult
    comment: str
    at: datetime
    by: str
    department: str | None


@dataclass(frozen=True, slots=True)
class Viewing:
    """Who looks at a ticket, and when: what they are shown depends on both."""

    viewer: Principal
    now: datetime


def _details(name: str) -> Any:
    return Field(validation_alias=AliasPath("details", name))


class TicketSummary(FromDomain):
    """A row of a ticket list: phone numbers masked for everyone but the center."""

    # a list masks the caller's number for departments; the full ticket does not
    _MASKS: ClassVar[bool] = True

    id: int
    number: str
    status: Status
    category: Category | None = _details("category")
    topic: str = _details("topic")
    urgency: Urgency = _details("urgency")
    confidential: bool = _details("confidential")
    caller_hidden: bool = False
    caller_name: str | None = _details("caller_name")
    caller_phone: str | None = _details("caller_phone")
    address: str = _details("address")
    summary: str = _details("content")
    created_at: datetime
    lead_department: str | None = Field(None, validation_alias=AliasPath("lead", "department"))
    due_at: datetime | None
    sla: SlaColour | None = None
    redo_count: int

    @field_validator("summary")
    @classmethod
    def _short(cls, content: str) -> str:
        return content[:120]

    @model_validator(mode="wrap")
    @classmethod
    def _as_seen(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        out = handler(data)
        if isinstance(data, Ticket):
            if not isinstance(info.context, Viewing):
                raise TypeError("a ticket is shown to someone: validate with context=Viewing")
            out._seen_by(data, info.context)
        return out

    def _seen_by(self, ticket: Ticket, view: Viewing) -> None:
        self.caller_hidden = caller_hidden(ticket, view.viewer)
        if self.caller_hidden:
            self.caller_name = self.caller_phone = None
        elif self.caller_phone and self._MASKS and not is_center(view.viewer):
            self.caller_phone = mask_phone(self.caller_phone)
        self.sla = sla_colour(ticket, view.now)


class KnowledgeOut(FromDomain):
    """The knowledge-base entry version the ticket was answered from (直接答复)."""

    entry_id: int
    version: int
    title: str


class TicketOut(TicketSummary):
    """The full ticket; departments never see a hidden caller, nor the citizen's query code."""

    _MASKS: ClassVar[bool] = False

    query_code: str | None
    source: Source
    area: str = _details("area")
    content: str = _details("content")
    call_id: int | None
    recording: str | None
    handling: Handling | None
    resolution: str
    reply: str
    created_by: str
    co_departments: list[str] = Field(validation_alias="departments")
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

    def _seen_by(self, ticket: Ticket, view: Viewing) -> None:
        super()._seen_by(ticket, view)
        if not is_center(view.viewer):
            self.query_code = None
        if self.caller_hidden:
            # the recording carries the caller's voice: hidden with the caller
            self.call_id = self.recording = None
        if ticket.lead is not None:
            self.co_departments = self.co_departments[1:]


def summary(ticket: Ticket, viewer: Principal, now: datetime) -> TicketSummary:
    return TicketSummary.model_validate(ticket, context=Viewing(viewer, now))


def detail(ticket: Ticket, viewer: Principal, now: datetime) -> TicketOut:
    return TicketOut.model_validate(ticket, context=Viewing(viewer, now))


class SuggestionOut(FromDomain):
    ticket_id: int
    number: str
    created_at: datetime
    status: str
    score: float
    same_phone: bool
    same_address: bool


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


class EventOut(FromDomain):
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
    out = EventOut.model_validate(item)
    if hide_caller and "changed" in out.details:
        out.details["changed"] = {
            name: ["(hidden)", "(hidden)"] if name in _CALLER_FIELDS else values
            for name, values in out.details["changed"].items()
        }
    return out


class LinkIn(BaseModel):
    ticket_id: DbId
    note: Annotated[SafeStr, Field(max_length=2_000)] = ""


class LinkOut(FromDomain):
    ticket_id: int
    number: str
    linked_at: datetime
    linked_by: str
    note: str


class LookupIn(BaseModel):
    query_code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]
    phone: Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[0-9+\-]+$")]


class LookupOut(FromDomain):
    """What a citizen is told about their ticket (by phone or on the web)."""

    number: str
    status: Status
    category: Category | None = _details("category")
    created_at: datetime
    due_at: datetime | None
    result: str | None = None


@router.post("", status_code=201, response_model=CreatedOut)
async def create_ticket(
    body: TicketIn,
    actor: Annotated[Principal, Depends(allowed(Permission.CREATE_TICKETS))],
    ticketing: TicketingDep,
) -> CreatedOut:
    service = ticketing.tickets
    recording = ""
    if body.voicemail is not None:
        files = ticketing.files
        found_file = await asyncio.to_thread(files.voicemail, body.voicemail) if files else None
        if found_file is None:
            raise InvalidInput(f"voicemail {body.voicemail} does not exist")
        recording = found_file
    ticket, found = await service.create(
        body.details(),
        actor,
        source=body.source,
        call_id=body.call_id,
        recording=recording,
        draft=body.draft,
    )
    return CreatedOut(
        ticket=detail(ticket, actor, service.clock()),
        duplicates=[SuggestionOut.model_validate(s) for s in found],
    )


@router.get("", response_model=TicketPage)
async def list_tickets(
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    service: TicketsDep,
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
    page = await service.page(query, viewer)
    now = service.clock()
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
    service: TicketsDep,
) -> LookupOut:
    """Citizen self-service through the center (IVR, web desk): query code + phone."""
    ticket = await service.lookup(body.query_code, body.phone)
    if ticket is None:
        raise NotFound("no ticket matches this query code and phone number")
    done = ticket.status in (Status.AWAITING_CALLBACK, Status.RESOLVED, Status.ARCHIVED)
    answer = ticket.reply if ticket.handling is Handling.DISPATCHED else ticket.resolution
    if ticket.status is Status.NOT_ACCEPTED:
        done, answer = True, ticket.resolution
    out = LookupOut.model_validate(ticket)
    out.result = answer if done else None
    return out


@router.get("/{ticket_id}", response_model=TicketOut)
async def get_ticket(
    ticket_id: DbId,
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    service: TicketsDep,
) -> TicketOut:
    return detail(await service.get(ticket_id, viewer), viewer, service.clock())


@router.patch("/{ticket_id}", response_model=TicketOut)
async def edit_ticket(
    ticket_id: DbId,
    body: TicketEdit,
    actor: Annotated[Principal, Depends(allowed(Permission.DISPATCH_TICKETS))],
    service: TicketsDep,
) -> TicketOut:
    changes = body.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise InvalidInput("fields cannot be set to null; send an empty text to clear one")
    ticket = await service.edit(ticket_id, changes, actor)
    return detail(ticket, actor, service.clock())


@router.get("/{ticket_id}/events", response_model=list[EventOut])
async def ticket_events(
    ticket_id: DbId,
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    service: TicketsDep,
) -> list[EventOut]:
    """The audit trail, oldest first."""
    ticket = await service.get(ticket_id, viewer)
    hide = caller_hidden(ticket, viewer)
    return [event_out(item, hide) for item in await service.events(ticket_id, viewer)]


@router.get("/{ticket_id}/duplicates", response_model=list[SuggestionOut])
async def ticket_duplicates(
    ticket_id: DbId,
    viewer: Annotated[Principal, Depends(allowed(Permission.DISPATCH_TICKETS))],
    service: TicketsDep,
) -> list[SuggestionOut]:
    """Earlier tickets (within the policy's window) that look like the same matter."""
    return [SuggestionOut.model_validate(s) for s in await service.duplicates(ticket_id, viewer)]


@router.get("/{ticket_id}/links", response_model=list[LinkOut])
async def ticket_links(
    ticket_id: DbId,
    viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    service: TicketsDep,
) -> list[LinkOut]:
    return [LinkOut.model_validate(link) for link in await service.links(ticket_id, viewer)]


@router.post("/{ticket_id}/links", status_code=201, response_model=list[LinkOut])
async def link_ticket(
    ticket_id: DbId,
    body: LinkIn,
    actor: Annotated[Principal, Depends(allowed(Permission.DISPATCH_TICKETS))],
    service: TicketsDep,
) -> list[LinkOut]:
    """Mark another ticket as the same matter (a duplicate or repeated complaint)."""
    await service.link(ticket_id, body.ticket_id, actor, body.note.strip())
    return await ticket_links(ticket_id, actor, service)
