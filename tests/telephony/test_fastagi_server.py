"""The FastAGI server over a real loopback socket: a session's start delay (the dialplan's time
of asking, agi_arg_2) lands in the histogram /metrics exports; a session without it does not."""

from __future__ import annotations

import asyncio
import time

from callcenter.telephony.agi import FastAgiServer
from callcenter.telephony.call_control import CallControl


async def _session(port: int, arguments: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            "agi_network: yes\nagi_network_script: inbound\nagi_channel: PJSIP/trunk-1\n"
            f"agi_uniqueid: 1764.1\n{arguments}\n"
        ).encode()
    )
    await writer.drain()
    # the server's closing line (it marks the call handled), then the end of the session
    while await reader.readline():
        writer.write(b"200 result=1\n")
        await writer.drain()
    writer.close()


async def test_the_script_start_delay_is_measured_from_the_dialplans_time() -> None:
    ran: list[str] = []

    async def script(channel: CallControl) -> None:
        ran.append(await channel.linkedid())

    server = FastAgiServer("127.0.0.1", 0, {"inbound": script})
    await server.start()
    try:
        assert server._server is not None
        port = server._server.sockets[0].getsockname()[1]
        asked = time.time() - 0.03  # the dialplan asked 30 ms ago
        await _session(port, f"agi_arg_1: 1764.1\nagi_arg_2: {asked:.6f}\n")
        await _session(port, "agi_arg_1: 1764.2\n")  # an older dialplan: no time passed
        await _session(port, "agi_arg_1: 1764.3\nagi_arg_2: not-a-time\n")
    finally:
        await server.stop()
    assert ran == ["1764.1", "1764.2", "1764.3"]
    delays = server.start_delays
    assert delays.total == 1
    assert 0.03 <= delays.seconds_sum < 5.0
    assert delays.quantile_bound(0.99) in (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
