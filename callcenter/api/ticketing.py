"""Mounts the ticket subsystem (tickets, supervisions, departments, topics) on the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from callcenter.api.auth import current_principal
from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import Forbidden
from callcenter.storage.departments import DepartmentRepository
from callcenter.storage.recording_files import RecordingFiles
from callcenter.storage.supervisions import SupervisionRepository
from callcenter.storage.ticket_stats import TicketStatistics
from callcenter.storage.tickets import TicketRepository
from callcenter.storage.topics import TopicRepository


@dataclass(frozen=True, slots=True)
class Ticketing:
    """The repositories the ticket routes work with (built by the composition root)."""

    tickets: TicketRepository
    departments: DepartmentRepository
    topics: TopicRepository
    supervisions: SupervisionRepository
    statistics: TicketStatistics
    # where voicemail a ticket may refer to is kept (None: no voicemail can be named)
    files: RecordingFiles | None = None


def mount(api: FastAPI, ticketing: Ticketing) -> None:
    # the routers import this module's dependencies, hence the late import
    from callcenter.api import departments, supervisions, ticket_reports, tickets, topics
    from callcenter.api import ticket_actions as actions

    api.state.ticketing = ticketing
    # static /tickets/... routes first, so that /tickets/{id} does not shadow them
    for module in (ticket_reports, tickets, actions, supervisions, departments, topics):
        api.include_router(module.router, dependencies=[Depends(department_bound)])


def backends(request: Request) -> Ticketing:
    ticketing: Ticketing = request.app.state.ticketing
    return ticketing


async def department_bound(principal: Annotated[Principal, Depends(current_principal)]) -> None:
    """A department token must name its department (its subject), or it could see nothing."""
    if principal.role is Role.DEPARTMENT and not principal.subject:
        raise Forbidden("this department token names no department (issue it with --subject)")
