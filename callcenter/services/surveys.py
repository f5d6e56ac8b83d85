"""回访 by telephone: places the survey calls, runs the voice survey over FastAGI, files results.

The engine calls out through the trunk (telephony/dial_out.py); when the citizen answers, the
originated side runs the `survey` FastAGI script, which asks for 1, 2 or 3
and records it as the ticket's callback result, under the engine's name in the audit trail. A call
that is not answered is closed from AMI's OriginateResponse."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from callcenter.domain.access import Principal, Role
from callcenter.domain.dialing import CallOutResult, dialable
from callcenter.domain.errors import (
    DomainError,
    IllegalTransition,
    InvalidInput,
    TelephonyUnavailable,
)
from callcenter.domain.surveys import (
    SURVEY_KEYS,
    Candidate,
    SurveyAttempt,
    SurveyOutcome,
    SurveyPolicy,
    due,
)
from callcenter.domain.tickets import CallbackResult
from callcenter.domain.workdays import HOTLINE_ZONE
from callcenter.services.calls_out import Originator, recording_path
from callcenter.services.inbound import Prompts
from callcenter.services.placed_calls import PlacedCalls
from callcenter.services.tasks import cancelled
from callcenter.services.tickets import TicketService
from callcenter.storage.surveys import SurveyRepository
from callcenter.telephony.call_control import CallControl
from callcenter.telephony.dial_out import SURVEY_VARIABLE, survey_call
from callcenter.telephony.events import TelephonyEvent

log = logging.getLogger(__name__)

# the survey's answers go into the audit trail under this name
SURVEYOR = Principal(token_id=0, name="engine (回访 survey)", role=Role.AGENT)
CHANNEL_PREFIX = "cc-survey-"
# how long the citizen has to key in an answer after the question, and how often it is asked
ANSWER_WAIT_MS = 6000
ASKS = 2


class Ami(Originator, Protocol):
    connected: asyncio.Event


@dataclass(frozen=True)
class SurveyLine:
    """How the survey reaches citizens: the endpoint (None: no calls out are configured) and
    ring time of its calls."""

    outbound_endpoint: str | None
    ring_seconds: int


def attempt_of_channel(uniqueid: str) -> int | None:
    """`cc-survey-17-a1b2c3` (the ChannelId the engine gave the call) -> 17."""
    if not uniqueid.startswith(CHANNEL_PREFIX):
        return None
    number = uniqueid.removeprefix(CHANNEL_PREFIX).split("-", 1)[0]
    return int(number) if number.isdigit() else None


class SurveyCalls:
    def __init__(
        self,
        *,
        attempts: SurveyRepository,
        tickets: TicketService,
        ami: Ami,
        prompts: Prompts,
        policy: SurveyPolicy,
        line: SurveyLine,
        clock: Callable[[], datetime],
        poll_seconds: float,
        placed: PlacedCalls,
        recordings_dir: str | None = None,
    ) -> None:
        self._attempts = attempts
        self._tickets = tickets
        self._ami = ami
        self._prompts = prompts
        self.policy = policy
        self._line = line
        self._clock = clock
        self._poll = poll_seconds
        self._recordings = recordings_dir
        self._placed = placed
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[SurveyAttempt | None]] = set()
        # a round and an agent's "call now" must not both call the same citizen
        self._dialing = asyncio.Lock()

    # ---- placing the calls ----
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="survey-calls")

    async def stop(self) -> None:
        await cancelled(self._task)
        if self._pending:
            await asyncio.wait(self._pending, timeout=5)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("survey round failed; trying again in %s s", self._poll)
            await asyncio.sleep(self._poll)

    async def tick(self) -> list[SurveyAttempt]:
        """One round: give up attempts nobody reported on, then call whoever is due."""
        if not self._ami.connected.is_set():
            return []
        async with self._dialing:
            return await self._round()

    async def _round(self) -> list[SurveyAttempt]:
        now = self._clock()
        for stale in await self._attempts.open_attempts():
            if now - stale.started_at > self.policy.stale_after:
                log.warning("survey attempt %d: no report from Asterisk; given up", stale.id)
                await self._attempts.finish(stale.id, SurveyOutcome.FAILED, now)
        candidates = await self._attempts.candidates()
        known = await self._attempts.relevant([c.ticket_id for c in candidates])
        placed = []
        for candidate in due(candidates, known, now.astimezone(HOTLINE_ZONE), self.policy):
            placed.append(await self.dial(candidate))
        return placed

    async def dial(self, candidate: Candidate) -> SurveyAttempt:
        """Place one survey call now (also what an agent's "call now" does)."""
        if self._line.outbound_endpoint is None:
            raise TelephonyUnavailable("no calls out: CALLCENTER_TRUNK_CONTACT is not set")
        if not dialable(candidate.phone):
            raise InvalidInput(
                f"ticket {candidate.ticket_id}: {candidate.phone!r} is not a number to call"
            )
        attempt = await self._attempts.start(candidate.ticket_id, candidate.phone, self._clock())
        channel_id = f"{CHANNEL_PREFIX}{attempt.id}-{secrets.token_hex(3)}"
        recording = recording_path(self._recordings, "surveys", attempt.started_at, channel_id)
        if recording:
            await self._attempts.recorded(attempt.id, recording)
            attempt = replace(attempt, recording=recording)
        action = survey_call(
            candidate.phone,
            attempt.id,
            channel_id=channel_id,
            outbound_endpoint=self._line.outbound_endpoint,
            ring_seconds=self._line.ring_seconds,
            recording=recording,
        )
        self._placed.placing(channel_id, candidate.phone, recording, attempt.started_at)
        try:
            await self._ami.action(action)
        except TelephonyUnavailable as err:
            log.error("survey attempt %d could not be placed: %s", attempt.id, err)
            self._placed.not_placed(channel_id, "not placed", self._clock())
            return await self._close(attempt.id, SurveyOutcome.FAILED) or attempt
        log.info("survey attempt %d: calling ticket %d", attempt.id, candidate.ticket_id)
        return attempt

    async def call_now(self, ticket_id: int, phone: str) -> SurveyAttempt:
        """An agent's "survey this citizen now", outside the rounds (calling hours still hold
        for the rounds, not for a person deciding to call)."""
        if not self._ami.connected.is_set():
            raise TelephonyUnavailable("Asterisk is not connected: no call can be placed")
        async with self._dialing:
            if any(a.open for a in await self._attempts.of_ticket(ticket_id)):
                raise IllegalTransition(f"ticket {ticket_id}: a survey call is already under way")
            return await self.dial(Candidate(ticket_id, phone, self._clock()))

    async def attempts_of(self, ticket_id: int) -> list[SurveyAttempt]:
        return await self._attempts.of_ticket(ticket_id)

    def on_event(self, event: TelephonyEvent) -> None:
        """A survey call that was not answered closes its attempt."""
        if not isinstance(event, CallOutResult) or event.answered:
            return
        attempt_id = attempt_of_channel(event.channel_id)
        if attempt_id is None:
            return
        outcome = SurveyOutcome(event.outcome.value)
        task = asyncio.ensure_future(self._close(attempt_id, outcome))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _close(
        self, attempt_id: int, outcome: SurveyOutcome, result: CallbackResult | None = None
    ) -> SurveyAttempt | None:
        closed = await self._attempts.finish(attempt_id, outcome, self._clock(), result)
        if closed is not None:
            log.info("survey attempt %d: %s", attempt_id, outcome.value)
        return closed

    # ---- the voice survey (FastAGI script "survey") ----
    async def __call__(self, channel: CallControl) -> None:
        attempt_id = attempt_of_channel(channel.uniqueid)
        if attempt_id is None:
            raw = await channel.variable(SURVEY_VARIABLE)
            attempt_id = int(raw) if raw.isdigit() else None
        if attempt_id is None:
            log.error("survey script on %s without a survey attempt", channel.uniqueid)
            return
        try:
            attempt = await self._attempts.get(attempt_id)
            result = await self._ask(channel)
        except BaseException:
            await self._close(attempt_id, SurveyOutcome.NO_INPUT)
            raise
        if result is None:
            await self._close(attempt.id, SurveyOutcome.NO_INPUT)
            await channel.play(self._prompts.path("survey_goodbye"))
            return
        outcome = await self._file(attempt, result)
        await self._close(attempt.id, outcome, result)
        await channel.play(self._prompts.path("survey_thanks"))

    async def _ask(self, channel: CallControl) -> CallbackResult | None:
        keys = "".join(SURVEY_KEYS)
        digit = await channel.play(self._prompts.path("survey_intro"), keys)
        for _ in range(ASKS):
            if not digit:
                digit = await channel.play(self._prompts.path("survey_question"), keys)
            if not digit:
                digit = await channel.wait_digit(ANSWER_WAIT_MS)
            if digit in SURVEY_KEYS:
                return SURVEY_KEYS[digit]
            digit = ""
        return None

    async def _file(self, attempt: SurveyAttempt, result: CallbackResult) -> SurveyOutcome:
        comment = f"电话回访按键 {result.value} (survey attempt {attempt.id})"
        try:
            await self._tickets.act(
                attempt.ticket_id,
                SURVEYOR,
                lambda w, t, now: w.record_callback(t, result, comment, SURVEYOR, now),
            )
        except IllegalTransition:
            # someone recorded the callback while the survey was asking: theirs stands
            log.info(
                "survey attempt %d: ticket %d no longer awaits it", attempt.id, attempt.ticket_id
            )
            return SurveyOutcome.SUPERSEDED
        except DomainError:
            log.exception("survey attempt %d: result not filed", attempt.id)
            return SurveyOutcome.FAILED
        return SurveyOutcome.ANSWERED
