"""The working-day calendar: the 2026 national schedule, deadline arithmetic, file checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.domain.errors import InvalidCalendar
from callcenter.domain.workdays import WorkdayCalendar
from callcenter.storage.calendar_files import DEFAULT_CALENDAR_DIR, load_calendar, parse_calendar

CN = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def cal() -> WorkdayCalendar:
    return load_calendar(DEFAULT_CALENDAR_DIR)


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CN)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_the_2026_schedule_of_the_state_council(cal: WorkdayCalendar) -> None:
    off = [
        *days(date(2026, 1, 1), date(2026, 1, 3)),
        *days(date(2026, 2, 15), date(2026, 2, 23)),
        *days(date(2026, 4, 4), date(2026, 4, 6)),
        *days(date(2026, 5, 1), date(2026, 5, 5)),
        *days(date(2026, 6, 19), date(2026, 6, 21)),
        *days(date(2026, 9, 25), date(2026, 9, 27)),
        *days(date(2026, 10, 1), date(2026, 10, 7)),
    ]
    worked_weekends = [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ]
    assert not any(cal.is_working_day(d) for d in off)
    assert all(cal.is_working_day(d) for d in worked_weekends)
    assert all(d.weekday() >= 5 for d in worked_weekends)
    assert cal.holiday_name(date(2026, 2, 17)) == "春节"
    assert cal.holiday_name(date(2026, 10, 7)) == "国庆节"
    assert cal.holiday_name(date(2026, 3, 7)) is None  # an ordinary Saturday
    assert not cal.is_working_day(date(2026, 3, 7))
    assert cal.is_working_day(date(2026, 2, 24))  # the Tuesday after the Spring Festival
    # 261 weekdays, 19 of them holidays, 6 weekend days worked instead
    year = days(date(2026, 1, 1), date(2026, 12, 31))
    assert sum(cal.is_working_day(d) for d in year) == 248
    assert cal.covers(date(2026, 7, 1)) and cal.years == {2026}


def test_complaint_created_on_the_friday_before_the_spring_festival(cal: WorkdayCalendar) -> None:
    friday = local(2026, 2, 13, 10, 0)
    # Sat 14 (worked) is day 1; 15-23 off; 24,25,26,27 → 5; Sat 28 (worked) → 6;
    # Mar 2-6 → 11; Mar 9-12 → 15: due at the end of Thursday 12 March
    assert cal.add_working_days(friday, 15) == local(2026, 3, 13)
    # the day of receipt never counts, whatever the hour
    assert cal.add_working_days(local(2026, 2, 13, 23, 50), 15) == local(2026, 3, 13)
    assert cal.add_working_days(local(2026, 2, 13, 0, 1), 15) == local(2026, 3, 13)
    # sign-for within 1 working day: the make-up Saturday
    assert cal.add_working_days(friday, 1) == local(2026, 2, 15)
    # consultation, 5 working days: 14, 24, 25, 26, 27
    assert cal.add_working_days(friday, 5) == local(2026, 2, 28)


def test_created_on_a_worked_saturday_or_during_the_holiday(cal: WorkdayCalendar) -> None:
    # received on the make-up Saturday: that day does not count, day 1 is 24 February
    assert cal.add_working_days(local(2026, 2, 14, 11), 15) == local(2026, 3, 14)
    # received during the holiday: counting starts with the first working day after it
    assert cal.add_working_days(local(2026, 2, 17, 9), 15) == local(2026, 3, 14)
    assert cal.add_working_days(local(2026, 2, 17, 9), 1) == local(2026, 2, 25)


def test_complaint_created_before_national_day(cal: WorkdayCalendar) -> None:
    friday = local(2026, 9, 18, 16, 30)
    # Sun 20 (worked) → 1; 21-24 → 5; 25-27 中秋 off; 28-30 → 8; Oct 1-7 off; 8, 9 → 10;
    # Sat 10 (worked) → 11; 12-15 → 15: due at the end of Thursday 15 October
    assert cal.add_working_days(friday, 15) == local(2026, 10, 16)
    assert cal.add_working_days(friday, 1) == local(2026, 9, 21)  # sign on the worked Sunday
    # a consultation on 30 September: 8, 9, Sat 10, 12, 13
    assert cal.add_working_days(local(2026, 9, 30, 17), 5) == local(2026, 10, 14)


def test_instants_are_read_in_the_calendars_zone(cal: WorkdayCalendar) -> None:
    # 17:00 UTC on Thursday 12 February is already Friday 13th in Beijing
    assert cal.local_day(datetime(2026, 2, 12, 17, 0, tzinfo=UTC)) == date(2026, 2, 13)
    due = cal.add_working_days(datetime(2026, 2, 12, 17, 0, tzinfo=UTC), 15)
    assert due == local(2026, 3, 13) and due.tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        cal.add_working_days(datetime(2026, 2, 13, 10), 1)
    with pytest.raises(ValueError, match="positive"):
        cal.add_working_days(local(2026, 2, 13), 0)


def test_extending_a_deadline_counts_on_from_its_last_day(cal: WorkdayCalendar) -> None:
    due = local(2026, 3, 13)  # the end of Thursday 12 March
    assert cal.extend(due, 5) == local(2026, 3, 20)  # 13, 16, 17, 18, 19
    # across National Day: from the end of Wed 30 Sep, 3 more days: Oct 8, 9, Sat 10
    assert cal.extend(local(2026, 10, 1), 3) == local(2026, 10, 11)


def test_working_time_skips_days_off(cal: WorkdayCalendar) -> None:
    # 24 working hours from Friday 17:00 before the festival end on the worked Saturday
    start = local(2026, 2, 13, 17)
    assert cal.add_working_time(start, timedelta(hours=24)) == local(2026, 2, 14, 17)
    # from Saturday 20:00: 4 hours left that day, the other 20 on Tuesday 24th
    assert cal.add_working_time(local(2026, 2, 14, 20), timedelta(hours=24)) == local(
        2026, 2, 24, 20
    )
    # started during the holiday: nothing counts until the holiday ends
    assert cal.add_working_time(local(2026, 2, 16, 10), timedelta(hours=24)) == local(2026, 2, 25)
    assert cal.add_working_time(start, timedelta(0)) == start
    assert cal.working_time_between(local(2026, 2, 13, 12), local(2026, 2, 24, 12)) == timedelta(
        hours=12 + 24 + 12
    )
    assert cal.working_time_between(local(2026, 2, 24), local(2026, 2, 13)) == timedelta(0)


def test_years_without_a_file_fall_back_to_weekends(cal: WorkdayCalendar) -> None:
    assert not cal.covers(date(2027, 1, 1))
    assert cal.is_working_day(date(2027, 1, 1))  # a Friday; 2027's schedule not announced yet
    assert not cal.is_working_day(date(2027, 1, 2))
    # a December deadline runs into the next year without failing
    assert cal.add_working_days(local(2026, 12, 30, 10), 5) == local(2027, 1, 7)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD_2027 = """\
year: 2027
timezone: Asia/Shanghai
holidays:
  - name: 元旦
    from: 2027-01-01
    to: 2027-01-03
"""


def test_adding_a_year_is_a_data_file(tmp_path: Path) -> None:
    write(tmp_path, "2026.yaml", (DEFAULT_CALENDAR_DIR / "2026.yaml").read_text("utf-8"))
    write(tmp_path, "2027.yaml", GOOD_2027)
    cal = load_calendar(tmp_path)
    assert cal.years == {2026, 2027}
    assert not cal.is_working_day(date(2027, 1, 1))
    assert not cal.is_working_day(date(2026, 2, 17))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("year: 2027\nholidays: []\nholidays: []\n", "x.yaml:3: duplicate key 'holidays'"),
        ("year: 2027\nholiday: []\n", "x.yaml:2: unknown key 'holiday'"),
        ("year: 2027\n", "x.yaml:1: missing holidays"),
        ("year: next\nholidays: []\n", "x.yaml:1: expected a year"),
        (
            "year: 2027\nholidays:\n  - name: a\n    from: 2027-02-30\n    to: 2027-03-01\n",
            "x.yaml:4: expected a date",
        ),
        (
            "year: 2027\nholidays:\n  - name: a\n    from: 2027-03-02\n    to: 2027-03-01\n",
            "x.yaml:5: 'to' 2027-03-01 is before 2027-03-02",
        ),
        (
            "year: 2027\nholidays:\n  - name: a\n    from: 2027-05-03\n    to: 2027-05-04\n"
            "    working: [2027-05-06]\n",
            "x.yaml:3: make-up working day 2027-05-06 is not a Saturday or Sunday",
        ),
        (
            "year: 2027\nholidays:\n  - name: a\n    from: 2027-05-01\n    to: 2027-05-05\n"
            "  - name: b\n    from: 2027-05-05\n    to: 2027-05-06\n",
            "x.yaml:6: 2027-05-05 of b is already listed for a at x.yaml:3",
        ),
        (
            "year: 2027\nholidays:\n  - name: a\n    from: 2028-05-01\n    to: 2028-05-02\n",
            "x.yaml:4: 2028-05-01 is outside the 2027 schedule",
        ),
        ("year: 2027\ntimezone: Mars/Olympus\nholidays: []\n", "x.yaml:2: unknown timezone"),
        ("year: 2027\nholidays: [\n", "x.yaml:"),
        ("", "x.yaml:1: empty calendar file"),
    ],
)
def test_a_bad_file_is_refused_with_file_and_line(text: str, message: str) -> None:
    with pytest.raises(InvalidCalendar) as err:
        parse_calendar([("x.yaml", text)])
    assert message in err.value.message
    assert err.value.code == "invalid_calendar"


def test_files_must_agree(tmp_path: Path) -> None:
    write(tmp_path, "2027.yaml", GOOD_2027.replace("2027-01-03", "2027-01-02"))
    with pytest.raises(InvalidCalendar, match=r"2028\.yaml:1: year 2027 in a file named 2028"):
        load_calendar(write(tmp_path, "2028.yaml", GOOD_2027))
    other_zone = GOOD_2027.replace("2027", "2028").replace("Asia/Shanghai", "Asia/Urumqi")
    write(tmp_path, "2028.yaml", other_zone)
    with pytest.raises(InvalidCalendar, match="timezone Asia/Urumqi differs"):
        load_calendar(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidCalendar, match="no calendar files"):
        load_calendar(tmp_path / "empty")
    with pytest.raises(InvalidCalendar, match="missing: cannot read"):
        load_calendar(tmp_path / "missing")
