"""FastAGI server (panoramisk) and the per-call channel adapter the engine's scripts use."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from panoramisk.fast_agi import Request

log = logging.getLogger(__name__)

HEADER_LIMIT = 16 * 1024
HEADER_TIMEOUT = 5.0


class CallerHungUp(Exception):
    """The channel is gone; the script ends."""


class AgiCommandFailed(Exception):
    code = "agi_command_failed"


def _quote(arg: str) -> str:
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


class AgiChannel:
    """One call's AGI session: typed commands over panoramisk's Request."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self.headers: Mapping[str, str] = request.headers

    @property
    def uniqueid(self) -> str:
        return str(self.headers.get("agi_uniqueid", ""))

    @property
    def caller_number(self) -> str:
        return str(self.headers.get("agi_callerid", ""))

    async def command(self, line: str) -> tuple[str, str]:
        """Run one AGI command; returns (result, data) or raises CallerHungUp/AgiCommandFailed."""
        try:
            reply: dict[str, Any] = await self._request.send_command(line)
        except (ConnectionError, ValueError, asyncio.IncompleteReadError) as err:
            # panoramisk reads an empty line (ValueError) when Asterisk closed the socket
            raise CallerHungUp(line) from err
        error = reply.get("error")
        if error in ("AGIResultHangup", "AGIAppError"):
            raise CallerHungUp(line)
        if error:
            raise AgiCommandFailed(f"AGI {line!r}: {error} {reply.get('msg', '')}".strip())
        result, data = reply.get("result", ("", ""))
        return str(result), str(data or "")

    async def get_variable(self, expression: str) -> str:
        result, data = await self.command(f"GET FULL VARIABLE {_quote(expression)}")
        return data if result == "1" else ""

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(f"SET VARIABLE {name} {_quote(value)}")

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def stream_file(self, path: str, escape_digits: str = "") -> str:
        """Play a prompt; returns the digit that interrupted it, or ''. A missing prompt file
        is logged and skipped: it must not end the citizen's call."""
        try:
            result, _ = await self.command(f"STREAM FILE {_quote(path)} {_quote(escape_digits)}")
        except CallerHungUp:
            # Asterisk answers -1 both for a hangup and for a file it cannot play
            if await self.alive():
                log.error("prompt %s could not be played on %s", path, self.uniqueid)
                return ""
            raise
        return chr(int(result)) if result not in ("", "0") and result.isdigit() else ""

    async def alive(self) -> bool:
        try:
            await self.command("CHANNEL STATUS")
        except (CallerHungUp, AgiCommandFailed):
            return False
        return True

    async def hangup_signal(self) -> None:
        """Completes when Asterisk reports that the caller hung up. Only call it while no
        command is in flight: it reads the session's socket."""
        while True:
            line = await self._request.reader.readline()
            if not line or line.strip() == b"HANGUP":
                return

    async def exec(self, application: str, options: str = "") -> str:
        result, _ = await self.command(f"EXEC {application} {_quote(options)}")
        return result


Script = Callable[[AgiChannel], Awaitable[None]]

# Set on the channel when an engine has done with a call (its script ended, or the call went to
# an agent, whose conversation Asterisk carries on alone). Without it, the dialplan (cc-agi)
# hands the call to the next engine: the one it was with died mid-script.
HANDLED_VARIABLE = "CC_HANDLED"


async def mark_handled(channel: AgiChannel, handled: bool = True) -> None:
    """Tell the dialplan whether the call must go to the next engine if this one vanishes."""
    await channel.set_variable(HANDLED_VARIABLE, "1" if handled else "")


class FastAgiServer:
    """Accepts Asterisk's FastAGI connections and runs the script routed by agi_network_script.

    panoramisk's Application reads the request headers with an unbounded loop that spins on a
    connection closed early; this server reads them with a limit and a deadline, then hands the
    session to panoramisk's Request for the commands."""

    def __init__(self, host: str, port: int, routes: Mapping[str, Script]) -> None:
        self._host, self._port = host, port
        self._routes = dict(routes)
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.Task[Any]] = set()
        self.sessions = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self._host, self._port, limit=HEADER_LIMIT, reuse_address=True
        )
        log.info("FastAGI listening on %s:%d", self._host, self._port)

    async def stop(self, grace: float = 5.0) -> None:
        """No new sessions; end the live ones (their scripts' cleanup runs, so what they
        changed is recorded), waiting at most `grace` seconds."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        live = [task for task in self._live if task is not asyncio.current_task()]
        for task in live:
            task.cancel()
        if live:
            await asyncio.wait(live, timeout=grace)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\n\n"), timeout=HEADER_TIMEOUT)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as err:
            log.warning("FastAGI %s: no valid request header (%s)", peer, type(err).__name__)
            writer.close()
            return
        headers: dict[str, str] = {}
        for line in raw.decode("utf-8", "replace").splitlines():
            key, sep, value = line.partition(": ")
            if sep:
                headers[key] = value
        script_name = headers.get("agi_network_script", "")
        script = self._routes.get(script_name)
        if script is None:
            log.error("FastAGI %s: no script named %r", peer, script_name)
            writer.close()
            return
        self.sessions += 1
        request = Request(app=None, headers=headers, reader=reader, writer=writer)
        task = asyncio.current_task()
        if task is not None:
            self._live.add(task)
        channel = AgiChannel(request)
        try:
            await script(channel)
            with contextlib.suppress(CallerHungUp, AgiCommandFailed, OSError):
                await mark_handled(channel)
        except CallerHungUp:
            pass
        except asyncio.CancelledError:
            log.info(
                "FastAGI session for %s ended by the engine stopping", headers.get("agi_channel")
            )
        except Exception:
            log.exception(
                "FastAGI script %r failed for %s", script_name, headers.get("agi_channel")
            )
        finally:
            if task is not None:
                self._live.discard(task)
            writer.close()
