"""回拨 from the agent's seat: the engine rings the agent's softphone, then dials the citizen.

Agents' phones cannot dial out by themselves (the dialplan lets them reach nothing): a call to a
citizen is placed by the engine for a paused agent, so the queue offers them nothing meanwhile,
shows the hotline's number to the citizen and is recorded like any conversation."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from callcenter.domain.dialing import dialable
from callcenter.domain.errors import IllegalTransition, InvalidInput, TelephonyUnavailable
from callcenter.domain.seats import Seat, SeatState
from callcenter.services.calls_out import Originator, recording_path
from callcenter.services.feed import EventFeed
from callcenter.services.placed_calls import PlacedCalls
from callcenter.telephony.dial_out import agent_calls_number

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "cc-dial-"
# how long the agent's own phone rings before the engine gives up
AGENT_RING_SECONDS = 20


@dataclass(frozen=True, slots=True)
class AgentCall:
    agent_id: str
    number: str
    # what the call is for, e.g. "callback:17" (a request on the callback worklist)
    reference: str
    channel_id: str
    recording: str
    at: datetime


class AgentDialer:
    def __init__(
        self,
        *,
        ami: Originator,
        seat_of: Callable[[str], Seat],
        endpoint_of: Callable[[str], str],
        feed: EventFeed,
        outbound_endpoint: str | None,
        recordings_dir: str | None,
        placed: PlacedCalls,
        clock: Callable[[], datetime],
    ) -> None:
        self._ami = ami
        self._seat_of = seat_of
        self._endpoint_of = endpoint_of
        self._feed = feed
        self._outbound = outbound_endpoint
        self._recordings = recordings_dir
        self._placed = placed
        self._clock = clock

    async def call(self, agent_id: str, number: str, reference: str) -> AgentCall:
        if self._outbound is None:
            raise TelephonyUnavailable("no calls out: CALLCENTER_TRUNK_CONTACT is not set")
        if not dialable(number):
            raise InvalidInput(f"{number!r} is not a number to dial")
        seat = self._seat_of(agent_id)
        if seat.state is not SeatState.PAUSED:
            raise IllegalTransition(
                f"agent {agent_id} is {seat.state.value}: pause (reason 'callback') before "
                "calling a citizen, so that no queue call is offered meanwhile"
            )
        now = self._clock()
        channel_id = f"{CHANNEL_PREFIX}{secrets.token_hex(6)}"
        name = f"{reference.replace(':', '-')}-{channel_id}"
        recording = recording_path(self._recordings, "outbound", now, name)
        action = agent_calls_number(
            self._endpoint_of(agent_id),
            number,
            channel_id=channel_id,
            outbound_endpoint=self._outbound,
            ring_seconds=AGENT_RING_SECONDS,
            recording=recording,
        )
        self._placed.placing(channel_id, number, recording, now)
        try:
            await self._ami.action(action)
        except TelephonyUnavailable as err:
            self._placed.not_placed(channel_id, "not placed", self._clock())
            raise err
        log.info("agent %s calls %s for %s (%s)", agent_id, number, reference, channel_id)
        # the feed reaches every agent's screen: the citizen's number stays off it
        self._feed.publish(
            "agent_call",
            agent_id=agent_id,
            reference=reference,
            channel_id=channel_id,
            at=now.isoformat(),
        )
        return AgentCall(agent_id, number, reference, channel_id, recording, now)
