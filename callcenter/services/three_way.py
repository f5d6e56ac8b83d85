"""三方通话: the agent brings a department's hotline onto the citizen's call.

The engine calls the department out through the trunk (telephony/dial_out.py); when it answers,
its side runs `cc-spy`: it records the department's part and joins the conversation with
ChanSpy in barge mode on the citizen's channel, so the department hears the citizen and the
agent, and both hear the department. The citizen's call, its bridge and its recording are not
touched; the department leaves by hanging up, and is cut off when the citizen's call ends. Each
department leg is kept with the citizen's call: dialled, answered, ended, recording."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime

from callcenter.domain.calls import ChannelHungUp
from callcenter.domain.dialing import CallOutResult, DialOutcome, dialable
from callcenter.domain.errors import InvalidInput, TelephonyUnavailable
from callcenter.domain.three_way import ThreeWayLeg
from callcenter.services.calls_out import CallOfAgent, Channels, Originator, recording_path
from callcenter.services.feed import EventFeed
from callcenter.services.writer import Writer
from callcenter.storage.three_way import LegAnswered, LegEnded, ThreeWayRepository
from callcenter.telephony.dial_out import spy_from_number
from callcenter.telephony.events import TelephonyEvent

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "cc-3way-"
# the originated (department) side; its Local partner is "<id>-2"
CHANNEL_ID = re.compile(rf"^{CHANNEL_PREFIX}[0-9a-f]{{12}}$")
# a department's hotline may queue the call a while before someone picks up
THREE_WAY_RING_SECONDS = 45


class ThreeWayCalls:
    def __init__(
        self,
        *,
        ami: Originator,
        repository: ThreeWayRepository,
        call_of: CallOfAgent,
        channels: Channels,
        feed: EventFeed,
        outbound_endpoint: str | None,
        ring_seconds: int,
        recordings_dir: str | None,
        clock: Callable[[], datetime],
        writer: Writer,
    ) -> None:
        self._ami = ami
        self._repository = repository
        self._call_of = call_of
        self._channels = channels
        self._feed = feed
        self._outbound = outbound_endpoint
        self._ring_seconds = ring_seconds
        self._recordings = recordings_dir
        self._clock = clock
        self._writer = writer

    async def drained(self) -> None:
        await self._writer.drained()

    async def legs_of(self, linkedid: str) -> list[ThreeWayLeg]:
        await self._writer.drained()
        return await self._repository.of_call(linkedid)

    async def bring_in(
        self, agent_id: str, number: str, department: str | None = None
    ) -> ThreeWayLeg:
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
        recording = recording_path(self._recordings, "three-way", now, f"{linkedid}-{channel_id}")
        leg = ThreeWayLeg(linkedid, agent_id, number, department, channel_id, now, recording)
        action = spy_from_number(
            number,
            citizen,
            # barge in on the citizen's side: the department speaks to both, hears both
            "barge",
            channel_id=channel_id,
            outbound_endpoint=self._outbound,
            ring_seconds=self._ring_seconds,
            recording=recording,
        )
        # written before Asterisk can report on it, by the same ordered writer as its events
        self._writer.submit("three_way_leg", leg)
        try:
            await self._ami.action(action)
        except TelephonyUnavailable:
            self._end(channel_id, DialOutcome.FAILED)
            raise
        log.info("call %s: agent %s brings in %s (%s)", linkedid, agent_id, number, channel_id)
        self._feed.publish(
            "three_way",
            call_id=linkedid,
            agent_id=agent_id,
            number=number,
            department=department,
            channel_id=channel_id,
            at=now.isoformat(),
        )
        return leg

    def on_event(self, event: TelephonyEvent) -> None:
        """The department leg's answer or failure to answer, and its end."""
        match event:
            case CallOutResult(channel_id=channel_id) if CHANNEL_ID.match(channel_id):
                if event.answered:
                    now = self._clock()
                    self._writer.submit("three_way_answered", LegAnswered(channel_id, now))
                else:
                    self._end(channel_id, event.outcome)
            case ChannelHungUp(uniqueid=channel_id) if CHANNEL_ID.match(channel_id):
                self._end(channel_id, DialOutcome.NO_ANSWER)

    def _end(self, channel_id: str, unanswered: DialOutcome) -> None:
        now = self._clock()
        self._writer.submit("three_way_ended", LegEnded(channel_id, now, unanswered))
