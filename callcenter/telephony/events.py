"""The one translation of AMI events and responses into typed events: every consumer of what
Asterisk reports receives these, never AMI's dictionaries."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from callcenter.domain.calls import (
    AgentAnswered,
    ChannelAnswered,
    ChannelCreated,
    ChannelHungUp,
    ChannelsSnapshot,
    FallbackJournal,
    HangupRequested,
    LiveChannel,
)
from callcenter.domain.dialing import CallOutResult, DialOutcome

log = logging.getLogger(__name__)

CHANNEL_STATE_UP = "6"

# what the translator produces: the channel events the call records are built from, an agent's
# answer to a caller's dial, and what became of a call the engine placed
TelephonyEvent = (
    ChannelCreated
    | ChannelAnswered
    | ChannelHungUp
    | HangupRequested
    | AgentAnswered
    | CallOutResult
)


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


# the AMI events translate() reads; Asterisk sends the engine only these (manager.conf's
# eventfilter lines are rendered from this list), which spares both sides the rest of the
# call class (bridges, connected lines, music on hold, ...). Replies to actions (e.g. the
# CoreShowChannel list) are not filtered.
CONSUMED_EVENTS = (
    "Newchannel",
    "Newstate",
    "Hangup",
    "HangupRequest",
    "DialEnd",
    "OriginateResponse",
)


def translate(event: Mapping[str, str], now: datetime, node: str = "") -> TelephonyEvent | None:
    """The typed event for an AMI event of Asterisk node `node` ("" with a single node); None
    for events no consumer needs. Raises MalformedEvent, naming the event and what is wrong,
    for one that cannot be read."""
    name = event.get("Event")
    if not name:
        raise MalformedEvent(f"AMI message without an Event name (fields: {sorted(event)[:8]})")
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
    if name == "DialEnd":
        return _dial_end(event, now)
    if name == "OriginateResponse":
        return _originate_response(event, now)
    return None


def _dial_end(event: Mapping[str, str], now: datetime) -> AgentAnswered | None:
    """A DialEnd that says the agent a caller was dialled to answered."""
    if event.get("DialStatus") != "ANSWER":
        return None
    if "Channel" not in event and "Linkedid" not in event:
        return None  # an Originate's dial has no calling channel: not a call to an agent
    return AgentAnswered(linkedid=_field(event, "Linkedid"), at=_timestamp(event, now))


def _originate_response(event: Mapping[str, str], now: datetime) -> CallOutResult | None:
    channel_id = str(event.get("Uniqueid") or "")
    if not channel_id:
        return None  # an Originate placed without a ChannelId: none of the engine's calls
    if event.get("Response", "") == "Success":
        outcome = DialOutcome.ANSWERED
    else:
        outcome = originate_outcome(str(event.get("Reason") or ""))
    return CallOutResult(channel_id=channel_id, outcome=outcome, at=_timestamp(event, now))


def originate_outcome(reason: str) -> DialOutcome:
    """AMI OriginateResponse `Reason` of a call that was not answered: 5 busy, 3 and 1 rang
    out or hung up unanswered, anything else could not be placed."""
    match reason.strip():
        case "5":
            return DialOutcome.BUSY
        case "3" | "1":
            return DialOutcome.NO_ANSWER
        case _:
            return DialOutcome.FAILED


class EventReader:
    """What the AMI connection calls for every event: translates it once and hands the typed
    event on. An event that cannot be read is logged with what is wrong and dropped; nothing
    a consumer or Asterisk does stops the reading."""

    def __init__(
        self,
        deliver: Callable[[TelephonyEvent], None],
        clock: Callable[[], datetime],
        node: str = "",
    ) -> None:
        self._deliver = deliver
        self._clock = clock
        # the Asterisk node whose events these are ("" with a single node)
        self._node = node
        self.malformed = 0

    def __call__(self, message: Mapping[str, str]) -> None:
        try:
            event = translate(message, self._clock(), self._node)
        except MalformedEvent as err:
            self.malformed += 1
            log.warning("%s; event dropped", err)
            return
        if event is None:
            return
        try:
            self._deliver(event)
        except Exception:
            log.exception("handling %s failed; the next events are read as usual", event)


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
