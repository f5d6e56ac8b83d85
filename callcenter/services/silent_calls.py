"""无声电话, the silent call: the agent hears nobody on the line. The agent is released at once
and the caller hears the standard silent-call script (please speak, twice, then goodbye) before
the call ends; the call is counted apart in the metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable

from callcenter.domain.errors import TelephonyUnavailable
from callcenter.services.call_records import CallRecorder
from callcenter.services.dispatcher import Dispatcher
from callcenter.services.inbound import InboundCalls
from callcenter.telephony.switchboard import Switchboard

log = logging.getLogger(__name__)


class SilentCalls:
    def __init__(
        self,
        dispatcher: Dispatcher,
        recorder: CallRecorder,
        inbound: InboundCalls,
        switchboard_for: Callable[[str], Switchboard],
    ) -> None:
        self._dispatcher = dispatcher
        self._recorder = recorder
        self._inbound = inbound
        # the switchboard of the Asterisk node carrying a call ("" when unknown or single)
        self._switchboard_for = switchboard_for

    async def end(self, agent_id: str) -> None:
        """End the agent's call with the silent-call script. TelephonyUnavailable (and nothing
        changed) when the agent's channel is not known yet or Asterisk cannot be reached."""
        linkedid = self._dispatcher.call_of(agent_id)
        channels = self._recorder.called_channels(linkedid)
        if not channels:
            raise TelephonyUnavailable(f"call {linkedid}: the agent's channel is not known yet")
        # marked before the agent leg goes: the caller's session ends the call right after
        self._inbound.script_silence(linkedid)
        self._dispatcher.mark_silent(linkedid, True)
        try:
            switchboard = self._switchboard_for(self._recorder.node_of(linkedid))
            for channel in channels:
                await switchboard.hangup(channel)
        except TelephonyUnavailable:
            self._inbound.cancel_silence(linkedid)
            self._dispatcher.mark_silent(linkedid, False)
            raise
        log.info("call %s: agent %s ended it with the silent-call script", linkedid, agent_id)
