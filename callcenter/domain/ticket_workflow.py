"""The ticket state machine: each transition checked, its deadlines computed, its history kept."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import Forbidden, IllegalTransition, InvalidInput
from callcenter.domain.tickets import (
    Action,
    Assignment,
    AssignmentRole,
    Callback,
    CallbackResult,
    Category,
    Change,
    Extension,
    ExtensionOutcome,
    Handling,
    KnowledgeRef,
    Source,
    Status,
    Ticket,
    TicketDetails,
    TicketPolicy,
    entry,
    plain,
    require_center,
    visible_to,
)
from callcenter.domain.workdays import WorkdayCalendar

T = TypeVar("T")


# -- helpers ---------------------------------------------------------------------------


def _label(statuses: Iterable[Status]) -> str:
    return " or ".join(sorted(s.value for s in statuses))


def _expect(ticket: Ticket, verb: str, *allowed: Status) -> None:
    if ticket.status not in allowed:
        raise IllegalTransition(
            f"cannot {verb} ticket {ticket.number}: it is {ticket.status.value}, "
            f"and {verb} is only possible when it is {_label(allowed)}"
        )


def _text(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    return value


class TicketWorkflow:
    """Every ticket transition: checks the state and the actor, computes deadlines, writes history.

    Each method returns the new ticket and its audit entry, or raises (IllegalTransition, Forbidden,
    InvalidInput) and changes nothing.
    """

    def __init__(self, calendar: WorkdayCalendar, policy: TicketPolicy) -> None:
        self.calendar = calendar
        self.policy = policy

    # the center ---------------------------------------------------------------------------------

    def create(
        self,
        *,
        number: str,
        query_code: str,
        source: Source,
        details: TicketDetails,
        actor: Principal,
        now: datetime,
        call_id: int | None = None,
        recording: str = "",
        draft: bool = False,
    ) -> Change:
        require_center(actor, "create tickets")
        if not draft and details.missing():
            raise InvalidInput(f"a ticket needs {', '.join(details.missing())} (or save a draft)")
        status = Status.DRAFT if draft else Status.PENDING
        ticket = Ticket(
            number=number,
            query_code=query_code,
            source=source,
            details=details,
            status=status,
            created_at=now,
            created_by=actor.name,
            call_id=call_id,
            recording=recording,
        )
        return Change(ticket, entry(None, status, Action.CREATED, actor, now, source=source.value))

    def edit(
        self, ticket: Ticket, details: TicketDetails, actor: Principal, now: datetime
    ) -> Change:
        require_center(actor, "edit tickets")
        _expect(ticket, "edit", Status.DRAFT, Status.PENDING, Status.RETURNED)
        if ticket.status is not Status.DRAFT and details.missing():
            raise InvalidInput(f"a registered ticket needs {', '.join(details.missing())}")
        before, after = ticket.details, details
        changed = {
            name: [plain(getattr(before, name)), plain(getattr(after, name))]
            for name in TicketDetails.__dataclass_fields__
            if getattr(before, name) != getattr(after, name)
        }
        if not changed:
            raise InvalidInput("nothing to change")
        new = replace(ticket, details=details)
        return Change(new, entry(ticket, ticket.status, Action.EDITED, actor, now, changed=changed))

    def register(self, ticket: Ticket, actor: Principal, now: datetime) -> Change:
        require_center(actor, "register drafts")
        _expect(ticket, "register", Status.DRAFT)
        if ticket.details.missing():
            raise InvalidInput(f"complete {', '.join(ticket.details.missing())} first")
        new = replace(ticket, status=Status.PENDING)
        return Change(new, entry(ticket, new.status, Action.REGISTERED, actor, now))

    def answer(
        self,
        ticket: Ticket,
        answer: str,
        actor: Principal,
        now: datetime,
        knowledge: KnowledgeRef | None = None,
    ) -> Change:
        """即时办结: the agent solved it on the call, perhaps from a knowledge-base entry (kept
        with its version); it still gets a callback survey."""
        require_center(actor, "answer tickets")
        _expect(ticket, "answer", Status.PENDING, Status.RETURNED)
        new = replace(
            ticket,
            status=Status.AWAITING_CALLBACK,
            handling=Handling.DIRECT,
            resolution=_text(answer, "the answer"),
            closed_at=now,
            knowledge=knowledge,
        )
        return Change(new, entry(ticket, new.status, Action.ANSWERED, actor, now, new.resolution))

    def not_accept(self, ticket: Ticket, reason: str, actor: Principal, now: datetime) -> Change:
        require_center(actor, "refuse tickets")
        _expect(ticket, "not accept", Status.PENDING, Status.RETURNED)
        new = replace(
            ticket,
            status=Status.NOT_ACCEPTED,
            handling=Handling.NOT_ACCEPTED,
            resolution=_text(reason, "the reason"),
            closed_at=now,
        )
        return Change(
            new, entry(ticket, new.status, Action.NOT_ACCEPTED, actor, now, new.resolution)
        )

    def dispatch(
        self,
        ticket: Ticket,
        lead: str,
        co: Iterable[str],
        actor: Principal,
        now: datetime,
        note: str = "",
    ) -> Change:
        require_center(actor, "dispatch tickets")
        _expect(ticket, "dispatch", Status.PENDING, Status.RETURNED)
        co = list(dict.fromkeys(co))
        if lead in co:
            raise InvalidInput(f"department {lead} cannot be both lead and co-handling")
        assert ticket.details.category is not None  # registered tickets always have one
        round_ = self._round(ticket.details.category, now)
        assignments = [
            Assignment(
                department=code,
                role=AssignmentRole.LEAD if code == lead else AssignmentRole.CO,
                dispatched_at=now,
                sign_due_at=round_.sign_due_at,
                due_at=round_.due_at,
            )
            for code in [lead, *co]
        ]
        new = replace(
            round_.start(ticket),
            status=Status.DISPATCHED,
            handling=Handling.DISPATCHED,
            assignments=(*ticket.assignments, *assignments),
        )
        return Change(
            new,
            entry(
                ticket,
                new.status,
                Action.DISPATCHED,
                actor,
                now,
                note,
                lead=lead,
                co=co,
                sign_due_at=plain(new.sign_due_at),
                due_at=plain(new.due_at),
            ),
        )

    def decide_extension(
        self,
        ticket: Ticket,
        approve: bool,
        actor: Principal,
        now: datetime,
        days: int | None = None,
        note: str = "",
    ) -> Change:
        require_center(actor, "decide on extensions")
        _expect(ticket, "decide on the extension of", Status.EXTENSION_REQUESTED)
        request = ticket.pending_extension
        lead = ticket.lead
        assert request is not None and lead is not None and ticket.due_at is not None
        granted = request.days if days is None else days
        if approve and not 1 <= granted <= self.policy.max_extension_days:
            raise InvalidInput(
                f"an extension is 1 to {self.policy.max_extension_days} working days"
            )
        decided = replace(
            request,
            outcome=ExtensionOutcome.APPROVED if approve else ExtensionOutcome.REFUSED,
            granted_days=granted if approve else 0,
            decided_at=now,
            decided_by=actor.name,
            note=note.strip(),
        )
        new = replace(
            ticket, status=Status.IN_PROGRESS, extensions=_swap(ticket.extensions, request, decided)
        )
        if approve:
            due = self.calendar.extend(ticket.due_at, granted)
            first_round = lead.redo_count == 0
            extended = replace(
                lead,
                extended_days=lead.extended_days + granted,
                due_at=self.calendar.extend(lead.due_at, granted) if first_round else lead.due_at,
            )
            new = replace(
                new,
                due_at=due,
                warn_at=self.warn_at(ticket.round_started_at or now, due),
                assignments=_swap(ticket.assignments, lead, extended),
            )
        action = Action.EXTENSION_APPROVED if approve else Action.EXTENSION_REFUSED
        extra = {"days": granted, "due_at": plain(new.due_at)} if approve else {}
        return Change(new, entry(ticket, new.status, action, actor, now, note.strip(), **extra))

    def review(
        self, ticket: Ticket, approve: bool, actor: Principal, now: datetime, note: str = ""
    ) -> Change:
        require_center(actor, "review replies")
        _expect(ticket, "review", Status.REPLIED)
        lead = ticket.lead
        assert lead is not None
        if approve:
            new = replace(ticket, status=Status.AWAITING_CALLBACK, closed_at=now)
            if lead.completed_at is None:
                done = replace(lead, completed_at=ticket.replied_at or now)
                new = replace(new, assignments=_swap(ticket.assignments, lead, done))
            action = Action.REPLY_APPROVED
        else:
            note = _text(note, "the reason for sending the reply back")
            new = replace(
                ticket,
                status=Status.IN_PROGRESS,
                replied_at=None,
                rework_count=ticket.rework_count + 1,
            )
            action = Action.REPLY_SENT_BACK
        return Change(new, entry(ticket, new.status, action, actor, now, note.strip()))

    def record_callback(
        self,
        ticket: Ticket,
        result: CallbackResult,
        comment: str,
        actor: Principal,
        now: datetime,
    ) -> Change:
        """回访: a dissatisfied citizen sends the ticket back to be redone (重办)."""
        require_center(actor, "record callbacks")
        _expect(ticket, "record a callback on", Status.AWAITING_CALLBACK)
        lead = ticket.lead
        survey = Callback(
            result, comment.strip(), now, actor.name, lead.department if lead else None
        )
        new = replace(ticket, satisfaction=result, callbacks=(*ticket.callbacks, survey))
        if result is not CallbackResult.DISSATISFIED:
            new = replace(new, status=Status.RESOLVED)
        elif lead is not None:
            assert new.details.category is not None
            round_ = self._round(new.details.category, now, returnable=False)
            redone = replace(lead, redo_count=lead.redo_count + 1)
            new = replace(
                round_.start(new),
                status=Status.DISPATCHED,
                closed_at=None,
                redo_count=ticket.redo_count + 1,
                assignments=_swap(ticket.assignments, lead, redone),
            )
        else:
            # answered directly and not solved: the center takes it up again
            new = replace(
                new,
                status=Status.PENDING,
                handling=None,
                closed_at=None,
                redo_count=ticket.redo_count + 1,
            )
        action = Action.REDO if result is CallbackResult.DISSATISFIED else Action.CALLBACK
        return Change(
            new, entry(ticket, new.status, action, actor, now, survey.comment, result=result.value)
        )

    def archive(self, ticket: Ticket, actor: Principal, now: datetime, note: str = "") -> Change:
        require_center(actor, "archive tickets")
        _expect(ticket, "archive", Status.RESOLVED, Status.NOT_ACCEPTED, Status.AWAITING_CALLBACK)
        if ticket.status is Status.AWAITING_CALLBACK:
            # without a survey only with a reason, e.g. the citizen could not be reached
            note = _text(note, "the reason for archiving without a callback")
        new = replace(ticket, status=Status.ARCHIVED, archived_at=now)
        return Change(new, entry(ticket, new.status, Action.ARCHIVED, actor, now, note.strip()))

    # the department -----------------------------------------------------------------------------

    def sign(self, ticket: Ticket, actor: Principal, now: datetime, note: str = "") -> Change:
        lead = self._lead_of(ticket, actor, "sign for")
        _expect(ticket, "sign for", Status.DISPATCHED)
        new = replace(ticket, status=Status.IN_PROGRESS, signed_at=now)
        if lead.signed_at is None:
            signed = replace(lead, signed_at=now)
            new = replace(new, assignments=_swap(ticket.assignments, lead, signed))
        on_time = ticket.sign_due_at is not None and now < ticket.sign_due_at
        return Change(
            new, entry(ticket, new.status, Action.SIGNED, actor, now, note.strip(), on_time=on_time)
        )

    def give_back(self, ticket: Ticket, reason: str, actor: Principal, now: datetime) -> Change:
        """退回: a misrouted ticket goes back to the center, within the return window only."""
        lead = self._lead_of(ticket, actor, "return")
        _expect(ticket, "return", Status.DISPATCHED, Status.IN_PROGRESS)
        if ticket.return_due_at is None:
            raise IllegalTransition(
                f"ticket {ticket.number} is being redone and cannot be returned"
            )
        if now >= ticket.return_due_at:
            raise IllegalTransition(
                f"ticket {ticket.number} can no longer be returned: the window closed at "
                f"{ticket.return_due_at.astimezone(self.calendar.tz).isoformat()}"
            )
        reason = _text(reason, "the reason for returning")
        ended = [
            replace(a, ended_at=now, returned_at=now if a is lead else None) if a.active else a
            for a in ticket.assignments
        ]
        new = replace(
            ticket,
            status=Status.RETURNED,
            handling=None,
            assignments=tuple(ended),
            round_started_at=None,
            sign_due_at=None,
            return_due_at=None,
            due_at=None,
            warn_at=None,
            signed_at=None,
        )
        return Change(new, entry(ticket, new.status, Action.RETURNED, actor, now, reason))

    def request_extension(
        self, ticket: Ticket, days: int, reason: str, actor: Principal, now: datetime
    ) -> Change:
        lead = self._lead_of(ticket, actor, "ask for an extension of")
        _expect(ticket, "ask for an extension of", Status.IN_PROGRESS)
        assert ticket.due_at is not None
        if now >= ticket.due_at:
            raise IllegalTransition(
                f"ticket {ticket.number} is already overdue: extensions must be asked before "
                "the deadline"
            )
        if not 1 <= days <= self.policy.max_extension_days:
            raise InvalidInput(
                f"an extension is 1 to {self.policy.max_extension_days} working days"
            )
        request = Extension(lead.department, days, _text(reason, "the reason"), now, actor.name)
        new = replace(
            ticket, status=Status.EXTENSION_REQUESTED, extensions=(*ticket.extensions, request)
        )
        return Change(
            new,
            entry(
                ticket,
                new.status,
                Action.EXTENSION_REQUESTED,
                actor,
                now,
                request.reason,
                days=days,
            ),
        )

    def reply(self, ticket: Ticket, result: str, actor: Principal, now: datetime) -> Change:
        self._lead_of(ticket, actor, "reply to")
        _expect(ticket, "reply to", Status.IN_PROGRESS, Status.EXTENSION_REQUESTED)
        new = replace(
            ticket, status=Status.REPLIED, reply=_text(result, "the reply"), replied_at=now
        )
        pending = ticket.pending_extension
        if pending is not None:
            withdrawn = replace(pending, outcome=ExtensionOutcome.WITHDRAWN, decided_at=now)
            new = replace(new, extensions=_swap(ticket.extensions, pending, withdrawn))
        on_time = ticket.due_at is not None and now < ticket.due_at
        return Change(
            new, entry(ticket, new.status, Action.REPLIED, actor, now, new.reply, on_time=on_time)
        )

    # anyone who can see it ----------------------------------------------------------------------

    def note(self, ticket: Ticket, text: str, actor: Principal, now: datetime) -> Change:
        """A remark without a state change, e.g. a co-handling department's opinion (会办意见)."""
        if not visible_to(ticket, actor):
            raise Forbidden(f"ticket {ticket.number} is not dispatched to you")
        return Change(
            ticket, entry(ticket, ticket.status, Action.NOTE, actor, now, _text(text, "the note"))
        )

    # deadlines ----------------------------------------------------------------------------------

    def warn_at(self, start: datetime, due: datetime) -> datetime:
        """When less than ``warn_share`` of the working time from start to due is left."""
        span = self.calendar.working_time_between(start, due)
        return self.calendar.add_working_time(start, span * (1 - self.policy.warn_share))

    def _round(self, category: Category, now: datetime, returnable: bool = True) -> _Round:
        due = self.calendar.add_working_days(now, self.policy.limit(category))
        window = timedelta(hours=self.policy.return_hours)
        return _Round(
            started_at=now,
            sign_due_at=self.calendar.add_working_days(now, self.policy.sign_days),
            return_due_at=self.calendar.add_working_time(now, window) if returnable else None,
            due_at=due,
            warn_at=self.warn_at(now, due),
        )

    @staticmethod
    def _lead_of(ticket: Ticket, actor: Principal, verb: str) -> Assignment:
        lead = ticket.lead
        if actor.role is not Role.DEPARTMENT:
            raise Forbidden(f"only the lead department's handler may {verb} a ticket")
        if lead is None or lead.department != actor.subject:
            if actor.subject in ticket.departments:
                raise Forbidden(f"only the lead department may {verb} ticket {ticket.number}")
            raise Forbidden(f"ticket {ticket.number} is not dispatched to your department")
        return lead


@dataclass(frozen=True, slots=True)
class _Round:
    """The deadlines of one round of department work: a dispatch, or a redo after a callback."""

    started_at: datetime
    sign_due_at: datetime
    return_due_at: datetime | None
    due_at: datetime
    warn_at: datetime

    def start(self, ticket: Ticket) -> Ticket:
        return replace(
            ticket,
            round_started_at=self.started_at,
            sign_due_at=self.sign_due_at,
            return_due_at=self.return_due_at,
            due_at=self.due_at,
            warn_at=self.warn_at,
            signed_at=None,
            replied_at=None,
        )


def _swap(items: tuple[T, ...], old: T, new: T) -> tuple[T, ...]:
    return tuple(new if item is old else item for item in items)
