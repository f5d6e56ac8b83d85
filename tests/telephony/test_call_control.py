"""The call-control interface over FastAGI, against a scripted AGI session: which AGI command
each operation sends, and how Asterisk's answers are read (a digit decoded in one place)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from callcenter.telephony.agi import AgiChannel
from callcenter.telephony.call_control import AgentDial, CallControl, CallerHungUp


class Session:
    """panoramisk's Request as the channel uses it: each command gets the next scripted reply."""

    def __init__(self, *replies: dict[str, Any]) -> None:
        self.headers = {"agi_uniqueid": "1764.1", "agi_callerid": "13911110001"}
        self.sent: list[str] = []
        self._replies = list(replies)

    async def send_command(self, line: str) -> dict[str, Any]:
        self.sent.append(line)
        return self._replies.pop(0) if self._replies else {"result": ("0", "")}


def result(value: str, data: str = "") -> dict[str, Any]:
    return {"status_code": 200, "result": (value, data), "msg": ""}


def channel(session: Session) -> AgiChannel:
    return AgiChannel(session, "/srv/prompts/")  # type: ignore[arg-type]


async def test_prompts_play_from_the_prompt_root_and_a_digit_comes_back_as_itself() -> None:
    session = Session(result("50"), result("0"))
    call: CallControl = channel(session)
    assert await call.play("en/welcome", "123") == "2"
    assert await call.play("welcome") == ""
    assert session.sent == [
        'STREAM FILE "/srv/prompts/en/welcome" "123"',
        'STREAM FILE "/srv/prompts/welcome" ""',
    ]


async def test_play_all_stops_at_the_first_digit() -> None:
    session = Session(result("0"), result("35"), result("0"))
    assert await channel(session).play_all(["a", "b", "c"], "#") == "#"
    assert session.sent == ['STREAM FILE "/srv/prompts/a" "#"', 'STREAM FILE "/srv/prompts/b" "#"']


@pytest.mark.parametrize(("reply", "digit"), [("49", "1"), ("35", "#"), ("0", ""), ("", "")])
async def test_waiting_for_a_digit(reply: str, digit: str) -> None:
    session = Session(result(reply))
    assert await channel(session).wait_digit(5000) == digit
    assert session.sent == ["WAIT FOR DIGIT 5000"]


async def test_a_hangup_while_waiting_ends_the_script() -> None:
    session = Session({"error": "AGIResultHangup", "msg": "User hungup during execution"})
    with pytest.raises(CallerHungUp):
        await channel(session).wait_digit(5000)


async def test_variables_are_read_as_expressions() -> None:
    session = Session(result("1", "1764.9"), result("1", "17"), result("0"), result("1", "x=1"))
    call = channel(session)
    assert await call.linkedid() == "1764.9"
    assert await call.variable("CC_SURVEY") == "17"
    assert await call.variable("UNSET") == ""
    assert await call.sip_header("X-CC-Route") == "x=1"
    assert session.sent == [
        'GET FULL VARIABLE "${CHANNEL(linkedid)}"',
        'GET FULL VARIABLE "${CC_SURVEY}"',
        'GET FULL VARIABLE "${UNSET}"',
        'GET FULL VARIABLE "${PJSIP_HEADER(read,X-CC-Route)}"',
    ]
    # Asterisk says nothing: the channel's own uniqueid names the call
    assert await channel(Session(result("0"))).linkedid() == "1764.1"


async def test_dialling_an_agent_reports_the_answer_and_the_talk_time() -> None:
    session = Session(result("0"), result("1", "ANSWER"), result("1", "2500"))
    dialled = await channel(session).dial_agent("ep-a01", 15)
    assert dialled == AgentDial(answered=True, status="ANSWER", talked=timedelta(seconds=2.5))
    assert session.sent == [
        'EXEC Dial "PJSIP/ep-a01,15,g"',
        'GET FULL VARIABLE "${DIALSTATUS}"',
        'GET FULL VARIABLE "${ANSWEREDTIME_MS}"',
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("NOANSWER", AgentDial(answered=False, status="NOANSWER", rang_out=True)),
        ("", AgentDial(answered=False, status="NOANSWER", rang_out=True)),
        ("BUSY", AgentDial(answered=False, status="BUSY", rang_out=False)),
        ("CHANUNAVAIL", AgentDial(answered=False, status="CHANUNAVAIL", rang_out=False)),
    ],
)
async def test_an_agent_who_does_not_answer(status: str, expected: AgentDial) -> None:
    session = Session(result("0"), result("1" if status else "0", status))
    assert await channel(session).dial_agent("ep-a01", 15) == expected


async def test_the_other_operations_send_their_commands() -> None:
    session = Session()
    call = channel(session)
    await call.answer()
    await call.start_hold_music()
    await call.stop_hold_music()
    await call.pause(2)
    await call.transfer("12329", "trunk")
    await call.record_conversation("/rec/1764.1.wav")
    await call.record_message("/vm/1764.1", max_seconds=60, beep=True, silence_seconds=3)
    await call.record_message("/vm/1764.2", max_seconds=5, beep=False, silence_seconds=0)
    await call.set_variable("CC_X", 'a "b"')
    await call.hangup()
    assert session.sent == [
        "ANSWER",
        'EXEC StartMusicOnHold "default"',
        'EXEC StopMusicOnHold ""',
        'EXEC Wait "2"',
        'EXEC Dial "PJSIP/12329@trunk"',
        'EXEC MixMonitor "/rec/1764.1.wav,b"',
        'RECORD FILE "/vm/1764.1" wav "#" 60000 BEEP s=3',
        'RECORD FILE "/vm/1764.2" wav "#" 5000',
        'SET VARIABLE CC_X "a \\"b\\""',
        "HANGUP",
    ]
