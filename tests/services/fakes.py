"""Stand-ins for the AMI in the services' fast tests (the integration suite uses the real one)."""

from __future__ import annotations

from collections.abc import Mapping


class FakeAmi:
    """Takes every action and keeps it, answering as Asterisk does to a queued Originate."""

    def __init__(self) -> None:
        self.sent: list[Mapping[str, str]] = []

    async def action(self, action: Mapping[str, str]) -> object:
        self.sent.append(action)
        return {"Response": "Success"}
