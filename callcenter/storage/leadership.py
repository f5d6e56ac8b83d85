"""Leadership of active/standby engines: a PostgreSQL advisory lock held on a connection of its own.

PostgreSQL releases a session's advisory lock when the session ends, and a session ends when its
client dies: the kernel closes a killed engine's socket, the server sees it at once and the
standby's next try takes the lock. The leader checks its lock connection every second; if the
connection fails (the primary changed, the network broke) it can no longer know it leads and
must stop taking calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# the advisory lock key of the hotline's leadership (pg_locks shows it as classid 0, objid KEY)
LOCK_KEY = 12345_0016
APPLICATION_PREFIX = "cc-leader "


class LeadershipLost(Exception):
    """The lock connection failed: another engine may lead now."""

    code = "leadership_lost"


def asyncpg_dsn(database_url: str) -> str:
    """The asyncpg form of a SQLAlchemy URL (multi-host `host=` lists and
    target_session_attrs are passed through)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("leader election needs PostgreSQL (CALLCENTER_DATABASE_URL)")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Leadership:
    def __init__(
        self,
        database_url: str,
        name: str,
        api_url: str,
        *,
        poll_seconds: float = 0.5,
        check_seconds: float = 1.0,
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self.name = name
        self.api_url = api_url
        self._poll = poll_seconds
        self._check = check_seconds
        self._conn: asyncpg.Connection | None = None
        self.leading = False
        # "name api_url" of the leader as last seen (by the standby, while it waits)
        self.current_leader: str | None = None

    async def _connect(self) -> asyncpg.Connection:
        # the application name says who holds the lock, and where its API is
        label = f"{APPLICATION_PREFIX}{self.name} {self.api_url}"[:63]
        return await asyncio.wait_for(
            asyncpg.connect(self._dsn, server_settings={"application_name": label}), timeout=5
        )

    async def acquire(self) -> None:
        """Wait until this engine holds the lock."""
        announced = False
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await self._connect()
                got = await asyncio.wait_for(
                    self._conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY), timeout=5
                )
            except (OSError, TimeoutError, asyncpg.PostgresError) as err:
                log.warning("leader election: database not reachable (%s); retrying", err)
                await self._drop()
                await asyncio.sleep(self._poll)
                continue
            if got:
                self.leading = True
                self.current_leader = f"{self.name} {self.api_url}"
                log.warning("engine %s is the leader now", self.name)
                return
            self.current_leader = await self.leader()
            if not announced:
                log.info("engine %s is standby; leader: %s", self.name, self.current_leader)
                announced = True
            await asyncio.sleep(self._poll)

    async def hold(self) -> None:
        """Return (raise LeadershipLost) only when the lock connection fails."""
        while True:
            await asyncio.sleep(self._check)
            conn = self._conn
            try:
                if conn is None or conn.is_closed():
                    raise LeadershipLost("the leadership connection is closed")
                await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=max(self._check, 2))
            except (OSError, TimeoutError, asyncpg.PostgresError) as err:
                self.leading = False
                await self._drop()
                raise LeadershipLost(f"the leadership connection failed: {err}") from err

    async def leader(self) -> str | None:
        """`name api_url` of the engine holding the lock, None when nobody does."""
        try:
            conn = self._conn if self._conn is not None and not self._conn.is_closed() else None
            if conn is None:
                conn = self._conn = await self._connect()
            label = await asyncio.wait_for(
                conn.fetchval(
                    "SELECT a.application_name FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = $1 "
                    "AND l.objsubid = 1 AND l.granted",
                    LOCK_KEY,
                ),
                timeout=5,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError):
            return None
        if not isinstance(label, str):
            return None
        return label.removeprefix(APPLICATION_PREFIX)

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()

    async def release(self) -> None:
        self.leading = False
        await self._drop()
