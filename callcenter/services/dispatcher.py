"""The dispatcher: owns agent seats and waiting calls, applies routing decisions as they come."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from callcenter.domain import seats
from callcenter.domain.errors import IllegalTransition, InvalidInput, NotFound
from callcenter.domain.metrics import Outcome, QueuedCall, Rating
from callcenter.domain.routing import Assignment, Router, queue_name
from callcenter.domain.seats import AgentProfile, PauseReason, Seat, SeatChange, SeatState
from callcenter.services.feed import EventFeed
from callcenter.services.writer import Writer
from callcenter.storage.seats import AgentSaved, CallbackAsked, RatingGiven, SeatRepository

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RoutingConfig:
    ring: timedelta = timedelta(seconds=15)
    wrap_up: timedelta = timedelta(seconds=10)
    max_wait: timedelta = timedelta(minutes=5)
    announce_every: timedelta = timedelta(seconds=30)
    tick_seconds: float = 0.25


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring this agent's softphone for the waiting caller."""

    agent_id: str
    endpoint: str
    ring_seconds: int


@dataclass
class CallWait:
    """The handle an AGI session holds while its caller waits for an agent."""

    linkedid: str
    offers: asyncio.Queue[Offer] = field(default_factory=asyncio.Queue)


@dataclass
class _Active:
    call: QueuedCall
    wait: CallWait


class Dispatcher:
    def __init__(
        self,
        repository: SeatRepository,
        router: Router,
        clock: Clock,
        config: RoutingConfig,
        feed: EventFeed,
        writer: Writer,
    ) -> None:
        self._repo = repository
        self.router = router
        self._clock = clock
        self.config = config
        self._feed = feed
        self._writer = writer
        self.profiles: dict[str, AgentProfile] = {}
        self.seats: dict[str, Seat] = {}
        self._active: dict[str, _Active] = {}
        self._tick: asyncio.Task[None] | None = None

    # ---- lifecycle ----
    async def start(self) -> None:
        now = self._clock()
        for profile in await self._repo.agents():
            self.profiles[profile.id] = profile
            self.router.set_skills(profile.id, profile.skills)
            self.seats[profile.id] = Seat(profile.id)
        for agent_id, last in (await self._repo.last_transitions()).items():
            if agent_id in self.profiles:
                self.seats[agent_id] = self._restored(self.profiles[agent_id], last, now)
        for seat in list(self.seats.values()):
            if seat.state is SeatState.READY:
                self._became_ready(seat, now)
        self._tick = asyncio.create_task(self._ticker(), name="dispatcher-tick")

    def _restored(self, profile: AgentProfile, last: seats.Transition, now: datetime) -> Seat:
        base = Seat(profile.id, last.state, last.at, extension=profile.endpoint)
        if last.state is SeatState.READY:
            return replace(base, idle_since=last.at)
        if last.state is SeatState.PAUSED:
            known = {reason.value for reason in PauseReason}
            reason = last.reason if last.reason in known else PauseReason.MISSED_CALL.value
            return replace(base, pause_reason=PauseReason(reason))
        if last.state in (SeatState.RINGING, SeatState.ON_CALL, SeatState.WRAP_UP):
            # the engine restarted mid-call: the AGI session is gone, let the agent wrap up
            return replace(base, state=SeatState.WRAP_UP, wrap_up_until=now + self.config.wrap_up)
        return Seat(profile.id)

    async def stop(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick

    async def drained(self, timeout: float | None = None) -> None:
        """Every change so far is in the database (StorageBehind past the writer's deadline)."""
        await self._writer.drained(timeout)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_seconds)
            try:
                self.tick(self._clock())
            except Exception:
                log.exception("dispatcher tick failed")

    def tick(self, now: datetime) -> None:
        """Time-driven decisions: wrap-ups that ran out, overflow rules that came due."""
        for seat in list(self.seats.values()):
            if seat.state is SeatState.WRAP_UP:
                change = seats.wrap_up_expired(seat, now)
                if change.transitions:
                    self._apply(change)
                    self._became_ready(change.seat, now)
        for assignment in self.router.rebalance(now):
            self._deliver(assignment, now)

    # ---- agents ----
    def save_agent(self, profile: AgentProfile) -> None:
        self.router.set_skills(profile.id, profile.skills)
        self.profiles[profile.id] = profile
        self.seats.setdefault(profile.id, Seat(profile.id))
        now = self._clock()
        self._writer.submit("agent", AgentSaved(profile, now))
        seat = self.seats[profile.id]
        if seat.state is SeatState.READY:
            # new skills may match a waiting call right away
            self.router.agent_unavailable(profile.id)
            self._became_ready(seat, now)

    def seat(self, agent_id: str) -> Seat:
        if agent_id not in self.seats:
            raise NotFound(f"agent {agent_id} does not exist")
        return self.seats[agent_id]

    def log_in(self, agent_id: str, extension: str | None) -> Seat:
        now = self._clock()
        profile = self.profiles.get(agent_id)
        if profile is None:
            raise NotFound(f"agent {agent_id} does not exist")
        if not profile.active:
            raise InvalidInput(f"agent {agent_id} is deactivated")
        extension = extension or profile.endpoint
        for other in self.seats.values():
            if other.agent_id != agent_id and other.extension == extension:
                raise InvalidInput(f"extension {extension} is in use by agent {other.agent_id}")
        change = seats.log_in(self.seat(agent_id), extension, now)
        self._apply(change)
        self._became_ready(change.seat, now)
        return self.seats[agent_id]

    def ready(self, agent_id: str) -> Seat:
        now = self._clock()
        change = seats.ready(self.seat(agent_id), now)
        self._apply(change)
        if change.seat.state is SeatState.READY:
            self._became_ready(change.seat, now)
        return self.seats[agent_id]

    def pause(self, agent_id: str, reason: PauseReason) -> Seat:
        self._apply(seats.pause(self.seat(agent_id), reason, self._clock()))
        return self.seats[agent_id]

    def end_wrap_up(self, agent_id: str) -> Seat:
        seat = self.seat(agent_id)
        if seat.state is not SeatState.WRAP_UP:
            raise seats.SeatRefused(f"agent {agent_id} is not in wrap-up ({seat.state.value})")
        return self.ready(agent_id)

    def extend_wrap_up(self, agent_id: str, extra: timedelta) -> Seat:
        self._apply(seats.extend_wrap_up(self.seat(agent_id), extra, self._clock()))
        return self.seats[agent_id]

    def log_out(self, agent_id: str) -> Seat:
        self._apply(seats.log_out(self.seat(agent_id), self._clock()))
        return self.seats[agent_id]

    def _apply(self, change: SeatChange) -> None:
        seat = change.seat
        self.seats[seat.agent_id] = seat
        if seat.state is not SeatState.READY:
            self.router.agent_unavailable(seat.agent_id)
        if change.transitions:
            transitions = list(change.transitions)
            self._writer.submit_many("seat_state", transitions)
            for t in transitions:
                self._feed.publish(
                    "agent_state",
                    agent_id=t.agent_id,
                    state=t.state.value,
                    reason=t.reason,
                    call_id=t.call_id,
                    at=t.at.isoformat(),
                )

    def _became_ready(self, seat: Seat, now: datetime) -> None:
        assignment = self.router.agent_ready(seat.agent_id, seat.idle_since or now, now)
        if assignment is not None:
            self._deliver(assignment, now)

    # ---- calls ----
    @property
    def waiting_count(self) -> int:
        return self.router.waiting_count()

    def enqueue(
        self,
        linkedid: str,
        caller_number: str,
        requirements: Mapping[str, int],
        priority: int,
    ) -> CallWait:
        now = self._clock()
        if linkedid in self._active:
            raise InvalidInput(f"call {linkedid} is already queued")
        call = QueuedCall(
            linkedid=linkedid,
            caller_number=caller_number,
            queue=queue_name(requirements),
            requirements=dict(requirements),
            priority=priority,
            queued_at=now,
        )
        wait = CallWait(linkedid)
        self._active[linkedid] = _Active(call, wait)
        self._save(call)
        assignment = self.router.enqueue(
            linkedid, requirements, priority, now, now, queue=call.queue
        )
        self._feed.publish("call_queued", call_id=linkedid, queue=call.queue, at=now.isoformat())
        if assignment is not None:
            self._deliver(assignment, now)
        return wait

    def position(self, linkedid: str) -> int | None:
        return self.router.position(linkedid)

    def _deliver(self, assignment: Assignment, now: datetime) -> None:
        active = self._active.get(assignment.call_id)
        seat = self.seats.get(assignment.agent_id)
        if active is None or seat is None or seat.state is not SeatState.READY:
            log.error("stale routing decision %s; dropped", assignment)
            return
        self._apply(seats.offer(seat, assignment.call_id, now))
        active.call = replace(
            active.call,
            outcome=Outcome.RINGING,
            agent_id=assignment.agent_id,
            overflow_rule=assignment.overflow_rule or active.call.overflow_rule,
        )
        self._save(active.call)
        extension = self.seats[assignment.agent_id].extension
        assert extension is not None
        ring = int(self.config.ring.total_seconds())
        active.wait.offers.put_nowait(Offer(assignment.agent_id, extension, ring))
        self._feed.publish(
            "call_offered",
            call_id=assignment.call_id,
            agent_id=assignment.agent_id,
            waited=assignment.waited.total_seconds(),
            overflow_rule=assignment.overflow_rule,
            at=now.isoformat(),
        )

    def agent_answered(self, linkedid: str, at: datetime | None = None) -> None:
        active = self._active.get(linkedid)
        if active is None or active.call.outcome is not Outcome.RINGING:
            return
        now = at or self._clock()
        agent_id = active.call.agent_id
        assert agent_id is not None
        self._apply(seats.answered(self.seat(agent_id), linkedid, now))
        active.call = replace(active.call, outcome=Outcome.ANSWERED, agent_answered_at=now)
        self._save(active.call)
        self._feed.publish("call_answered", call_id=linkedid, agent_id=agent_id, at=now.isoformat())

    def not_answered(self, linkedid: str, dial_status: str, *, rang_out: bool) -> None:
        """The offered agent did not pick up (`rang_out`: their phone rang, else it could not
        ring at all): pause them, and the call goes back to the head of the queue keeping its
        original wait time."""
        active = self._active.get(linkedid)
        if active is None or active.call.outcome is not Outcome.RINGING:
            return
        now = self._clock()
        agent_id = active.call.agent_id
        assert agent_id is not None
        seat = self.seat(agent_id)
        if rang_out:
            self._apply(seats.missed(seat, linkedid, now))
        else:
            self._apply(seats.unreachable(seat, linkedid, now, dial_status.lower()[:32]))
        call = replace(
            active.call,
            outcome=Outcome.WAITING,
            agent_id=None,
            missed_by=(*active.call.missed_by, agent_id),
        )
        active.call = call
        self._save(call)
        self._feed.publish(
            "call_missed",
            call_id=linkedid,
            agent_id=agent_id,
            status=dial_status,
            at=now.isoformat(),
        )
        assignment = self.router.enqueue(
            linkedid,
            call.requirements,
            call.priority,
            call.queued_at,
            now,
            requeued=True,
            queue=call.queue,
        )
        if assignment is not None:
            self._deliver(assignment, now)

    def finished(self, linkedid: str) -> QueuedCall | None:
        """The caller's part is over (talked, hung up, or left the queue)."""
        active = self._active.pop(linkedid, None)
        if active is None:
            return None
        now = self._clock()
        call = active.call
        if call.outcome is Outcome.WAITING:
            self.router.cancel(linkedid)
            call = replace(call, outcome=Outcome.ABANDONED)
        elif call.outcome is Outcome.RINGING:
            call = replace(call, outcome=Outcome.ABANDONED)
        if call.agent_id is not None:
            seat = self.seats.get(call.agent_id)
            if seat is not None:
                change = seats.call_ended(seat, linkedid, now, self.config.wrap_up)
                self._apply(change)
                if change.seat.state is SeatState.READY:
                    self._became_ready(change.seat, now)
        call = replace(call, ended_at=now)
        self._save(call)
        self._feed.publish(
            "call_ended", call_id=linkedid, outcome=call.outcome.value, at=now.isoformat()
        )
        return call

    def to_callback(self, linkedid: str) -> QueuedCall | None:
        active = self._active.pop(linkedid, None)
        if active is None:
            return None
        now = self._clock()
        self.router.cancel(linkedid)
        call = replace(active.call, outcome=Outcome.CALLBACK, ended_at=now)
        self._save(call)
        self._writer.submit(
            "callback", CallbackAsked(linkedid, call.caller_number, call.queue, now)
        )
        self._feed.publish("call_ended", call_id=linkedid, outcome="callback", at=now.isoformat())
        return call

    def deflect(self, linkedid: str, caller_number: str, reason: str) -> None:
        now = self._clock()
        call = QueuedCall(
            linkedid=linkedid,
            caller_number=caller_number,
            queue="admission",
            requirements={},
            priority=0,
            queued_at=now,
            outcome=Outcome.DEFLECTED,
            ended_at=now,
            overflow_rule=reason,
        )
        self._save(call)
        self._feed.publish("call_deflected", call_id=linkedid, reason=reason, at=now.isoformat())

    def call_of(self, agent_id: str) -> str:
        """The call an agent is talking to; refused when they are not on one."""
        seat = self.seat(agent_id)
        if seat.state is not SeatState.ON_CALL or seat.call_id is None:
            raise IllegalTransition(f"agent {agent_id} is {seat.state.value}, not on a call")
        return seat.call_id

    def mark_silent(self, linkedid: str, silent: bool) -> None:
        """The agent heard nobody and ends the call with the silent-call script."""
        active = self._active.get(linkedid)
        if active is None:
            return
        active.call = replace(active.call, silent=silent)
        self._save(active.call)

    def rate(self, linkedid: str, rating: Rating) -> None:
        """The caller rated the conversation, after it ended (kept with the queued call)."""
        self._writer.submit("rating", RatingGiven(linkedid, rating))
        self._feed.publish("call_rated", call_id=linkedid, rating=rating.value)

    def _save(self, call: QueuedCall) -> None:
        self._writer.submit("queued_call", call)

    # ---- views ----
    def active_calls(self) -> list[QueuedCall]:
        return [active.call for active in self._active.values()]
