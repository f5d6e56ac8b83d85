"""Retention on its own: every night at a quiet hour (hotline time) the leading engine moves the
tickets closed long ago into the archive tables (storage/ticket_archive.py), one small batch per
transaction with a pause between, so calls and desks never wait on it. `python -m callcenter
archive-tickets` does the same by hand."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, time

from callcenter.domain.workdays import HOTLINE_ZONE, next_run
from callcenter.services.tasks import cancelled
from callcenter.storage.ticket_archive import ArchiveRun, TicketArchive

log = logging.getLogger(__name__)


class NightlyArchive:
    def __init__(
        self,
        archive: TicketArchive,
        at: time,
        clock: Callable[[], datetime],
        pause_seconds: float = 0.2,
    ) -> None:
        self._archive = archive
        self._at = at
        self._clock = clock
        self._pause = pause_seconds
        self._task: asyncio.Task[None] | None = None
        self.last: ArchiveRun | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._nightly(), name="nightly-archive")

    async def stop(self) -> None:
        await cancelled(self._task)
        self._task = None

    async def run_once(self) -> ArchiveRun:
        """Move every ticket closed before the cut-off, a batch at a time, pausing between."""
        cutoff = self._clock() - self._archive.after
        moved = batches = 0
        while count := await self._archive.move_batch(cutoff):
            moved += count
            batches += 1
            await asyncio.sleep(self._pause)
        self.last = ArchiveRun(moved, batches, cutoff)
        return self.last

    async def _nightly(self) -> None:
        after = self._clock()
        while True:
            due = next_run(after, self._at)
            log.info(
                "tickets closed before %s days move to the archive at %s",
                self._archive.after.days,
                due,
            )
            await asyncio.sleep(max(0.0, (due - self._clock()).total_seconds()))
            # the next night comes after this one, even if the sleep ended a little early
            after = max(self._clock(), due)
            try:
                done = await self.run_once()
            except Exception:
                # the next night tries again; nothing moved by a failed batch is lost (each
                # batch is all or nothing)
                log.exception(
                    "nightly ticket archive failed; it runs again at the next %s", self._at
                )
                continue
            log.info(
                "nightly ticket archive: %d ticket(s) closed before %s moved in %d batch(es)",
                done.moved,
                done.cutoff.astimezone(HOTLINE_ZONE).date(),
                done.batches,
            )
