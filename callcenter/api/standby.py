"""The standby engine's API: reads are served, writes answered 503 naming the leader."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class StandbyGate:
    """ASGI middleware: while `leading()` is false, a request that would change something gets
    503 with the leader (`leader()`: "name url", or None while nobody leads)."""

    def __init__(
        self, app: Asgi, *, leading: Callable[[], bool], leader: Callable[[], str | None]
    ) -> None:
        self._app = app
        self._leading = leading
        self._leader = leader

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") in SAFE_METHODS or self._leading():
            await self._app(scope, receive, send)
            return
        leader = self._leader()
        name, _, url = (leader or "").partition(" ")
        body = json.dumps(
            {
                "detail": "this engine is the standby: send changes to the leader",
                "code": "standby",
                "leader": {"name": name, "url": url} if leader else None,
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"retry-after", b"1")]
        if url:
            headers.append((b"x-callcenter-leader", url.encode()))
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
