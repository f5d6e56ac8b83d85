"""Keeps the engine's own calls out in the call records, like the calls into 12345."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from callcenter.domain.calls import CallEvent, CallPlaced, ChannelHungUp, RecordingStarted

Submit = Callable[[CallEvent], None]


class PlacedCalls:
    """Tells the call recorder about a call out before Asterisk is asked to place it (so its
    channels' events find the record), about its recording, and about a placement that failed."""

    def __init__(self, submit: Submit, trunk: str) -> None:
        self._submit = submit
        self._trunk = trunk

    def placing(self, channel_id: str, number: str, recording: str, at: datetime) -> None:
        self._submit(CallPlaced(linkedid=channel_id, number=number, trunk=self._trunk, at=at))
        if recording:
            self._submit(RecordingStarted(linkedid=channel_id, path=recording, at=at))

    def not_placed(self, channel_id: str, reason: str, at: datetime) -> None:
        self._submit(
            ChannelHungUp(
                uniqueid=channel_id, linkedid=channel_id, cause=0, cause_text=reason, at=at
            )
        )
