"""What the engine asks of Asterisk as a whole over AMI, in the engine's terms: the channels
alive now, the calls the fallback path handled alone, hanging up a channel. (The calls the
engine places are built by telephony/dial_out.py.)"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Protocol

from callcenter.domain.calls import ChannelsSnapshot, FallbackJournal
from callcenter.telephony import events

log = logging.getLogger(__name__)

# the AstDB family the dialplan's cc-fallback-journal hangup handler writes one row per call to
FALLBACK_FAMILY = "cc_fallback"


class ActionSender(Protocol):
    async def action(
        self, action: Mapping[str, Any], *, as_list: bool = False, timeout: float = 5.0
    ) -> Any: ...


class Switchboard:
    """Asterisk-wide call control over an AMI connection (TelephonyUnavailable when it is not
    connected)."""

    def __init__(self, ami: ActionSender, clock: Callable[[], datetime], node: str = "") -> None:
        self._ami = ami
        self._clock = clock
        # the Asterisk node this connection reaches ("" with a single node)
        self.node = node

    async def hangup(self, channel: str) -> None:
        await self._ami.action({"Action": "Hangup", "Channel": channel})

    async def live_channels(self) -> ChannelsSnapshot:
        listing = await self._ami.action({"Action": "CoreShowChannels"}, as_list=True, timeout=10)
        return events.snapshot(listing, self._clock(), self.node)

    async def fallback_calls(self) -> list[FallbackJournal]:
        """The calls the dialplan's fallback path journalled while the engine was unreachable;
        a row that cannot be read is logged and stays in AstDB for inspection."""
        calls = []
        for linkedid, value in (await self._astdb_family(FALLBACK_FAMILY)).items():
            try:
                calls.append(events.fallback_journal(linkedid, value))
            except events.MalformedEvent as err:
                log.error("%s; row kept in AstDB for inspection", err)
        return calls

    async def forget_fallback_call(self, linkedid: str) -> None:
        """Delete a journalled call's row once it is safely recorded."""
        await self._ami.action({"Action": "DBDel", "Family": FALLBACK_FAMILY, "Key": linkedid})

    async def _astdb_family(self, family: str) -> dict[str, str]:
        reply = await self._ami.action({"Action": "Command", "Command": f"database show {family}"})
        output = reply.get("Output", [])
        lines = output if isinstance(output, list) else [output]
        rows: dict[str, str] = {}
        for line in lines:
            key, sep, value = str(line).partition(":")
            key = key.strip()
            if not sep or not key.startswith(f"/{family}/"):
                continue
            rows[str(PurePosixPath(key).name)] = value.strip()
        return rows
