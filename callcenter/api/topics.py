"""/topics: the classification dictionary tickets are filed under."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from callcenter.api.auth import allowed
from callcenter.api.deps import Ticketing, TicketingDep
from callcenter.api.types import SafeStr
from callcenter.domain.access import Permission, Principal
from callcenter.domain.errors import InvalidInput
from callcenter.storage.departments import UNSET
from callcenter.storage.topics import Topic

router = APIRouter(prefix="/topics", tags=["topics"])

Admin = Annotated[Principal, Depends(allowed(Permission.MANAGE_TOPICS))]
Code = Annotated[SafeStr, Field(min_length=1, max_length=64, pattern=r"^\S+$")]
Name = Annotated[SafeStr, Field(min_length=1, max_length=200)]
CodeRef = Annotated[SafeStr, Field(max_length=64)]


class TopicIn(BaseModel):
    code: Code
    name: Name
    parent: Code | None = None
    # the department the agent desk suggests for tickets on this topic
    department: Code | None = None


class TopicPatch(BaseModel):
    """Only the fields given change; ``parent: null`` makes it a root. Codes never change."""

    name: Name | None = None
    parent: Code | None = None
    active: bool | None = None
    department: Code | None = None


class TopicOut(BaseModel):
    code: str
    name: str
    parent: str | None
    active: bool
    department: str | None

    @classmethod
    def of(cls, t: Topic) -> TopicOut:
        return cls(
            code=t.code, name=t.name, parent=t.parent, active=t.active, department=t.department
        )


async def _known_department(ticketing: Ticketing, code: str | None) -> None:
    if code is not None and await ticketing.departments.get(code) is None:
        raise InvalidInput(f"department {code} does not exist")


@router.get("", response_model=list[TopicOut])
async def list_topics(
    _viewer: Annotated[Principal, Depends(allowed(Permission.READ_TICKETS))],
    ticketing: TicketingDep,
) -> list[TopicOut]:
    return [TopicOut.of(t) for t in await ticketing.topics.all()]


@router.post("", status_code=201, response_model=TopicOut)
async def create_topic(body: TopicIn, _actor: Admin, ticketing: TicketingDep) -> TopicOut:
    await _known_department(ticketing, body.department)
    topic = Topic(code=body.code, name=body.name, parent=body.parent, department=body.department)
    return TopicOut.of(await ticketing.topics.create(topic, ticketing.tickets.clock()))


@router.patch("/{code}", response_model=TopicOut)
async def update_topic(
    code: CodeRef, body: TopicPatch, _actor: Admin, ticketing: TicketingDep
) -> TopicOut:
    given = body.model_fields_set
    await _known_department(ticketing, body.department)
    for name in given - {"parent", "department"}:
        if getattr(body, name) is None:
            raise InvalidInput(f"{name} cannot be null")
    updated = await ticketing.topics.update(
        code,
        ticketing.tickets.clock(),
        name=body.name,
        active=body.active,
        parent=body.parent if "parent" in given else UNSET,
        department=body.department if "department" in given else UNSET,
    )
    return TopicOut.of(updated)
