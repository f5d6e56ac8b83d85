"""监听/密语/强插: a supervisor listens to an agent's call, whispers to the agent, or barges in.

The engine rings the supervisor's softphone; when it answers, it joins the agent's side of the
conversation (ChanSpy on the agent's channel): listening hears both the agent and the citizen,
whispering is heard by the agent only, barging in is heard by both. The supervisor's part is
recorded when calls are recorded, as the supervision of a citizen's call must be accountable."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from callcenter.domain.errors import InvalidInput, TelephonyUnavailable
from callcenter.services.calls_out import CallOfAgent, Channels, Originator, recording_path
from callcenter.services.feed import EventFeed
from callcenter.telephony.dial_out import is_channel_of, spy_from_softphone

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "cc-monitor-"
RING_SECONDS = 20


class MonitorMode(StrEnum):
    LISTEN = "listen"  # 监听
    WHISPER = "whisper"  # 密语: only the agent hears the supervisor
    BARGE = "barge"  # 强插: the citizen and the agent hear the supervisor


VERBS = {
    MonitorMode.LISTEN: "listens to",
    MonitorMode.WHISPER: "whispers to",
    MonitorMode.BARGE: "barges in on",
}


@dataclass(frozen=True, slots=True)
class Monitoring:
    call_id: str
    agent_id: str
    mode: MonitorMode
    endpoint: str
    channel_id: str
    recording: str
    at: datetime


class CallMonitor:
    def __init__(
        self,
        *,
        ami: Originator,
        call_of: CallOfAgent,
        channels: Channels,
        feed: EventFeed,
        recordings_dir: str | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._ami = ami
        self._call_of = call_of
        self._channels = channels
        self._feed = feed
        self._recordings = recordings_dir
        self._clock = clock

    async def join(self, agent_id: str, mode: MonitorMode, endpoint: str, by: str) -> Monitoring:
        """Ring `endpoint` (the supervisor's softphone) and join it to the agent's call."""
        linkedid = self._call_of(agent_id)  # refuses (409) when the agent is not on a call
        agent_channels = self._channels.called_channels(linkedid)
        if not agent_channels:
            raise TelephonyUnavailable(f"call {linkedid}: the agent's channel is not known yet")
        if any(is_channel_of(channel, endpoint) for channel in agent_channels):
            raise InvalidInput(f"{endpoint} is the agent's own phone")
        now = self._clock()
        channel_id = f"{CHANNEL_PREFIX}{secrets.token_hex(6)}"
        recording = recording_path(self._recordings, "monitor", now, f"{linkedid}-{channel_id}")
        await self._ami.action(
            spy_from_softphone(
                endpoint,
                agent_channels[0],
                mode.value,
                channel_id=channel_id,
                ring_seconds=RING_SECONDS,
                recording=recording,
            )
        )
        log.info(
            "call %s: %s %s agent %s from %s (%s)",
            linkedid,
            by,
            VERBS[mode],
            agent_id,
            endpoint,
            channel_id,
        )
        self._feed.publish(
            "monitor",
            call_id=linkedid,
            agent_id=agent_id,
            mode=mode.value,
            endpoint=endpoint,
            by=by,
            at=now.isoformat(),
        )
        return Monitoring(linkedid, agent_id, mode, endpoint, channel_id, recording, now)
