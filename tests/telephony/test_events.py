"""AMI event translation, replayed from a recorded transcript and from malformed input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callcenter.domain.calls import (
    AgentAnswered,
    CallTracker,
    ChannelAnswered,
    ChannelCreated,
    ChannelHungUp,
    Disposition,
    HangupRequested,
)
from callcenter.domain.dialing import CallOutResult, DialOutcome
from callcenter.telephony.events import (
    EventReader,
    MalformedEvent,
    TelephonyEvent,
    fallback_journal,
    originate_outcome,
    snapshot,
    translate,
)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def transcript(name: str) -> list[dict[str, str]]:
    text = (Path(__file__).parent / "transcripts" / name).read_text()
    events = []
    for block in text.strip().split("\n\n"):
        event: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(": ")
            event[key] = value.strip()
        events.append(event)
    return events


def test_recorded_inbound_call_becomes_one_answered_record() -> None:
    domain = [translate(event, NOW) for event in transcript("inbound_call.ami")]
    assert [type(e) for e in domain] == [ChannelCreated, ChannelAnswered, ChannelHungUp]
    tracker = CallTracker()
    records = [r for e in domain if e is not None for r in tracker.apply(e)]
    final = records[-1]
    assert final.caller_number == "13911110001"
    assert final.dialed_number == "12345"
    assert final.trunk == "trunk"
    assert final.disposition is Disposition.ANSWERED
    assert final.hangup_cause == 16 and final.hangup_cause_text == "Normal Clearing"
    assert final.answered_at and final.ended_at
    assert final.ended_at - final.answered_at == timedelta(seconds=2.502595)
    assert tracker.open_calls == {}


def test_timestamp_comes_from_asterisk_not_our_clock() -> None:
    event = transcript("inbound_call.ami")[0]
    created = translate(event, NOW)
    assert isinstance(created, ChannelCreated)
    assert created.at == datetime.fromtimestamp(1795597808.705890, tz=UTC)
    del event["Timestamp"]
    created = translate(event, NOW)
    assert isinstance(created, ChannelCreated) and created.at == NOW


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"Event": "Newchannel", "Channel": "PJSIP/x-1"}, "Newchannel event: missing Uniqueid"),
        (
            {"Event": "Hangup", "Uniqueid": "1.1", "Linkedid": "1.1", "Cause": "sixteen"},
            "Hangup event: Cause is not a number",
        ),
        (
            {
                "Event": "Newstate",
                "ChannelState": "6",
                "Uniqueid": "1",
                "Linkedid": "1",
                "Timestamp": "yesterday",
            },
            "Newstate event: bad Timestamp",
        ),
    ],
)
def test_malformed_events_name_the_event_and_field(event: dict[str, str], message: str) -> None:
    with pytest.raises(MalformedEvent, match=message):
        translate(event, NOW)


def test_uninteresting_events_are_ignored() -> None:
    assert translate({"Event": "VarSet", "Uniqueid": "1"}, NOW) is None
    assert translate({"Event": "Newstate", "ChannelState": "5", "Uniqueid": "1"}, NOW) is None


def test_snapshot_reads_core_show_channel_durations() -> None:
    shot = snapshot(
        [
            {
                "Event": "CoreShowChannel",
                "Uniqueid": "9.1",
                "Linkedid": "9.1",
                "Channel": "PJSIP/trunk-00000009",
                "ChannelState": "6",
                "Context": "from-trunk",
                "Exten": "12345",
                "CallerIDNum": "139",
                "Duration": "00:01:05",
            },
            {"Event": "CoreShowChannelsComplete", "ListItems": "1"},
        ],
        NOW,
    )
    assert len(shot.channels) == 1
    assert shot.channels[0].up and shot.channels[0].entered_at == NOW - timedelta(seconds=65)


def test_fallback_journal_row() -> None:
    row = fallback_journal(
        "1795.7", "13922220001|12345|trunk|1795597000.100|1795597000.200|1795597002.300|16"
    )
    assert row.caller_number == "13922220001" and row.trunk == "trunk"
    assert row.answered_at == datetime.fromtimestamp(1795597000.2, tz=UTC)
    assert row.hangup_cause == 16
    unanswered = fallback_journal("1795.8", "139|12345|trunk|1795597000.1||1795597001.0|")
    assert unanswered.answered_at is None and unanswered.hangup_cause is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("139|12345|trunk", "expected 7 fields"),
        ("139|12345|trunk|x|1|2|16", "bad entered time"),
        ("139|12345|trunk|1||2|abc", "bad cause"),
        ("139|12345|trunk|||2|16", "entered and ended times are required"),
    ],
)
def test_bad_fallback_journal_rows_are_named(value: str, message: str) -> None:
    with pytest.raises(MalformedEvent, match=f"fallback journal 1.2: .*{message}"):
        fallback_journal("1.2", value)


def test_a_phone_hanging_up_is_told_apart_from_the_hotline_hanging_up() -> None:
    event = {
        "Event": "HangupRequest",
        "Channel": "PJSIP/trunk-00000001",
        "Uniqueid": "1795.1",
        "Linkedid": "1795.1",
        "Cause": "16",
        "Timestamp": "1795600000.250000",
    }
    assert translate(event, NOW) == HangupRequested(
        "1795.1", "1795.1", datetime.fromtimestamp(1795600000.25, tz=UTC)
    )
    # the hotline's own hangups are soft: they say nothing about who hung up
    assert translate({**event, "Event": "SoftHangupRequest"}, NOW) is None


def test_only_a_dial_from_a_call_marks_an_agents_answer() -> None:
    answered = {
        "Event": "DialEnd",
        "DialStatus": "ANSWER",
        "Channel": "PJSIP/trunk-00000001",
        "Linkedid": "1764.1",
        "DestChannel": "PJSIP/ep-a01-00000002",
    }
    assert translate(answered, NOW) == AgentAnswered("1764.1", NOW)
    # the engine's own Originate (a supervisor's softphone, a call out) dials with no caller
    originated = {"Event": "DialEnd", "DialStatus": "ANSWER", "DestChannel": "PJSIP/ep-s01-3"}
    assert translate(originated, NOW) is None
    # a caller's dial without its Linkedid is a broken event, said so
    broken = {key: value for key, value in answered.items() if key != "Linkedid"}
    with pytest.raises(MalformedEvent, match="Linkedid"):
        translate(broken, NOW)
    assert translate({**answered, "DialStatus": "NOANSWER"}, NOW) is None


def test_asterisks_reasons_for_an_unanswered_call() -> None:
    assert originate_outcome("5") is DialOutcome.BUSY
    assert originate_outcome("3") is DialOutcome.NO_ANSWER
    assert originate_outcome("1") is DialOutcome.NO_ANSWER
    assert originate_outcome("0") is DialOutcome.FAILED
    assert originate_outcome("") is DialOutcome.FAILED


def test_what_became_of_a_call_the_engine_placed() -> None:
    answered = {"Event": "OriginateResponse", "Uniqueid": "cc-3way-1", "Response": "Success"}
    assert translate(answered, NOW) == CallOutResult("cc-3way-1", DialOutcome.ANSWERED, NOW)
    busy = {**answered, "Response": "Failure", "Reason": "5"}
    assert translate(busy, NOW) == CallOutResult("cc-3way-1", DialOutcome.BUSY, NOW)
    assert translate({**busy, "Reason": "3"}, NOW) == CallOutResult(
        "cc-3way-1", DialOutcome.NO_ANSWER, NOW
    )
    # an Originate placed without a ChannelId is none of the engine's calls
    assert translate({"Event": "OriginateResponse", "Response": "Failure"}, NOW) is None


def test_the_reader_drops_what_it_cannot_read_and_reads_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    got: list[TelephonyEvent] = []
    reader = EventReader(got.append, lambda: NOW)
    reader({"Event": "Hangup", "Uniqueid": "1.1"})  # no Linkedid
    reader({"Uniqueid": "1.1"})  # no event name at all
    reader({"Event": "VarSet", "Uniqueid": "1.1"})  # nobody needs it
    reader({"Event": "HangupRequest", "Uniqueid": "1.2", "Linkedid": "1.2"})
    assert got == [HangupRequested("1.2", "1.2", NOW)]
    assert reader.malformed == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "AMI Hangup event: missing Linkedid; event dropped",
        "AMI message without an Event name (fields: ['Uniqueid']); event dropped",
    ]

    def failing(event: TelephonyEvent) -> None:
        raise RuntimeError("a consumer's bug")

    EventReader(failing, lambda: NOW)({"Event": "HangupRequest", "Uniqueid": "1", "Linkedid": "1"})
    assert "handling HangupRequested" in caplog.text


def test_asterisk_sends_exactly_the_events_translate_reads() -> None:
    """manager.conf's eventfilter lines come from CONSUMED_EVENTS: an event translate() learns
    to read must be added there, or Asterisk would never send it."""
    import ast
    import inspect

    from callcenter.telephony import events

    tree = ast.parse(inspect.getsource(events.translate))
    compared = {
        node.comparators[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and isinstance(node.left, ast.Name)
        and node.left.id == "name"
        and isinstance(node.comparators[0], ast.Constant)
    }
    assert compared == set(events.CONSUMED_EVENTS)
    # and one that is not read is filtered out by Asterisk, and ignored if it came anyway
    assert "BridgeEnter" not in events.CONSUMED_EVENTS
    assert translate({"Event": "BridgeEnter", "Uniqueid": "1", "Linkedid": "1"}, NOW) is None
