"""Call records: turns channel events into one record per citizen call, with its legs."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum


class Disposition(StrEnum):
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    UNANSWERED = "unanswered"
    # the engine lost sight of the call (Asterisk restarted or AMI was down) and estimated its end
    LOST = "lost"


class HandledBy(StrEnum):
    ENGINE = "engine"
    FALLBACK = "fallback"


class Direction(StrEnum):
    INBOUND = "inbound"  # a citizen called 12345
    OUTBOUND = "outbound"  # the hotline called a citizen (a survey, an agent calling back)


class EndedBy(StrEnum):
    """Who hung up first: Asterisk's hangup *requests* (a BYE from a phone) tell the sides apart
    from the soft hangups the hotline itself makes."""

    CALLER = "caller"
    # the called side: the agent, or a number the call was transferred to
    AGENT = "agent"
    # Asterisk or the engine ended the call (end of a flow, lines busy, after the agent left)
    HOTLINE = "hotline"


class CallOutcome(StrEnum):
    """What became of a call into 12345 in the hotline's own terms (Asterisk's disposition
    says only whether the channel was answered, which the IVR always does)."""

    AGENT = "agent"  # answered by a person (人工接通)
    ABANDONED_QUEUE = "abandoned_queue"  # hung up waiting for an agent, or while one rang
    ABANDONED_IVR = "abandoned_ivr"  # hung up before asking for an agent
    DEFLECTED = "deflected"  # refused by admission control ("lines are busy")
    VOICEMAIL = "voicemail"  # left a message
    SELF_SERVICE = "self_service"  # the flow served the call and ended it (status, notices)
    CALLBACK = "callback"  # waited the maximum and was put on the callback worklist
    TRANSFERRED = "transferred"  # the flow transferred the call to another number


@dataclass(frozen=True, slots=True)
class Leg:
    uniqueid: str
    channel: str
    entered_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    hangup_cause: int | None = None


@dataclass(frozen=True, slots=True)
class CallRecord:
    linkedid: str
    uniqueid: str
    caller_number: str
    caller_name: str
    dialed_number: str
    trunk: str
    entered_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    disposition: Disposition = Disposition.IN_PROGRESS
    hangup_cause: int | None = None
    hangup_cause_text: str = ""
    handled_by: HandledBy | None = None
    end_estimated: bool = False
    legs: tuple[Leg, ...] = ()
    # the conversation's recording (a path Asterisk and the engine share), once one is started
    recording: str = ""
    # None while the call runs, and when the engine did not see the end (lost, fallback)
    ended_by: EndedBy | None = None
    direction: Direction = Direction.INBOUND
    # inbound calls: the hotline outcome, and when the caller queued and a person answered
    outcome: CallOutcome | None = None
    queued_at: datetime | None = None
    agent_answered_at: datetime | None = None
    # the Asterisk node carrying the call ("" with a single node, or before any channel is seen)
    node: str = ""

    @property
    def wait_from_answer(self) -> timedelta | None:
        """The citizen's clock: from the hotline answering the call to a person answering."""
        if self.agent_answered_at is None or self.answered_at is None:
            return None
        return self.agent_answered_at - self.answered_at

    @property
    def wait_in_queue(self) -> timedelta | None:
        """The queue's clock: from asking for an agent to a person answering."""
        if self.agent_answered_at is None or self.queued_at is None:
            return None
        return self.agent_answered_at - self.queued_at

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


# ---- events the telephony adapter produces ----


@dataclass(frozen=True, slots=True)
class ChannelCreated:
    uniqueid: str
    linkedid: str
    channel: str
    caller_number: str
    caller_name: str
    exten: str
    context: str
    at: datetime
    node: str = ""


@dataclass(frozen=True, slots=True)
class ChannelAnswered:
    uniqueid: str
    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelHungUp:
    uniqueid: str
    linkedid: str
    cause: int
    cause_text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class HangupRequested:
    """A phone asked to hang up a channel (AMI HangupRequest, e.g. on a SIP BYE); the hotline's
    own hangups are soft ones and do not produce this."""

    uniqueid: str
    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AgentAnswered:
    """The agent a caller was dialled to picked up (the caller's dial ended answered)."""

    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallPlaced:
    """The engine placed a call out to `number` through `trunk`; its first channel will carry
    the uniqueid `linkedid` (the ChannelId the engine assigned). Submitted before Asterisk is
    asked, so that the call's own channel events find the record."""

    linkedid: str
    number: str
    trunk: str
    at: datetime
    # the number the citizen sees
    shown_number: str = "12345"


@dataclass(frozen=True, slots=True)
class EngineTookCall:
    """The engine's FastAGI script started for this call."""

    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    """The engine started recording the conversation of this call into `path`."""

    linkedid: str
    path: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OutcomeKnown:
    """The engine knows what became of the call (the last one told wins)."""

    linkedid: str
    outcome: CallOutcome
    at: datetime
    queued_at: datetime | None = None
    agent_answered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RecordingDiscarded:
    """The recording held no conversation (nobody answered): the call has none."""

    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LiveChannel:
    uniqueid: str
    linkedid: str
    channel: str
    caller_number: str
    caller_name: str
    exten: str
    context: str
    up: bool
    entered_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelsSnapshot:
    """Every channel alive in Asterisk node `node` at `at` (taken after (re)connecting). With
    no channels it also says a node is gone: its calls are lost."""

    channels: tuple[LiveChannel, ...]
    at: datetime
    node: str = ""


@dataclass(frozen=True, slots=True)
class FallbackJournal:
    """A call Asterisk handled alone, while the engine was unreachable."""

    linkedid: str
    caller_number: str
    dialed_number: str
    trunk: str
    entered_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    hangup_cause: int | None


CallEvent = (
    CallPlaced
    | ChannelCreated
    | ChannelAnswered
    | ChannelHungUp
    | HangupRequested
    | EngineTookCall
    | RecordingStarted
    | OutcomeKnown
    | RecordingDiscarded
    | ChannelsSnapshot
    | FallbackJournal
)


def trunk_of(channel: str) -> str:
    """`PJSIP/trunk-0000002a` -> `trunk`."""
    _, _, rest = channel.partition("/")
    name, _, _ = rest.rpartition("-")
    return name or rest


def _closed(record: CallRecord, at: datetime, cause: int | None, text: str) -> CallRecord:
    disposition = Disposition.ANSWERED if record.answered_at else Disposition.UNANSWERED
    return replace(
        record, ended_at=at, hangup_cause=cause, hangup_cause_text=text, disposition=disposition
    )


@dataclass
class CallTracker:
    """Holds the calls in progress; `apply` returns the records an event changed.

    A call starts when a channel enters one of the inbound contexts as the first channel of its
    linkedid; other channels of that linkedid are its legs. The tracker never reads a clock:
    every time comes from the event.
    """

    inbound_contexts: frozenset[str] = frozenset({"from-trunk"})
    # where a resync may still find a call into 12345 that started unseen: running the
    # engine's script (the dialplan's cc-agi), or on the fallback path
    later_contexts: frozenset[str] = frozenset({"cc-agi", "cc-fallback"})
    pending_limit: int = 10_000
    # how long an ended call is kept for the engine's late word on it (its outcome when the
    # script ends, a discarded recording some 30 s on): a bound in time, so memory stays flat
    # at any steady rate instead of growing until `pending_limit` calls are held
    closed_kept: timedelta = timedelta(minutes=2)
    open_calls: dict[str, CallRecord] = field(default_factory=dict)
    # calls that ended lately: the engine's verdict on a call may follow Asterisk's hangup
    recently_closed: OrderedDict[str, CallRecord] = field(default_factory=OrderedDict)
    # AGI can reach the engine before the AMI event that opens the call is processed
    _pending_engine: OrderedDict[str, datetime] = field(default_factory=OrderedDict)

    def restore(self, records: list[CallRecord]) -> None:
        """Adopt calls the database still holds open (from before an engine restart)."""
        for record in records:
            if record.is_open:
                self.open_calls[record.linkedid] = record

    def apply(self, event: CallEvent) -> list[CallRecord]:
        match event:
            case CallPlaced():
                return self._placed(event)
            case ChannelCreated():
                return self._created(event)
            case ChannelAnswered():
                return self._answered(event)
            case ChannelHungUp():
                return self._hung_up(event)
            case HangupRequested():
                return self._hangup_requested(event)
            case EngineTookCall():
                return self._engine_took(event)
            case RecordingStarted():
                return self._recording(event)
            case OutcomeKnown():
                return self._outcome(event)
            case RecordingDiscarded():
                return self._amend(event.linkedid, lambda r: replace(r, recording=""))
            case ChannelsSnapshot():
                return self._snapshot(event)
            case FallbackJournal():
                return self._journal(event)
        raise TypeError(f"not a call event: {event!r}")

    def _placed(self, event: CallPlaced) -> list[CallRecord]:
        if event.linkedid in self.open_calls:
            return []
        record = CallRecord(
            linkedid=event.linkedid,
            uniqueid=event.linkedid,
            caller_number=event.shown_number,
            caller_name="",
            dialed_number=event.number,
            trunk=event.trunk,
            entered_at=event.at,
            handled_by=HandledBy.ENGINE,
            direction=Direction.OUTBOUND,
        )
        self.open_calls[event.linkedid] = record
        return [record]

    def _created(self, event: ChannelCreated, resync: bool = False) -> list[CallRecord]:
        leg = Leg(uniqueid=event.uniqueid, channel=event.channel, entered_at=event.at)
        record = self.open_calls.get(event.linkedid)
        if record is not None:
            if any(existing.uniqueid == event.uniqueid for existing in record.legs):
                return []
            record = replace(record, legs=(*record.legs, leg), node=record.node or event.node)
        elif event.uniqueid == event.linkedid and (
            event.context in self.inbound_contexts
            or (resync and event.context in self.later_contexts)
        ):
            handled = HandledBy.ENGINE if self._pending_engine.pop(event.linkedid, None) else None
            record = CallRecord(
                linkedid=event.linkedid,
                uniqueid=event.uniqueid,
                caller_number=event.caller_number,
                caller_name=event.caller_name,
                dialed_number=event.exten,
                trunk=trunk_of(event.channel),
                entered_at=event.at,
                handled_by=handled,
                legs=(leg,),
                node=event.node,
            )
        else:
            return []
        self.open_calls[event.linkedid] = record
        return [record]

    def _answered(self, event: ChannelAnswered) -> list[CallRecord]:
        record = self.open_calls.get(event.linkedid)
        if record is None:
            return []
        legs = tuple(
            replace(leg, answered_at=event.at)
            if leg.uniqueid == event.uniqueid and leg.answered_at is None
            else leg
            for leg in record.legs
        )
        updated = replace(record, legs=legs)
        if record.answered_at is None and self._answers_call(record, event.uniqueid):
            updated = replace(updated, answered_at=event.at)
        if updated == record:
            return []
        self.open_calls[event.linkedid] = updated
        return [updated]

    @staticmethod
    def _answers_call(record: CallRecord, uniqueid: str) -> bool:
        """A call into 12345 is answered when its first channel is; a call out when the
        citizen's leg on the trunk is."""
        if record.direction is Direction.INBOUND:
            return uniqueid == record.uniqueid
        return any(
            leg.uniqueid == uniqueid and trunk_of(leg.channel) == record.trunk
            for leg in record.legs
        )

    def _hung_up(self, event: ChannelHungUp) -> list[CallRecord]:
        record = self.open_calls.get(event.linkedid)
        if record is None:
            return []
        legs = tuple(
            replace(leg, ended_at=event.at, hangup_cause=event.cause)
            if leg.uniqueid == event.uniqueid and leg.ended_at is None
            else leg
            for leg in record.legs
        )
        updated = replace(record, legs=legs)
        if event.uniqueid == record.uniqueid:
            updated = _closed(updated, event.at, event.cause, event.cause_text)
            if updated.ended_by is None:
                # no phone asked for it: the hotline ended the call
                updated = replace(updated, ended_by=EndedBy.HOTLINE)
            if (
                updated.outcome is None
                and updated.direction is Direction.INBOUND
                and updated.handled_by is HandledBy.ENGINE
            ):
                # until the engine says otherwise, the caller left before reaching anyone
                updated = replace(updated, outcome=CallOutcome.ABANDONED_IVR)
            del self.open_calls[event.linkedid]
            self._remember_closed(updated)
        else:
            self.open_calls[event.linkedid] = updated
        return [updated]

    def _hangup_requested(self, event: HangupRequested) -> list[CallRecord]:
        record = self.open_calls.get(event.linkedid)
        if record is None or record.ended_by is not None:
            return []  # only the first side to hang up counts
        leg = next((leg for leg in record.legs if leg.uniqueid == event.uniqueid), None)
        if record.direction is Direction.OUTBOUND:
            # calling out, the citizen is the leg on the trunk; anyone else is the hotline's side
            if leg is None:
                return []
            side = EndedBy.CALLER if trunk_of(leg.channel) == record.trunk else EndedBy.AGENT
        elif event.uniqueid == record.uniqueid:
            side = EndedBy.CALLER
        elif leg is not None:
            side = EndedBy.AGENT
        else:
            return []
        updated = replace(record, ended_by=side)
        self.open_calls[event.linkedid] = updated
        return [updated]

    def _recording(self, event: RecordingStarted) -> list[CallRecord]:
        record = self.open_calls.get(event.linkedid)
        if record is None or record.recording == event.path:
            return []
        updated = replace(record, recording=event.path)
        self.open_calls[event.linkedid] = updated
        return [updated]

    def _outcome(self, event: OutcomeKnown) -> list[CallRecord]:
        def told(record: CallRecord) -> CallRecord:
            return replace(
                record,
                outcome=event.outcome,
                queued_at=event.queued_at or record.queued_at,
                agent_answered_at=event.agent_answered_at
                if event.outcome is CallOutcome.AGENT
                else None,
            )

        return self._amend(event.linkedid, told)

    def _amend(self, linkedid: str, change: Callable[[CallRecord], CallRecord]) -> list[CallRecord]:
        """Change an open call, or one that ended lately (AGI may finish after the hangup)."""
        if linkedid in self.open_calls:
            record = self.open_calls[linkedid]
            updated = change(record)
            self.open_calls[linkedid] = updated
        elif linkedid in self.recently_closed:
            record = self.recently_closed[linkedid]
            updated = change(record)
            self.recently_closed[linkedid] = updated
        else:
            return []
        return [] if updated == record else [updated]

    def _remember_closed(self, record: CallRecord) -> None:
        closed = self.recently_closed
        closed[record.linkedid] = record
        closed.move_to_end(record.linkedid)
        while len(closed) > self.pending_limit:
            closed.popitem(last=False)
        if record.ended_at is None:
            return
        horizon = record.ended_at - self.closed_kept
        while closed:
            oldest = next(iter(closed.values()))
            if oldest.ended_at is not None and oldest.ended_at >= horizon:
                break
            closed.popitem(last=False)

    def _engine_took(self, event: EngineTookCall) -> list[CallRecord]:
        record = self.open_calls.get(event.linkedid)
        if record is None:
            self._pending_engine[event.linkedid] = event.at
            while len(self._pending_engine) > self.pending_limit:
                self._pending_engine.popitem(last=False)
            return []
        if record.handled_by is HandledBy.ENGINE:
            return []
        updated = replace(record, handled_by=HandledBy.ENGINE)
        self.open_calls[event.linkedid] = updated
        return [updated]

    def _snapshot(self, event: ChannelsSnapshot) -> list[CallRecord]:
        live = {channel.uniqueid: channel for channel in event.channels}
        changed: list[CallRecord] = []
        # calls of this node that ended while we could not see them
        for linkedid, record in list(self.open_calls.items()):
            if record.uniqueid in live or record.node != event.node:
                continue
            legs = tuple(
                leg if leg.ended_at else replace(leg, ended_at=event.at) for leg in record.legs
            )
            closed = replace(
                record,
                legs=legs,
                ended_at=event.at,
                end_estimated=True,
                disposition=Disposition.LOST,
            )
            del self.open_calls[linkedid]
            changed.append(closed)
        # calls that started while we could not see them
        for channel in sorted(event.channels, key=lambda c: c.uniqueid != c.linkedid):
            created = self._created(
                ChannelCreated(
                    uniqueid=channel.uniqueid,
                    linkedid=channel.linkedid,
                    channel=channel.channel,
                    caller_number=channel.caller_number,
                    caller_name=channel.caller_name,
                    exten=channel.exten,
                    context=channel.context,
                    at=channel.entered_at,
                    node=event.node,
                ),
                resync=True,
            )
            if created and channel.up:
                created = (
                    self._answered(
                        ChannelAnswered(channel.uniqueid, channel.linkedid, channel.entered_at)
                    )
                    or created
                )
            changed.extend(created)
        return _last_per_call(changed)

    def _journal(self, event: FallbackJournal) -> list[CallRecord]:
        open_record = self.open_calls.pop(event.linkedid, None)
        base = open_record or CallRecord(
            linkedid=event.linkedid,
            uniqueid=event.linkedid,
            caller_number=event.caller_number,
            caller_name="",
            dialed_number=event.dialed_number,
            trunk=event.trunk,
            entered_at=event.entered_at,
        )
        record = replace(
            base,
            answered_at=base.answered_at or event.answered_at,
            handled_by=HandledBy.FALLBACK,
            end_estimated=False,
        )
        return [_closed(record, event.ended_at, event.hangup_cause, "")]


def _last_per_call(records: list[CallRecord]) -> list[CallRecord]:
    latest: dict[str, CallRecord] = {}
    for record in records:
        latest[record.linkedid] = record
    return list(latest.values())


def talk_seconds(record: CallRecord) -> float | None:
    if record.answered_at is None or record.ended_at is None:
        return None
    return (record.ended_at - record.answered_at) / timedelta(seconds=1)
