"""SQLAlchemy models of tickets, departments, topics and their history (schema: migration 0002)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.storage.models import Base, BigId, UTCDateTime


class DepartmentRow(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # codes never change: tokens name their department by it, assignments refer to it
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), index=True)
    hotline: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TopicRow(Base):
    """The classification dictionary tickets are filed under (e.g. 城乡建设 > 物业管理)."""

    __tablename__ = "ticket_topics"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("ticket_topics.code"), index=True)
    # the department that usually handles it: the agent desk suggests it (承办单位建议)
    department_code: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TicketRow(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    query_code: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    recording: Mapped[str] = mapped_column(String(255), default="")
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    # indexed with the time (ix_tickets_phone_created) and the query code (ix_tickets_lookup)
    caller_phone: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(255), default="")
    # the address as duplicates are matched on (see domain/duplicates.address_key)
    address_key: Mapped[str] = mapped_column(String(255), index=True)
    area: Mapped[str] = mapped_column(String(64), default="")
    # the district the address names (domain/reports.district_of), kept with the address
    district: Mapped[str] = mapped_column(String(64), default="")
    category: Mapped[str | None] = mapped_column(String(16), index=True)
    topic_code: Mapped[str | None] = mapped_column(ForeignKey("ticket_topics.code"), index=True)
    content: Mapped[str] = mapped_column(Text, default="")
    urgency: Mapped[str] = mapped_column(String(16))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(24), index=True)
    handling: Mapped[str | None] = mapped_column(String(16))
    resolution: Mapped[str] = mapped_column(Text, default="")
    reply: Mapped[str] = mapped_column(Text, default="")
    # the knowledge-base entry and version the ticket was answered from (migration 0014)
    knowledge_entry_id: Mapped[int | None] = mapped_column(BigId, index=True)
    knowledge_version: Mapped[int | None] = mapped_column(Integer)
    knowledge_title: Mapped[str | None] = mapped_column(String(200))
    # indexed with the id (ix_tickets_created_id): the keyset order of lists
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    round_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sign_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    return_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # while the ticket is open, its current lead assignment's department (migration 0024): the
    # SLA view counts by it from the open tickets' index
    open_lead_department: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    redo_count: Mapped[int] = mapped_column(Integer, default=0)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    satisfaction: Mapped[str | None] = mapped_column(String(24))

    assignments: Mapped[list[AssignmentRow]] = relationship(
        order_by="AssignmentRow.id", lazy="selectin"
    )
    extensions: Mapped[list[ExtensionRow]] = relationship(
        order_by="ExtensionRow.id", lazy="selectin"
    )
    callbacks: Mapped[list[CallbackRow]] = relationship(order_by="CallbackRow.id", lazy="selectin")


# citizen self-service looks tickets up by phone and query code
Index("ix_tickets_lookup", TicketRow.caller_phone, TicketRow.query_code)


class AssignmentRow(Base):
    """A department's share of a ticket; ended (never deleted) when it is returned."""

    __tablename__ = "ticket_assignments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    role: Mapped[str] = mapped_column(String(8))
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sign_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extended_days: Mapped[int] = mapped_column(Integer, default=0)
    redo_count: Mapped[int] = mapped_column(Integer, default=0)
    # whether the ticket is open (status in OPEN_STATUSES), copied with the ticket
    # (storage/ticket_rows.write): a department's open tickets come from its assignments'
    # partial index without reading its closed history
    ticket_open: Mapped[bool] = mapped_column(Boolean, default=False)
    # a lead assignment's previous lead assignment of the same ticket to the same department:
    # when it was dispatched (None: the first). Statistics count a (ticket, department)'s
    # callbacks once per period, on its first assignment received there
    previous_lead_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the ticket's status while it is open (None once closed) and its creation time, copied
    # with the ticket: a department's open list is paged from its open assignments' index
    # (migration 0026) without reading its tickets
    open_status: Mapped[str | None] = mapped_column(String(24))
    ticket_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the ticket's callbacks judging this department, by result (written with the ticket,
    # storage/ticket_rows.write): statistics read a period's assignments, never every callback
    callbacks_satisfied: Mapped[int] = mapped_column(Integer, default=0)
    callbacks_basically_satisfied: Mapped[int] = mapped_column(Integer, default=0)
    callbacks_dissatisfied: Mapped[int] = mapped_column(Integer, default=0)


class ExtensionRow(Base):
    __tablename__ = "ticket_extensions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str | None] = mapped_column(String(16))
    granted_days: Mapped[int] = mapped_column(Integer, default=0)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    note: Mapped[str] = mapped_column(Text, default="")


class CallbackRow(Base):
    """One callback survey (回访) of the citizen."""

    __tablename__ = "ticket_callbacks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), index=True)
    result: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(128))


class EventRow(Base):
    """The audit trail: appended on every change, never updated."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_subject: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LinkRow(Base):
    """Two tickets an agent judged to be about the same matter; stored once, lower id first."""

    __tablename__ = "ticket_links"
    __table_args__ = (
        UniqueConstraint("ticket_id", "other_id", name="uq_ticket_links_ticket_id"),
        CheckConstraint("ticket_id < other_id", name="ordered"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    other_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    linked_by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")


class SupervisionRow(Base):
    __tablename__ = "ticket_supervisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    opened_by: Mapped[str] = mapped_column(String(128))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    closed_by: Mapped[str] = mapped_column(String(128), default="")
    closing_note: Mapped[str] = mapped_column(Text, default="")


class CounterRow(Base):
    """The last ticket number handed out per local day (numbers are date + sequence)."""

    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class PolicyRow(Base):
    """Deadline policy versions; the newest row applies, older ones stay as history."""

    __tablename__ = "ticket_policies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class FiguresRow(Base):
    """Statistics kept as they happen (migration 0025): per UTC hour of dispatch and lead
    department, the sums of what each lead assignment dispatched in that hour counts towards
    (storage/ticket_figures), changed in the same transaction as the assignments.

    ``previous_lead_hour`` keys the callbacks' first-of-period rule: the hour of the
    assignment's previous lead assignment of the same (ticket, department), NO_PREVIOUS for
    none. Overdue is kept for completed assignments only; the still-running ones are judged
    as of the moment a report asks."""

    __tablename__ = "ticket_figures"

    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    department_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    previous_lead_hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    received: Mapped[int] = mapped_column(Integer, default=0)
    signed: Mapped[int] = mapped_column(Integer, default=0)
    signed_on_time: Mapped[int] = mapped_column(Integer, default=0)
    returned: Mapped[int] = mapped_column(Integer, default=0)
    extended: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    completed_on_time: Mapped[int] = mapped_column(Integer, default=0)
    completed_late: Mapped[int] = mapped_column(Integer, default=0)
    redo: Mapped[int] = mapped_column(Integer, default=0)
    supervised: Mapped[int] = mapped_column(Integer, default=0)
    callback_reached: Mapped[int] = mapped_column(Integer, default=0)
    callbacks_satisfied: Mapped[int] = mapped_column(Integer, default=0)
    callbacks_basically_satisfied: Mapped[int] = mapped_column(Integer, default=0)
    callbacks_dissatisfied: Mapped[int] = mapped_column(Integer, default=0)
