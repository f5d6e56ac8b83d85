"""Calls the engine places out through the trunk (surveys, three-way calls), as AMI Originates.

Every such call is `Local/<number>@cc-dial-out/n`: the dialplan dials the number through the
trunk endpoint, and once it answers the originated side runs the given context. The ChannelId
the engine assigns tells its AMI events apart; Local channels keep these calls out of the
inbound call records."""

from __future__ import annotations

from collections.abc import Mapping

from callcenter.domain.dialing import dialable
from callcenter.domain.errors import InvalidInput

CALLER_ID = "12345 <12345>"


def originate(
    number: str,
    *,
    channel_id: str,
    context: str,
    outbound_endpoint: str,
    ring_seconds: int,
    variables: Mapping[str, str],
) -> dict[str, str]:
    """The AMI Originate action of one call out; the number must be plain digits."""
    if not dialable(number):
        raise InvalidInput(f"{number!r} is not a number to dial")
    for name, value in variables.items():
        if "," in value or "\n" in value:
            raise InvalidInput(f"channel variable {name} may not hold ',' or a newline")
    assigned = {"CC_OUTBOUND": outbound_endpoint, **variables}
    return {
        "Action": "Originate",
        "Channel": f"Local/{number}@cc-dial-out/n",
        "ChannelId": channel_id,
        "OtherChannelId": f"{channel_id}-2",
        "Context": context,
        "Exten": "s",
        "Priority": "1",
        "Timeout": str(ring_seconds * 1000),
        "CallerID": CALLER_ID,
        "Variable": ",".join(f"{name}={value}" for name, value in assigned.items()),
        "Async": "true",
    }
