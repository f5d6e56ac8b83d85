"""The IVR driver performs a flow's actions through the call-control interface: prompts as the
catalogue lays them out (no language written into the driver), digits as the interface reads
them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from callcenter.domain.ivr import (
    DigitsPressed,
    InputTimeout,
    IvrState,
    IvrTurn,
    Play,
    PromptLayout,
    ReadDigits,
    SayDigits,
)
from callcenter.services.ivr_driver import IvrDriver, IvrProgress
from callcenter.telephony.call_control import AgentDial

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


class FakeCall:
    """A call that keys `typed` one digit at a time and remembers what it was asked to play."""

    uniqueid = "1764.1"
    caller_number = "13911110001"

    def __init__(self, typed: str = "") -> None:
        self.played: list[str] = []
        self._typed = list(typed)

    async def play(self, prompt: str, interrupt: str = "") -> str:
        self.played.append(prompt)
        return ""

    async def play_all(self, prompts: Sequence[str], interrupt: str = "") -> str:
        for prompt in prompts:
            await self.play(prompt, interrupt)
        return ""

    async def wait_digit(self, timeout_ms: int) -> str:
        return self._typed.pop(0) if self._typed else ""

    async def linkedid(self) -> str:
        return self.uniqueid

    async def answer(self) -> None: ...
    async def variable(self, name: str) -> str:
        return ""

    async def set_variable(self, name: str, value: str) -> None: ...
    async def sip_header(self, name: str) -> str:
        return ""

    async def start_hold_music(self) -> None: ...
    async def stop_hold_music(self) -> None: ...
    async def pause(self, seconds: int) -> None: ...
    async def dial_agent(self, endpoint: str, ring_seconds: int) -> AgentDial:
        return AgentDial(answered=False, status="NOANSWER", rang_out=True)

    async def transfer(self, number: str, trunk: str) -> None: ...
    async def record_conversation(self, path: str) -> None: ...
    async def record_message(
        self, base: str, *, max_seconds: int, beep: bool, silence_seconds: int
    ) -> None: ...
    async def hangup_signal(self) -> None: ...
    async def hangup(self) -> None: ...


async def _never(*_: object) -> None:
    return None


def driver() -> IvrDriver:
    return IvrDriver(
        voicemail_dir="/vm",
        lookup=_never,  # type: ignore[arg-type]
        voicemail=_never,  # type: ignore[arg-type]
        record_steps=lambda _linkedid, _steps: None,
        clock=lambda: NOW,
    )


def turn(*actions: object) -> IvrTurn:
    return IvrTurn(IvrState("main", "n", "zh"), tuple(actions), ())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("default", "language", "played"),
    [
        ("zh", "zh", ["num_4", "num_2"]),
        ("zh", "en", ["en/num_4", "en/num_2"]),
        # a catalogue whose default language is English keeps English at the top
        ("en", "en", ["num_4", "num_2"]),
        ("en", "zh", ["zh/num_4", "zh/num_2"]),
    ],
)
async def test_digits_are_said_in_the_callers_language_as_the_catalogue_lays_it_out(
    default: str, language: str, played: list[str]
) -> None:
    call = FakeCall()
    await driver()._perform(
        call, PromptLayout(default), turn(SayDigits("42", language)), "1764.1", "", IvrProgress()
    )
    assert call.played == played


async def test_keyed_digits_are_read_until_the_terminator_or_silence() -> None:
    call = FakeCall("12#9")
    read = ReadDigits(max_digits=6, timeout=5, terminator="#")
    got = await driver()._perform(
        call, PromptLayout("zh"), turn(Play(("k",), ("menu",)), read), "1764.1", "", IvrProgress()
    )
    assert got == DigitsPressed(NOW, "12#") and call.played == ["menu"]
    silent = await driver()._perform(
        FakeCall(), PromptLayout("zh"), turn(read), "1764.1", "", IvrProgress()
    )
    assert silent == InputTimeout(NOW)
