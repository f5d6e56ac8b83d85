"""The call-control seam: what the engine's scripts do to one call. Services speak only this
interface; its FastAGI implementation (telephony/agi.py) holds the AGI commands, dialplan
applications and channel variables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol


class CallerHungUp(Exception):
    """The channel is gone; the script ends."""


@dataclass(frozen=True, slots=True)
class AgentDial:
    """How ringing an agent's phone ended: answered (and how long they talked, when Asterisk
    said), or not, and then whether it rang out or could not ring at all."""

    answered: bool
    # Asterisk's word for it (ANSWER, NOANSWER, BUSY, CHANUNAVAIL, ...): shown and kept as is
    status: str
    rang_out: bool = False
    talked: timedelta | None = None


class CallControl(Protocol):
    """One call in the engine's hands. Prompts are named relative to the prompt root as the
    prompt layout gives them (domain/ivr.PromptLayout); digits come back as one character, ""
    for none."""

    @property
    def uniqueid(self) -> str: ...

    @property
    def caller_number(self) -> str: ...

    async def linkedid(self) -> str:
        """The call this channel belongs to (its own uniqueid when Asterisk does not say)."""
        ...

    async def answer(self) -> None: ...

    async def play(self, prompt: str, interrupt: str = "") -> str:
        """Play a prompt; the digit of `interrupt` that cut it short, or ""."""
        ...

    async def play_all(self, prompts: Sequence[str], interrupt: str = "") -> str:
        """Play prompts in order, stopping at the first digit of `interrupt` keyed."""
        ...

    async def wait_digit(self, timeout_ms: int) -> str:
        """The next digit keyed within `timeout_ms`, or ""."""
        ...

    async def variable(self, name: str) -> str:
        """A channel variable's value, "" when unset."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def sip_header(self, name: str) -> str:
        """A header of the call's SIP INVITE, "" when absent."""
        ...

    async def start_hold_music(self) -> None: ...

    async def stop_hold_music(self) -> None: ...

    async def pause(self, seconds: int) -> None: ...

    async def mark_handled(self, handled: bool) -> None:
        """Tell the dialplan whether the call is done with (its script ended, or an agent may
        answer and Asterisk carries the conversation alone); a call not marked goes to the
        next engine if this one vanishes mid-script."""
        ...

    async def dial_agent(self, endpoint: str, ring_seconds: int, proxy: str = "") -> AgentDial:
        """Ring an agent's softphone (through `proxy`, the SIP proxy holding its registration,
        when given) and bridge the caller on answer; returns once the conversation (or the
        ringing) is over, with the caller still in this script."""
        ...

    async def transfer(self, number: str, trunk: str) -> None:
        """Put the call through to a number outside, through the trunk."""
        ...

    async def record_conversation(self, path: str) -> None:
        """Record the time the caller is bridged to someone into `path` (a wav file)."""
        ...

    async def record_message(
        self, base: str, *, max_seconds: int, beep: bool, silence_seconds: int
    ) -> None:
        """Record the caller into `<base>.wav` until #, silence or `max_seconds`."""
        ...

    async def hangup_signal(self) -> None:
        """Completes when the caller hangs up; only while no other command is in flight."""
        ...

    async def hangup(self) -> None: ...
