"""Supervision (督办) of a ticket: opened by supervisors with a note and due time, closed once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import Forbidden, IllegalTransition, InvalidInput
from callcenter.domain.supervisions import (
    SupervisionReason,
    close_supervision,
    open_supervision,
)
from callcenter.domain.tickets import Action, Source, Status, Ticket, TicketDetails

NOW = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)
SUPERVISOR = Principal(2, "supervisor", Role.SUPERVISOR)
AGENT = Principal(1, "agent", Role.AGENT)
TICKET = Ticket(
    id=7,
    number="20260302-0007",
    query_code="000001",
    source=Source.CALL,
    details=TicketDetails(content="x"),
    status=Status.IN_PROGRESS,
    created_at=NOW - timedelta(days=14),
    created_by="agent",
)


def test_open_and_close() -> None:
    due = NOW + timedelta(days=2)
    opened, item = open_supervision(
        TICKET, SupervisionReason.LEADER_INSTRUCTION, "市领导批示，两日内办结", due, SUPERVISOR, NOW
    )
    assert opened.is_open and not opened.overdue(NOW) and opened.overdue(due)
    assert item.action is Action.SUPERVISION_OPENED and item.to_status is Status.IN_PROGRESS
    assert item.details == {"reason": "leader_instruction", "due_at": due.isoformat()}
    opened = replace(opened, id=3)
    closed, item = close_supervision(opened, TICKET, "已办结", SUPERVISOR, due + timedelta(hours=1))
    assert not closed.is_open and not closed.overdue(due + timedelta(days=9))
    assert item.details == {"supervision": 3, "late": True}
    with pytest.raises(IllegalTransition, match="already closed"):
        close_supervision(closed, TICKET, "again", SUPERVISOR, due)


def test_rules() -> None:
    reason = SupervisionReason.OVERDUE
    with pytest.raises(Forbidden):
        open_supervision(TICKET, reason, "note", NOW + timedelta(days=1), AGENT, NOW)
    with pytest.raises(InvalidInput, match="future"):
        open_supervision(TICKET, reason, "note", NOW, SUPERVISOR, NOW)
    with pytest.raises(InvalidInput, match="note"):
        open_supervision(TICKET, reason, " ", NOW + timedelta(days=1), SUPERVISOR, NOW)
