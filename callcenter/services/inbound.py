"""The FastAGI script for calls into 12345: admit, greet, and connect the caller to an agent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from callcenter.domain.admission import Admission
from callcenter.domain.announcements import estimated_wait, position_announcement
from callcenter.domain.calls import (
    CallOutcome,
    EngineTookCall,
    OutcomeKnown,
    RecordingDiscarded,
    RecordingStarted,
)
from callcenter.domain.errors import InvalidInput, NotFound
from callcenter.domain.ivr import PromptLayout, Queue, WorkingDayCalendar
from callcenter.domain.metrics import RATING_KEYS, Outcome, QueuedCall
from callcenter.domain.routing import DEFAULT_REQUIREMENTS, check_skill
from callcenter.services.call_records import CallRecorder
from callcenter.services.dispatcher import CallWait, Dispatcher, Offer
from callcenter.services.ivr_driver import FlowEnd, IvrDriver, IvrProgress
from callcenter.services.repeat_callers import RepeatCallers
from callcenter.services.tasks import cancelled
from callcenter.telephony.call_control import CallControl, CallerHungUp
from callcenter.telephony.flow_registry import FlowRegistry

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DEFAULT_HANDLE_TIME = timedelta(minutes=3)


@dataclass(frozen=True)
class Prompts:
    """Prompts by key and language, laid out as the flows' prompt catalogue says (its default
    language at the top, the others in a folder each: domain/ivr.PromptLayout)."""

    layout: Callable[[], PromptLayout]

    @property
    def default_language(self) -> str:
        return self.layout().default_language

    def path(self, key: str, language: str | None = None) -> str:
        layout = self.layout()
        return layout.path(key, language or layout.default_language)


ROUTING_HEADER = "X-CC-Route"
# how long the caller has to key in a rating after the prompt
RATING_WAIT_MS = 5000
# how long after its call ends a recording with no conversation is looked for, to delete it
DISCARD_WAIT = 30.0
# a flow's hold information plays when no agent took the call within this long of queueing
HOLD_INFO_AFTER = timedelta(seconds=1)


def parse_route_hint(text: str) -> dict[str, int]:
    """`lang:english=1,topic:housing=3` -> skill requirements (from a trusted upstream IVR)."""
    requirements: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        skill, sep, level = part.partition("=")
        if not sep or not level.isdigit():
            raise InvalidInput(f"{part!r} is not skill=level")
        check_skill(skill, int(level))
        requirements[skill] = int(level)
    return requirements


class InboundCalls:
    def __init__(
        self,
        *,
        recorder: CallRecorder,
        dispatcher: Dispatcher,
        repeat_callers: RepeatCallers,
        admission: Admission,
        prompts: Prompts,
        flows: FlowRegistry,
        flow_name: str,
        calendar: WorkingDayCalendar,
        ivr: IvrDriver,
        outbound_endpoint: str,
        clock: Clock,
        recordings_dir: str | None = None,
        satisfaction_survey: bool = False,
        routing_header: bool = False,
        agent_proxy: str = "",
    ) -> None:
        self._routing_header = routing_header
        # agents reached through a SIP proxy they registered with (a cluster), or directly
        self._agent_proxy = agent_proxy
        self._flows = flows
        self._flow_name = flow_name
        self._calendar = calendar
        self._ivr = ivr
        self._outbound = outbound_endpoint
        self._recordings = recordings_dir
        self._survey = satisfaction_survey
        # calls whose agent asked for the silent-call script; played once the agent leg is gone
        self._silent: set[str] = set()
        self._recorder = recorder
        self._dispatcher = dispatcher
        self._repeat_callers = repeat_callers
        self._admission = admission
        self._prompts = prompts
        self._clock = clock
        self._discards: set[asyncio.Task[None]] = set()

    def _told(self, linkedid: str, outcome: CallOutcome, queued: QueuedCall | None = None) -> None:
        """Tell the call record what became of the call in the hotline's terms."""
        self._recorder.submit(
            OutcomeKnown(
                linkedid=linkedid,
                outcome=outcome,
                at=self._clock(),
                queued_at=queued.queued_at if queued else None,
                agent_answered_at=queued.agent_answered_at if queued else None,
            )
        )

    async def __call__(self, channel: CallControl) -> None:
        linkedid = await channel.linkedid()
        caller = channel.caller_number
        self._recorder.submit(EngineTookCall(linkedid=linkedid, at=self._clock()))
        refusal = self._admission.decide(time.monotonic(), self._recorder.admitted_calls)
        if refusal is None:
            self._recorder.admit(linkedid)
        else:
            # beyond capacity: tell the caller, count the call, never drop it silently
            self._dispatcher.deflect(linkedid, caller, refusal.value)
            self._told(linkedid, CallOutcome.DEFLECTED)
            log.warning("call %s from %s deflected: %s", linkedid, caller, refusal.value)
            await channel.answer()
            await channel.play(self._prompts.path("busy"))
            return
        progress = IvrProgress()
        try:
            await channel.answer()
            try:
                runner = self._flows.runner(self._flow_name, self._calendar)
            except NotFound as err:
                # no valid flow at all: greet and queue rather than lose the call
                log.error("call %s: %s; queueing with the defaults", linkedid, err.message)
                await channel.play(self._prompts.path("welcome"))
                language = self._prompts.default_language
                end = FlowEnd(queue=Queue(DEFAULT_REQUIREMENTS, 0, language))
            else:
                end = await self._ivr.run(channel, runner, linkedid, caller, progress)
        except CallerHungUp:
            self._told(linkedid, progress.outcome(ended_by_flow=False))
            raise
        if end.transfer is not None:
            self._told(linkedid, CallOutcome.TRANSFERRED)
            await channel.transfer(end.transfer, self._outbound)
            return
        if end.queue is None:
            self._told(linkedid, progress.outcome(ended_by_flow=True))
            return
        requirements: Mapping[str, int] = end.queue.requirements
        if self._routing_header:
            hint = await channel.sip_header(ROUTING_HEADER)
            try:
                requirements = parse_route_hint(hint) or requirements
            except InvalidInput as err:
                log.warning("call %s: ignoring %s: %s", linkedid, ROUTING_HEADER, err.message)
        repeat = self._repeat_callers.seen(caller, linkedid, self._clock())
        priority = max(end.queue.priority, 1 if repeat else 0)
        await self.connect_to_agent(
            channel,
            linkedid,
            caller,
            requirements,
            priority,
            end.queue.language,
            hold=end.queue.hold_files,
        )

    async def connect_to_agent(
        self,
        channel: CallControl,
        linkedid: str,
        caller: str,
        requirements: Mapping[str, int],
        priority: int,
        language: str | None = None,
        hold: Sequence[str] = (),
    ) -> None:
        """Queue the caller on music on hold until an agent answers, announcing position and
        estimated wait; after the maximum wait offer a callback instead of waiting on. `hold`
        (information that can wait) plays once if no agent takes the call at once: an agent
        freed meanwhile rings at the end of the prompt playing, and the rest is skipped."""
        wait = self._dispatcher.enqueue(linkedid, caller, requirements, priority)
        config = self._dispatcher.config
        queued_at = self._clock()
        recording: str | None = None  # not started yet; "" when calls are not recorded
        final: QueuedCall | None = None
        information = list(hold)
        # an agent free at once rings without a blip of hold music: two AGI round trips fewer
        holding = wait.offers.empty()
        try:
            if holding:
                await channel.start_hold_music()
            next_announce = queued_at + config.announce_every
            while True:
                now = self._clock()
                deadline = min(next_announce, queued_at + config.max_wait)
                if information:
                    deadline = min(deadline, queued_at + HOLD_INFO_AFTER)
                offer = await self._next_offer(channel, wait, (deadline - now).total_seconds())
                if offer is not None:
                    if holding:
                        await channel.stop_hold_music()
                    if recording is None:
                        recording = await self._record(channel, linkedid)
                    if await self._ring(channel, linkedid, offer):
                        if linkedid in self._silent:
                            # the agent is free at once; the caller hears the script alone
                            self._silent.discard(linkedid)
                            final = self._dispatcher.finished(linkedid)
                            await self._silent_script(channel, language)
                        elif self._survey:
                            # the agent hung up first and the caller is still here
                            final = self._dispatcher.finished(linkedid)
                            await self._ask_rating(channel, linkedid, language)
                        return
                    await channel.start_hold_music()
                    holding = True
                    continue
                if information:
                    files, information = information, []
                    await channel.stop_hold_music()
                    for file in files:
                        if not wait.offers.empty():
                            break  # an agent is free: the rest can wait for another call
                        await channel.play(file)
                    await channel.start_hold_music()
                    holding = True
                    continue
                now = self._clock()
                if now - queued_at >= config.max_wait:
                    await channel.stop_hold_music()
                    final = self._dispatcher.to_callback(linkedid)
                    await channel.play(self._prompts.path("callback_offer", language))
                    return
                if now >= next_announce:
                    next_announce = now + config.announce_every
                    await self._announce(channel, linkedid, language)
        finally:
            self._silent.discard(linkedid)  # the caller may have hung up first
            final = self._dispatcher.finished(linkedid) or final
            self._queue_outcome(linkedid, final, recording)

    def _queue_outcome(
        self, linkedid: str, final: QueuedCall | None, recording: str | None
    ) -> None:
        if final is not None and final.outcome is Outcome.ANSWERED:
            self._told(linkedid, CallOutcome.AGENT, final)
            return
        gave_up = final is None or final.outcome is not Outcome.CALLBACK
        self._told(
            linkedid, CallOutcome.ABANDONED_QUEUE if gave_up else CallOutcome.CALLBACK, final
        )
        if recording:
            # nobody answered: the file holds no conversation (a bare WAV header), keep none
            self._recorder.submit(RecordingDiscarded(linkedid=linkedid, at=self._clock()))
            task = asyncio.create_task(
                self._discard_file(linkedid, recording), name=f"discard-{linkedid}"
            )
            self._discards.add(task)
            task.add_done_callback(self._discards.discard)

    async def _discard_file(self, linkedid: str, path: str) -> None:
        """Delete a recording without conversation once Asterisk has closed it (the channel
        is gone; MixMonitor writes the bare header as it ends)."""
        for _ in range(int(DISCARD_WAIT / 0.5)):
            if not self._recorder.is_open(linkedid):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)

        def remove() -> None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

        await asyncio.to_thread(remove)

    async def _next_offer(
        self, channel: CallControl, wait: CallWait, timeout: float
    ) -> Offer | None:
        if not wait.offers.empty():
            return wait.offers.get_nowait()
        got = asyncio.ensure_future(wait.offers.get())
        gone = asyncio.ensure_future(channel.hangup_signal())
        done, _ = await asyncio.wait(
            {got, gone}, timeout=max(0.0, timeout), return_when=asyncio.FIRST_COMPLETED
        )
        # the socket reader must be free again before the next AGI command reads from it
        await cancelled(gone)
        if got in done:
            return got.result()
        await cancelled(got)
        if gone in done:
            raise CallerHungUp("hung up while queued")
        return None

    async def _record(self, channel: CallControl, linkedid: str) -> str:
        """Record the conversation: only the time the caller is bridged to an agent, so hold
        music and unanswered rings are not in the file."""
        if self._recordings is None:
            return ""
        now = self._clock()
        path = f"{self._recordings}/{now:%Y/%m/%d}/{linkedid}.wav"
        await channel.record_conversation(path)
        self._recorder.submit(RecordingStarted(linkedid=linkedid, path=path, at=now))
        return path

    def script_silence(self, linkedid: str) -> None:
        """When this call's agent leg ends, play the silent-call script and hang up."""
        self._silent.add(linkedid)

    def cancel_silence(self, linkedid: str) -> None:
        self._silent.discard(linkedid)

    async def _ask_rating(self, channel: CallControl, linkedid: str, language: str | None) -> None:
        """满意度评价: 1 satisfied, 2 basically satisfied, 3 dissatisfied; nothing keyed in
        (or a hang-up) leaves the call unrated."""
        digit = await channel.play(
            self._prompts.path("rating_request", language), "".join(RATING_KEYS)
        )
        if not digit:
            digit = await channel.wait_digit(RATING_WAIT_MS)
        rating = RATING_KEYS.get(digit)
        log.info("call %s: rated %s", linkedid, rating.value if rating else f"nothing ({digit!r})")
        if rating is None:
            return
        self._dispatcher.rate(linkedid, rating)
        await channel.play(self._prompts.path("rating_thanks", language))

    async def _silent_script(self, channel: CallControl, language: str | None) -> None:
        """The standard silent-call script: ask the caller to speak, twice, then say goodbye."""
        for _ in range(2):
            await channel.play(self._prompts.path("silent_call_prompt", language))
            await channel.pause(2)
        await channel.play(self._prompts.path("silent_call_goodbye", language))

    async def _ring(self, channel: CallControl, linkedid: str, offer: Offer) -> bool:
        """Dial the offered agent; True when they answered (the conversation is now over)."""
        # once an agent may answer, the conversation is Asterisk's: never restarted elsewhere
        await channel.mark_handled(True)
        dialled = await channel.dial_agent(offer.endpoint, offer.ring_seconds, self._agent_proxy)
        if dialled.answered:
            # normally AMI's DialEnd marked the answer as it happened; if AMI was down, derive it
            if dialled.talked is not None:
                self._dispatcher.agent_answered(linkedid, self._clock() - dialled.talked)
            return True
        self._dispatcher.not_answered(linkedid, dialled.status, rang_out=dialled.rang_out)
        await channel.mark_handled(False)
        return False

    async def _announce(self, channel: CallControl, linkedid: str, language: str | None) -> None:
        position = self._dispatcher.position(linkedid)
        if position is None:
            return
        serving = sum(
            1 for seat in self._dispatcher.seats.values() if seat.state.value != "logged_out"
        )
        wait = estimated_wait(position, DEFAULT_HANDLE_TIME, serving)
        await channel.stop_hold_music()
        for key in position_announcement(position, wait):
            await channel.play(self._prompts.path(key, language))
        await channel.start_hold_music()
