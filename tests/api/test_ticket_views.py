"""What each viewer is shown of a ticket, read from the domain object alone (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.api.tickets import detail, summary
from callcenter.domain.access import Principal, Role
from callcenter.domain.tickets import (
    Assignment,
    AssignmentRole,
    Category,
    Source,
    Status,
    Ticket,
    TicketDetails,
)

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CENTER = Principal(1, "agent", Role.AGENT, "7")
HOUSING = Principal(2, "housing", Role.DEPARTMENT, "housing")


def ticket(**details: object) -> Ticket:
    fields: dict[str, object] = {
        "caller_name": "王女士",
        "caller_phone": "13912346666",
        "category": Category.COMPLAINT,
        "content": "油烟" * 100,
        **details,
    }
    due = NOW + timedelta(days=3)
    return Ticket(
        id=7,
        number="20260302-0001",
        query_code="123456",
        source=Source.CALL,
        details=TicketDetails(**fields),  # type: ignore[arg-type]
        status=Status.IN_PROGRESS,
        created_at=NOW - timedelta(days=1),
        created_by="agent",
        call_id=11,
        recording="/r/1.wav",
        due_at=due,
        warn_at=NOW - timedelta(hours=1),
        assignments=tuple(
            Assignment(code, role, NOW, NOW, due)
            for code, role in (("water", AssignmentRole.CO), ("housing", AssignmentRole.LEAD))
        ),
    )


def test_a_department_sees_the_number_masked_in_lists_and_whole_on_the_ticket() -> None:
    listed = summary(ticket(), HOUSING, NOW)
    assert listed.caller_phone == "139****6666" and listed.caller_name == "王女士"
    assert listed.summary == "油烟" * 60 and listed.sla == "yellow"
    assert listed.lead_department == "housing" and listed.category is Category.COMPLAINT
    shown = detail(ticket(), HOUSING, NOW)
    assert shown.caller_phone == "13912346666" and shown.query_code is None
    assert shown.co_departments == ["water"] and shown.content == "油烟" * 100
    assert [a.role for a in shown.assignments] == ["co", "lead"]


def test_a_confidential_caller_is_hidden_from_departments_with_the_recording() -> None:
    shown = detail(ticket(confidential=True), HOUSING, NOW)
    assert shown.caller_hidden is True
    assert (shown.caller_name, shown.caller_phone, shown.call_id, shown.recording) == (
        None,
        None,
        None,
        None,
    )
    center = detail(ticket(confidential=True), CENTER, NOW)
    assert center.caller_hidden is False and center.caller_phone == "13912346666"
    assert center.query_code == "123456" and center.recording == "/r/1.wav"
    assert summary(ticket(), CENTER, NOW).caller_phone == "13912346666"
