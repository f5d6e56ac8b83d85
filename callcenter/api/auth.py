"""Bearer-token authentication and role checks for every route.

Two kinds of bearer token are accepted alike: API tokens for machines (`cc_…`) and the session
tokens people get when they log in with a name and password (`cs_…`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from callcenter.domain.access import Permission, Principal, require
from callcenter.storage.tokens import TokenRepository
from callcenter.storage.users import SESSION_PREFIX, UserRepository

bearer = HTTPBearer(auto_error=False)


async def authenticate(state: Any, token: str) -> Principal | None:
    """The principal behind a bearer token of either kind, or None."""
    if token.startswith(SESSION_PREFIX):
        users: UserRepository | None = getattr(state, "users", None)
        if users is None:
            return None
        clock: Callable[[], datetime] = state.clock
        found = await users.authenticate(token, clock())
        return found[0] if found is not None else None
    tokens: TokenRepository = state.tokens
    return await tokens.authenticate(token)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status_code=401,
            detail="missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await authenticate(request.app.state, credentials.credentials)
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail="unknown, expired or revoked token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def allowed(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    async def check(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        require(principal, permission)
        return principal

    return check
