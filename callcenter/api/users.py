"""/auth (people log in and out) and /users (admins manage people's accounts)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from callcenter.api.auth import allowed, bearer, current_principal
from callcenter.api.deps import Services, ServicesDep
from callcenter.api.types import SafeStr
from callcenter.domain.access import Permission, Principal, Role
from callcenter.domain.errors import NotFound
from callcenter.storage.users import SESSION_PREFIX, Account, UserRepository

router = APIRouter(tags=["users"])

Username = Annotated[SafeStr, Field(min_length=1, max_length=64)]
UsernameInPath = Annotated[SafeStr, Path(min_length=1, max_length=64)]
Password = Annotated[SafeStr, Field(min_length=1, max_length=256)]


class LoginIn(BaseModel):
    username: Username
    password: Password


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    subject: str | None

    @classmethod
    def of(cls, account: Account) -> UserOut:
        return cls(
            username=account.username,
            display_name=account.display_name,
            role=account.role.value,
            subject=account.subject,
        )


class AccountOut(UserOut):
    created_at: datetime
    disabled: bool
    locked_until: datetime | None

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(
            username=account.username,
            display_name=account.display_name,
            role=account.role.value,
            subject=account.subject,
            created_at=account.created_at,
            disabled=account.disabled_at is not None,
            locked_until=account.locked_until,
        )


class LoginOut(BaseModel):
    token: str
    expires_at: datetime
    user: UserOut


class UserIn(BaseModel):
    username: Username
    password: Password
    role: Role
    display_name: Annotated[str, Field(max_length=128)] = ""
    subject: Annotated[str | None, Field(min_length=1, max_length=64)] = None


class PasswordIn(BaseModel):
    password: Password


def _users(found: Services) -> UserRepository:
    if found.users is None:
        raise NotFound("people's logins are not set up in this engine")
    return found.users


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else ""


@router.post("/auth/login", response_model=LoginOut)
async def login(body: LoginIn, request: Request, found: ServicesDep) -> LoginOut:
    """Name and password -> a session token (a bearer token like the API tokens) that expires.
    401 for a wrong name or password alike; 423 while the account is locked."""
    done = await _users(found).login(
        body.username, body.password, found.clock(), client=_client(request)
    )
    return LoginOut(token=done.token, expires_at=done.expires_at, user=UserOut.of(done.account))


@router.post("/auth/logout", status_code=204)
async def logout(
    found: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    _principal: Annotated[Principal, Depends(current_principal)],
) -> Response:
    assert credentials is not None  # current_principal refused a request without one
    await _users(found).logout(credentials.credentials, found.clock())
    return Response(status_code=204)


@router.get("/auth/me", response_model=UserOut)
async def me(
    found: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    principal: Annotated[Principal, Depends(current_principal)],
) -> UserOut:
    """Who is logged in; for an API token, its name, role and subject."""
    assert credentials is not None
    if credentials.credentials.startswith(SESSION_PREFIX):
        return UserOut.of(await _users(found).get(principal.name))
    return UserOut(
        username=principal.name,
        display_name=principal.name,
        role=principal.role.value,
        subject=principal.subject,
    )


Admin = Annotated[Principal, Depends(allowed(Permission.MANAGE_USERS))]


@router.post("/users", response_model=AccountOut, status_code=201)
async def create_user(body: UserIn, found: ServicesDep, admin: Admin) -> AccountOut:
    account = await _users(found).create(
        body.username,
        body.password,
        body.role,
        found.clock(),
        display_name=body.display_name,
        subject=body.subject,
        actor=admin.name,
    )
    return AccountOut.of(account)


@router.get("/users", response_model=list[AccountOut])
async def list_users(found: ServicesDep, _admin: Admin) -> list[AccountOut]:
    return [AccountOut.of(account) for account in await _users(found).all()]


@router.post("/users/{username}/disable", response_model=AccountOut)
async def disable_user(username: UsernameInPath, found: ServicesDep, admin: Admin) -> AccountOut:
    """Disable the account and end its sessions at once."""
    account = await _users(found).disable(username, found.clock(), actor=admin.name)
    return AccountOut.of(account)


@router.post("/users/{username}/password", response_model=AccountOut)
async def reset_password(
    username: UsernameInPath, body: PasswordIn, found: ServicesDep, admin: Admin
) -> AccountOut:
    """Set a new password: clears a lockout and ends the user's sessions."""
    account = await _users(found).reset_password(
        username, body.password, found.clock(), actor=admin.name
    )
    return AccountOut.of(account)
