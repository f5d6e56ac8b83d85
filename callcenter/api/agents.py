"""/agents: agent profiles with skills and softphones, and the seat actions agents take."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from callcenter.api.auth import allowed, current_principal
from callcenter.api.calls import ThreeWayOut
from callcenter.api.deps import CallsDep, DispatcherDep, ServicesDep
from callcenter.api.types import SafeStr
from callcenter.domain.access import Permission, Principal, require, require_own_seat
from callcenter.domain.errors import InvalidInput, NotFound
from callcenter.domain.routing import check_skill
from callcenter.domain.seats import AgentProfile, PauseReason, Seat, sip_md5
from callcenter.services.dispatcher import Dispatcher
from callcenter.services.monitoring import MonitorMode

router = APIRouter(prefix="/agents", tags=["agents"])

AgentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
Endpoint = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
Skills = dict[SafeStr, Annotated[int, Field(ge=1, le=5)]]
# an agent named in a path: looked up, never stored, but still refused when unstorable
AgentRef = Annotated[SafeStr, Field(max_length=64)]


class AgentIn(BaseModel):
    id: AgentId
    name: Annotated[SafeStr, Field(min_length=1, max_length=128)]
    endpoint: Endpoint
    skills: Skills = Field(default_factory=dict)
    # a softphone that registers uses a password; a desk or test phone a fixed SIP contact
    sip_password: Annotated[SafeStr | None, Field(min_length=12, max_length=128)] = None
    sip_contact: Annotated[str | None, Field(pattern=r"^sips?:[^\s;]+$", max_length=255)] = None

    @model_validator(mode="after")
    def _one_way_to_reach(self) -> AgentIn:
        if (self.sip_password is None) == (self.sip_contact is None):
            raise ValueError("give exactly one of sip_password or sip_contact")
        for skill, level in self.skills.items():
            try:
                check_skill(skill, level)
            except InvalidInput as err:
                raise ValueError(err.message) from None
        return self


class SkillsIn(BaseModel):
    skills: Skills


class LoginIn(BaseModel):
    extension: Endpoint | None = None


class PauseIn(BaseModel):
    reason: PauseReason


class ExtendIn(BaseModel):
    seconds: Annotated[int, Field(ge=1, le=1800)]


class SeatOut(BaseModel):
    state: str
    since: datetime | None
    extension: str | None
    pause_reason: str | None
    call_id: str | None
    wrap_up_until: datetime | None

    @classmethod
    def of(cls, seat: Seat) -> SeatOut:
        return cls(
            state=seat.state.value,
            since=seat.since,
            extension=seat.extension,
            pause_reason=seat.pause_reason.value if seat.pause_reason else None,
            call_id=seat.call_id,
            wrap_up_until=seat.wrap_up_until,
        )


class AgentOut(BaseModel):
    id: str
    name: str
    endpoint: str
    skills: dict[str, int]
    sip_contact: str | None
    active: bool
    seat: SeatOut


Dispatch = DispatcherDep
Caller = Annotated[Principal, Depends(current_principal)]


def _out(dispatcher: Dispatcher, agent_id: str) -> AgentOut:
    profile = dispatcher.profiles[agent_id]
    return AgentOut(
        id=profile.id,
        name=profile.name,
        endpoint=profile.endpoint,
        skills=profile.skills,
        sip_contact=profile.sip_contact,
        active=profile.active,
        seat=SeatOut.of(dispatcher.seat(agent_id)),
    )


@router.post("", status_code=201, response_model=AgentOut)
async def create_agent(
    body: AgentIn,
    calls_services: CallsDep,
    dispatcher: Dispatch,
    _p: Annotated[Principal, Depends(allowed(Permission.MANAGE_AGENTS))],
) -> AgentOut:
    if body.id in dispatcher.profiles:
        raise InvalidInput(f"agent {body.id} already exists")
    for other in dispatcher.profiles.values():
        if other.endpoint == body.endpoint:
            raise InvalidInput(f"endpoint {body.endpoint} belongs to agent {other.id}")
    profile = AgentProfile(
        id=body.id,
        name=body.name,
        endpoint=body.endpoint,
        skills=dict(body.skills),
        sip_contact=body.sip_contact,
        sip_md5=sip_md5(body.endpoint, body.sip_password) if body.sip_password else None,
    )
    dispatcher.save_agent(profile)
    await calls_services.provision_softphones()
    return _out(dispatcher, profile.id)


@router.get("", response_model=list[AgentOut])
async def list_agents(
    dispatcher: Dispatch,
    _p: Annotated[Principal, Depends(allowed(Permission.READ_AGENTS))],
) -> list[AgentOut]:
    return [_out(dispatcher, agent_id) for agent_id in sorted(dispatcher.profiles)]


@router.get("/{agent_id}", response_model=AgentOut)
async def get_agent(agent_id: AgentRef, dispatcher: Dispatch, principal: Caller) -> AgentOut:
    if principal.role.value == "agent":
        require_own_seat(principal, agent_id)
    else:
        require(principal, Permission.READ_AGENTS)
    dispatcher.seat(agent_id)
    return _out(dispatcher, agent_id)


@router.put("/{agent_id}/skills", response_model=AgentOut)
async def set_skills(
    agent_id: AgentRef,
    body: SkillsIn,
    dispatcher: Dispatch,
    _p: Annotated[Principal, Depends(allowed(Permission.MANAGE_AGENTS))],
) -> AgentOut:
    dispatcher.seat(agent_id)
    for skill, level in body.skills.items():
        check_skill(skill, level)
    profile = dispatcher.profiles[agent_id]
    dispatcher.save_agent(replace(profile, skills=dict(body.skills)))
    return _out(dispatcher, agent_id)


@router.post("/{agent_id}/login", response_model=AgentOut)
async def log_in(
    agent_id: AgentRef, body: LoginIn, dispatcher: Dispatch, principal: Caller
) -> AgentOut:
    require_own_seat(principal, agent_id)
    dispatcher.log_in(agent_id, body.extension)
    return _out(dispatcher, agent_id)


@router.post("/{agent_id}/ready", response_model=AgentOut)
async def ready(agent_id: AgentRef, dispatcher: Dispatch, principal: Caller) -> AgentOut:
    require_own_seat(principal, agent_id)
    dispatcher.ready(agent_id)
    return _out(dispatcher, agent_id)


@router.post("/{agent_id}/pause", response_model=AgentOut)
async def pause(
    agent_id: AgentRef, body: PauseIn, dispatcher: Dispatch, principal: Caller
) -> AgentOut:
    require_own_seat(principal, agent_id)
    dispatcher.pause(agent_id, body.reason)
    return _out(dispatcher, agent_id)


@router.post("/{agent_id}/wrap-up/end", response_model=AgentOut)
async def end_wrap_up(agent_id: AgentRef, dispatcher: Dispatch, principal: Caller) -> AgentOut:
    require_own_seat(principal, agent_id)
    dispatcher.end_wrap_up(agent_id)
    return _out(dispatcher, agent_id)


@router.post("/{agent_id}/wrap-up/extend", response_model=AgentOut)
async def extend_wrap_up(
    agent_id: AgentRef, body: ExtendIn, dispatcher: Dispatch, principal: Caller
) -> AgentOut:
    require_own_seat(principal, agent_id)
    dispatcher.extend_wrap_up(agent_id, timedelta(seconds=body.seconds))
    return _out(dispatcher, agent_id)


@router.post("/{agent_id}/logout", response_model=AgentOut)
async def log_out(agent_id: AgentRef, dispatcher: Dispatch, principal: Caller) -> AgentOut:
    require_own_seat(principal, agent_id)
    dispatcher.log_out(agent_id)
    return _out(dispatcher, agent_id)


@router.post("/{agent_id}/silent-call", response_model=AgentOut)
async def silent_call(
    agent_id: AgentRef, calls_services: CallsDep, dispatcher: Dispatch, principal: Caller
) -> AgentOut:
    """The agent hears nobody on the line (无声电话): the engine releases the agent and plays
    the caller the standard silent-call script, then hangs up. 409 when not on a call."""
    require_own_seat(principal, agent_id)
    await calls_services.silent_call(agent_id)
    return _out(dispatcher, agent_id)


class ThreeWayIn(BaseModel):
    """Whom to bring onto the call: a department (its hotline number) or a number."""

    department: Annotated[SafeStr | None, Field(min_length=1, max_length=64)] = None
    number: Annotated[str | None, Field(pattern=r"^\+?[0-9]{3,20}$")] = None

    @model_validator(mode="after")
    def _one(self) -> ThreeWayIn:
        if (self.department is None) == (self.number is None):
            raise ValueError("give either 'department' or 'number'")
        return self


@router.post("/{agent_id}/three-way", status_code=202, response_model=ThreeWayOut)
async def three_way(
    agent_id: AgentRef,
    body: ThreeWayIn,
    found: ServicesDep,
    calls_services: CallsDep,
    dispatcher: Dispatch,
    principal: Caller,
) -> ThreeWayOut:
    """三方通话: dial a department's hotline (or a number) and, once it answers, join it to the
    agent's call; everyone hears everyone. 409 when the agent is not on a call."""
    require_own_seat(principal, agent_id)
    dispatcher.seat(agent_id)  # an unknown agent is 404, before anything is dialled
    number = body.number
    if body.department is not None:
        ticketing = found.ticketing
        department = await ticketing.departments.get(body.department) if ticketing else None
        if department is None:
            raise NotFound(f"department {body.department} does not exist")
        if not department.hotline:
            raise InvalidInput(f"department {body.department} has no hotline number")
        number = department.hotline.replace("-", "")  # 010-12345 is dialled as 01012345
    assert number is not None
    joined = await calls_services.three_way.bring_in(agent_id, number, body.department)
    return ThreeWayOut.of(joined)


class MonitorIn(BaseModel):
    mode: MonitorMode
    # the supervisor's softphone (a PJSIP endpoint of this center), rung to join the call
    endpoint: Endpoint


class MonitorOut(BaseModel):
    call_id: str
    agent_id: str
    mode: str
    endpoint: str
    channel_id: str
    recording: str
    at: datetime


@router.post("/{agent_id}/monitor", status_code=202, response_model=MonitorOut)
async def monitor(
    agent_id: AgentRef,
    body: MonitorIn,
    calls_services: CallsDep,
    dispatcher: Dispatch,
    principal: Annotated[Principal, Depends(allowed(Permission.MONITOR_CALLS))],
) -> MonitorOut:
    """监听/密语/强插: ring the supervisor's softphone and join it to the agent's call, to
    listen, whisper to the agent, or barge in. 409 when the agent is not on a call."""
    dispatcher.seat(agent_id)  # an unknown agent is 404, before anything is dialled
    if body.endpoint not in {p.endpoint for p in dispatcher.profiles.values()}:
        raise InvalidInput(f"{body.endpoint} is not a softphone of this center")
    joined = await calls_services.monitor.join(agent_id, body.mode, body.endpoint, principal.name)
    return MonitorOut(
        call_id=joined.call_id,
        agent_id=joined.agent_id,
        mode=joined.mode.value,
        endpoint=joined.endpoint,
        channel_id=joined.channel_id,
        recording=joined.recording,
        at=joined.at,
    )
