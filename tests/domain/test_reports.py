"""Report arithmetic: periods, norms, rankings, hot issues, quarter hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from callcenter.domain.errors import InvalidInput
from callcenter.domain.reports import (
    CallCounts,
    CenterCounts,
    DepartmentCounts,
    Indicator,
    center_indicators,
    dispatch_timeliness,
    district_of,
    parse_period,
    quarter_hours,
    rank_departments,
    rising_topics,
)
from callcenter.domain.seats import SeatState, Transition
from callcenter.storage.calendar_files import DEFAULT_CALENDAR_DIR, load_calendar


def test_periods() -> None:
    march = parse_period("2026-03")
    assert (march.first, march.following) == (date(2026, 3, 1), date(2026, 4, 1))
    assert len(march.days()) == 31
    q4 = parse_period("2026-Q4")
    assert (q4.first, q4.following) == (date(2026, 10, 1), date(2027, 1, 1))
    december = parse_period("2026-12")
    assert december.following == date(2027, 1, 1)
    for bad in ("2026-13", "2026-Q5", "26-01", "2026-00"):
        with pytest.raises(InvalidInput):
            parse_period(bad)


def test_norms_are_met_at_the_boundary_and_judged_both_ways() -> None:
    indicators = center_indicators(
        CenterCounts(
            CallCounts(offered=100, answered=95, within_15s=76, rated=50, satisfied=49),
            service_complaints=2,
            dispatch_due=10,
            dispatched_in_time=9,
        )
    )
    by_code = {i.code: i for i in indicators}
    assert by_code["connect_rate"].met is True  # 95 / 100 = 95%
    assert by_code["answer_15s_rate"].rate == 0.8 and by_code["answer_15s_rate"].met is True
    assert by_code["complaint_rate"].rate == pytest.approx(2 / 95)
    assert by_code["complaint_rate"].met is False  # above 2%
    assert by_code["service_satisfaction_rate"].met is True
    assert by_code["dispatch_rate"].met is True
    assert Indicator("x", "x", 0, 0, "a", "b", 0.5).met is None


def test_dispatch_on_a_holiday_is_due_the_next_working_day() -> None:
    calendar = load_calendar(DEFAULT_CALENDAR_DIR)
    rows = [
        (date(2026, 4, 4), date(2026, 4, 7), 2),  # Qingming Saturday -> Tuesday: in time
        (date(2026, 4, 3), date(2026, 4, 7), 1),  # Friday -> Tuesday: late
        (date(2026, 4, 30), None, 3),  # not dispatched, its day has not come
        (date(2026, 4, 13), None, 1),  # not dispatched, overdue
    ]
    assert dispatch_timeliness(rows, calendar, today=date(2026, 4, 20)) == (2, 4)


def test_league_ranks_on_time_then_satisfaction() -> None:
    def counts(code: str, on_time: int, satisfied: int, received: int = 4) -> DepartmentCounts:
        return DepartmentCounts(code, code, received, 0, on_time, 0, 0, 0, 0, 0, 0, 4, satisfied)

    league = rank_departments(
        [counts("a", 2, 4), counts("b", 3, 1), counts("c", 2, 3), counts("idle", 0, 0, 0)]
    )
    assert [(r.counts.department, r.rank) for r in league] == [
        ("b", 1),
        ("a", 2),
        ("c", 3),
        ("idle", 4),
    ]


def test_districts_and_rising_topics() -> None:
    assert district_of("北京市朝阳区建国路1号") == "朝阳区"
    assert district_of("东城区幸福路12号") == "东城区"
    assert district_of("浙江省杭州市西湖区文三路") == "西湖区"
    assert district_of("平谷县城关镇") == "平谷县"
    assert district_of("12345热线") == ""
    rising = rising_topics({"a": 9, "b": 5, "c": 4, "d": 6}, {"a": 3, "b": 5, "d": 0}, minimum=5)
    assert [(r.topic, r.growth) for r in rising] == [("a", 2.0), ("d", None)]


def test_quarter_hours_count_calls_and_agents_on_duty() -> None:
    start = datetime(2026, 4, 1, tzinfo=UTC)
    end = start + timedelta(hours=1)
    calls = [
        (start + timedelta(minutes=1), True, False),
        (start + timedelta(minutes=14, seconds=59), False, True),
        (start + timedelta(minutes=15), True, False),
        (start - timedelta(minutes=1), True, False),  # outside
    ]
    transitions = [
        Transition("1", SeatState.READY, start - timedelta(hours=1)),
        Transition("1", SeatState.LOGGED_OUT, start + timedelta(minutes=15)),
        Transition("2", SeatState.PAUSED, start + timedelta(minutes=40)),
    ]
    slots = quarter_hours(calls, transitions, start, end)
    assert [(s.offered, s.answered, s.abandoned) for s in slots] == [
        (2, 1, 1),
        (1, 1, 0),
        (0, 0, 0),
        (0, 0, 0),
    ]
    # agent 1 leaves exactly at 00:15: on duty in the first quarter only
    assert [s.on_duty for s in slots] == [1, 0, 1, 1]
