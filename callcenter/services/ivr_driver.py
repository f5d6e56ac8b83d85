"""Performs an IVR flow's actions on a call over FastAGI and feeds the caller's input back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from callcenter.domain.calls import CallOutcome
from callcenter.domain.ivr import (
    DigitsPressed,
    FlowRunner,
    FlowStep,
    Hangup,
    InputTimeout,
    IvrInput,
    IvrTurn,
    LookupResult,
    LookupTicket,
    Play,
    PromptLayout,
    Queue,
    ReadDigits,
    RecordingFinished,
    RecordVoicemail,
    SayDigits,
    Transfer,
)
from callcenter.domain.workdays import HOTLINE_ZONE
from callcenter.telephony.call_control import CallControl

log = logging.getLogger(__name__)


class TicketStatusLookup(Protocol):
    """Self-service: a ticket's progress by query code and the caller's phone number."""

    async def __call__(self, code: str, phone: str) -> str | None: ...


class VoicemailSink(Protocol):
    """Takes a recorded message: normalizes, transcribes and files it as a draft ticket."""

    async def __call__(self, linkedid: str, caller: str, recording: str) -> None: ...


@dataclass(frozen=True)
class FlowEnd:
    """How the flow left the call: queue it (with these needs), transfer it, or hang up."""

    queue: Queue | None = None
    transfer: str | None = None


@dataclass
class IvrProgress:
    """What the caller did in the flow so far, to name the call's outcome if it ends there."""

    voicemail: bool = False
    self_service: bool = False

    def outcome(self, *, ended_by_flow: bool) -> CallOutcome:
        if self.voicemail:
            return CallOutcome.VOICEMAIL
        if self.self_service or ended_by_flow:
            return CallOutcome.SELF_SERVICE
        return CallOutcome.ABANDONED_IVR


class IvrDriver:
    def __init__(
        self,
        *,
        voicemail_dir: str,
        lookup: TicketStatusLookup,
        voicemail: VoicemailSink,
        record_steps: Callable[[str, tuple[FlowStep, ...]], None],
        clock: Callable[[], datetime],
    ) -> None:
        self._voicemail_dir = voicemail_dir.rstrip("/")
        self._lookup = lookup
        self._voicemail = voicemail
        self._record_steps = record_steps
        self._clock = clock

    def local_now(self) -> datetime:
        return self._clock().astimezone(HOTLINE_ZONE)

    async def run(
        self,
        channel: CallControl,
        runner: FlowRunner,
        linkedid: str,
        caller: str,
        progress: IvrProgress | None = None,
    ) -> FlowEnd:
        progress = progress or IvrProgress()
        turn = runner.start(self.local_now())
        while True:
            self._record_steps(linkedid, turn.steps)
            outcome = await self._perform(channel, runner.layout, turn, linkedid, caller, progress)
            if isinstance(outcome, FlowEnd):
                return outcome
            turn = runner.advance(turn.state, outcome)

    async def _perform(
        self,
        channel: CallControl,
        layout: PromptLayout,
        turn: IvrTurn,
        linkedid: str,
        caller: str,
        progress: IvrProgress,
    ) -> IvrInput | FlowEnd:
        typed = ""  # a digit that cut a prompt short: the first of the next ReadDigits
        for action in turn.actions:
            match action:
                case Play():
                    if typed:
                        continue
                    typed = await channel.play_all(action.files, action.interrupt_digits)
                case SayDigits():
                    for digit in action.digits:
                        key = f"num_{digit}" if digit.isdigit() else "num_0"
                        await channel.play(layout.path(key, action.language))
                case ReadDigits():
                    return await self._read(channel, action, typed)
                case LookupTicket():
                    progress.self_service = True
                    try:
                        status = await self._lookup(action.code, caller)
                    except Exception:
                        log.exception("ticket lookup failed for call %s", linkedid)
                        return LookupResult(self.local_now(), None, failed=True)
                    return LookupResult(self.local_now(), status)
                case RecordVoicemail():
                    progress.voicemail = True
                    return await self._record(channel, action, linkedid, caller)
                case Queue():
                    return FlowEnd(queue=action)
                case Transfer():
                    return FlowEnd(transfer=action.number)
                case Hangup():
                    return FlowEnd()
        return FlowEnd()

    async def _read(self, channel: CallControl, action: ReadDigits, typed: str) -> IvrInput:
        digits = typed
        timeout_ms = max(1, int(action.timeout * 1000))
        while len(digits) < action.max_digits:
            if action.terminator and digits.endswith(action.terminator):
                break
            digit = await channel.wait_digit(timeout_ms)
            if not digit:
                break
            digits += digit
        if not digits:
            return InputTimeout(self.local_now())
        return DigitsPressed(self.local_now(), digits)

    async def _record(
        self, channel: CallControl, action: RecordVoicemail, linkedid: str, caller: str
    ) -> IvrInput:
        base = f"{self._voicemail_dir}/{linkedid}"
        try:
            await channel.record_message(
                base,
                max_seconds=action.max_seconds,
                beep=action.beep,
                silence_seconds=action.silence_seconds,
            )
        finally:
            # a caller who hangs up at the end of the message has still left it
            await self._voicemail(linkedid, caller, f"{base}.wav")
        return RecordingFinished(self.local_now())
