"""Bearer-token authentication and role checks for every route.

Two kinds of bearer token are accepted alike: API tokens for machines (`cc_…`) and the session
tokens people get when they log in with a name and password (`cs_…`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from callcenter.api.deps import Services, services
from callcenter.api.gate import PRINCIPAL_KEY
from callcenter.domain.access import Permission, Principal, Role, require
from callcenter.domain.errors import Forbidden
from callcenter.storage.users import SESSION_PREFIX

bearer = HTTPBearer(auto_error=False)


async def authenticate(found: Services, token: str) -> Principal | None:
    """The principal behind a bearer token of either kind, or None."""
    if token.startswith(SESSION_PREFIX):
        if found.users is None:
            return None
        person = await found.users.authenticate(token, found.clock())
        return person[0] if person is not None else None
    return await found.tokens.authenticate(token)


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
    principal = await authenticate(services(request), credentials.credentials)
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


async def department_bound(principal: Annotated[Principal, Depends(current_principal)]) -> None:
    """A department token must name its department (its subject), or it could see nothing."""
    if principal.role is Role.DEPARTMENT and not principal.subject:
        raise Forbidden("this department token names no department (issue it with --subject)")
