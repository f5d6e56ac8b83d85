"""Ordered, retrying background persistence: the engine never waits on the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class Writer:
    """Runs write jobs one at a time in submission order; a failing job is retried until the
    database is back, so a state change is never lost nor written out of order."""

    def __init__(self, name: str, retry_seconds: float = 1.0) -> None:
        self._name = name
        self._retry = retry_seconds
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"writer-{self._name}")

    def submit(self, job: Job) -> None:
        self._queue.put_nowait(job)

    async def drained(self) -> None:
        await self._queue.join()

    async def stop(self) -> None:
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout=10)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            job = await self._queue.get()
            failing = False
            while True:
                try:
                    await job()
                    break
                except SQLAlchemyError as err:
                    if not failing:
                        log.error("%s: cannot write (%s); retrying", self._name, err)
                        failing = True
                    await asyncio.sleep(self._retry)
            if failing:
                log.warning("%s: written again after a database outage", self._name)
            self._queue.task_done()
