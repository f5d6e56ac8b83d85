"""What the services that place calls themselves share: the AMI they send Originates through,
how they find an agent's call and its channels, and where their recordings go."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol


class Originator(Protocol):
    async def action(self, action: Mapping[str, str]) -> object: ...


class CallOfAgent(Protocol):
    """The call an agent is talking to; refuses (409) when they are not on one."""

    def __call__(self, agent_id: str) -> str: ...


class Channels(Protocol):
    def caller_channel(self, linkedid: str) -> str | None: ...

    def called_channels(self, linkedid: str) -> list[str]: ...


def recording_path(root: str | None, kind: str, at: datetime, name: str) -> str:
    """`<root>/<kind>/YYYY/MM/DD/<name>.wav` in the directory Asterisk and the engine share;
    "" when calls are not recorded."""
    return f"{root}/{kind}/{at:%Y/%m/%d}/{name}.wav" if root else ""
