"""三方通话 with a fake AMI: what is dialled, on which channel, and what is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from callcenter.domain.dialing import DialOutcome
from callcenter.domain.errors import IllegalTransition, InvalidInput, TelephonyUnavailable
from callcenter.domain.three_way import ThreeWayLeg
from callcenter.services.feed import EventFeed
from callcenter.services.three_way import ThreeWayCalls
from callcenter.storage.three_way import LegEnded
from callcenter.telephony.events import EventReader
from tests.services.fakes import FakeAmi

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


class Calls:
    """One call up: citizen on PJSIP/trunk-0000000a, agent a01 on PJSIP/ep-a01-0000000b."""

    def call_of(self, agent_id: str) -> str:
        if agent_id != "a01":
            raise IllegalTransition(f"agent {agent_id} is ready, not on a call")
        return "1764.10"

    def caller_channel(self, linkedid: str) -> str | None:
        return "PJSIP/trunk-0000000a" if linkedid == "1764.10" else None

    def called_channels(self, linkedid: str) -> list[str]:
        return ["PJSIP/ep-a01-0000000b"] if linkedid == "1764.10" else []


class Legs:
    """The repository's part, in memory."""

    def __init__(self) -> None:
        self.added: list[ThreeWayLeg] = []

    async def add(self, leg: ThreeWayLeg) -> None:
        self.added.append(leg)

    async def ended(self, channel_id: str, at: datetime, unanswered: DialOutcome) -> None:
        self.added = [
            replace(leg, ended_at=at, outcome=unanswered) if leg.channel_id == channel_id else leg
            for leg in self.added
        ]


class LegsWriter:
    """The engine writer's part: applies what the service submits to the legs, in order."""

    def __init__(self, legs: Legs) -> None:
        self._legs = legs
        self._queued: list[tuple[str, object]] = []

    def submit(self, kind: str, item: object) -> None:
        self._queued.append((kind, item))

    async def drained(self, timeout: float | None = None) -> None:
        queued, self._queued = self._queued, []
        for kind, item in queued:
            if kind == "three_way_leg":
                assert isinstance(item, ThreeWayLeg)
                await self._legs.add(item)
            elif kind == "three_way_ended":
                assert isinstance(item, LegEnded)
                await self._legs.ended(item.channel_id, item.at, item.unanswered)


def service(
    ami: FakeAmi, outbound: str | None = "trunk", legs: Legs | None = None
) -> ThreeWayCalls:
    calls = Calls()
    legs = legs or Legs()
    return ThreeWayCalls(
        ami=ami,
        repository=legs,  # type: ignore[arg-type]
        writer=LegsWriter(legs),  # type: ignore[arg-type]
        call_of=calls.call_of,
        channels=calls,
        feed=EventFeed(),
        outbound_endpoint=outbound,
        ring_seconds=45,
        recordings_dir="/srv/rec",
        clock=lambda: NOW,
    )


async def test_the_department_is_dialled_and_barges_in_on_the_citizens_channel() -> None:
    ami, legs = FakeAmi(), Legs()
    calls = service(ami, legs=legs)
    placed = await calls.bring_in("a01", "12329", "housing")
    await calls.drained()
    assert legs.added == [placed] and placed.department == "housing"
    [originate] = ami.sent
    assert originate["Channel"] == "Local/12329@cc-dial-out/n"
    assert originate["Context"] == "cc-spy" and originate["Async"] == "true"
    assert "CC_SPY_OPTIONS=qBE" in originate["Variable"]
    assert "CC_SPY=PJSIP/trunk-0000000a" in originate["Variable"]
    assert "CC_OUTBOUND=trunk" in originate["Variable"]
    assert originate["ChannelId"] == placed.channel_id
    assert placed.recording.startswith("/srv/rec/three-way/2026/11/26/1764.10-cc-3way-")
    assert f"CC_RECORDING={placed.recording}" in originate["Variable"]


async def test_refusals_dial_nothing() -> None:
    ami = FakeAmi()
    with pytest.raises(TelephonyUnavailable, match="TRUNK_CONTACT"):
        await service(ami, outbound=None).bring_in("a01", "12329")
    with pytest.raises(InvalidInput, match="not a number"):
        await service(ami).bring_in("a01", "12329,1,Hangup")
    with pytest.raises(IllegalTransition, match="not on a call"):
        await service(ami).bring_in("a02", "12329")
    assert ami.sent == []


async def test_a_department_that_never_answers_is_kept_as_such() -> None:
    ami, legs = FakeAmi(), Legs()
    calls = service(ami, legs=legs)
    placed = await calls.bring_in("a01", "12329")
    reader = EventReader(calls.on_event, lambda: NOW)
    reader(
        {
            "Event": "OriginateResponse",
            "Uniqueid": placed.channel_id,
            "Response": "Failure",
            "Reason": "5",
        }
    )
    not_ours = {"Event": "Hangup", "Uniqueid": f"{placed.channel_id}-2", "Linkedid": "9.9"}
    reader(not_ours)
    await calls.drained()
    [leg] = legs.added
    assert leg.outcome is DialOutcome.BUSY and leg.ended_at == NOW
