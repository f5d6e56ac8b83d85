"""Bearer-token authentication and role checks for every route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from callcenter.api.gate import PRINCIPAL_KEY
from callcenter.domain.access import Permission, Principal, require
from callcenter.storage.tokens import TokenRepository

bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    # the request gate has checked this request's token already, before its body was read
    checked = request.scope.get("state", {}).get(PRINCIPAL_KEY)
    if isinstance(checked, Principal):
        return checked
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status_code=401,
            detail="missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    tokens: TokenRepository = request.app.state.tokens
    principal = await tokens.authenticate(credentials.credentials)
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail="unknown or revoked token",
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
