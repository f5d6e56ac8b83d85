"""监听/密语/强插 with a fake AMI: the supervisor's phone spies on the agent's side, per mode."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.domain.errors import IllegalTransition, InvalidInput
from callcenter.services.feed import EventFeed
from callcenter.services.monitoring import CallMonitor, MonitorMode
from tests.services.fakes import FakeAmi

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


class Calls:
    def call_of(self, agent_id: str) -> str:
        if agent_id != "a01":
            raise IllegalTransition(f"agent {agent_id} is paused, not on a call")
        return "1764.10"

    def called_channels(self, linkedid: str) -> list[str]:
        return ["PJSIP/ep-a01-0000000b"]


def monitor(ami: FakeAmi) -> CallMonitor:
    calls = Calls()
    return CallMonitor(
        ami=ami,
        call_of=calls.call_of,
        channels=calls,
        feed=EventFeed(),
        recordings_dir="/srv/rec",
        clock=lambda: NOW,
    )


@pytest.mark.parametrize(
    ("mode", "options"),
    [(MonitorMode.LISTEN, "qE"), (MonitorMode.WHISPER, "qwE"), (MonitorMode.BARGE, "qBE")],
)
async def test_the_supervisors_phone_joins_the_agents_side(mode: MonitorMode, options: str) -> None:
    ami = FakeAmi()
    joined = await monitor(ami).join("a01", mode, "ep-s01", "lead")
    [originate] = ami.sent
    assert originate["Channel"] == "PJSIP/ep-s01" and originate["Context"] == "cc-spy"
    assert f"CC_SPY=PJSIP/ep-a01-0000000b,CC_SPY_OPTIONS={options}," in originate["Variable"]
    assert joined.recording.startswith("/srv/rec/monitor/2026/11/26/1764.10-cc-monitor-")


async def test_refusals_ring_nobody() -> None:
    ami = FakeAmi()
    with pytest.raises(InvalidInput, match="own phone"):
        await monitor(ami).join("a01", MonitorMode.LISTEN, "ep-a01", "lead")
    with pytest.raises(IllegalTransition, match="not on a call"):
        await monitor(ami).join("a02", MonitorMode.LISTEN, "ep-s01", "lead")
    assert ami.sent == []
