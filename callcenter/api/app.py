"""Builds the FastAPI application from already-wired services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import Depends, FastAPI

from callcenter import __version__
from callcenter.api import (
    agents,
    attachments,
    callbacks,
    calls,
    departments,
    desk,
    errors,
    live,
    metrics,
    queues,
    supervisions,
    surveys,
    ticket_reports,
    tickets,
    topics,
    users,
    worklist,
)
from callcenter.api import reports as report_routes
from callcenter.api import ticket_actions as actions
from callcenter.api.auth import authenticate
from callcenter.api.gate import DEFAULT_MAX_BODY_BYTES, RequestGate
from callcenter.api.knowledge import mount as mount_knowledge
from callcenter.api.ticketing import Ticketing, department_bound
from callcenter.domain.access import Principal
from callcenter.services.agent_dial import AgentDialer
from callcenter.services.dispatcher import Dispatcher
from callcenter.services.feed import EventFeed
from callcenter.services.knowledge import KnowledgeBase
from callcenter.services.monitoring import CallMonitor
from callcenter.services.reports import Reports
from callcenter.services.surveys import SurveyCalls
from callcenter.services.three_way import ThreeWayCalls
from callcenter.storage.callbacks import CallbackRepository
from callcenter.storage.calls import CallRepository
from callcenter.storage.recording_files import RecordingFiles
from callcenter.storage.seats import SeatRepository
from callcenter.storage.tokens import TokenRepository
from callcenter.storage.users import UserRepository


async def _nothing_pending() -> None:
    return None


def create_api(
    *,
    calls_repository: CallRepository,
    tokens: TokenRepository,
    health: Callable[[], dict[str, Any]],
    dispatcher: Dispatcher,
    seat_store: SeatRepository,
    feed: EventFeed,
    clock: Callable[[], datetime],
    provision_softphones: Callable[[], Awaitable[None]],
    calls_in_system: Callable[[], int],
    ami_connected: Callable[[], bool],
    callbacks_repository: CallbackRepository,
    silent_call: Callable[[str], Awaitable[None]],
    three_way: ThreeWayCalls,
    monitor: CallMonitor,
    agent_dial: AgentDialer,
    ticketing: Ticketing | None = None,
    survey_calls: SurveyCalls | None = None,
    knowledge: KnowledgeBase | None = None,
    reports: Reports | None = None,
    users_repository: UserRepository | None = None,
    repeat_window: timedelta = timedelta(hours=24),
    calls_drained: Callable[[], Awaitable[None]] | None = None,
    recording_files: RecordingFiles | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    api = FastAPI(
        title="12345 hotline call-center engine",
        version=__version__,
        description="Agent seats, queues, calls and tickets. Every route needs a bearer token.",
    )
    api.state.calls = calls_repository
    api.state.tokens = tokens
    api.state.users = users_repository
    api.state.repeat_window = repeat_window
    api.state.dispatcher = dispatcher
    api.state.seat_store = seat_store
    api.state.feed = feed
    api.state.clock = clock
    api.state.provision_softphones = provision_softphones
    api.state.calls_in_system = calls_in_system
    api.state.ami_connected = ami_connected
    api.state.callbacks = callbacks_repository
    api.state.silent_call = silent_call
    api.state.three_way = three_way
    api.state.monitor = monitor
    api.state.agent_dial = agent_dial
    # waits until the call records submitted so far are written (figures read them back)
    api.state.calls_drained = calls_drained or _nothing_pending
    api.state.recording_files = recording_files
    errors.install(api)

    async def _authenticate(token: str) -> Principal | None:
        return await authenticate(api.state, token)

    api.add_middleware(
        RequestGate,
        schema=api.openapi,
        authenticate=_authenticate,
        max_body_bytes=max_body_bytes,
    )
    api.include_router(users.router)
    api.include_router(calls.router)
    api.include_router(agents.router)
    api.include_router(queues.router)
    api.include_router(metrics.router)
    api.include_router(live.router)
    api.include_router(callbacks.router)
    if ticketing is not None:
        if survey_calls is not None:
            # before the ticket routes: /tickets/{id}/surveys is not a ticket action
            api.state.surveys = survey_calls
            api.include_router(surveys.router)
        api.include_router(desk.router)
        mount_ticketing(api, ticketing)
    if knowledge is not None:
        mount_knowledge(api, knowledge)
    if reports is not None:
        mount_reports(api, reports)

    @api.get("/health", tags=["health"])
    async def _health() -> dict[str, Any]:
        """Liveness for load balancers: no data, so no token needed."""
        return health()

    return api


def mount_ticketing(api: FastAPI, ticketing: Ticketing) -> None:
    """The ticket subsystem (tickets, supervisions, departments, topics) on the HTTP API."""
    api.state.ticketing = ticketing
    api.state.attachments = ticketing.attachments
    # static /tickets/... routes first, so that /tickets/{id} does not shadow them
    modules = [ticket_reports, worklist, tickets, actions, supervisions, departments, topics]
    if ticketing.attachments is not None:
        modules.append(attachments)
    for module in modules:
        api.include_router(module.router, dependencies=[Depends(department_bound)])


def mount_reports(api: FastAPI, reports: Reports) -> None:
    """考核 and 热点 reports with their exports (scoped like the ticket statistics)."""
    api.state.reports = reports
    api.include_router(report_routes.router, dependencies=[Depends(department_bound)])
