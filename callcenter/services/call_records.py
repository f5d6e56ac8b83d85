"""The call recorder: call events in, the call tracker decides, call records out to storage."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from callcenter.domain.calls import (
    CallEvent,
    CallRecord,
    CallTracker,
    ChannelAnswered,
    ChannelCreated,
    ChannelHungUp,
    ChannelsSnapshot,
    HangupRequested,
)
from callcenter.domain.errors import TelephonyUnavailable
from callcenter.services.writer import Writer
from callcenter.storage.calls import CallRepository
from callcenter.telephony.events import TelephonyEvent
from callcenter.telephony.switchboard import Switchboard

log = logging.getLogger(__name__)

# a call let in that Asterisk never reported open (AMI lost it) stops counting after this long
UNSEEN_ADMITTED = 60.0

Clock = Callable[[], datetime]

BATCH_LIMIT = 500


class CallRecorder:
    """Owns the call tracker: one consumer applies events in order and hands the changed
    records to the engine's writer.

    Events arrive from AMI callbacks and AGI sessions; they are queued, never handled inline, so
    the tracker has exactly one owner, and the database is never waited on here."""

    def __init__(
        self, repository: CallRepository, tracker: CallTracker, clock: Clock, writer: Writer
    ) -> None:
        self._repository = repository
        self._writer = writer
        self._tracker = tracker
        self._clock = clock
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._pruned_at = 0.0
        # calls the engine let in (admission), until they end: what the ceiling counts (with
        # when, monotonic: one Asterisk never reported is forgotten after UNSEEN_ADMITTED)
        self._admitted: dict[str, float] = {}

    async def start(self) -> None:
        self._tracker.restore(await self._repository.open_calls())
        # calls still on from before a restart were let in then
        self._admitted = dict.fromkeys(self._tracker.open_calls, time.monotonic())
        self._task = asyncio.create_task(self._run(), name="call-recorder")

    async def stop(self) -> None:
        """Apply everything queued (the writer persists it), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout=5)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    @property
    def calls_in_system(self) -> int:
        """Calls Asterisk is carrying into the hotline right now."""
        return len(self._tracker.open_calls)

    @property
    def admitted_calls(self) -> int:
        """Calls the engine let in that have not ended (what the ceiling counts): calls that
        arrived together and are still waiting for their turn at admission do not count,
        nor those deflected."""
        now = time.monotonic()
        if now - self._pruned_at >= 1.0:  # at most once a second, over at most the ceiling
            self._pruned_at = now
            open_calls = self._tracker.open_calls
            for linkedid, at in list(self._admitted.items()):
                if at < now - UNSEEN_ADMITTED and linkedid not in open_calls:
                    del self._admitted[linkedid]
        return len(self._admitted)

    def admit(self, linkedid: str) -> None:
        self._admitted[linkedid] = time.monotonic()

    def is_open(self, linkedid: str) -> bool:
        return linkedid in self._tracker.open_calls

    def caller_channel(self, linkedid: str) -> str | None:
        """The citizen's live channel of a call, if the call is still on."""
        record = self._tracker.open_calls.get(linkedid)
        if record is None:
            return None
        for leg in record.legs:
            if leg.uniqueid == record.uniqueid and leg.ended_at is None:
                return leg.channel
        return None

    def called_channels(self, linkedid: str) -> list[str]:
        """The live channels of a call other than the caller's (the agent's, a transfer's)."""
        record = self._tracker.open_calls.get(linkedid)
        if record is None:
            return []
        return [
            leg.channel
            for leg in record.legs
            if leg.uniqueid != record.uniqueid and leg.ended_at is None
        ]

    def submit(self, event: CallEvent) -> None:
        self._queue.put_nowait(event)

    async def drained(self, timeout: float | None = None) -> None:
        """Wait until every event submitted so far is persisted (StorageBehind past the
        writer's deadline)."""
        await self._queue.join()
        await self._writer.drained(timeout)

    def on_event(self, event: TelephonyEvent) -> None:
        """Asterisk's channel events, the stuff call records are made of."""
        if isinstance(event, ChannelCreated | ChannelAnswered | ChannelHungUp | HangupRequested):
            self.submit(event)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH_LIMIT and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            changed: dict[str, CallRecord] = {}
            try:
                for event in batch:
                    for record in self._tracker.apply(event):
                        changed[record.linkedid] = record
                        if not record.is_open:
                            self._admitted.pop(record.linkedid, None)
            except Exception:
                log.exception("applying call events failed; the changes so far are kept")
            self._writer.submit_many("call", changed.values())
            for _ in batch:
                self._queue.task_done()

    async def resync(self, switchboard: Switchboard) -> None:
        """After (re)connecting: adopt live channels, close calls that ended unseen, and collect
        the calls Asterisk handled on its own while the engine was unreachable."""
        self.submit(await switchboard.live_channels())
        await self._collect_fallback_journal(switchboard)

    def node_lost(self, node: str) -> None:
        """Node `node` is gone (its AMI stayed unreachable): its calls in progress are lost."""
        self.submit(ChannelsSnapshot(channels=(), at=self._clock(), node=node))

    def node_of(self, linkedid: str) -> str:
        """The node carrying an open call ("" when unknown, or with a single node)."""
        record = self._tracker.open_calls.get(linkedid)
        return record.node if record is not None else ""

    async def _collect_fallback_journal(self, switchboard: Switchboard) -> None:
        collected = []
        for call in await switchboard.fallback_calls():
            self.submit(call)
            collected.append(call.linkedid)
        if not collected:
            return
        # only delete what is safely in the database (StorageBehind keeps the rows)
        await self.drained(timeout=60)
        for linkedid in collected:
            await switchboard.forget_fallback_call(linkedid)
        log.info("recorded %d call(s) handled by the fallback path", len(collected))


async def resync_or_log(recorder: CallRecorder, switchboard: Switchboard) -> None:
    try:
        await recorder.resync(switchboard)
    except TelephonyUnavailable:
        raise
    except Exception:
        log.exception("resync after AMI connect failed")
