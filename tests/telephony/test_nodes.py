"""Several Asterisk nodes: parsing the node list, actions routed by node, and a node declared
gone only when it stays unreachable."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callcenter.domain.errors import TelephonyUnavailable
from callcenter.telephony.ami import AmiClient
from callcenter.telephony.nodes import AmiNodes, Node, NodeWatch, parse_nodes


def test_parse_nodes() -> None:
    assert parse_nodes("a=192.0.2.3:5038, b=192.0.2.4:5039") == (
        Node("a", "192.0.2.3", 5038),
        Node("b", "192.0.2.4", 5039),
    )
    assert parse_nodes("") == ()
    for bad in ("a=192.0.2.3", "=192.0.2.3:5038", "a=192.0.2.3:0", "a=h:1,a=h:2", "a b=h:1"):
        with pytest.raises(ValueError):
            parse_nodes(bad)


class FakeClient(AmiClient):
    def __init__(self, name: str) -> None:
        super().__init__(
            host="192.0.2.1", port=5038, username="u", secret="s" * 12, on_event=lambda m: None,
            name=name,
        )  # fmt: skip
        self.sent: list[dict[str, Any]] = []

    async def action(self, action: Any, *, as_list: bool = False, timeout: float = 5.0) -> Any:
        if not self.connected.is_set():
            raise TelephonyUnavailable(f"{self.name} down")
        self.sent.append(dict(action))
        return {"Response": "Success"}


async def test_actions_go_to_the_named_node_or_the_first_connected_one() -> None:
    a, b = FakeClient("a"), FakeClient("b")
    nodes = AmiNodes([a, b])
    with pytest.raises(TelephonyUnavailable):
        await nodes.action({"Action": "Ping"})
    b.connected.set()
    nodes.refresh()
    assert nodes.connected.is_set()
    await nodes.action({"Action": "Originate"})
    assert b.sent == [{"Action": "Originate"}] and a.sent == []
    with pytest.raises(TelephonyUnavailable):
        await nodes.action({"Action": "Hangup"}, node="a")
    with pytest.raises(TelephonyUnavailable):
        await nodes.action({"Action": "Hangup"}, node="c")
    b.connected.clear()
    nodes.refresh()
    assert not nodes.connected.is_set()


async def test_a_node_is_gone_only_when_it_stays_unreachable() -> None:
    gone: list[str] = []
    watch = NodeWatch(0.2, gone.append)
    watch.lost("a")
    await asyncio.sleep(0.05)
    watch.connected("a")  # back within the grace: its resync decides
    watch.lost("b")
    await asyncio.sleep(0.35)
    assert gone == ["b"]
    await watch.stop()
