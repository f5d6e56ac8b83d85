"""The composition root: builds and wires every part of the engine from validated Settings."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn

from callcenter.api.app import create_api
from callcenter.api.deps import CallServices, Services, Ticketing
from callcenter.api.standby import StandbyGate
from callcenter.domain.admission import Admission
from callcenter.domain.calls import AgentAnswered, CallTracker
from callcenter.domain.errors import InvalidFlows, StorageBehind
from callcenter.domain.ivr import FlowStep
from callcenter.domain.routing import Router
from callcenter.domain.workdays import parse_time_of_day
from callcenter.services.agent_dial import AgentDialer
from callcenter.services.call_records import CallRecorder, resync_or_log
from callcenter.services.dispatcher import Dispatcher, RoutingConfig
from callcenter.services.feed import EventFeed
from callcenter.services.heap_trim import HeapTrim
from callcenter.services.inbound import InboundCalls, Prompts
from callcenter.services.ivr_driver import IvrDriver
from callcenter.services.knowledge import KnowledgeBase
from callcenter.services.knowledge_text import Vocabulary
from callcenter.services.memory_trace import MemoryTrace
from callcenter.services.monitoring import CallMonitor
from callcenter.services.placed_calls import PlacedCalls
from callcenter.services.repeat_callers import RepeatCallers
from callcenter.services.reports import Reports
from callcenter.services.retention import NightlyArchive
from callcenter.services.silent_calls import SilentCalls
from callcenter.services.surveys import SurveyCalls, SurveyLine
from callcenter.services.three_way import THREE_WAY_RING_SECONDS, ThreeWayCalls
from callcenter.services.tickets import TicketService
from callcenter.services.voicemail import TicketProgress, VoicemailDesk
from callcenter.services.writer import Writer
from callcenter.settings import Settings
from callcenter.speech.transcription import Transcriber
from callcenter.storage.attachments import AttachmentRepository
from callcenter.storage.calendar_files import load_calendar
from callcenter.storage.callbacks import CallbackRepository
from callcenter.storage.calls import CallRepository, IvrSteps
from callcenter.storage.db import make_engine, make_sessions, migrate
from callcenter.storage.departments import DepartmentRepository
from callcenter.storage.knowledge import KnowledgeRepository
from callcenter.storage.knowledge_index import KnowledgeIndex
from callcenter.storage.knowledge_stats import KnowledgeStatistics
from callcenter.storage.leadership import Leadership
from callcenter.storage.recording_files import RecordingFiles
from callcenter.storage.reports import ReportQueries
from callcenter.storage.seats import SeatRepository
from callcenter.storage.spool import Spool
from callcenter.storage.supervisions import SupervisionRepository
from callcenter.storage.surveys import SurveyRepository
from callcenter.storage.three_way import ThreeWayRepository
from callcenter.storage.ticket_archive import TicketArchive
from callcenter.storage.ticket_stats import TicketStatistics
from callcenter.storage.tickets import TicketRepository
from callcenter.storage.tokens import TokenRepository
from callcenter.storage.topics import TopicRepository
from callcenter.storage.users import UserRepository
from callcenter.storage.writes import SINKS
from callcenter.telephony.agi import FastAgiServer
from callcenter.telephony.ami import AmiClient, AmiLoginFailed
from callcenter.telephony.events import TelephonyEvent
from callcenter.telephony.flow_registry import FlowRegistry
from callcenter.telephony.nodes import AmiNodes, NodeWatch
from callcenter.telephony.softphones import SoftphoneProvisioner
from callcenter.telephony.switchboard import Switchboard
from callcenter.web import mount as mount_pages

log = logging.getLogger("callcenter")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Application:
    """One running engine: database, call recorder, FastAGI server, AMI client and HTTP API."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self.db = make_engine(settings.database_url)
        sessions = make_sessions(self.db)
        self.calls = CallRepository(sessions)
        self.tokens = TokenRepository(sessions)
        self.users = UserRepository(sessions, settings.login_policy)
        self.seat_store = SeatRepository(sessions)
        self.recording_files = RecordingFiles(settings.recordings_dir, settings.voicemail_dir)
        # the official working-day calendar (<calendar_dir>/<year>.yaml) drives ticket deadlines
        self.calendar = load_calendar(settings.calendar_dir)
        self.tickets = TicketService(TicketRepository(sessions), self.calendar, clock)
        self.ticketing = Ticketing(
            tickets=self.tickets,
            departments=DepartmentRepository(sessions),
            topics=TopicRepository(sessions),
            supervisions=SupervisionRepository(sessions, clock),
            statistics=TicketStatistics(sessions, clock),
            files=self.recording_files,
            attachments=AttachmentRepository(sessions, settings.run_dir / "attachments"),
        )
        archive_at = parse_time_of_day(settings.ticket_archive_at)
        self.nightly_archive = (
            None
            if archive_at is None
            else NightlyArchive(
                TicketArchive(sessions, clock, settings.ticket_archive_after_days),
                archive_at,
                clock,
            )
        )
        self.memory_trace = (
            MemoryTrace(settings.memory_trace_minutes) if settings.memory_trace_minutes else None
        )
        self.heap_trim = (
            HeapTrim(settings.heap_trim_seconds) if settings.heap_trim_seconds else None
        )
        self.reports = Reports(
            ReportQueries(sessions, self.calendar, self.ticketing.statistics, clock),
            self.seat_store,
        )
        # the knowledge base (知识库): entries, their workflow and Chinese search
        self.knowledge = KnowledgeBase(
            KnowledgeRepository(sessions, KnowledgeIndex(sessions, clock), clock),
            Vocabulary(),
            clock,
            KnowledgeStatistics(sessions),
        )
        # every record the engine persists goes through this one writer (batched, journalled)
        self.writer_spool = Spool(settings.spool_path)
        self.writer = Writer(
            sessions,
            SINKS,
            self.writer_spool,
            batch_rows=settings.writer_batch_rows,
            batch_seconds=settings.writer_batch_ms / 1000,
            wait_seconds=settings.writer_wait_seconds,
        )
        self.recorder = CallRecorder(self.calls, CallTracker(), clock, self.writer)
        self.feed = EventFeed()
        self.dispatcher = Dispatcher(
            self.seat_store,
            Router(rules=settings.overflow),
            clock,
            RoutingConfig(
                ring=timedelta(seconds=settings.ring_seconds),
                wrap_up=timedelta(seconds=settings.wrap_up_seconds),
                max_wait=timedelta(seconds=settings.max_wait_seconds),
                announce_every=timedelta(seconds=settings.announce_seconds),
            ),
            self.feed,
            self.writer,
        )
        self.flows = FlowRegistry(settings.flows_dir, settings.prompt_catalogue)
        self.voicemail = VoicemailDesk(
            self.tickets, Transcriber(settings.vosk_model), self.calls.caller_of
        )
        self.ivr = IvrDriver(
            voicemail_dir=str(settings.voicemail_dir),
            lookup=TicketProgress(self.tickets),
            voicemail=self.voicemail,
            record_steps=self._record_steps,
            clock=clock,
        )
        self._flow_watch: asyncio.Task[None] | None = None
        self.repeat_callers = RepeatCallers(timedelta(hours=settings.repeat_caller_hours))
        self.inbound = InboundCalls(
            recorder=self.recorder,
            dispatcher=self.dispatcher,
            repeat_callers=self.repeat_callers,
            flows=self.flows,
            flow_name=settings.flow,
            calendar=self.calendar,
            ivr=self.ivr,
            outbound_endpoint=settings.outbound_endpoint,
            recordings_dir=settings.record_calls_to,
            satisfaction_survey=settings.satisfaction_survey,
            admission=Admission(settings.max_calls, settings.max_new_calls_per_second),
            prompts=Prompts(lambda: self.flows.layout),
            clock=clock,
            routing_header=settings.trunk_routing_header,
            agent_proxy=settings.agent_proxy,
        )
        # one supervised AMI connection per Asterisk node (one unnamed node without a cluster)
        self.ami = AmiNodes(
            [
                AmiClient(
                    host=node.host,
                    port=node.port,
                    username=settings.ami_user,
                    secret=settings.ami_secret.get_secret_value(),
                    on_event=self.on_telephony_event,
                    on_connected=self._on_ami_connected,
                    on_lost=self._on_ami_lost,
                    name=node.name,
                    ping_interval=settings.ami_ping_interval,
                    ping_timeout=settings.ami_ping_timeout,
                    reconnect_max=settings.ami_reconnect_max,
                    clock=clock,
                )
                for node in settings.node_list
            ]
        )
        # Asterisk-wide actions: on the node carrying a call, or on the first connected one
        self.switchboard = Switchboard(self.ami, clock)
        self.switchboards = {
            name: Switchboard(client, clock, name) for name, client in self.ami.clients.items()
        }
        # with several nodes, a node that stays unreachable is gone and so are its calls; a
        # single node keeps its calls open until it is back and the resync tells
        self.node_watch = NodeWatch(settings.node_lost_seconds, self.recorder.node_lost)
        self.silent_calls = SilentCalls(
            self.dispatcher,
            self.recorder,
            self.inbound,
            lambda node: self.switchboards.get(node, self.switchboard),
        )
        # calls out (surveys, three-way calls, agents calling back) need the trunk's contact
        calls_out = settings.outbound_endpoint if settings.trunk_contact else None
        placed = PlacedCalls(self.recorder.submit, settings.outbound_endpoint)
        self.surveys = SurveyCalls(
            attempts=SurveyRepository(sessions),
            tickets=self.tickets,
            ami=self.ami,
            prompts=Prompts(lambda: self.flows.layout),
            policy=settings.survey_policy,
            line=SurveyLine(calls_out, settings.survey_ring_seconds),
            clock=clock,
            poll_seconds=settings.survey_poll_seconds,
            placed=placed,
            recordings_dir=settings.record_calls_to,
        )
        self.three_way = ThreeWayCalls(
            ami=self.ami,
            repository=ThreeWayRepository(sessions),
            call_of=self.dispatcher.call_of,
            channels=self.recorder,
            feed=self.feed,
            outbound_endpoint=calls_out,
            ring_seconds=THREE_WAY_RING_SECONDS,
            recordings_dir=settings.record_calls_to,
            clock=clock,
            writer=self.writer,
        )
        self.monitor = CallMonitor(
            ami=self.ami,
            call_of=self.dispatcher.call_of,
            channels=self.recorder,
            feed=self.feed,
            recordings_dir=settings.record_calls_to,
            clock=clock,
        )
        self.agent_dial = AgentDialer(
            ami=self.ami,
            seat_of=self.dispatcher.seat,
            endpoint_of=lambda agent_id: self.dispatcher.profiles[agent_id].endpoint,
            feed=self.feed,
            outbound_endpoint=calls_out,
            recordings_dir=settings.record_calls_to,
            placed=placed,
            clock=clock,
        )
        self.agi = FastAgiServer(
            settings.agi_host,
            settings.agi_port,
            {"inbound": self.inbound, "survey": self.surveys},
            prompt_root=str(settings.prompts),
        )
        self.softphones = SoftphoneProvisioner(settings.asterisk_conf, self.ami)
        services = Services(
            clock=clock,
            tokens=self.tokens,
            users=self.users,
            calls=CallServices(
                dispatcher=self.dispatcher,
                seat_store=self.seat_store,
                calls=self.calls,
                callbacks=CallbackRepository(sessions, settings.callback_attempts),
                feed=self.feed,
                three_way=self.three_way,
                monitor=self.monitor,
                agent_dial=self.agent_dial,
                provision_softphones=self.provision_softphones,
                silent_call=self.silent_calls.end,
                calls_in_system=lambda: self.recorder.calls_in_system,
                ami_connected=self.ami.connected.is_set,
                agi_start_delays=self.agi.start_delays.copy,
                writer_status=self.writer.status,  # writer gauges on /metrics
                calls_drained=self.recorder.drained,
                recording_files=self.recording_files,
                repeat_window=timedelta(hours=settings.repeat_caller_hours),
                ivr_node=self.flows.node,
            ),
            ticketing=self.ticketing,
            surveys=self.surveys,
            knowledge=self.knowledge,
            reports=self.reports,
            health=self.health,
        )
        self.api = create_api(services, max_body_bytes=settings.max_body_bytes)
        mount_pages(self.api)
        # active/standby engines: only the holder of the PostgreSQL lock takes calls
        self.leadership: Leadership | None = None
        if settings.leader_election:
            self.leadership = Leadership(
                settings.database_url,
                settings.engine_name or socket.gethostname(),
                settings.public_api_url,
            )
            leadership = self.leadership
            self.api.add_middleware(
                StandbyGate,
                leading=lambda: leadership.leading,
                leader=lambda: leadership.current_leader,
            )
        self._ami_task: asyncio.Task[None] | None = None
        self._stop_signal = asyncio.Event()

    def _record_steps(self, linkedid: str, steps: tuple[FlowStep, ...]) -> None:
        if steps:
            self.writer.submit("ivr_steps", IvrSteps(linkedid, steps))

    async def _watch_flows(self) -> None:
        """Operators edit flow files while calls run: apply valid edits, keep serving the
        previous version of an invalid one (the registry logs its problems)."""
        while True:
            await asyncio.sleep(self.settings.flow_reload_seconds)
            try:
                # validating a large edit takes time: off the event loop, so no call waits on it
                await asyncio.to_thread(self.flows.reload_changed)
            except Exception:
                log.exception("reloading flows failed; the previous flows keep serving")

    async def _on_ami_connected(self, ami: AmiClient) -> None:
        self.ami.refresh()
        self.node_watch.connected(ami.name)
        await self.provision_softphones()
        await resync_or_log(self.recorder, self.switchboards[ami.name])

    def _on_ami_lost(self, ami: AmiClient) -> None:
        self.ami.refresh()
        if len(self.ami.clients) > 1:
            self.node_watch.lost(ami.name)

    async def provision_softphones(self) -> None:
        await self.softphones.publish(self.dispatcher.profiles.values())

    def on_telephony_event(self, event: TelephonyEvent) -> None:
        """Every event Asterisk reports, translated once (telephony/events.py), to each
        consumer; each takes what concerns it."""
        self.recorder.on_event(event)
        self.surveys.on_event(event)
        self.three_way.on_event(event)
        if isinstance(event, AgentAnswered):
            self.dispatcher.agent_answered(event.linkedid, event.at)

    def health(self) -> dict[str, Any]:
        writer = self.writer.status()
        leading = self.leadership is None or self.leadership.leading
        return {
            "status": "ok",
            "role": "leader" if leading else "standby",
            "leader": self.leadership.current_leader if self.leadership else None,
            "ami_connected": self.ami.connected.is_set(),
            "nodes": {
                name or "asterisk": client.connected.is_set()
                for name, client in self.ami.clients.items()
            },
            "writer": {
                "pending": writer.pending,
                "lag_seconds": writer.lag_seconds,
                "written": writer.written,
                "dead_letters": writer.dead_letters,
                "failing": writer.failing,
            },
        }

    async def start(self) -> None:
        # a broken flow stops start-up before anything runs: there is no older version to serve
        loaded = await asyncio.to_thread(self.flows.load)
        if loaded.problems:
            raise InvalidFlows("\n".join(str(problem) for problem in loaded.problems))
        await migrate(self.db)
        await self.writer.start(self.settings.peer_spool_paths)
        try:  # what the journal held from before the last stop, before state is read back
            await self.writer.drained(self.settings.stop_drain_seconds)
        except StorageBehind as err:
            log.error("%s; starting anyway, the writer keeps trying", err)
        self.settings.voicemail_dir.mkdir(parents=True, exist_ok=True)
        await self.voicemail.recover(self.settings.voicemail_dir)
        if self.settings.flow not in self.flows.names():
            log.error(
                "flow %r is not loaded: calls will be queued with the defaults", self.settings.flow
            )
        self._flow_watch = asyncio.create_task(self._watch_flows(), name="flow-watch")
        await self.recorder.start()
        window = timedelta(hours=self.settings.repeat_caller_hours)
        self.repeat_callers.warm(await self.calls.last_call_by_caller(self.clock() - window))
        await self.dispatcher.start()
        await self.agi.start()
        self._ami_task = asyncio.create_task(self.ami.run(), name="ami")
        if not self.settings.survey_calls:
            log.info("survey calls (回访) off: CALLCENTER_SURVEY_CALLS is false")
        elif not self.settings.trunk_contact:
            log.info("survey calls (回访) off: they need CALLCENTER_TRUNK_CONTACT for calls out")
        else:
            self.surveys.start()
        if self.nightly_archive is not None:
            self.nightly_archive.start()
        if self.memory_trace is not None:
            self.memory_trace.start()
        if self.heap_trim is not None:
            self.heap_trim.start()

    async def stop(self) -> None:
        if self.memory_trace is not None:
            await self.memory_trace.stop()
        if self.heap_trim is not None:
            await self.heap_trim.stop()
        if self.nightly_archive is not None:
            await self.nightly_archive.stop()
        await self.surveys.stop()
        await self.agi.stop()
        await self.ami.stop()
        await self.node_watch.stop()
        if self._ami_task is not None:
            self._ami_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, AmiLoginFailed):
                await self._ami_task
        if self._flow_watch is not None:
            self._flow_watch.cancel()
        await self.dispatcher.stop()
        try:
            await asyncio.wait_for(self.voicemail.drained(), timeout=15)
        except TimeoutError:
            # the recordings stay on disk; recover() files them at the next start
            log.error("voicemail not filed before shutdown; it will be filed at the next start")
        await self.recorder.stop()
        await self.writer.stop(self.settings.stop_drain_seconds)
        await self.db.dispose()

    def request_stop(self) -> None:
        """SIGTERM/SIGINT: stop taking calls, drain the writer, exit (see serve)."""
        self._stop_signal.set()

    async def serve(self) -> int:
        """Run until SIGINT/SIGTERM or a fatal AMI login failure, then stop gracefully: the
        engine owns the signals (uvicorn would re-raise them after serve() and skip stop()).
        With leader election the API serves at once and the engine waits as the standby until
        it holds the lock; it stops (status 3) if it can no longer know that it leads."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        config = uvicorn.Config(
            self.api,
            host=self.settings.api_host,
            port=self.settings.api_port,
            log_level=self.settings.log_level.lower(),
            lifespan="off",
        )
        server = _Server(config)
        stop = asyncio.create_task(self._stop_signal.wait(), name="stop-signal")
        if self.leadership is None:
            await self.start()
            http = asyncio.create_task(server.serve(), name="http")
        else:
            http = asyncio.create_task(server.serve(), name="http")
            if not await self._lead(http, stop):
                server.should_exit = True
                await http
                await self.leadership.release()
                await self.db.dispose()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
                return 0
            await self.start()
        # what start-up built lives as long as the process: out of the collector's
        # generations, a full collection walks only what requests and calls made since (a
        # collection over every imported module's objects stalled a request by 100+ ms)
        gc.freeze()
        assert self._ami_task is not None
        watched = {http, self._ami_task, stop}
        hold: asyncio.Task[None] | None = None
        if self.leadership is not None:
            hold = asyncio.create_task(self.leadership.hold(), name="leadership")
            watched.add(hold)
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        status = 0
        if self._ami_task in done and not self._ami_task.cancelled():
            err = self._ami_task.exception()
            if err is not None:
                log.error("%s", err)
                status = 1
        if hold is not None:
            if hold in done:
                log.error("%s: stopping (another engine may lead now)", hold.exception())
                status = 3
            else:
                hold.cancel()
        if stop in done:
            log.info("stop requested: no new calls (Asterisk's fallback takes them), draining")
        else:
            stop.cancel()
        # no new calls first: with the FastAGI port closed the dialplan takes its fallback path
        await self.agi.stop()
        server.should_exit = True
        await http
        log.info("engine stopping")
        await self.stop()
        if self.leadership is not None:
            await self.leadership.release()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        return status

    async def _lead(self, http: asyncio.Task[None], stop: asyncio.Task[bool]) -> bool:
        """The standby's wait: True once this engine leads, False when asked to stop first."""
        assert self.leadership is not None
        acquire = asyncio.create_task(self.leadership.acquire(), name="leader-election")
        done, _ = await asyncio.wait({acquire, http, stop}, return_when=asyncio.FIRST_COMPLETED)
        if acquire in done:
            acquire.result()
            return True
        acquire.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await acquire
        return False


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the Application handles SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
