"""FastAGI server (panoramisk) and the call-control interface implemented over AGI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from panoramisk.fast_agi import Request

from callcenter.domain.metrics import LatencyHistogram
from callcenter.telephony.call_control import AgentDial, CallControl, CallerHungUp

log = logging.getLogger(__name__)

HEADER_LIMIT = 16 * 1024
HEADER_TIMEOUT = 5.0


class AgiCommandFailed(Exception):
    code = "agi_command_failed"


def _quote(arg: str) -> str:
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _digit(result: str) -> str:
    """AGI's answer to a command that reads a key: the key's character code, 0 for none."""
    return chr(int(result)) if result.isdigit() and result != "0" else ""


# what Asterisk's Dial says when the phone rang and nobody picked up (the others: it could not
# ring at all, e.g. BUSY, CHANUNAVAIL, CONGESTION)
RANG_OUT = {"NOANSWER"}


class AgiChannel:
    """One call's AGI session: the call-control interface (telephony/call_control.py) over
    panoramisk's Request. Prompts are played from `prompt_root` (as Asterisk sees it)."""

    def __init__(self, request: Request, prompt_root: str = "") -> None:
        self._request = request
        self._prompt_root = prompt_root.rstrip("/")
        self.headers: Mapping[str, str] = request.headers

    @property
    def uniqueid(self) -> str:
        return str(self.headers.get("agi_uniqueid", ""))

    @property
    def caller_number(self) -> str:
        return str(self.headers.get("agi_callerid", ""))

    async def _command(self, line: str) -> tuple[str, str]:
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

    async def _expression(self, expression: str) -> str:
        result, data = await self._command(f"GET FULL VARIABLE {_quote(expression)}")
        return data if result == "1" else ""

    async def _exec(self, application: str, options: str = "") -> str:
        result, _ = await self._command(f"EXEC {application} {_quote(options)}")
        return result

    async def linkedid(self) -> str:
        # the dialplan passes it as the script's argument: no round trip before the answer
        return (
            self.headers.get("agi_arg_1")
            or await self._expression("${CHANNEL(linkedid)}")
            or self.uniqueid
        )

    async def variable(self, name: str) -> str:
        return await self._expression(f"${{{name}}}")

    async def set_variable(self, name: str, value: str) -> None:
        await self._command(f"SET VARIABLE {name} {_quote(value)}")

    async def sip_header(self, name: str) -> str:
        return await self._expression(f"${{PJSIP_HEADER(read,{name})}}")

    async def answer(self) -> None:
        await self._command("ANSWER")

    async def hangup(self) -> None:
        await self._command("HANGUP")

    def _prompt(self, prompt: str) -> str:
        return f"{self._prompt_root}/{prompt}"

    async def play(self, prompt: str, interrupt: str = "") -> str:
        """A missing prompt file is logged and skipped: it must not end the citizen's call."""
        path = self._prompt(prompt)
        try:
            result, _ = await self._command(f"STREAM FILE {_quote(path)} {_quote(interrupt)}")
        except CallerHungUp:
            # Asterisk answers -1 both for a hangup and for a file it cannot play
            if await self.alive():
                log.error("prompt %s could not be played on %s", path, self.uniqueid)
                return ""
            raise
        return _digit(result)

    async def play_all(self, prompts: Sequence[str], interrupt: str = "") -> str:
        for prompt in prompts:
            digit = await self.play(prompt, interrupt)
            if digit:
                return digit
        return ""

    async def wait_digit(self, timeout_ms: int) -> str:
        result, _ = await self._command(f"WAIT FOR DIGIT {timeout_ms}")
        return _digit(result)

    async def alive(self) -> bool:
        try:
            await self._command("CHANNEL STATUS")
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

    async def start_hold_music(self) -> None:
        await self._exec("StartMusicOnHold", "default")

    async def stop_hold_music(self) -> None:
        await self._exec("StopMusicOnHold")

    async def pause(self, seconds: int) -> None:
        await self._exec("Wait", str(seconds))

    async def mark_handled(self, handled: bool) -> None:
        await self.set_variable(HANDLED_VARIABLE, "1" if handled else "")

    async def dial_agent(self, endpoint: str, ring_seconds: int, proxy: str = "") -> AgentDial:
        # through the SIP proxy (a cluster's Kamailio) that holds the agent's registration
        target = f"PJSIP/{endpoint}@{proxy}" if proxy else f"PJSIP/{endpoint}"
        # g: when the agent leg ends the caller stays with this script (silent-call script)
        await self._exec("Dial", f"{target},{ring_seconds},g")
        status = await self._expression("${DIALSTATUS}")
        if status != "ANSWER":
            status = status or "NOANSWER"
            return AgentDial(answered=False, status=status, rang_out=status in RANG_OUT)
        talk_ms = await self._expression("${ANSWEREDTIME_MS}")
        talked = timedelta(milliseconds=int(talk_ms)) if talk_ms.isdigit() else None
        return AgentDial(answered=True, status=status, talked=talked)

    async def transfer(self, number: str, trunk: str) -> None:
        await self._exec("Dial", f"PJSIP/{number}@{trunk}")

    async def record_conversation(self, path: str) -> None:
        # b: only the time the caller is bridged, so hold music and unanswered rings are not in it
        await self._exec("MixMonitor", f"{path},b")

    async def record_message(
        self, base: str, *, max_seconds: int, beep: bool, silence_seconds: int
    ) -> None:
        options = (" BEEP" if beep else "") + (f" s={silence_seconds}" if silence_seconds else "")
        await self._command(f'RECORD FILE "{base}" wav "#" {max_seconds * 1000}{options}')


Script = Callable[[CallControl], Awaitable[None]]

# Set on the channel when an engine has done with a call (its script ended, or the call went to
# an agent, whose conversation Asterisk carries on alone). Without it, the dialplan (cc-agi)
# hands the call to the next engine: the one it was with died mid-script.
HANDLED_VARIABLE = "CC_HANDLED"


class FastAgiServer:
    """Accepts Asterisk's FastAGI connections and runs the script routed by agi_network_script.

    panoramisk's Application reads the request headers with an unbounded loop that spins on a
    connection closed early; this server reads them with a limit and a deadline, then hands the
    session to panoramisk's Request for the commands."""

    def __init__(
        self, host: str, port: int, routes: Mapping[str, Script], prompt_root: str = ""
    ) -> None:
        self._host, self._port = host, port
        self._prompt_root = prompt_root
        self._routes = dict(routes)
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.Task[Any]] = set()
        self.sessions = 0
        # from the dialplan invoking AGI (its epoch time rides along as agi_arg_2) to the
        # script starting here: what a caller waits, after the answer, for the engine to speak
        self.start_delays = LatencyHistogram()

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
        invoked = headers.get("agi_arg_2", "")
        with contextlib.suppress(ValueError):
            self.start_delays.observe(time.time() - float(invoked))
        request = Request(app=None, headers=headers, reader=reader, writer=writer)
        task = asyncio.current_task()
        if task is not None:
            self._live.add(task)
        channel = AgiChannel(request, self._prompt_root)
        try:
            await script(channel)
            with contextlib.suppress(CallerHungUp, AgiCommandFailed, OSError):
                await channel.mark_handled(True)
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
