"""Background tasks of the services: how one is ended."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancelled(task: asyncio.Future[Any] | None) -> None:
    """Cancel `task` (if any, and not done) and wait until it has ended."""
    if task is None:
        return
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
