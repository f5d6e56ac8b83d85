"""The services the API works with: one typed container, built by the composition root and read
by FastAPI dependencies (the `Annotated` aliases below), each with its precise type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI
from starlette.requests import HTTPConnection

from callcenter.domain.flow_model import Node
from callcenter.domain.metrics import LatencyHistogram
from callcenter.services.agent_dial import AgentDialer
from callcenter.services.dispatcher import Dispatcher
from callcenter.services.feed import EventFeed
from callcenter.services.knowledge import KnowledgeBase
from callcenter.services.monitoring import CallMonitor
from callcenter.services.reports import Reports
from callcenter.services.surveys import SurveyCalls
from callcenter.services.three_way import ThreeWayCalls
from callcenter.services.tickets import TicketService
from callcenter.services.writer import WriterStatus
from callcenter.storage.attachments import AttachmentRepository
from callcenter.storage.callbacks import CallbackRepository
from callcenter.storage.calls import CallRepository
from callcenter.storage.departments import DepartmentRepository
from callcenter.storage.recording_files import RecordingFiles
from callcenter.storage.seats import SeatRepository
from callcenter.storage.supervisions import SupervisionRepository
from callcenter.storage.ticket_stats import TicketStatistics
from callcenter.storage.tokens import TokenRepository
from callcenter.storage.topics import TopicRepository
from callcenter.storage.users import UserRepository

T = TypeVar("T")


def _no_node(_flow: str, _node: str) -> Node | None:
    return None


async def _nothing_pending() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Ticketing:
    """What the ticket routes work with: the ticket service and the ticket subsystem's
    repositories (departments, topics, supervisions, statistics, files)."""

    tickets: TicketService
    departments: DepartmentRepository
    topics: TopicRepository
    supervisions: SupervisionRepository
    statistics: TicketStatistics
    # where voicemail a ticket may refer to is kept (None: no voicemail can be named)
    files: RecordingFiles | None = None
    # files on tickets (the department desk's replies); None: no attachment routes
    attachments: AttachmentRepository | None = None


@dataclass(frozen=True, slots=True)
class CallServices:
    """What the call, seat, queue and metrics routes work with: the live engine."""

    dispatcher: Dispatcher
    seat_store: SeatRepository
    calls: CallRepository
    callbacks: CallbackRepository
    feed: EventFeed
    three_way: ThreeWayCalls
    monitor: CallMonitor
    agent_dial: AgentDialer
    provision_softphones: Callable[[], Awaitable[None]]
    silent_call: Callable[[str], Awaitable[None]]
    calls_in_system: Callable[[], int]
    ami_connected: Callable[[], bool]
    writer_status: Callable[[], WriterStatus]
    # how long callers waited for the engine's FastAGI script to start (a histogram)
    agi_start_delays: Callable[[], LatencyHistogram] = LatencyHistogram
    # waits until the call records submitted so far are written (figures read them back)
    calls_drained: Callable[[], Awaitable[None]] = _nothing_pending
    recording_files: RecordingFiles | None = None
    repeat_window: timedelta = timedelta(hours=24)
    # a node of a flow in service (the screen pop names a caller's IVR branches by it)
    ivr_node: Callable[[str, str], Node | None] = _no_node


def _healthy() -> dict[str, Any]:
    return {"status": "ok"}


@dataclass(frozen=True, slots=True)
class Services:
    """Everything the HTTP API reaches; a part left None has no routes."""

    clock: Callable[[], datetime]
    tokens: TokenRepository
    users: UserRepository | None = None
    calls: CallServices | None = None
    ticketing: Ticketing | None = None
    surveys: SurveyCalls | None = None
    knowledge: KnowledgeBase | None = None
    reports: Reports | None = None
    health: Callable[[], dict[str, Any]] = _healthy


class EngineApi(FastAPI):
    """The FastAPI application holding its services (see callcenter/api/app.create_api)."""

    def __init__(self, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services


def _missing(part: str) -> RuntimeError:
    return RuntimeError(f"the API was built without {part}")


def _wired(part: T | None, what: str) -> T:
    """A part a mounted route needs: its absence is a wiring mistake (500), not the caller's."""
    if part is None:
        raise _missing(what)
    return part


def services(connection: HTTPConnection) -> Services:
    app = connection.app
    if not isinstance(app, EngineApi):
        raise _missing("its services (build it with create_api)")
    return app.services


ServicesDep = Annotated[Services, Depends(services)]


def clock(found: ServicesDep) -> Callable[[], datetime]:
    return found.clock


def call_services(found: ServicesDep) -> CallServices:
    return _wired(found.calls, "the call services")


CallsDep = Annotated[CallServices, Depends(call_services)]


def dispatcher(calls: CallsDep) -> Dispatcher:
    return calls.dispatcher


def call_repository(calls: CallsDep) -> CallRepository:
    return calls.calls


def callback_repository(calls: CallsDep) -> CallbackRepository:
    return calls.callbacks


def ticketing(found: ServicesDep) -> Ticketing:
    return _wired(found.ticketing, "the ticket services")


TicketingDep = Annotated[Ticketing, Depends(ticketing)]


def tickets(found: TicketingDep) -> TicketService:
    return found.tickets


def attachments(found: TicketingDep) -> AttachmentRepository:
    return _wired(found.attachments, "ticket attachments")


def reports(found: ServicesDep) -> Reports:
    return _wired(found.reports, "the reports")


def knowledge(found: ServicesDep) -> KnowledgeBase:
    return _wired(found.knowledge, "the knowledge base")


def surveys(found: ServicesDep) -> SurveyCalls:
    return _wired(found.surveys, "the survey calls")


ClockDep = Annotated[Callable[[], datetime], Depends(clock)]
DispatcherDep = Annotated[Dispatcher, Depends(dispatcher)]
CallRepositoryDep = Annotated[CallRepository, Depends(call_repository)]
CallbacksDep = Annotated[CallbackRepository, Depends(callback_repository)]
TicketsDep = Annotated[TicketService, Depends(tickets)]
AttachmentsDep = Annotated[AttachmentRepository, Depends(attachments)]
ReportsDep = Annotated[Reports, Depends(reports)]
KnowledgeDep = Annotated[KnowledgeBase, Depends(knowledge)]
SurveysDep = Annotated[SurveyCalls, Depends(surveys)]
