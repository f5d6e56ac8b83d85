"""The call tracker with several Asterisk nodes: each call keeps its node, and a node's resync
(or its loss) touches only that node's calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from callcenter.domain.calls import (
    CallTracker,
    ChannelCreated,
    ChannelsSnapshot,
    Disposition,
    LiveChannel,
)

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def created(uid: str, node: str, context: str = "from-trunk") -> ChannelCreated:
    return ChannelCreated(
        uniqueid=uid,
        linkedid=uid,
        channel="PJSIP/trunk-00000001",  # channel names repeat across nodes
        caller_number="13800000000",
        caller_name="",
        exten="12345",
        context=context,
        at=at(0),
        node=node,
    )


def live(uid: str, context: str) -> LiveChannel:
    return LiveChannel(
        uniqueid=uid,
        linkedid=uid,
        channel="PJSIP/trunk-00000002",
        caller_number="139",
        caller_name="",
        exten="s",
        context=context,
        up=True,
        entered_at=at(5),
    )


def test_each_call_keeps_the_node_that_carries_it() -> None:
    tracker = CallTracker()
    [on_a] = tracker.apply(created("a-1.1", "a"))
    [on_b] = tracker.apply(created("b-1.1", "b"))
    assert (on_a.node, on_b.node) == ("a", "b")
    # a second leg on the same node does not change it
    leg = replace(created("a-1.2", "a"), linkedid="a-1.1")
    [call] = tracker.apply(leg)
    assert call.node == "a" and len(call.legs) == 2


def test_a_nodes_resync_closes_only_its_own_calls() -> None:
    tracker = CallTracker()
    tracker.apply(created("a-1.1", "a"))
    tracker.apply(created("b-1.1", "b"))
    changed = tracker.apply(ChannelsSnapshot((), at(20), node="a"))
    assert [(r.linkedid, r.disposition) for r in changed] == [("a-1.1", Disposition.LOST)]
    assert set(tracker.open_calls) == {"b-1.1"}


def test_a_node_gone_loses_its_calls_with_their_end_estimated() -> None:
    tracker = CallTracker()
    tracker.apply(created("b-1.1", "b"))
    tracker.apply(created("b-1.2", "b"))
    lost = tracker.apply(ChannelsSnapshot((), at(7), node="b"))
    assert {r.linkedid for r in lost} == {"b-1.1", "b-1.2"}
    assert all(r.end_estimated and r.ended_at == at(7) and r.node == "b" for r in lost)


def test_a_resync_adopts_calls_found_in_the_engines_script_or_on_the_fallback_path() -> None:
    tracker = CallTracker()
    snapshot = ChannelsSnapshot(
        (live("a-2.1", "cc-agi"), live("a-2.2", "cc-fallback"), live("a-2.3", "from-agent")),
        at(20),
        node="a",
    )
    adopted = {r.linkedid: r for r in tracker.apply(snapshot)}
    assert set(adopted) == {"a-2.1", "a-2.2"}
    assert adopted["a-2.1"].node == "a" and adopted["a-2.1"].is_open
    # outside a resync, a channel entering those contexts is no new call
    assert tracker.apply(created("a-3.1", "a", context="cc-agi")) == []
