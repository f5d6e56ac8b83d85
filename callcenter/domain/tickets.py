"""Tickets (工单): the work order as data, who may see what of it, SLA colour, audit entries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import Forbidden


class Category(StrEnum):
    CONSULTATION = "consultation"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议
    PRAISE = "praise"  # 表扬


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Source(StrEnum):
    CALL = "call"
    VOICEMAIL = "voicemail"


class Status(StrEnum):
    DRAFT = "draft"  # from a voicemail, to be completed by an agent
    PENDING = "pending"  # registered, the center decides how to handle it
    DISPATCHED = "dispatched"  # 交办: waiting for the lead department to sign for it
    IN_PROGRESS = "in_progress"  # 签收: the department works on it
    EXTENSION_REQUESTED = "extension_requested"  # 延期 asked, the center decides
    REPLIED = "replied"  # 办结回复: the center reviews the reply
    RETURNED = "returned"  # 退回: misrouted, back at the center for re-dispatch
    AWAITING_CALLBACK = "awaiting_callback"  # 回访 pending
    RESOLVED = "resolved"  # the citizen was (basically) satisfied
    NOT_ACCEPTED = "not_accepted"  # 不予受理
    ARCHIVED = "archived"


class Handling(StrEnum):
    DIRECT = "direct"  # 即时办结
    DISPATCHED = "dispatched"  # 交办
    NOT_ACCEPTED = "not_accepted"  # 不予受理


class AssignmentRole(StrEnum):
    LEAD = "lead"  # 主办
    CO = "co"  # 协办


class CallbackResult(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


class ExtensionOutcome(StrEnum):
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"  # the department replied before the center decided


class SlaColour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class Action(StrEnum):
    CREATED = "created"
    EDITED = "edited"
    REGISTERED = "registered"
    ANSWERED = "answered"
    NOT_ACCEPTED = "not_accepted"
    DISPATCHED = "dispatched"
    SIGNED = "signed"
    RETURNED = "returned"
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_APPROVED = "extension_approved"
    EXTENSION_REFUSED = "extension_refused"
    REPLIED = "replied"
    REPLY_APPROVED = "reply_approved"
    REPLY_SENT_BACK = "reply_sent_back"
    CALLBACK = "callback"
    REDO = "redo"
    ARCHIVED = "archived"
    NOTE = "note"
    LINKED = "linked"
    SUPERVISION_OPENED = "supervision_opened"
    SUPERVISION_CLOSED = "supervision_closed"


CENTER_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
# the department's clock runs in these states; the SLA colour applies to them only
HANDLING_STATUSES = frozenset({Status.DISPATCHED, Status.IN_PROGRESS, Status.EXTENSION_REQUESTED})
OPEN_STATUSES = frozenset(Status) - {Status.RESOLVED, Status.NOT_ACCEPTED, Status.ARCHIVED}
_DEFAULT_LIMITS = {
    Category.CONSULTATION: 5,
    Category.HELP: 5,
    Category.COMPLAINT: 15,
    Category.REPORT: 30,
    Category.SUGGESTION: 15,
    Category.PRAISE: 5,
}


class TicketPolicy(BaseModel):
    """The deadline rules a hotline office sets; tickets keep the deadlines computed when sent."""

    # NaN or an infinity compares false with every bound: refused outright
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # handling limit per category, in working days
    limits: dict[Category, Annotated[int, Field(ge=1, le=365)]] = Field(
        default_factory=lambda: dict(_DEFAULT_LIMITS)
    )
    sign_days: int = Field(default=1, ge=1, le=30)
    # a misrouted ticket may be returned within this much working-day time of its dispatch
    return_hours: int = Field(default=24, ge=1, le=720)
    # yellow once less than this share of the (working) time is left
    warn_share: float = Field(default=0.2, gt=0, lt=1)
    max_extension_days: int = Field(default=15, ge=1, le=365)
    duplicate_days: int = Field(default=30, ge=1, le=365)
    duplicate_threshold: float = Field(default=0.3, gt=0, le=1)

    @field_validator("limits", mode="before")
    @classmethod
    def _complete(cls, value: Any) -> Any:
        # a partial table only overrides the categories it names
        return {**_DEFAULT_LIMITS, **value} if isinstance(value, Mapping) else value

    def limit(self, category: Category) -> int:
        return self.limits[category]


@dataclass(frozen=True, slots=True)
class TicketDetails:
    """What the citizen told us: the part of a ticket the center may edit before dispatch."""

    caller_name: str = ""
    caller_phone: str = ""
    address: str = ""
    area: str = ""
    category: Category | None = None
    topic: str = ""
    content: str = ""
    urgency: Urgency = Urgency.NORMAL
    confidential: bool = False

    def missing(self) -> list[str]:
        """Fields a registered (non-draft) ticket must have."""
        gaps = [] if self.category is not None else ["category"]
        return gaps + ([] if self.content.strip() else ["content"])


@dataclass(frozen=True, slots=True)
class Assignment:
    """One department's share of a ticket (lead or co-handling), kept after it ends (statistics)."""

    department: str
    role: AssignmentRole
    dispatched_at: datetime
    sign_due_at: datetime
    # the first round's deadline (with approved extensions): what "on time" is judged against
    due_at: datetime
    signed_at: datetime | None = None
    returned_at: datetime | None = None
    completed_at: datetime | None = None
    ended_at: datetime | None = None
    extended_days: int = 0
    redo_count: int = 0
    id: int | None = None

    @property
    def active(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True, slots=True)
class Extension:
    department: str
    days: int
    reason: str
    requested_at: datetime
    requested_by: str
    outcome: ExtensionOutcome | None = None
    granted_days: int = 0
    decided_at: datetime | None = None
    decided_by: str = ""
    note: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Callback:
    result: CallbackResult
    comment: str
    at: datetime
    by: str
    department: str | None = None  # the lead department judged by this survey
    id: int | None = None


@dataclass(frozen=True, slots=True)
class KnowledgeRef:
    """The knowledge-base entry version a ticket was answered from (直接答复)."""

    entry_id: int
    version: int
    title: str


@dataclass(frozen=True, slots=True)
class Ticket:
    number: str
    query_code: str
    source: Source
    details: TicketDetails
    status: Status
    created_at: datetime
    created_by: str
    call_id: int | None = None
    recording: str = ""
    handling: Handling | None = None
    resolution: str = ""  # the direct answer, or why it was not accepted
    reply: str = ""  # the department's latest reply
    # the current round of department work (a redo starts a new one)
    round_started_at: datetime | None = None
    sign_due_at: datetime | None = None
    return_due_at: datetime | None = None
    due_at: datetime | None = None
    warn_at: datetime | None = None
    signed_at: datetime | None = None
    replied_at: datetime | None = None
    closed_at: datetime | None = None
    archived_at: datetime | None = None
    redo_count: int = 0
    rework_count: int = 0
    satisfaction: CallbackResult | None = None
    assignments: tuple[Assignment, ...] = ()
    extensions: tuple[Extension, ...] = ()
    callbacks: tuple[Callback, ...] = ()
    knowledge: KnowledgeRef | None = None
    id: int | None = None

    @property
    def lead(self) -> Assignment | None:
        for assignment in self.assignments:
            if assignment.active and assignment.role is AssignmentRole.LEAD:
                return assignment
        return None

    @property
    def departments(self) -> list[str]:
        """Departments the ticket is currently dispatched to, lead first."""
        active = [a for a in self.assignments if a.active]
        return [
            a.department for a in sorted(active, key=lambda a: a.role is not AssignmentRole.LEAD)
        ]

    @property
    def pending_extension(self) -> Extension | None:
        return next((e for e in self.extensions if e.outcome is None), None)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One appended line of a ticket's history: who, when, from → to, why."""

    action: Action
    at: datetime
    actor: str
    actor_role: str
    actor_subject: str | None
    from_status: Status | None
    to_status: Status
    note: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Change:
    ticket: Ticket
    entry: AuditEntry


def entry(
    ticket: Ticket | None,
    to: Status,
    action: Action,
    actor: Principal,
    now: datetime,
    note: str = "",
    **details: Any,
) -> AuditEntry:
    return AuditEntry(
        action=action,
        at=now,
        actor=actor.name,
        actor_role=actor.role.value,
        actor_subject=actor.subject,
        from_status=ticket.status if ticket else None,
        to_status=to,
        note=note,
        details=details,
    )


# -- who may see what ----------------------------------------------------------------------------


def is_center(principal: Principal) -> bool:
    return principal.role in CENTER_ROLES


def visible_to(ticket: Ticket, principal: Principal) -> bool:
    """The center sees every ticket; a department only those currently dispatched to it."""
    if is_center(principal):
        return True
    return principal.role is Role.DEPARTMENT and principal.subject in ticket.departments


# which tickets a viewer may see: None for every ticket (the center), else a department's code
Scope = str | None


def ticket_scope(principal: Principal) -> Scope:
    """visible_to as a scope a query can apply: the center sees every ticket, a department
    handler those dispatched to the department the token names."""
    if is_center(principal):
        return None
    if principal.role is not Role.DEPARTMENT or not principal.subject:
        raise Forbidden("this token is not bound to a department")
    return principal.subject


def caller_hidden(ticket: Ticket, principal: Principal) -> bool:
    """Reporters (举报) and citizens who asked for confidentiality stay unknown to departments."""
    return not is_center(principal) and (
        ticket.details.category is Category.REPORT or ticket.details.confidential
    )


# a number shorter than this (a service number, a fragment) is hidden whole
MASK_MIN_LENGTH = 7
MASK_HIDDEN = 4


def mask_phone(phone: str) -> str:
    """138****5678: enough to recognise a number, not to dial it, whatever its length.

    One rule for mobiles, landlines with or without their area code, and international numbers
    (dashes and spaces dropped): at least four digits are hidden, and of the rest at most the
    last four and then the first three are shown."""
    digits = "".join(c for c in phone if c not in "- ")
    n = len(digits)
    if n < MASK_MIN_LENGTH:
        return "*" * n
    tail = min(4, n - MASK_HIDDEN)
    head = min(3, n - MASK_HIDDEN - tail)
    return digits[:head] + "*" * (n - head - tail) + digits[n - tail :]


def require_center(principal: Principal, what: str) -> None:
    if not is_center(principal):
        raise Forbidden(f"only the hotline center may {what}")


def sla_colour(ticket: Ticket, now: datetime) -> SlaColour | None:
    return sla_colour_at(ticket.status, ticket.due_at, ticket.warn_at, now)


def sla_colour_at(
    status: Status, due_at: datetime | None, warn_at: datetime | None, now: datetime
) -> SlaColour | None:
    """Green within the limit, yellow when little time is left, red when overdue; no colour out
    of a department's hands or without a deadline. A ticket without a warning time stays green
    until it is due. (storage/tickets.sla_conditions says the same in SQL; a test holds them
    together.)"""
    if status not in HANDLING_STATUSES or due_at is None:
        return None
    if now >= due_at:
        return SlaColour.RED
    if warn_at is not None and now >= warn_at:
        return SlaColour.YELLOW
    return SlaColour.GREEN


def plain(value: Any) -> Any:
    """A JSON-friendly form of a value for the audit trail."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value
