"""Domain exceptions: each carries a stable code and knows nothing of HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the domain refuses; `code` is stable for clients."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    code = "invalid_input"


class Forbidden(DomainError):
    code = "forbidden"


class TelephonyUnavailable(DomainError):
    code = "telephony_unavailable"


class IllegalTransition(DomainError):
    """An action the current state (of a ticket, a callback request) does not allow; nothing
    was changed."""

    code = "illegal_transition"


class Conflict(DomainError):
    """The request clashes with what is stored (e.g. a code already taken)."""

    code = "conflict"


class InvalidCalendar(DomainError):
    """A working-day calendar file is malformed; the message says file:line: what."""

    code = "invalid_calendar"


class InvalidFlows(DomainError):
    """Flow files (or the prompt catalogue) are broken at start-up; one file:line line each."""

    code = "invalid_flows"


class StorageBehind(DomainError):
    """The database has not taken recent changes within the deadline (it is down, or the writer
    is behind): an answer built now would leave them out."""

    code = "storage_behind"


class SearchBudgetExceeded(DomainError):
    """A search ran past its statement budget and was stopped; nothing is wrong with the data,
    the question was too wide (a period or a longer term narrows it)."""

    code = "search_budget_exceeded"
