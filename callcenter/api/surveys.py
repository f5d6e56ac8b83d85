"""/tickets/{id}/surveys: the survey calls to a ticket's citizen (回访), and "call now"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from callcenter.api.auth import allowed
from callcenter.api.deps import SurveysDep, TicketsDep
from callcenter.api.types import DbId
from callcenter.domain.access import Permission, Principal
from callcenter.domain.errors import IllegalTransition
from callcenter.domain.surveys import SurveyAttempt
from callcenter.domain.tickets import Status

router = APIRouter(prefix="/tickets", tags=["tickets"])
Surveyor = Annotated[Principal, Depends(allowed(Permission.CALLBACK_TICKETS))]


class SurveyAttemptOut(BaseModel):
    id: int
    phone: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    result: str | None
    recording: str

    @classmethod
    def of(cls, attempt: SurveyAttempt) -> SurveyAttemptOut:
        return cls(
            id=attempt.id,
            phone=attempt.phone,
            started_at=attempt.started_at,
            ended_at=attempt.ended_at,
            outcome=attempt.outcome.value if attempt.outcome else None,
            result=attempt.result.value if attempt.result else None,
            recording=attempt.recording,
        )


@router.get("/{ticket_id}/surveys", response_model=list[SurveyAttemptOut])
async def attempts(
    ticket_id: DbId, actor: Surveyor, tickets: TicketsDep, surveys: SurveysDep
) -> list[SurveyAttemptOut]:
    """Every survey call to this ticket's citizen, oldest first."""
    await tickets.get(ticket_id, actor)
    return [SurveyAttemptOut.of(a) for a in await surveys.attempts_of(ticket_id)]


@router.post("/{ticket_id}/surveys", status_code=202, response_model=SurveyAttemptOut)
async def call_now(
    ticket_id: DbId, actor: Surveyor, tickets: TicketsDep, surveys: SurveysDep
) -> SurveyAttemptOut:
    """Place the survey call now; its result arrives on the ticket when the citizen keys it in."""
    ticket = await tickets.get(ticket_id, actor)
    if ticket.status is not Status.AWAITING_CALLBACK:
        raise IllegalTransition(
            f"ticket {ticket_id} is {ticket.status.value}: it does not await a callback survey"
        )
    return SurveyAttemptOut.of(await surveys.call_now(ticket_id, ticket.details.caller_phone))
