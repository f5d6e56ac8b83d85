"""三方通话: the agent brings a department's hotline onto the citizen's call.

The engine calls the department out through the trunk (telephony/dial_out.py); when it answers,
its side runs `cc-threeway`: it records the department's part and joins the
conversation with ChanSpy in barge mode on the citizen's channel, so the department hears the
citizen and the agent, and both hear the department. The citizen's call, its bridge and its
recording are not touched; the department leaves by hanging up, and is cut off when the
citizen's call ends."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from callcenter.domain.dialing import dialable
from callcenter.domain.errors import InvalidInput, TelephonyUnavailable
from callcenter.services.feed import EventFeed
from callcenter.telephony.dial_out import originate

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "cc-3way-"
# a department's hotline may queue the call a while before someone picks up
THREE_WAY_RING_SECONDS = 45


class Ami(Protocol):
    async def action(self, action: Mapping[str, str]) -> object: ...


class CallOfAgent(Protocol):
    def __call__(self, agent_id: str) -> str: ...


class Channels(Protocol):
    def caller_channel(self, linkedid: str) -> str | None: ...

    def called_channels(self, linkedid: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class ThreeWay:
    call_id: str
    agent_id: str
    number: str
    channel_id: str
    # the department's part (what it hears and says), when calls are recorded
    recording: str
    at: datetime


class ThreeWayCalls:
    def __init__(
        self,
        *,
        ami: Ami,
        call_of: CallOfAgent,
        channels: Channels,
        feed: EventFeed,
        outbound_endpoint: str | None,
        ring_seconds: int,
        recordings_dir: str | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._ami = ami
        self._call_of = call_of
        self._channels = channels
        self._feed = feed
        self._outbound = outbound_endpoint
        self._ring_seconds = ring_seconds
        self._recordings = recordings_dir
        self._clock = clock

    async def bring_in(self, agent_id: str, number: str) -> ThreeWay:
        """Dial `number` and join it to the agent's current call once it answers."""
        if self._outbound is None:
            raise TelephonyUnavailable("no calls out: CALLCENTER_TRUNK_CONTACT is not set")
        if not dialable(number):  # checked again when dialling; refused before looking up the call
            raise InvalidInput(f"{number!r} is not a number to dial")
        linkedid = self._call_of(agent_id)  # refuses (409) when the agent is not on a call
        citizen = self._channels.caller_channel(linkedid)
        if citizen is None or not self._channels.called_channels(linkedid):
            raise TelephonyUnavailable(f"call {linkedid}: the conversation is not up yet")
        now = self._clock()
        channel_id = f"{CHANNEL_PREFIX}{secrets.token_hex(6)}"
        recording = (
            f"{self._recordings}/three-way/{now:%Y/%m/%d}/{linkedid}-{channel_id}.wav"
            if self._recordings
            else ""
        )
        await self._ami.action(
            originate(
                number,
                channel_id=channel_id,
                context="cc-threeway",
                outbound_endpoint=self._outbound,
                ring_seconds=self._ring_seconds,
                variables={"CC_SPY": citizen, "CC_RECORDING": recording},
            )
        )
        log.info("call %s: agent %s brings in %s (%s)", linkedid, agent_id, number, channel_id)
        self._feed.publish(
            "three_way",
            call_id=linkedid,
            agent_id=agent_id,
            number=number,
            channel_id=channel_id,
            at=now.isoformat(),
        )
        return ThreeWay(linkedid, agent_id, number, channel_id, recording, now)
