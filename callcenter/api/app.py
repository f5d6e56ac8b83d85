"""Builds the FastAPI application from already-wired services."""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from callcenter import __version__
from callcenter.api import (
    agents,
    attachments,
    callbacks,
    calls,
    departments,
    desk,
    errors,
    knowledge,
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
from callcenter.api.auth import authenticate, department_bound
from callcenter.api.deps import EngineApi, Services
from callcenter.api.gate import DEFAULT_MAX_BODY_BYTES, RequestGate
from callcenter.domain.access import Principal


def create_api(services: Services, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> EngineApi:
    """The HTTP API over these services: the routes of each part the container holds."""
    api = EngineApi(
        services,
        title="12345 hotline call-center engine",
        version=__version__,
        description="Agent seats, queues, calls and tickets. Every route needs a bearer token.",
    )
    errors.install(api)

    async def _authenticate(token: str) -> Principal | None:
        return await authenticate(services, token)

    api.add_middleware(
        RequestGate,
        schema=api.openapi,
        authenticate=_authenticate,
        max_body_bytes=max_body_bytes,
    )
    api.include_router(users.router)
    if services.calls is not None:
        for module in (calls, agents, queues, metrics, live, callbacks):
            api.include_router(module.router)
    if services.ticketing is not None:
        if services.surveys is not None:
            # before the ticket routes: /tickets/{id}/surveys is not a ticket action
            api.include_router(surveys.router)
        if services.calls is not None:
            api.include_router(desk.router)
        # static /tickets/... routes first, so that /tickets/{id} does not shadow them
        modules = [ticket_reports, worklist, tickets, actions, supervisions, departments, topics]
        if services.ticketing.attachments is not None:
            modules.append(attachments)
        for module in modules:
            api.include_router(module.router, dependencies=[Depends(department_bound)])
    if services.knowledge is not None:
        api.include_router(knowledge.router)
    if services.reports is not None:
        # 考核 and 热点 reports with their exports (scoped like the ticket statistics)
        api.include_router(report_routes.router, dependencies=[Depends(department_bound)])

    @api.get("/health", tags=["health"])
    async def _health() -> dict[str, Any]:
        """Liveness for load balancers: no data, so no token needed."""
        return services.health()

    return api
