"""What the ticket routes depend on: their repositories and the department-token check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from callcenter.api.auth import current_principal
from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import Forbidden
from callcenter.storage.attachments import AttachmentRepository
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
    # files on tickets (the department desk's replies); None: no attachment routes
    attachments: AttachmentRepository | None = None


def backends(request: Request) -> Ticketing:
    ticketing: Ticketing = request.app.state.ticketing
    return ticketing


async def department_bound(principal: Annotated[Principal, Depends(current_principal)]) -> None:
    """A department token must name its department (its subject), or it could see nothing."""
    if principal.role is Role.DEPARTMENT and not principal.subject:
        raise Forbidden("this department token names no department (issue it with --subject)")
