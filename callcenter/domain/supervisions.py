"""Supervision (督办): the center presses on a ticket with a note and a due time, until closed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import Forbidden, IllegalTransition, InvalidInput
from callcenter.domain.tickets import Action, AuditEntry, Ticket, entry


class SupervisionReason(StrEnum):
    OVERDUE = "overdue"  # 超期
    REPEATED_COMPLAINT = "repeated_complaint"  # 重复投诉
    LEADER_INSTRUCTION = "leader_instruction"  # 领导批示
    MEDIA_EXPOSURE = "media_exposure"  # 媒体曝光
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Supervision:
    ticket_id: int
    ticket_number: str
    reason: SupervisionReason
    note: str
    due_at: datetime
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None = None
    closed_by: str = ""
    closing_note: str = ""
    id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def overdue(self, now: datetime) -> bool:
        return self.is_open and now >= self.due_at


def _supervisor(actor: Principal, what: str) -> None:
    if actor.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden(f"only hotline supervisors may {what}")


def open_supervision(
    ticket: Ticket,
    reason: SupervisionReason,
    note: str,
    due_at: datetime,
    actor: Principal,
    now: datetime,
) -> tuple[Supervision, AuditEntry]:
    """Any ticket may be supervised, whatever its state: the ticket itself does not move."""
    _supervisor(actor, "open supervisions")
    assert ticket.id is not None
    if not note.strip():
        raise InvalidInput("a supervision needs a note saying what is expected")
    if due_at <= now:
        raise InvalidInput("the supervision's due time must be in the future")
    supervision = Supervision(
        ticket_id=ticket.id,
        ticket_number=ticket.number,
        reason=reason,
        note=note.strip(),
        due_at=due_at,
        opened_at=now,
        opened_by=actor.name,
    )
    return supervision, entry(
        ticket,
        ticket.status,
        Action.SUPERVISION_OPENED,
        actor,
        now,
        supervision.note,
        reason=reason.value,
        due_at=due_at.isoformat(),
    )


def close_supervision(
    supervision: Supervision, ticket: Ticket, note: str, actor: Principal, now: datetime
) -> tuple[Supervision, AuditEntry]:
    _supervisor(actor, "close supervisions")
    if not supervision.is_open:
        raise IllegalTransition(
            f"supervision {supervision.id} of ticket {ticket.number} is already closed"
        )
    if not note.strip():
        raise InvalidInput("closing a supervision needs a note on how it was resolved")
    closed = replace(supervision, closed_at=now, closed_by=actor.name, closing_note=note.strip())
    return closed, entry(
        ticket,
        ticket.status,
        Action.SUPERVISION_CLOSED,
        actor,
        now,
        closed.closing_note,
        supervision=supervision.id,
        late=now >= supervision.due_at,
    )
