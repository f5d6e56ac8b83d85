"""Calls the engine places itself (surveys, three-way calls, supervisors' monitoring), as AMI
Originates.

A call out through the trunk is `Local/<number>@cc-dial-out/n`: the dialplan dials the number
through the trunk endpoint, and once it answers the originated side runs the given context. A
call to one of the center's own softphones rings its PJSIP endpoint directly. The ChannelId the
engine assigns tells the call's AMI events apart; neither kind enters an inbound context, so
neither becomes a record of a call into 12345."""

from __future__ import annotations

from collections.abc import Mapping

from callcenter.domain.dialing import dialable
from callcenter.domain.errors import InvalidInput

CALLER_ID = "12345 <12345>"
# the dialplan contexts of the engine's calls out (dialplan/extensions.conf): a survey call's
# answered side runs the survey script, which finds its attempt in SURVEY_VARIABLE; an agent's
# answered softphone dials the citizen; a joining side spies on a conversation (ChanSpy)
SURVEY_CONTEXT = "cc-survey"
SURVEY_VARIABLE = "CC_SURVEY"
AGENT_DIAL_CONTEXT = "cc-agent-dial"
SPY_CONTEXT = "cc-spy"
# ChanSpy options by how the spying side takes part: q quiet (no beep), w whisper to the spied
# channel only, B speak to both sides; E leave when the spied channel hangs up
SPY_OPTIONS = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}


def originate(
    number: str,
    *,
    channel_id: str,
    context: str,
    outbound_endpoint: str,
    ring_seconds: int,
    variables: Mapping[str, str],
) -> dict[str, str]:
    """A call out through the trunk; the number must be plain digits."""
    if not dialable(number):
        raise InvalidInput(f"{number!r} is not a number to dial")
    action = _originate(
        f"Local/{number}@cc-dial-out/n",
        channel_id,
        context,
        ring_seconds,
        {"CC_OUTBOUND": outbound_endpoint, **variables},
    )
    action["OtherChannelId"] = f"{channel_id}-2"
    return action


def ring_softphone(
    endpoint: str,
    *,
    channel_id: str,
    context: str,
    ring_seconds: int,
    variables: Mapping[str, str],
    caller_id: str = CALLER_ID,
) -> dict[str, str]:
    """A call to one of the center's own PJSIP endpoints (a supervisor's or an agent's
    softphone); `caller_id` is what its display shows."""
    if not endpoint or not all(c.isalnum() or c in "_.-" for c in endpoint):
        raise InvalidInput(f"{endpoint!r} is not a softphone endpoint")
    action = _originate(f"PJSIP/{endpoint}", channel_id, context, ring_seconds, variables)
    action["CallerID"] = caller_id
    return action


def _originate(
    channel: str,
    channel_id: str,
    context: str,
    ring_seconds: int,
    variables: Mapping[str, str],
) -> dict[str, str]:
    for name, value in variables.items():
        if "," in value or "\n" in value:
            raise InvalidInput(f"channel variable {name} may not hold ',' or a newline")
    return {
        "Action": "Originate",
        "Channel": channel,
        "ChannelId": channel_id,
        "Context": context,
        "Exten": "s",
        "Priority": "1",
        "Timeout": str(ring_seconds * 1000),
        "CallerID": CALLER_ID,
        "Variable": ",".join(f"{name}={value}" for name, value in variables.items()),
        "Async": "true",
    }


def is_channel_of(channel: str, endpoint: str) -> bool:
    """Whether a live channel (`PJSIP/ep-a01-0000000b`) is one of the endpoint's."""
    return channel.startswith(f"PJSIP/{endpoint}-")


def _spy_variables(target: str, mode: str, recording: str) -> dict[str, str]:
    options = SPY_OPTIONS.get(mode)
    if options is None:
        raise InvalidInput(f"{mode!r} is not a way to join a call ({', '.join(SPY_OPTIONS)})")
    return {"CC_SPY": target, "CC_SPY_OPTIONS": options, "CC_RECORDING": recording}


def spy_from_number(
    number: str,
    target: str,
    mode: str,
    *,
    channel_id: str,
    outbound_endpoint: str,
    ring_seconds: int,
    recording: str,
) -> dict[str, str]:
    """Call a number out through the trunk; once it answers it joins the conversation on the
    `target` channel (`mode`: listen, whisper or barge), its part recorded into `recording`."""
    return originate(
        number,
        channel_id=channel_id,
        context=SPY_CONTEXT,
        outbound_endpoint=outbound_endpoint,
        ring_seconds=ring_seconds,
        variables=_spy_variables(target, mode, recording),
    )


def spy_from_softphone(
    endpoint: str,
    target: str,
    mode: str,
    *,
    channel_id: str,
    ring_seconds: int,
    recording: str,
) -> dict[str, str]:
    """Ring one of the center's softphones; once answered it joins the conversation on the
    `target` channel (`mode`: listen, whisper or barge)."""
    return ring_softphone(
        endpoint,
        channel_id=channel_id,
        context=SPY_CONTEXT,
        ring_seconds=ring_seconds,
        variables=_spy_variables(target, mode, recording),
    )


def survey_call(
    number: str,
    attempt_id: int,
    *,
    channel_id: str,
    outbound_endpoint: str,
    ring_seconds: int,
    recording: str,
) -> dict[str, str]:
    """A 回访 call to a citizen: once answered, the survey script runs for the attempt."""
    return originate(
        number,
        channel_id=channel_id,
        context=SURVEY_CONTEXT,
        outbound_endpoint=outbound_endpoint,
        ring_seconds=ring_seconds,
        variables={SURVEY_VARIABLE: str(attempt_id), "CC_RECORDING": recording},
    )


def agent_calls_number(
    endpoint: str,
    number: str,
    *,
    channel_id: str,
    outbound_endpoint: str,
    ring_seconds: int,
    recording: str,
) -> dict[str, str]:
    """回拨: ring the agent's softphone (its display shows whom they are about to call); once
    answered, the citizen is dialled through the trunk and the talk recorded."""
    return ring_softphone(
        endpoint,
        channel_id=channel_id,
        context=AGENT_DIAL_CONTEXT,
        ring_seconds=ring_seconds,
        variables={
            "CC_NUMBER": number,
            "CC_OUTBOUND": outbound_endpoint,
            "CC_RECORDING": recording,
        },
        caller_id=f'"{number}" <{number}>',
    )
