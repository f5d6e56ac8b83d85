"""回拨 from a seat, with a fake AMI: the agent's phone rings first, only for a paused agent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.domain.calls import CallEvent, CallPlaced, RecordingStarted
from callcenter.domain.errors import IllegalTransition, InvalidInput
from callcenter.domain.seats import PauseReason, Seat, SeatState
from callcenter.services.agent_dial import AgentDialer
from callcenter.services.feed import EventFeed
from callcenter.services.placed_calls import PlacedCalls
from tests.services.fakes import FakeAmi

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def dialer(ami: FakeAmi, state: SeatState, events: list[CallEvent] | None = None) -> AgentDialer:
    seat = Seat("a01", state, NOW, pause_reason=PauseReason.CALLBACK)
    return AgentDialer(
        ami=ami,
        seat_of=lambda agent_id: seat,
        endpoint_of=lambda agent_id: f"ep-{agent_id}",
        feed=EventFeed(),
        outbound_endpoint="trunk",
        recordings_dir="/srv/rec",
        placed=PlacedCalls((events if events is not None else []).append, "trunk"),
        clock=lambda: NOW,
    )


async def test_the_agents_phone_rings_then_the_citizen_is_dialled() -> None:
    ami, events = FakeAmi(), []
    placed = await dialer(ami, SeatState.PAUSED, events).call("a01", "13800000000", "callback:17")
    [originate] = ami.sent
    # the call record is opened before Asterisk is asked, keyed by the channel's assigned id
    assert events == [
        CallPlaced(placed.channel_id, "13800000000", "trunk", NOW),
        RecordingStarted(placed.channel_id, placed.recording, NOW),
    ]
    assert originate["ChannelId"] == placed.channel_id
    assert originate["Channel"] == "PJSIP/ep-a01" and originate["Context"] == "cc-agent-dial"
    assert originate["CallerID"] == '"13800000000" <13800000000>'  # the agent sees whom
    assert "CC_NUMBER=13800000000,CC_OUTBOUND=trunk" in originate["Variable"]
    assert placed.recording.startswith("/srv/rec/outbound/2026/11/26/callback-17-cc-dial-")


async def test_a_ready_agent_or_a_bad_number_dials_nothing() -> None:
    ami = FakeAmi()
    with pytest.raises(IllegalTransition, match="pause"):
        await dialer(ami, SeatState.READY).call("a01", "13800000000", "callback:17")
    with pytest.raises(InvalidInput, match="not a number"):
        await dialer(ami, SeatState.PAUSED).call("a01", "138-0000", "callback:17")
    assert ami.sent == []
