"""Translation of AMI events and responses into the domain's call events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from callcenter.domain.calls import (
    CallEvent,
    ChannelAnswered,
    ChannelCreated,
    ChannelHungUp,
    ChannelsSnapshot,
    FallbackJournal,
    HangupRequested,
    LiveChannel,
)

CHANNEL_STATE_UP = "6"


class MalformedEvent(ValueError):
    """An AMI event lacks a field or carries a value we cannot read; names both."""

    code = "malformed_ami_event"


def _field(event: Mapping[str, str], name: str) -> str:
    value = event.get(name)
    if value is None or value == "":
        raise MalformedEvent(f"AMI {event.get('Event', '?')} event: missing {name}")
    return str(value)


def _timestamp(event: Mapping[str, str], now: datetime) -> datetime:
    raw = event.get("Timestamp")
    if not raw:
        return now  # timestampevents off on a production Asterisk: take our own clock
    try:
        return datetime.fromtimestamp(float(raw), tz=UTC)
    except (ValueError, OverflowError) as err:
        raise MalformedEvent(f"AMI {event.get('Event', '?')} event: bad Timestamp {raw!r}") from err


def _int(event: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    raw = event.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(str(raw))
    except ValueError as err:
        raise MalformedEvent(
            f"AMI {event.get('Event', '?')} event: {name} is not a number: {raw!r}"
        ) from err


def _caller(event: Mapping[str, str], name: str) -> str:
    value = str(event.get(name) or "")
    return "" if value == "<unknown>" else value


def translate(event: Mapping[str, str], now: datetime, node: str = "") -> CallEvent | None:
    """Domain event for an AMI event of Asterisk node `node`, None for events the call records
    do not need."""
    name = event.get("Event", "")
    if name == "Newchannel":
        return ChannelCreated(
            uniqueid=_field(event, "Uniqueid"),
            linkedid=_field(event, "Linkedid"),
            channel=_field(event, "Channel"),
            caller_number=_caller(event, "CallerIDNum"),
            caller_name=_caller(event, "CallerIDName"),
            exten=str(event.get("Exten") or ""),
            context=str(event.get("Context") or ""),
            at=_timestamp(event, now),
            node=node,
        )
    if name == "Newstate":
        if event.get("ChannelState") != CHANNEL_STATE_UP:
            return None
        return ChannelAnswered(
            uniqueid=_field(event, "Uniqueid"),
            linkedid=_field(event, "Linkedid"),
            at=_timestamp(event, now),
        )
    if name == "Hangup":
        return ChannelHungUp(
            uniqueid=_field(event, "Uniqueid"),
            linkedid=_field(event, "Linkedid"),
            cause=_int(event, "Cause", 0) or 0,
            cause_text=str(event.get("Cause-txt") or ""),
            at=_timestamp(event, now),
        )
    if name == "HangupRequest":
        return HangupRequested(
            uniqueid=_field(event, "Uniqueid"),
            linkedid=_field(event, "Linkedid"),
            at=_timestamp(event, now),
        )
    return None


def dial_answered(event: Mapping[str, str], now: datetime) -> tuple[str, datetime] | None:
    """(linkedid, when) for an AMI DialEnd that says the dialled agent answered."""
    if event.get("Event") != "DialEnd" or event.get("DialStatus") != "ANSWER":
        return None
    if "Channel" not in event and "Linkedid" not in event:
        return None  # an Originate's dial has no calling channel: not a call to an agent
    return _field(event, "Linkedid"), _timestamp(event, now)


def _duration(raw: str) -> timedelta:
    """CoreShowChannel's `Duration: HH:MM:SS`."""
    try:
        hours, minutes, seconds = (int(part) for part in raw.split(":"))
    except ValueError as err:
        raise MalformedEvent(f"AMI CoreShowChannel event: bad Duration {raw!r}") from err
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def snapshot(
    events: Iterable[Mapping[str, str]], now: datetime, node: str = ""
) -> ChannelsSnapshot:
    """ChannelsSnapshot of node `node` from the CoreShowChannel events of a CoreShowChannels
    action."""
    channels = []
    for event in events:
        if event.get("Event") != "CoreShowChannel":
            continue
        channels.append(
            LiveChannel(
                uniqueid=_field(event, "Uniqueid"),
                linkedid=_field(event, "Linkedid"),
                channel=_field(event, "Channel"),
                caller_number=_caller(event, "CallerIDNum"),
                caller_name=_caller(event, "CallerIDName"),
                exten=str(event.get("Exten") or ""),
                context=str(event.get("Context") or ""),
                up=event.get("ChannelState") == CHANNEL_STATE_UP,
                entered_at=now - _duration(str(event.get("Duration") or "00:00:00")),
            )
        )
    return ChannelsSnapshot(channels=tuple(channels), at=now, node=node)


def _epoch(raw: str, what: str, linkedid: str) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromtimestamp(float(raw), tz=UTC)
    except (ValueError, OverflowError) as err:
        raise MalformedEvent(f"fallback journal {linkedid}: bad {what} time {raw!r}") from err


def fallback_journal(linkedid: str, value: str) -> FallbackJournal:
    """Parse one AstDB row written by the dialplan's cc-fallback-journal hangup handler:
    `caller|dialed|endpoint|entered|answered|ended|cause`."""
    parts = value.split("|")
    if len(parts) != 7:
        raise MalformedEvent(
            f"fallback journal {linkedid}: expected 7 fields separated by |, got {len(parts)}"
        )
    caller, dialed, endpoint, entered, answered, ended, cause = parts
    entered_at = _epoch(entered, "entered", linkedid)
    ended_at = _epoch(ended, "ended", linkedid)
    if entered_at is None or ended_at is None:
        raise MalformedEvent(f"fallback journal {linkedid}: entered and ended times are required")
    try:
        hangup_cause = int(cause) if cause else None
    except ValueError as err:
        raise MalformedEvent(f"fallback journal {linkedid}: bad cause {cause!r}") from err
    return FallbackJournal(
        linkedid=linkedid,
        caller_number=caller,
        dialed_number=dialed,
        trunk=endpoint,
        entered_at=entered_at,
        answered_at=_epoch(answered, "answered", linkedid),
        ended_at=ended_at,
        hangup_cause=hangup_cause,
    )
