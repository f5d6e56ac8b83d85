"""The call tracker: one record per citizen call, legs, resync and the fallback journal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.domain.calls import (
    CallOutcome,
    CallPlaced,
    CallTracker,
    ChannelAnswered,
    ChannelCreated,
    ChannelHungUp,
    ChannelsSnapshot,
    Direction,
    Disposition,
    EndedBy,
    EngineTookCall,
    FallbackJournal,
    HandledBy,
    HangupRequested,
    LiveChannel,
    OutcomeKnown,
    RecordingDiscarded,
    RecordingStarted,
)

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def created(uid: str, linkedid: str | None = None, context: str = "from-trunk") -> ChannelCreated:
    return ChannelCreated(
        uniqueid=uid,
        linkedid=linkedid or uid,
        channel=f"PJSIP/trunk-{uid}",
        caller_number="13800000000",
        caller_name="",
        exten="12345",
        context=context,
        at=at(0),
    )


def test_inbound_call_lifecycle() -> None:
    tracker = CallTracker()
    [opened] = tracker.apply(created("1.1"))
    assert opened.is_open and opened.disposition is Disposition.IN_PROGRESS
    assert opened.trunk == "trunk"
    [answered] = tracker.apply(ChannelAnswered("1.1", "1.1", at(0.5)))
    assert answered.answered_at == at(0.5)
    [closed] = tracker.apply(ChannelHungUp("1.1", "1.1", 16, "Normal Clearing", at(3)))
    assert closed.disposition is Disposition.ANSWERED and closed.ended_at == at(3)
    assert closed.legs[0].ended_at == at(3)
    assert tracker.open_calls == {}


def test_unanswered_call_and_repeated_answer_is_idempotent() -> None:
    tracker = CallTracker()
    tracker.apply(created("2.1"))
    [closed] = tracker.apply(ChannelHungUp("2.1", "2.1", 17, "User busy", at(1)))
    assert closed.disposition is Disposition.UNANSWERED and closed.answered_at is None
    tracker.apply(created("2.2"))
    tracker.apply(ChannelAnswered("2.2", "2.2", at(1)))
    assert tracker.apply(ChannelAnswered("2.2", "2.2", at(2))) == []


def test_channels_outside_inbound_contexts_do_not_open_calls() -> None:
    tracker = CallTracker()
    assert tracker.apply(created("3.1", context="from-agent")) == []
    assert tracker.apply(ChannelHungUp("3.1", "3.1", 16, "", at(1))) == []


def test_second_channel_of_a_call_is_a_leg_and_its_hangup_keeps_the_call_open() -> None:
    tracker = CallTracker()
    tracker.apply(created("4.1"))
    [with_leg] = tracker.apply(created("4.2", linkedid="4.1", context="agents"))
    assert [leg.uniqueid for leg in with_leg.legs] == ["4.1", "4.2"]
    tracker.apply(ChannelAnswered("4.2", "4.1", at(2)))
    [after] = tracker.apply(ChannelHungUp("4.2", "4.1", 16, "", at(5)))
    assert after.is_open and after.answered_at is None  # the agent leg is not the caller
    assert after.legs[1].answered_at == at(2) and after.legs[1].ended_at == at(5)


def test_agi_before_ami_still_marks_the_call_as_engine_handled() -> None:
    tracker = CallTracker()
    assert tracker.apply(EngineTookCall("5.1", at(0))) == []
    [opened] = tracker.apply(created("5.1"))
    assert opened.handled_by is HandledBy.ENGINE


def test_pending_engine_marks_are_bounded() -> None:
    tracker = CallTracker(pending_limit=3)
    for i in range(10):
        tracker.apply(EngineTookCall(f"x.{i}", at(0)))
    assert len(tracker._pending_engine) == 3


def test_snapshot_closes_calls_that_ended_unseen_and_adopts_new_ones() -> None:
    tracker = CallTracker()
    tracker.apply(created("6.1"))
    live = LiveChannel(
        uniqueid="6.2",
        linkedid="6.2",
        channel="PJSIP/trunk-6.2",
        caller_number="139",
        caller_name="",
        exten="12345",
        context="from-trunk",
        up=True,
        entered_at=at(10),
    )
    changed = {r.linkedid: r for r in tracker.apply(ChannelsSnapshot((live,), at(20)))}
    assert changed["6.1"].disposition is Disposition.LOST and changed["6.1"].end_estimated
    assert changed["6.1"].ended_at == at(20)
    assert changed["6.2"].is_open and changed["6.2"].answered_at == at(10)
    assert set(tracker.open_calls) == {"6.2"}


def test_restored_open_calls_are_resynced_after_an_engine_restart() -> None:
    first = CallTracker()
    [opened] = first.apply(created("7.1"))
    second = CallTracker()
    second.restore([opened])
    [closed] = second.apply(ChannelsSnapshot((), at(30)))
    assert closed.linkedid == "7.1" and not closed.is_open


def test_fallback_journal_makes_a_closed_record() -> None:
    tracker = CallTracker()
    journal = FallbackJournal("8.1", "139", "12345", "trunk", at(0), at(0.2), at(4), 16)
    [record] = tracker.apply(journal)
    assert record.handled_by is HandledBy.FALLBACK
    assert record.disposition is Disposition.ANSWERED
    assert (record.entered_at, record.answered_at, record.ended_at) == (at(0), at(0.2), at(4))


def test_fallback_journal_closes_a_call_ami_saw_start() -> None:
    tracker = CallTracker()
    tracker.apply(created("9.1"))
    journal = FallbackJournal("9.1", "139", "12345", "trunk", at(0), None, at(4), 16)
    [record] = tracker.apply(journal)
    assert record.caller_number == "13800000000" and record.legs  # AMI's knowledge is kept
    assert record.disposition is Disposition.UNANSWERED and not record.is_open
    assert tracker.open_calls == {}


def test_the_recording_is_kept_with_its_call_and_survives_the_hangup() -> None:
    tracker = CallTracker()
    tracker.apply(created("3.1"))
    path = "/run/recordings/2026/11/25/3.1.wav"
    [recorded] = tracker.apply(RecordingStarted("3.1", path, at(1)))
    assert recorded.recording == path
    assert tracker.apply(RecordingStarted("3.1", path, at(2))) == []  # said twice: no change
    [closed] = tracker.apply(ChannelHungUp("3.1", "3.1", 16, "Normal Clearing", at(5)))
    assert closed.recording == path
    assert tracker.apply(RecordingStarted("9.9", "/x.wav", at(1))) == []  # no such call


def _agent_leg(tracker: CallTracker, linkedid: str) -> None:
    tracker.apply(
        ChannelCreated(
            uniqueid=f"{linkedid}-agent",
            linkedid=linkedid,
            channel="PJSIP/ep-a01-00000002",
            caller_number="12345",
            caller_name="",
            exten="",
            context="from-engine",
            at=at(5),
        )
    )


def test_the_first_side_to_hang_up_is_kept() -> None:
    tracker = CallTracker()
    tracker.apply(created("4.1"))
    _agent_leg(tracker, "4.1")
    [marked] = tracker.apply(HangupRequested("4.1-agent", "4.1", at(30)))
    assert marked.ended_by is EndedBy.AGENT
    assert tracker.apply(HangupRequested("4.1", "4.1", at(31))) == []  # the caller came second
    tracker.apply(ChannelHungUp("4.1-agent", "4.1", 16, "Normal Clearing", at(30)))
    [closed] = tracker.apply(ChannelHungUp("4.1", "4.1", 16, "Normal Clearing", at(31)))
    assert closed.ended_by is EndedBy.AGENT


def test_a_caller_hanging_up_and_the_hotline_hanging_up() -> None:
    tracker = CallTracker()
    tracker.apply(created("5.1"))
    tracker.apply(HangupRequested("5.1", "5.1", at(9)))
    [closed] = tracker.apply(ChannelHungUp("5.1", "5.1", 0, "Unknown", at(9)))
    assert closed.ended_by is EndedBy.CALLER

    tracker.apply(created("6.1"))
    [closed] = tracker.apply(ChannelHungUp("6.1", "6.1", 16, "Normal Clearing", at(9)))
    assert closed.ended_by is EndedBy.HOTLINE  # no phone asked: the flow ended it
    assert tracker.apply(HangupRequested("7.7", "7.7", at(9))) == []  # unknown call


def channel(uid: str, linkedid: str, name: str, context: str = "from-agent") -> ChannelCreated:
    return ChannelCreated(uid, linkedid, name, "12345", "", "s", context, at(0))


def test_a_call_out_is_recorded_and_answered_when_the_citizen_answers() -> None:
    tracker = CallTracker()
    [placed] = tracker.apply(CallPlaced("cc-dial-1", "13900000000", "trunk", at(0)))
    assert placed.direction is Direction.OUTBOUND and placed.dialed_number == "13900000000"
    assert placed.caller_number == "12345" and placed.handled_by is HandledBy.ENGINE
    # the agent's phone rings first and answers: the call is not answered yet
    tracker.apply(channel("cc-dial-1", "cc-dial-1", "PJSIP/ep-a01-00000001"))
    [agent_up] = tracker.apply(ChannelAnswered("cc-dial-1", "cc-dial-1", at(2)))
    assert agent_up.answered_at is None
    # then the citizen's leg through the trunk answers
    tracker.apply(channel("1800.7", "cc-dial-1", "PJSIP/trunk-00000002", "from-trunk"))
    [citizen_up] = tracker.apply(ChannelAnswered("1800.7", "cc-dial-1", at(6)))
    assert citizen_up.answered_at == at(6)
    # the citizen hangs up first: for a call out, the citizen is the "caller" side
    tracker.apply(HangupRequested("1800.7", "cc-dial-1", at(30)))
    tracker.apply(ChannelHungUp("1800.7", "cc-dial-1", 16, "Normal Clearing", at(30)))
    [closed] = tracker.apply(ChannelHungUp("cc-dial-1", "cc-dial-1", 16, "Normal Clearing", at(30)))
    assert closed.disposition is Disposition.ANSWERED and closed.ended_by is EndedBy.CALLER
    assert [leg.uniqueid for leg in closed.legs] == ["cc-dial-1", "1800.7"]


def test_a_call_out_nobody_answers_and_one_never_placed() -> None:
    tracker = CallTracker()
    tracker.apply(CallPlaced("cc-dial-2", "13900000001", "trunk", at(0)))
    tracker.apply(channel("cc-dial-2", "cc-dial-2", "PJSIP/ep-a01-00000003"))
    tracker.apply(ChannelAnswered("cc-dial-2", "cc-dial-2", at(2)))
    tracker.apply(channel("1800.9", "cc-dial-2", "PJSIP/trunk-00000004", "from-trunk"))
    tracker.apply(ChannelHungUp("1800.9", "cc-dial-2", 19, "No answer", at(47)))
    [closed] = tracker.apply(ChannelHungUp("cc-dial-2", "cc-dial-2", 16, "", at(47)))
    assert closed.disposition is Disposition.UNANSWERED and closed.answered_at is None
    # Asterisk refused to place it: the engine closes the record itself
    tracker.apply(CallPlaced("cc-dial-3", "13900000002", "trunk", at(50)))
    [never] = tracker.apply(ChannelHungUp("cc-dial-3", "cc-dial-3", 0, "not placed", at(50)))
    assert never.disposition is Disposition.UNANSWERED and never.legs == ()
    assert tracker.open_calls == {}


def test_a_call_the_engine_took_ends_abandoned_in_the_ivr_unless_told_otherwise() -> None:
    tracker = CallTracker()
    tracker.apply(EngineTookCall("8.1", at(0)))
    tracker.apply(created("8.1"))
    tracker.apply(ChannelAnswered("8.1", "8.1", at(0.2)))
    [closed] = tracker.apply(ChannelHungUp("8.1", "8.1", 16, "", at(4)))
    # Asterisk answered for the IVR, yet no person did
    assert closed.disposition is Disposition.ANSWERED
    assert closed.outcome is CallOutcome.ABANDONED_IVR
    # a call Asterisk handled alone gets no verdict from the engine
    tracker.apply(created("8.2"))
    [alone] = tracker.apply(ChannelHungUp("8.2", "8.2", 16, "", at(4)))
    assert alone.outcome is None


def test_the_engines_verdict_may_follow_the_hangup_and_carries_both_clocks() -> None:
    tracker = CallTracker()
    tracker.apply(EngineTookCall("9.1", at(0)))
    tracker.apply(created("9.1"))
    tracker.apply(ChannelAnswered("9.1", "9.1", at(1)))
    tracker.apply(RecordingStarted("9.1", "/rec/9.1.wav", at(6)))
    tracker.apply(ChannelHungUp("9.1", "9.1", 16, "", at(30)))
    told = OutcomeKnown("9.1", CallOutcome.AGENT, at(30), queued_at=at(5), agent_answered_at=at(9))
    [record] = tracker.apply(told)
    assert record.outcome is CallOutcome.AGENT and record.ended_at == at(30)
    assert record.wait_from_answer == timedelta(seconds=8)  # the citizen's clock
    assert record.wait_in_queue == timedelta(seconds=4)  # the queue's clock
    assert tracker.apply(told) == []  # told twice changes nothing


def test_a_caller_who_leaves_while_the_agent_rings_has_no_recording() -> None:
    tracker = CallTracker()
    tracker.apply(EngineTookCall("10.1", at(0)))
    tracker.apply(created("10.1"))
    tracker.apply(RecordingStarted("10.1", "/rec/10.1.wav", at(3)))
    left = OutcomeKnown("10.1", CallOutcome.ABANDONED_QUEUE, at(8), queued_at=at(2))
    [record] = tracker.apply(left)
    assert record.outcome is CallOutcome.ABANDONED_QUEUE and record.agent_answered_at is None
    [record] = tracker.apply(RecordingDiscarded("10.1", at(8)))
    assert record.recording == ""
    [closed] = tracker.apply(ChannelHungUp("10.1", "10.1", 16, "", at(9)))
    assert closed.outcome is CallOutcome.ABANDONED_QUEUE  # the verdict is not overwritten
    assert tracker.apply(OutcomeKnown("11.1", CallOutcome.AGENT, at(1))) == []  # unknown call


def test_ended_calls_are_kept_for_late_words_for_a_while_only() -> None:
    """An ended call takes the engine's late word (its outcome) within `closed_kept`; older
    ended calls are forgotten as later ones end, so memory stays flat at a steady rate."""
    tracker = CallTracker(closed_kept=timedelta(seconds=60))
    for i in range(5):
        tracker.apply(created(f"9.{i}"))
        tracker.apply(ChannelHungUp(f"9.{i}", f"9.{i}", 16, "", at(30 * i)))
    # 9.4 ended at 120 s: what ended before 60 s is gone, the rest still takes an outcome
    assert list(tracker.recently_closed) == ["9.2", "9.3", "9.4"]
    [told] = tracker.apply(OutcomeKnown("9.2", CallOutcome.ABANDONED_IVR, at(121)))
    assert told.outcome is CallOutcome.ABANDONED_IVR
    assert tracker.apply(OutcomeKnown("9.1", CallOutcome.ABANDONED_IVR, at(121))) == []
