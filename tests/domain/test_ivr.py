"""The IVR interpreter walks the shipped flows: node + input -> actions, with every step kept."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from callcenter.domain.errors import InvalidInput
from callcenter.domain.flow_model import DTMF, Flow, PromptCatalogue
from callcenter.domain.ivr import (
    DigitsPressed,
    FlowRunner,
    Hangup,
    InputTimeout,
    IvrTurn,
    LookupResult,
    LookupTicket,
    Play,
    PromptLayout,
    Queue,
    ReadDigits,
    RecordingFinished,
    RecordVoicemail,
    SayDigits,
    requirements_for,
)
from callcenter.telephony.flow_yaml import load_catalogue, load_flow

REPO = Path(__file__).resolve().parents[2]
MONDAY_10 = datetime(2026, 3, 2, 10, 0)


@dataclass
class FakeCalendar:
    """Weekends off, except make-up working days; listed holidays off."""

    holidays: set[date] = field(default_factory=set)
    make_up_days: set[date] = field(default_factory=set)
    asked: list[date] = field(default_factory=list)

    def is_working_day(self, day: date) -> bool:
        self.asked.append(day)
        if day in self.make_up_days:
            return True
        return day.weekday() < 5 and day not in self.holidays


SPRING_FESTIVAL_2026 = FakeCalendar(
    holidays={date(2026, 2, 15) + timedelta(days=i) for i in range(9)},
    make_up_days={date(2026, 2, 14), date(2026, 2, 28)},
)


def shipped_catalogue() -> PromptCatalogue:
    path = REPO / "ivr_flows" / "prompts.yaml"
    result = load_catalogue(path.read_text(encoding="utf-8"), str(path))
    assert result.value is not None, result.problems
    return result.value


def shipped(name: str) -> Flow:
    path = REPO / "ivr_flows" / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    result = load_flow(text, str(path), name, shipped_catalogue(), "prompts.yaml")
    assert result.value is not None, result.problems
    return result.value


def runner(name: str, calendar: FakeCalendar | None = None) -> FlowRunner:
    return FlowRunner(shipped(name), PromptLayout("zh"), calendar or FakeCalendar())


def events(turns: Iterable[IvrTurn]) -> list[tuple[str, str, str]]:
    return [(s.node, s.event, s.value) for turn in turns for s in turn.steps]


def test_caller_reaches_the_queue_without_pressing_anything() -> None:
    ivr = runner("main")
    first = ivr.start(MONDAY_10)
    assert first.actions == (
        Play(
            # a short greeting: the emergency reminder and the menu can wait (on hold)
            keys=("hotline_greeting", "english_line"),
            # the English line is announced in English even to a Chinese caller
            files=("hotline_greeting", "en/english_line"),
            interrupt_digits=DTMF,
        ),
        ReadDigits(max_digits=1, timeout=0.5),
    )
    assert first.state.waiting == "digits"
    last = ivr.advance(first.state, InputTimeout(MONDAY_10 + timedelta(seconds=20)))
    assert last.actions == (
        # straight to the queue; what can wait plays on hold if no agent is free at once
        Queue(
            requirements={"lang:mandarin": 1},
            priority=0,
            language="zh",
            hold_files=("emergency_notice", "hold_hint"),
        ),
    )
    assert last.state.finished and last.state.outcome == "queue"
    assert events([first, last]) == [
        ("greeting", "entered", ""),
        ("greeting", "timeout", ""),
        ("to_agent", "entered", ""),
        ("to_agent", "finished", "queue"),
    ]
    assert last.steps[0].at == MONDAY_10 + timedelta(seconds=20)
    assert last.steps[-1].as_dict() == {
        "at": "2026-03-02T10:00:20",
        "flow": "main",
        "node": "to_agent",
        "event": "finished",
        "value": "queue",
    }


def test_english_line_sets_the_language_skill_and_english_prompts() -> None:
    ivr = runner("main")
    turn = ivr.advance(ivr.start(MONDAY_10).state, DigitsPressed(MONDAY_10, "9"))
    assert turn.actions == (
        # the chosen language replaces the queue's default language skill
        Queue(
            requirements={"lang:english": 1},
            priority=0,
            language="en",
            hold_files=("en/emergency_notice", "en/hold_hint"),  # and the language on hold
        ),
    )
    assert events([turn])[:3] == [
        ("greeting", "digits", "9"),
        ("english", "entered", ""),
        ("to_agent", "entered", ""),
    ]


def test_elderly_line_raises_priority() -> None:
    ivr = runner("main")
    turn = ivr.advance(ivr.start(MONDAY_10).state, DigitsPressed(MONDAY_10, "2"))
    assert turn.actions[0] == Play(keys=("elderly_line",), files=("elderly_line",))
    assert turn.actions[-1] == Queue(
        {"lang:mandarin": 1},
        priority=5,
        language="zh",
        hold_files=("emergency_notice", "hold_hint"),
    )


def test_three_invalid_digits_end_at_the_agent_queue_not_a_hangup() -> None:
    ivr = runner("main")
    turn = ivr.start(MONDAY_10)
    turns = [turn]
    retry = (
        Play(keys=("invalid_choice",), files=("invalid_choice",)),
        Play(
            keys=("main_menu", "english_line"),
            files=("main_menu", "en/english_line"),
            interrupt_digits=DTMF,
        ),
        ReadDigits(max_digits=1, timeout=0.5),
    )
    for digit in "57":
        turn = ivr.advance(turn.state, DigitsPressed(MONDAY_10, digit))
        turns.append(turn)
        assert turn.actions == retry
        assert not turn.state.finished
    turn = ivr.advance(turn.state, DigitsPressed(MONDAY_10, "*"))
    turns.append(turn)
    assert turn.state.outcome == "queue"
    assert isinstance(turn.actions[-1], Queue)
    assert not any(isinstance(action, Hangup) for t in turns for action in t.actions)
    assert [e for e in events(turns) if e[1] == "invalid"] == [
        ("greeting", "invalid", "5"),
        ("greeting", "invalid", "7"),
        ("greeting", "invalid", "*"),
    ]


def _to_status(ivr: FlowRunner) -> IvrTurn:
    turn = ivr.advance(ivr.start(MONDAY_10).state, DigitsPressed(MONDAY_10, "1"))
    assert turn.actions == (
        Play(keys=("enter_query_code",), files=("enter_query_code",), interrupt_digits=DTMF),
        ReadDigits(max_digits=16, timeout=8.0, terminator="#"),
    )
    turn = ivr.advance(turn.state, DigitsPressed(MONDAY_10, "20260302#"))
    assert turn.actions == (
        Play(keys=("please_wait",), files=("please_wait",)),
        LookupTicket(code="20260302"),
    )
    assert turn.state.waiting == "lookup"
    return turn


def test_self_service_reads_back_the_ticket_status() -> None:
    ivr = runner("main")
    asked = _to_status(ivr)
    turn = ivr.advance(asked.state, LookupResult(MONDAY_10, status="in_progress"))
    assert turn.actions == (
        Play(keys=("ticket_code_is",), files=("ticket_code_is",)),
        SayDigits("20260302", "zh"),
        Play(keys=("ticket_in_progress",), files=("ticket_in_progress",)),
        Play(keys=("after_status_menu",), files=("after_status_menu",), interrupt_digits=DTMF),
        ReadDigits(max_digits=1, timeout=5.0),
    )
    assert ("ticket_status", "lookup", "in_progress") in events([turn])
    # the query code is a key to the ticket: the step log keeps only its length
    assert ("query_code", "digits", "8 digits") in events([asked])
    assert "20260302" not in str(events([asked, turn]))
    # 1 hears it again: a fresh lookup
    again = ivr.advance(turn.state, DigitsPressed(MONDAY_10, "1"))
    assert again.actions[-1] == LookupTicket("20260302")


@pytest.mark.parametrize(
    ("result", "played"),
    [
        (LookupResult(MONDAY_10, status=None), ("ticket_code_is", "ticket_not_found")),
        (LookupResult(MONDAY_10, status=None, failed=True), ("ticket_lookup_failed",)),
        (LookupResult(MONDAY_10, status="archived_weirdly"), ("ticket_lookup_failed",)),
    ],
)
def test_self_service_without_a_status(result: LookupResult, played: tuple[str, ...]) -> None:
    ivr = runner("main")
    turn = ivr.advance(_to_status(ivr).state, result)
    keys = tuple(k for action in turn.actions if isinstance(action, Play) for k in action.keys)
    assert keys == (*played, "after_status_menu")


def test_bad_query_codes_three_times_go_to_an_agent() -> None:
    ivr = runner("main")
    turn = ivr.advance(ivr.start(MONDAY_10).state, DigitsPressed(MONDAY_10, "1"))
    turn = ivr.advance(turn.state, DigitsPressed(MONDAY_10, "12#"))  # too short
    assert turn.actions == (
        Play(
            keys=("invalid_query_code", "enter_query_code"),
            files=("invalid_query_code", "enter_query_code"),
            interrupt_digits=DTMF,
        ),
        ReadDigits(max_digits=16, timeout=8.0, terminator="#"),
    )
    turn = ivr.advance(turn.state, InputTimeout(MONDAY_10))  # nothing: counts too
    assert turn.actions[-1] == ReadDigits(max_digits=16, timeout=8.0, terminator="#")
    turn = ivr.advance(turn.state, DigitsPressed(MONDAY_10, "12*45#"))  # not digits
    assert turn.state.outcome == "queue"
    assert [e[1] for e in events([turn])] == ["invalid", "entered", "finished"]


def test_inputs_that_do_not_fit_are_refused() -> None:
    ivr = runner("main")
    first = ivr.start(MONDAY_10)
    with pytest.raises(InvalidInput):
        ivr.advance(first.state, LookupResult(MONDAY_10, status="closed"))
    done = ivr.advance(first.state, InputTimeout(MONDAY_10))
    with pytest.raises(InvalidInput):
        ivr.advance(done.state, InputTimeout(MONDAY_10))
    with pytest.raises(InvalidInput):
        runner("holiday").advance(first.state, InputTimeout(MONDAY_10))


@pytest.mark.parametrize(
    ("at", "opened"),
    [
        (datetime(2026, 3, 2, 8, 30), True),  # Monday, opening minute
        (datetime(2026, 3, 2, 12, 30), False),  # lunch break
        (datetime(2026, 3, 2, 17, 29), True),
        (datetime(2026, 3, 2, 17, 30), False),  # closing time is exclusive
        (datetime(2026, 3, 1, 10, 0), False),  # Sunday
        (datetime(2026, 2, 16, 10, 0), False),  # Monday in the Spring Festival holiday
        (datetime(2026, 2, 14, 10, 0), True),  # Saturday worked to make up (调休上班)
    ],
)
def test_after_hours_flow_follows_the_calendar(at: datetime, opened: bool) -> None:
    calendar = SPRING_FESTIVAL_2026
    turn = runner("after_hours", calendar).start(at)
    assert (turn.state.outcome == "queue") is opened
    matched = [e for e in events([turn]) if e[1] == "matched"]
    assert matched == [("office_hours", "matched", "rule 1" if opened else "otherwise")]


def test_after_hours_voicemail() -> None:
    ivr = runner("after_hours", SPRING_FESTIVAL_2026)
    sunday = datetime(2026, 3, 1, 21, 0)
    closed = ivr.start(sunday)
    assert closed.actions[0] == Play(
        keys=("welcome", "after_hours_notice", "emergency_notice"),
        files=("welcome", "after_hours_notice", "emergency_notice"),
        interrupt_digits=DTMF,
    )
    recording = ivr.advance(closed.state, InputTimeout(sunday))
    assert recording.actions == (
        Play(keys=("voicemail_instructions",), files=("voicemail_instructions",)),
        RecordVoicemail(max_seconds=120, silence_seconds=5, beep=True),
    )
    assert recording.state.waiting == "recording"
    done = ivr.advance(recording.state, RecordingFinished(sunday + timedelta(minutes=1)))
    assert done.actions == (
        Play(keys=("voicemail_thanks",), files=("voicemail_thanks",)),
        Hangup(),
    )
    assert done.state.outcome == "voicemail"
    assert events([done]) == [
        ("leave_message", "recorded", ""),
        ("leave_message", "finished", "voicemail"),
    ]


@pytest.mark.parametrize(
    ("at", "notice"),
    [
        (datetime(2026, 2, 17, 9, 0), "spring_festival_notice"),  # a date range
        (datetime(2026, 3, 7, 9, 0), "rest_day_notice"),  # Saturday, from the calendar
        (datetime(2026, 2, 28, 9, 0), None),  # Saturday worked to make up
        (datetime(2026, 3, 2, 9, 0), None),
    ],
)
def test_holiday_announcements(at: datetime, notice: str | None) -> None:
    turn = runner("holiday", SPRING_FESTIVAL_2026).start(at)
    first = turn.actions[0]
    assert isinstance(first, Play)
    assert first.keys == (("welcome", notice) if notice else ("welcome",))
    final = runner("holiday", SPRING_FESTIVAL_2026).advance(turn.state, InputTimeout(at))
    assert final.state.outcome == "queue"


def test_the_calendar_is_asked_only_when_a_rule_needs_it() -> None:
    calendar = FakeCalendar()
    runner("holiday", calendar).start(datetime(2026, 2, 17, 9, 0))
    assert calendar.asked == []  # the date range matched first
    runner("holiday", calendar).start(datetime(2026, 3, 2, 9, 0))
    assert calendar.asked == [date(2026, 3, 2)]


def test_a_flow_may_start_in_another_language() -> None:
    flow = shipped("main").model_copy(update={"languages": ("en", "zh")})
    turn = FlowRunner(flow, PromptLayout("zh"), FakeCalendar()).start(MONDAY_10)
    first = turn.actions[0]
    assert isinstance(first, Play)
    assert first.files[0] == "en/hotline_greeting"


def test_prompt_layout_and_requirements() -> None:
    layout = PromptLayout("zh")
    assert layout.path("welcome", "zh") == "welcome"
    assert layout.path("welcome", "en") == "en/welcome"
    assert requirements_for({"lang:mandarin": 1, "topic:housing": 2}, {"lang:english": 3}) == {
        "topic:housing": 2,
        "lang:english": 3,
    }
    assert requirements_for({"lang:mandarin": 1}, {}) == {"lang:mandarin": 1}
