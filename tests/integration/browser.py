"""A headless Chromium driven over the DevTools protocol: the wallboard tests' real browser."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Page:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        await self._ws.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = json.loads((await self._ws.receive(timeout=30)).data)
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    async def evaluate(self, expression: str) -> Any:
        reply = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 15) -> Any:
        """Poll until the expression is truthy in the page; its value."""
        deadline = time.monotonic() + timeout
        # while a navigation is under way the elements may not exist yet: that is "not yet"
        guarded = f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()"
        while True:
            value = await self.evaluate(guarded)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never satisfied {expression!r}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def chromium(timezone: str) -> AsyncIterator[Page]:
    binary = shutil.which("chromium")
    assert binary, "Chromium drives the wallboard test (make host-deps installs it)"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="wallboard-chromium-") as profile:
        proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",  # the tests run as root
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-address=127.0.0.1",
                f"--remote-debugging-port={port}",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "TZ": timezone},
        )
        try:
            async with aiohttp.ClientSession() as http:
                target = await _page_target(http, port)
                async with http.ws_connect(target, max_msg_size=0) as ws:
                    yield Page(ws)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _page_target(http: aiohttp.ClientSession, port: int) -> str:
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"http://127.0.0.1:{port}/json/list") as reply:
                for target in await reply.json():
                    if target.get("type") == "page":
                        url: str = target["webSocketDebuggerUrl"]
                        return url
        if time.monotonic() > deadline:
            raise AssertionError("Chromium did not open its DevTools port")
        await asyncio.sleep(0.2)
