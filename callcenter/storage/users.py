"""People's accounts and their login sessions: argon2id password hashes, lockout, audit."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import Conflict, NotFound
from callcenter.domain.logins import (
    AccountLocked,
    AuthEvent,
    BadCredentials,
    LoginPolicy,
    after_failure,
    check_account,
    check_password,
    locked,
)
from callcenter.storage.models import AuthAudit, User, UserSession

SESSION_PREFIX = "cs_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    display_name: str
    role: Role
    subject: str | None
    created_at: datetime
    disabled_at: datetime | None
    locked_until: datetime | None

    @classmethod
    def of(cls, row: User) -> Account:
        return cls(
            username=row.username,
            display_name=row.display_name,
            role=Role(row.role),
            subject=row.subject,
            created_at=row.created_at,
            disabled_at=row.disabled_at,
            locked_until=row.locked_until,
        )


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    expires_at: datetime
    account: Account


class UserRepository:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        policy: LoginPolicy,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._sessions = sessions
        self.policy = policy
        # argon2id with the library's defaults (RFC 9106 low-memory profile)
        self._hasher = hasher or PasswordHasher()
        # a hash to verify against for unknown names, so they take as long as wrong passwords
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    async def _hash_password(self, password: str) -> str:
        # argon2 is memory-hard on purpose: keep it off the event loop
        return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, stored: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self._hasher.verify, stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def create(
        self,
        username: str,
        password: str,
        role: Role,
        now: datetime,
        *,
        display_name: str = "",
        subject: str | None = None,
        actor: str = "",
    ) -> Account:
        check_account(username, role, subject)
        check_password(password)
        row = User(
            username=username,
            display_name=display_name or username,
            role=role.value,
            subject=subject,
            password_hash=await self._hash_password(password),
            created_at=now,
            failed_logins=0,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                session.add(_audit(now, username, AuthEvent.CREATED, actor))
        except IntegrityError as err:
            raise Conflict(f"user {username!r} exists already") from err
        return Account.of(row)

    async def all(self) -> list[Account]:
        async with self._sessions() as session:
            rows = await session.scalars(select(User).order_by(User.username))
            return [Account.of(row) for row in rows]

    async def get(self, username: str) -> Account:
        async with self._sessions() as session:
            row = await session.scalar(select(User).where(User.username == username))
            if row is None:
                raise NotFound(f"no user {username!r}")
            return Account.of(row)

    async def disable(self, username: str, now: datetime, actor: str = "") -> Account:
        """Disable an account and end its sessions at once."""
        async with self._sessions.begin() as session:
            row = await self._row(session, username)
            if row.disabled_at is None:
                row.disabled_at = now
            await session.execute(
                update(UserSession)
                .where(UserSession.user_id == row.id, UserSession.ended_at.is_(None))
                .values(ended_at=now)
            )
            session.add(_audit(now, username, AuthEvent.DISABLED, actor))
            return Account.of(row)

    async def reset_password(
        self, username: str, password: str, now: datetime, actor: str = ""
    ) -> Account:
        """A new password (by an admin): clears a lockout, ends the user's sessions."""
        check_password(password)
        hashed = await self._hash_password(password)
        async with self._sessions.begin() as session:
            row = await self._row(session, username)
            row.password_hash = hashed
            row.failed_logins = 0
            row.locked_until = None
            await session.execute(
                update(UserSession)
                .where(UserSession.user_id == row.id, UserSession.ended_at.is_(None))
                .values(ended_at=now)
            )
            session.add(_audit(now, username, AuthEvent.PASSWORD_RESET, actor))
            return Account.of(row)

    async def login(self, username: str, password: str, now: datetime, client: str = "") -> Login:
        async with self._sessions.begin() as session:
            row = await session.scalar(select(User).where(User.username == username))
            until = row.locked_until if row is not None else None
            if row is None:
                session.add(_audit(now, username[:64], AuthEvent.FAILURE, client=client))
            elif locked(until, now):
                session.add(_audit(now, username, AuthEvent.REFUSED_LOCKED, client=client))
        if row is None:
            await self._verify(self._dummy, password)
            raise BadCredentials()
        if until is not None and locked(until, now):
            raise AccountLocked(until)
        ok = await self._verify(row.password_hash, password) and row.disabled_at is None
        async with self._sessions.begin() as session:
            fresh = await self._row(session, username, lock=True)
            if not ok:
                lock = after_failure(fresh.failed_logins, self.policy, now)
                fresh.failed_logins = lock.failures
                fresh.locked_until = lock.locked_until
                session.add(_audit(now, username, AuthEvent.FAILURE, client=client))
                if lock.locked_until is not None:
                    session.add(_audit(now, username, AuthEvent.LOCKED, client=client))
                failed = True
            else:
                failed = False
                fresh.failed_logins = 0
                fresh.locked_until = None
                token = SESSION_PREFIX + secrets.token_urlsafe(32)
                expires = now + self.policy.session
                session.add(
                    UserSession(
                        user_id=fresh.id,
                        token_hash=_hash(token),
                        created_at=now,
                        expires_at=expires,
                    )
                )
                session.add(_audit(now, username, AuthEvent.LOGIN, client=client))
                account = Account.of(fresh)
        if failed:
            raise BadCredentials()
        return Login(token, expires, account)

    async def logout(self, token: str, now: datetime) -> None:
        async with self._sessions.begin() as session:
            found = (
                await session.execute(
                    select(UserSession, User)
                    .join(User, User.id == UserSession.user_id)
                    .where(UserSession.token_hash == _hash(token), UserSession.ended_at.is_(None))
                )
            ).first()
            if found is None:
                return
            login, user = found
            login.ended_at = now
            session.add(_audit(now, user.username, AuthEvent.LOGOUT))

    async def authenticate(self, token: str, now: datetime) -> tuple[Principal, Account] | None:
        """The person behind a live session token, or None (unknown, ended, expired, disabled)."""
        async with self._sessions() as session:
            found = (
                await session.execute(
                    select(UserSession, User)
                    .join(User, User.id == UserSession.user_id)
                    .where(
                        UserSession.token_hash == _hash(token),
                        UserSession.ended_at.is_(None),
                        UserSession.expires_at > now,
                        User.disabled_at.is_(None),
                    )
                )
            ).first()
            if found is None:
                return None
            login, user = found
            principal = Principal(
                token_id=login.id, name=user.username, role=Role(user.role), subject=user.subject
            )
            return principal, Account.of(user)

    async def audit(self, username: str | None = None) -> list[tuple[datetime, str, str]]:
        async with self._sessions() as session:
            query = select(AuthAudit).order_by(AuthAudit.id)
            if username is not None:
                query = query.where(AuthAudit.username == username)
            return [(row.at, row.username, row.event) for row in await session.scalars(query)]

    async def count(self) -> int:
        async with self._sessions() as session:
            return len((await session.scalars(select(User.id))).all())

    @staticmethod
    async def _row(session: AsyncSession, username: str, lock: bool = False) -> User:
        query = select(User).where(User.username == username)
        if lock:
            query = query.with_for_update()
        row = await session.scalar(query)
        if row is None:
            raise NotFound(f"no user {username!r}")
        return row


def _audit(
    now: datetime, username: str, event: AuthEvent, actor: str = "", client: str = ""
) -> AuthAudit:
    return AuthAudit(at=now, username=username, event=event.value, actor=actor, client=client[:64])
