"""The Originate of a call out: plain digits only, variables that cannot smuggle in others."""

from __future__ import annotations

import pytest

from callcenter.domain.errors import InvalidInput
from callcenter.telephony.dial_out import originate


def test_a_call_out_is_a_local_channel_through_the_trunk() -> None:
    action = originate(
        "+8613800000000",
        channel_id="cc-survey-7-abc",
        context="cc-survey",
        outbound_endpoint="trunk",
        ring_seconds=30,
        variables={"CC_SURVEY": "7"},
    )
    assert action["Channel"] == "Local/+8613800000000@cc-dial-out/n"
    assert (action["ChannelId"], action["OtherChannelId"]) == (
        "cc-survey-7-abc",
        "cc-survey-7-abc-2",
    )
    assert (action["Context"], action["Exten"], action["Timeout"]) == ("cc-survey", "s", "30000")
    assert action["Variable"] == "CC_OUTBOUND=trunk,CC_SURVEY=7"
    assert action["Async"] == "true"


@pytest.mark.parametrize(
    ("number", "variables", "message"),
    [
        ("12329&PJSIP/other", {}, "not a number"),
        ("12", {}, "not a number"),
        ("12329", {"CC_SPY": "PJSIP/trunk-1,CC_OUTBOUND=evil"}, "CC_SPY may not hold"),
    ],
)
def test_what_could_dial_elsewhere_is_refused(
    number: str, variables: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        originate(
            number,
            channel_id="x",
            context="cc-survey",
            outbound_endpoint="trunk",
            ring_seconds=30,
            variables=variables,
        )
