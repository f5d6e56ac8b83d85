"""Copying tickets between the domain's dataclasses and their table rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import raiseload

from callcenter.domain.duplicates import address_key
from callcenter.domain.reports import district_of
from callcenter.domain.tickets import (
    OPEN_STATUSES,
    Action,
    Assignment,
    AssignmentRole,
    AuditEntry,
    Callback,
    CallbackResult,
    Category,
    Extension,
    ExtensionOutcome,
    Handling,
    KnowledgeRef,
    Source,
    Status,
    Ticket,
    TicketDetails,
    Urgency,
)
from callcenter.storage.ticket_figures import CALLBACK_COLUMNS, Figures, inputs_of
from callcenter.storage.ticket_tables import (
    AssignmentRow,
    CallbackRow,
    EventRow,
    ExtensionRow,
    TicketRow,
)


def listed(t: Any) -> tuple[Any, ...]:
    """Loader options for a list of tickets (t: TicketRow, its archive or an alias of either):
    a row of a list shows the ticket and its lead department, so its assignments are read
    (one statement for the page) and its extensions and callbacks are not: read them and
    SQLAlchemy raises; to_ticket(row, listed=True) leaves them empty in the Ticket (a ticket's
    own page reads them). Two round trips fewer per page: a first page of 50 over 50k tickets
    went from about 42 to 21 ms."""
    return (raiseload(t.extensions), raiseload(t.callbacks))


def to_ticket(row: TicketRow, *, listed: bool = False) -> Ticket:
    """The ticket in a row; ``listed``: a row loaded with listed()'s options (no extensions,
    no callbacks)."""
    return Ticket(
        id=row.id,
        number=row.number,
        query_code=row.query_code,
        source=Source(row.source),
        details=TicketDetails(
            caller_name=row.caller_name,
            caller_phone=row.caller_phone,
            address=row.address,
            area=row.area,
            category=Category(row.category) if row.category else None,
            topic=row.topic_code or "",
            content=row.content,
            urgency=Urgency(row.urgency),
            confidential=row.confidential,
        ),
        status=Status(row.status),
        created_at=row.created_at,
        created_by=row.created_by,
        call_id=row.call_id,
        recording=row.recording,
        handling=Handling(row.handling) if row.handling else None,
        resolution=row.resolution,
        reply=row.reply,
        round_started_at=row.round_started_at,
        sign_due_at=row.sign_due_at,
        return_due_at=row.return_due_at,
        due_at=row.due_at,
        warn_at=row.warn_at,
        signed_at=row.signed_at,
        replied_at=row.replied_at,
        closed_at=row.closed_at,
        archived_at=row.archived_at,
        redo_count=row.redo_count,
        rework_count=row.rework_count,
        satisfaction=CallbackResult(row.satisfaction) if row.satisfaction else None,
        knowledge=(
            KnowledgeRef(row.knowledge_entry_id, row.knowledge_version, row.knowledge_title or "")
            if row.knowledge_entry_id is not None and row.knowledge_version is not None
            else None
        ),
        assignments=tuple(
            Assignment(
                id=a.id,
                department=a.department_code,
                role=AssignmentRole(a.role),
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
            for a in row.assignments
        ),
        extensions=tuple(
            Extension(
                id=e.id,
                department=e.department_code,
                days=e.days,
                reason=e.reason,
                requested_at=e.requested_at,
                requested_by=e.requested_by,
                outcome=ExtensionOutcome(e.outcome) if e.outcome else None,
                granted_days=e.granted_days,
                decided_at=e.decided_at,
                decided_by=e.decided_by,
                note=e.note,
            )
            for e in (() if listed else row.extensions)
        ),
        callbacks=tuple(
            Callback(
                id=c.id,
                result=CallbackResult(c.result),
                comment=c.comment,
                at=c.at,
                by=c.by,
                department=c.department_code,
            )
            for c in (() if listed else row.callbacks)
        ),
    )


_TICKET_COLUMNS = (
    "number",
    "query_code",
    "call_id",
    "recording",
    "resolution",
    "reply",
    "created_at",
    "created_by",
    "round_started_at",
    "sign_due_at",
    "return_due_at",
    "due_at",
    "warn_at",
    "signed_at",
    "replied_at",
    "closed_at",
    "archived_at",
    "redo_count",
    "rework_count",
)
_ASSIGNMENT_COLUMNS = (
    "sign_due_at",
    "due_at",
    "signed_at",
    "returned_at",
    "completed_at",
    "ended_at",
    "extended_days",
    "redo_count",
)
_EXTENSION_COLUMNS = ("outcome", "granted_days", "decided_at", "decided_by", "note")


def _callback_counts(ticket: Ticket, department: str) -> dict[str, int]:
    counts = dict.fromkeys(CALLBACK_COLUMNS.values(), 0)
    for survey in ticket.callbacks:
        if survey.department == department:
            counts[CALLBACK_COLUMNS[survey.result]] += 1
    return counts


def write(ticket: Ticket, row: TicketRow, now: datetime) -> Figures:
    """Copy a ticket onto its row; history rows are only added or updated, never removed.
    Returns the change to the kept statistics (storage/ticket_figures), for the caller to
    apply in the same transaction."""
    figures = Figures()
    for name in _TICKET_COLUMNS:
        setattr(row, name, getattr(ticket, name))
    details = ticket.details
    row.source = ticket.source.value
    row.status = ticket.status.value
    row.handling = ticket.handling.value if ticket.handling else None
    row.satisfaction = ticket.satisfaction.value if ticket.satisfaction else None
    if ticket.knowledge is not None:
        row.knowledge_entry_id = ticket.knowledge.entry_id
        row.knowledge_version = ticket.knowledge.version
        row.knowledge_title = ticket.knowledge.title
    row.caller_name = details.caller_name
    row.caller_phone = details.caller_phone
    row.address = details.address
    row.address_key = address_key(details.address)
    # stored at write time: the hot-issue report groups by it (no regular expression per row)
    row.district = district_of(details.address)
    row.area = details.area
    row.category = details.category.value if details.category else None
    row.topic_code = details.topic or None
    row.content = details.content
    row.urgency = details.urgency.value
    row.confidential = details.confidential
    row.updated_at = now
    by_id = {a.id: a for a in row.assignments}
    is_open = ticket.status in OPEN_STATUSES
    lead = ticket.lead if is_open else None
    row.open_lead_department = lead.department if lead is not None else None
    # each department's latest lead assignment so far (assignments come in dispatch order)
    led: dict[str, datetime] = {}
    for assignment in ticket.assignments:
        values: dict[str, object] = {
            **{name: getattr(assignment, name) for name in _ASSIGNMENT_COLUMNS},
            **_callback_counts(ticket, assignment.department),
            "ticket_open": is_open,
            "open_status": ticket.status.value if is_open else None,
            "ticket_created_at": ticket.created_at,
        }
        lead_role = assignment.role is AssignmentRole.LEAD
        if lead_role:
            values["previous_lead_at"] = led.get(assignment.department)
            led[assignment.department] = assignment.dispatched_at
        if assignment.id is None:
            added = AssignmentRow(
                department_code=assignment.department,
                role=assignment.role.value,
                dispatched_at=assignment.dispatched_at,
                **values,
            )
            row.assignments.append(added)
            if lead_role:
                figures.changed(None, inputs_of(added))
        else:
            stored = by_id[assignment.id]
            before = inputs_of(stored)
            # only the values that changed are written
            for name, value in values.items():
                setattr(stored, name, value)
            if lead_role:
                figures.changed(before, inputs_of(stored))
    extensions = {e.id: e for e in row.extensions}
    for extension in ticket.extensions:
        values = {
            "outcome": extension.outcome.value if extension.outcome else None,
            "granted_days": extension.granted_days,
            "decided_at": extension.decided_at,
            "decided_by": extension.decided_by,
            "note": extension.note,
        }
        if extension.id is None:
            row.extensions.append(
                ExtensionRow(
                    department_code=extension.department,
                    days=extension.days,
                    reason=extension.reason,
                    requested_at=extension.requested_at,
                    requested_by=extension.requested_by,
                    **values,
                )
            )
        else:
            for name in _EXTENSION_COLUMNS:
                setattr(extensions[extension.id], name, values[name])
    for survey in ticket.callbacks:
        if survey.id is None:
            row.callbacks.append(
                CallbackRow(
                    department_code=survey.department,
                    result=survey.result.value,
                    comment=survey.comment,
                    at=survey.at,
                    by=survey.by,
                )
            )
    return figures


def event_row(ticket_id: int, item: AuditEntry) -> EventRow:
    return EventRow(
        ticket_id=ticket_id,
        at=item.at,
        actor=item.actor,
        actor_role=item.actor_role,
        actor_subject=item.actor_subject,
        action=item.action.value,
        from_status=item.from_status.value if item.from_status else None,
        to_status=item.to_status.value,
        note=item.note,
        details=dict(item.details),
    )


def to_entry(row: EventRow) -> AuditEntry:
    return AuditEntry(
        action=Action(row.action),
        at=row.at,
        actor=row.actor,
        actor_role=row.actor_role,
        actor_subject=row.actor_subject,
        from_status=Status(row.from_status) if row.from_status else None,
        to_status=Status(row.to_status),
        note=row.note,
        details=row.details,
    )
