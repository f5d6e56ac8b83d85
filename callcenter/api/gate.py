"""The API's front door: a bounded body, and the bearer token checked before the body is read.

A pure ASGI middleware: it sees a request before any route parses it, so a stranger's 50 MB
body is refused unread (401 or 413), and invalid JSON without a token is a 401, not a 422. Which
operations need a token is read from the API's own OpenAPI description (the operations whose
dependencies ask for the bearer token carry a security requirement there), so a route that needs
none (health, the static wallboard, a login) stays open without a list to keep in step; a route
left out of the description is still checked by its own dependency, after its body is read.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callcenter.domain.access import Principal

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1_048_576
# where the principal the gate authenticated waits for the route's own check
PRINCIPAL_KEY = "callcenter.principal"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (the scheme in any case)."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


Guarded = list[tuple[re.Pattern[str], frozenset[str]]]
# an operation that takes files (attachments, imports) names its own body limit in its OpenAPI
# description, with this extension: the gate's default would refuse them
BODY_LIMIT_KEY = "x-max-body-bytes"
Limits = list[tuple[re.Pattern[str], str, int]]


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile(
        "^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$"
    )


def guarded_operations(schema: Mapping[str, Any]) -> Guarded:
    """(path pattern, methods) of every operation the OpenAPI description says needs a token."""
    guarded: Guarded = []
    for template, operations in schema.get("paths", {}).items():
        methods = frozenset(
            method.upper()
            for method, operation in operations.items()
            if isinstance(operation, Mapping) and operation.get("security")
        )
        if methods:
            guarded.append((_pattern(template), methods))
    return guarded


def body_limits(schema: Mapping[str, Any]) -> Limits:
    """(path pattern, method, bytes) of every operation that declares a body limit of its own."""
    limits: Limits = []
    for template, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if isinstance(operation, Mapping) and isinstance(operation.get(BODY_LIMIT_KEY), int):
                limits.append((_pattern(template), method.upper(), operation[BODY_LIMIT_KEY]))
    return limits


class RequestGate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        schema: Callable[[], Mapping[str, Any]],
        authenticate: Callable[[str], Awaitable[Principal | None]],
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self._schema = schema
        self._authenticate = authenticate
        self.max_body_bytes = max_body_bytes
        # read at the first request, when every router is mounted
        self._guarded: Guarded | None = None
        self._limits: Limits | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._guarded_route(scope):
            headers = dict(_headers(scope))
            token = bearer_token(headers.get("authorization", ""))
            if token is None:
                await _refuse(send, 401, "missing bearer token", bearer=True)
                return
            principal = await self._authenticate(token)
            if principal is None:
                await _refuse(send, 401, "unknown, expired or revoked token", bearer=True)
                return
            scope.setdefault("state", {})[PRINCIPAL_KEY] = principal
        limit = self._limit(scope)
        declared = dict(_headers(scope)).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, 413, f"the request body exceeds {limit} bytes")
            return
        await self.app(scope, self._counting(receive, limit), send)

    def _limit(self, scope: Scope) -> int:
        if self._limits is None:
            try:
                self._limits = body_limits(self._schema())
            except Exception:  # the default limit stands, as the token checks do
                self._limits = []
        path, method = scope["path"], scope["method"].upper()
        for pattern, verb, limit in self._limits:
            if verb == method and pattern.match(path):
                return limit
        return self.max_body_bytes

    def _guarded_route(self, scope: Scope) -> bool:
        if self._guarded is None:
            try:
                self._guarded = guarded_operations(self._schema())
            except Exception:
                # every route still checks its token itself, only after reading the body
                log.exception("cannot read the API description: tokens checked by the routes")
                self._guarded = []
        path, method = scope["path"], scope["method"].upper()
        return any(method in methods and p.match(path) for p, methods in self._guarded)

    def _counting(self, receive: Receive, limit: int) -> Receive:
        """A body sent in chunks (no Content-Length) is counted as it arrives."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return counted


def _headers(scope: Scope) -> Iterable[tuple[str, str]]:
    for name, value in scope.get("headers", ()):
        yield name.decode("latin-1").lower(), value.decode("latin-1")


async def _refuse(send: Send, status: int, message: str, *, bearer: bool = False) -> None:
    body: dict[str, Any] = {"detail": message}
    if status == 413:
        body = {"error": "too_large", "message": message}
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
    ]
    if bearer:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
