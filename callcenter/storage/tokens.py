"""API token repository: tokens are random, shown once, and stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.access import Principal, Role
from callcenter.storage.models import ApiToken

TOKEN_PREFIX = "cc_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, name: str, role: Role, now: datetime, subject: str | None = None) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self._sessions.begin() as session:
            session.add(
                ApiToken(
                    name=name,
                    role=role.value,
                    subject=subject,
                    token_hash=_hash(token),
                    created_at=now,
                )
            )
        return token

    async def authenticate(self, token: str) -> Principal | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(ApiToken).where(
                    ApiToken.token_hash == _hash(token), ApiToken.revoked_at.is_(None)
                )
            )
            if row is None:
                return None
            return Principal(
                token_id=row.id, name=row.name, role=Role(row.role), subject=row.subject
            )

    async def count(self) -> int:
        async with self._sessions() as session:
            return len((await session.scalars(select(ApiToken.id))).all())
