"""/ws/events: agent-state and queue changes pushed to supervisors as they happen."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from callcenter.api.auth import authenticate
from callcenter.api.deps import services
from callcenter.api.gate import bearer_token
from callcenter.domain.access import Permission, require
from callcenter.domain.errors import Forbidden

router = APIRouter(tags=["live"])

POLICY_VIOLATION = 1008


@router.websocket("/ws/events")
async def events(websocket: WebSocket) -> None:
    """Authenticate with `Authorization: Bearer <token>` or, from a browser, `?token=`."""
    header = websocket.headers.get("authorization", "")
    token = bearer_token(header) or websocket.query_params.get("token", "")
    found = services(websocket)
    principal = await authenticate(found, token) if token else None
    if principal is None:
        await websocket.close(code=POLICY_VIOLATION, reason="missing or unknown token")
        return
    try:
        require(principal, Permission.READ_QUEUES)
    except Forbidden as err:
        await websocket.close(code=POLICY_VIOLATION, reason=err.message)
        return
    await websocket.accept()
    if found.calls is None:
        await websocket.close(code=POLICY_VIOLATION, reason="no live events in this engine")
        return
    async with found.calls.feed.subscribe() as queue:
        receiver = asyncio.ensure_future(websocket.receive_text())
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {getter, receiver}, return_when=asyncio.FIRST_COMPLETED
                )
                if receiver in done:
                    getter.cancel()
                    receiver.result()  # raises WebSocketDisconnect when the client left
                    receiver = asyncio.ensure_future(websocket.receive_text())
                    continue
                await websocket.send_json(getter.result())
        except WebSocketDisconnect:
            pass
        finally:
            receiver.cancel()
            with contextlib.suppress(Exception):
                await websocket.close()
