"""Several Asterisk nodes: one supervised AMI connection per node, keyed by the node's name."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from callcenter.domain.errors import TelephonyUnavailable
from callcenter.telephony.ami import AmiClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Node:
    """An Asterisk node: its name (its uniqueids start with it) and its AMI address."""

    name: str
    host: str
    port: int


def parse_nodes(text: str) -> tuple[Node, ...]:
    """`a=192.0.2.3:5038,b=192.0.2.4:5038` -> nodes; raises ValueError naming the entry."""
    nodes = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, sep, address = entry.partition("=")
        host, colon, port = address.rpartition(":")
        if not sep or not colon or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"entry {entry!r}: want name=host:port")
        if not port.isdigit() or not 0 < int(port) < 65536 or not host:
            raise ValueError(f"entry {entry!r}: want name=host:port")
        nodes.append(Node(name, host, int(port)))
    if len({node.name for node in nodes}) != len(nodes):
        raise ValueError("node names must be unique")
    return tuple(nodes)


class AmiNodes:
    """The engine's AMI connections, one per node. Actions on a call go to the node carrying
    it; actions that start something new (an Originate) go to the first connected node.
    `connected` is set while at least one node is connected."""

    def __init__(self, clients: Sequence[AmiClient]) -> None:
        self.clients: dict[str, AmiClient] = {client.name: client for client in clients}
        self.connected = asyncio.Event()

    @property
    def names(self) -> list[str]:
        return list(self.clients)

    def __getitem__(self, name: str) -> AmiClient:
        return self.clients[name]

    def refresh(self) -> None:
        """Recompute `connected` (called when a node connects or is lost)."""
        if any(client.connected.is_set() for client in self.clients.values()):
            self.connected.set()
        else:
            self.connected.clear()

    def connected_nodes(self) -> list[str]:
        return [name for name, client in self.clients.items() if client.connected.is_set()]

    async def action(
        self,
        action: Mapping[str, Any],
        *,
        as_list: bool = False,
        timeout: float = 5.0,
        node: str | None = None,
    ) -> Any:
        if node:
            client = self.clients.get(node)
            if client is None:
                raise TelephonyUnavailable(f"no Asterisk node named {node!r}")
            return await client.action(action, as_list=as_list, timeout=timeout)
        for client in self.clients.values():
            if client.connected.is_set():
                return await client.action(action, as_list=as_list, timeout=timeout)
        raise TelephonyUnavailable("no Asterisk node is connected")

    async def run(self) -> None:
        await asyncio.gather(*(client.run() for client in self.clients.values()))

    async def stop(self) -> None:
        for client in self.clients.values():
            await client.stop()


class NodeWatch:
    """A node whose AMI stays lost for `grace` seconds is declared gone (`on_gone`), once per
    loss; reconnecting within the grace cancels it (the reconnect's resync decides then)."""

    def __init__(self, grace: float, on_gone: Callable[[str], None]) -> None:
        self._grace = grace
        self._on_gone = on_gone
        self._timers: dict[str, asyncio.Task[None]] = {}

    def lost(self, node: str) -> None:
        self.connected(node)
        self._timers[node] = asyncio.get_running_loop().create_task(
            self._expire(node), name=f"node-watch-{node}"
        )

    def connected(self, node: str) -> None:
        timer = self._timers.pop(node, None)
        if timer is not None:
            timer.cancel()

    async def _expire(self, node: str) -> None:
        await asyncio.sleep(self._grace)
        self._timers.pop(node, None)
        log.error("Asterisk node %s unreachable for %.0f s: its calls are lost", node, self._grace)
        self._on_gone(node)

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        self._timers.clear()
