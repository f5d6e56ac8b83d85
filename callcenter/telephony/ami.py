"""Supervised AMI connection over panoramisk: keepalive ping, reconnect with backoff, resync."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from panoramisk import Manager
from panoramisk.message import Message

from callcenter.domain.errors import TelephonyUnavailable
from callcenter.telephony.events import EventReader, TelephonyEvent

log = logging.getLogger(__name__)

EventHandler = Callable[[TelephonyEvent], None]
ConnectedHook = Callable[["AmiClient"], Awaitable[None]]
LostHook = Callable[["AmiClient"], None]


class AmiLoginFailed(Exception):
    """Asterisk refused the engine's AMI credentials; retrying will not help."""


class _Connection(Manager):  # type: ignore[misc]
    """One TCP connection. Unlike panoramisk's default, it never reconnects by itself: the
    supervisor in AmiClient owns reconnecting, so there is exactly one retry loop and one log."""

    def __init__(self, lost: asyncio.Future[None], **config: Any) -> None:
        super().__init__(**config)
        self._lost = lost

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            return  # the supervisor awaits the same task and sees the error
        super().connection_made(f)
        pinger: asyncio.TimerHandle | None = getattr(self, "pinger", None)
        if pinger is not None:  # keepalive is the supervisor's, with a timeout
            pinger.cancel()
            self.pinger = None

    def connection_lost(self, exc: object) -> None:
        self._connected = False
        if not self._lost.done():
            self._lost.set_result(None)


class AmiClient:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        secret: str,
        on_event: EventHandler,
        on_connected: ConnectedHook | None = None,
        on_lost: LostHook | None = None,
        name: str = "",
        ping_interval: float = 2.0,
        ping_timeout: float = 2.0,
        reconnect_initial: float = 0.2,
        reconnect_max: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._host, self._port = host, port
        self._username, self._secret = username, secret
        # every event is translated once, here: consumers get typed events only
        self.events = EventReader(on_event, clock, name)
        self._on_connected = on_connected
        self._on_lost = on_lost
        # the Asterisk node this connection belongs to ("" with a single node)
        self.name = name
        self._ping_interval, self._ping_timeout = ping_interval, ping_timeout
        self._reconnect_initial, self._reconnect_max = reconnect_initial, reconnect_max
        self._conn: _Connection | None = None
        self.connected = asyncio.Event()
        self._stopping = False
        self.reconnects = 0

    @property
    def where(self) -> str:
        return f"{self._host}:{self._port}"

    async def run(self) -> None:
        """Connect, and keep connected until `stop()`, retrying with capped backoff."""
        delay = self._reconnect_initial
        lost_since: float | None = None
        ever_connected = False
        while not self._stopping:
            lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            try:
                conn = await self._open(lost)
            except (OSError, TimeoutError, AmiLoginFailed) as err:
                # a refused login is retried too: Asterisk refuses logins while it boots
                if lost_since is None:
                    lost_since = time.monotonic()
                    what = "lost" if ever_connected else "not reachable"
                    log.warning("AMI %s %s (%s); retrying", self.where, what, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._reconnect_max)
                continue
            delay = self._reconnect_initial
            self._conn = conn
            self.connected.set()
            if ever_connected:
                self.reconnects += 1
                down = time.monotonic() - lost_since if lost_since is not None else 0.0
                log.warning("AMI %s reconnected after %.1f s; resynchronizing", self.where, down)
            else:
                log.info("AMI %s connected", self.where)
            ever_connected = True
            lost_since = None
            try:
                if self._on_connected is not None:
                    await self._on_connected(self)
                await self._keepalive(lost)
            except TelephonyUnavailable:
                pass  # the connection died during resync; the loop reconnects
            finally:
                self.connected.clear()
                self._conn = None
                conn.close()
            if not self._stopping:
                lost_since = time.monotonic()
                log.warning("AMI %s connection lost; reconnecting", self.where)
                if self._on_lost is not None:
                    self._on_lost(self)

    async def _open(self, lost: asyncio.Future[None]) -> _Connection:
        conn = _Connection(
            lost,
            host=self._host,
            port=self._port,
            loop=asyncio.get_running_loop(),
            events="on",
            ping_delay=3600,
        )
        conn.register_event("*", self._dispatch)
        try:
            await asyncio.wait_for(conn.connect(), timeout=5)
            response = await asyncio.wait_for(
                conn.send_action(
                    {
                        "Action": "Login",
                        "Username": self._username,
                        "Secret": self._secret,
                        "Events": "on",
                    }
                ),
                timeout=5,
            )
        except BaseException:
            conn.close()
            raise
        if not response.success:
            conn.close()
            raise AmiLoginFailed(
                f"AMI {self.where} refused user {self._username!r}: {response.message}"
            )
        return conn

    async def _keepalive(self, lost: asyncio.Future[None]) -> None:
        """Ping with a deadline: a half-open TCP connection is noticed within a few seconds."""
        while not lost.done():
            done, _ = await asyncio.wait({lost}, timeout=self._ping_interval)
            if done:
                return
            try:
                await self.action({"Action": "Ping"}, timeout=self._ping_timeout)
            except TelephonyUnavailable:
                return

    def _dispatch(self, _manager: object, message: Message) -> None:
        try:
            self.events(message)
        except Exception:
            log.exception("AMI event handler failed on %s", message.get("Event"))

    async def action(
        self, action: Mapping[str, Any], *, as_list: bool = False, timeout: float = 5.0
    ) -> Any:
        """Send an action; raise TelephonyUnavailable when not connected or no timely answer."""
        conn = self._conn
        if conn is None or conn.protocol is None or not self.connected.is_set():
            raise TelephonyUnavailable(f"AMI {self.where} is not connected")
        try:
            return await asyncio.wait_for(
                conn.send_action(dict(action), as_list=as_list), timeout=timeout
            )
        except TimeoutError as err:
            raise TelephonyUnavailable(
                f"AMI {self.where} did not answer {action.get('Action')} within {timeout} s"
            ) from err

    async def stop(self) -> None:
        self._stopping = True
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.send_action({"Action": "Logoff"}), timeout=1)
            conn.close()
