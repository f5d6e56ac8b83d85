"""Working-day calendar (weekends, public holidays, make-up working days) and deadline arithmetic.

Rules, after the Civil Code's counting of periods (art. 201-203):

- The day an instant falls on (in the calendar's zone) never counts, whatever the hour: a ticket
  received at 09:00 or at 23:00 on a Friday, or on a Saturday, starts counting the next working day.
- ``add_working_days(t, n)`` is the end (24:00, the next midnight) of the n-th working day after
  t's day; a period never ends on a non-working day.
- Working time (for hour-based windows and the share of time left) counts every hour of a working
  day and no hour of a non-working one.

Years without a data file fall back to plain weekends, so deadlines never fail near the end of the
year before the State Council has announced the next schedule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from callcenter.domain.errors import InvalidCalendar

# the hotline's time zone (Beijing time): its local days, survey hours, what "today" is
HOTLINE_TIMEZONE = "Asia/Shanghai"
HOTLINE_ZONE = ZoneInfo(HOTLINE_TIMEZONE)
ONE_DAY = timedelta(days=1)
_WEEKEND = frozenset({5, 6})


@dataclass(frozen=True, slots=True)
class Holiday:
    """One announced holiday: its days off and the weekend days worked to make up for it."""

    name: str
    first: date
    last: date
    working: tuple[date, ...] = ()

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


@dataclass(frozen=True, slots=True)
class CalendarFile:
    """One year's schedule as read from its data file, each holiday with its ``file:line``."""

    name: str
    year: int
    timezone: str
    holidays: tuple[tuple[Holiday, str], ...]


class WorkdayCalendar:
    """Which days are worked, in one time zone; pure arithmetic, the clock is passed in."""

    def __init__(
        self,
        tz: tzinfo,
        holidays: Mapping[date, str] | None = None,
        working_days: Mapping[date, str] | None = None,
        years: Iterable[int] = (),
    ) -> None:
        self.tz = tz
        self._off = dict(holidays or {})
        self._on = dict(working_days or {})
        self.years = frozenset(years)
        clash = self._off.keys() & self._on.keys()
        if clash:
            raise InvalidCalendar(f"{min(clash)} is both a holiday and a working day")

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def from_files(cls, files: Iterable[CalendarFile]) -> WorkdayCalendar:
        """One calendar from parsed data files (one a year); errors say ``file:line: what``."""
        off: dict[date, tuple[str, str]] = {}
        on: dict[date, tuple[str, str]] = {}
        years: set[int] = set()
        zone: tuple[str, str] | None = None
        for file in files:
            name, year, tz_name, entries = file.name, file.year, file.timezone, file.holidays
            if year in years:
                raise InvalidCalendar(f"{name}:1: year {year} is defined by another file as well")
            years.add(year)
            if zone is not None and zone[0] != tz_name:
                raise InvalidCalendar(
                    f"{name}:1: timezone {tz_name} differs from {zone[0]} in {zone[1]}"
                )
            zone = (tz_name, name)
            for holiday, where in entries:
                for day in holiday.days():
                    _claim(off, on, day, holiday.name, where, "a holiday")
                for day in holiday.working:
                    _claim(on, off, day, holiday.name, where, "a working day")
        tz = ZoneInfo(zone[0] if zone else HOTLINE_TIMEZONE)
        return cls(
            tz,
            {day: label for day, (label, _) in off.items()},
            {day: label for day, (label, _) in on.items()},
            years,
        )

    # -- days ------------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        if day in self._on:
            return True
        if day in self._off:
            return False
        return day.weekday() not in _WEEKEND

    def holiday_name(self, day: date) -> str | None:
        """The holiday a day off belongs to (None for ordinary weekends and working days)."""
        return self._off.get(day)

    def covers(self, day: date) -> bool:
        """Whether the official schedule of the day's year is loaded (else plain weekends apply)."""
        return day.year in self.years

    def local_day(self, instant: datetime) -> date:
        return _aware(instant).astimezone(self.tz).date()

    def midnight(self, day: date) -> datetime:
        """The instant a local day starts, in UTC."""
        return datetime.combine(day, time(0), self.tz).astimezone(UTC)

    def nth_working_day_after(self, day: date, n: int) -> date:
        if n < 1:
            raise ValueError(f"need a positive number of working days, not {n}")
        while n:
            day += ONE_DAY
            if self.is_working_day(day):
                n -= 1
        return day

    # -- deadlines -------------------------------------------------------------------------------

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The end (next midnight, as UTC) of the n-th working day after the day of ``start``."""
        return self.midnight(self.nth_working_day_after(self.local_day(start), n) + ONE_DAY)

    def extend(self, deadline: datetime, n: int) -> datetime:
        """Push a deadline (the end of a day) back by n more working days."""
        last_day = self.local_day(_aware(deadline) - timedelta(microseconds=1))
        return self.midnight(self.nth_working_day_after(last_day, n) + ONE_DAY)

    def add_working_time(self, start: datetime, span: timedelta) -> datetime:
        """The instant when ``span`` of working-day time has passed after ``start``."""
        if span < timedelta(0):
            raise ValueError("a negative span of working time")
        cursor = _aware(start).astimezone(UTC)
        left = span
        day = self.local_day(cursor)
        while True:
            day_end = self.midnight(day + ONE_DAY)
            if self.is_working_day(day):
                if cursor + left <= day_end:
                    return cursor + left
                left -= day_end - cursor
            cursor, day = day_end, day + ONE_DAY

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working-day time in [start, end); zero when end is not after start."""
        cursor, end = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
        total = timedelta(0)
        day = self.local_day(cursor)
        while cursor < end:
            day_end = min(self.midnight(day + ONE_DAY), end)
            if self.is_working_day(day):
                total += day_end - cursor
            cursor, day = day_end, day + ONE_DAY
        return total


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetime given to the working-day calendar")
    return instant


def _claim(
    mine: dict[date, tuple[str, str]],
    other: dict[date, tuple[str, str]],
    day: date,
    label: str,
    where: str,
    kind: str,
) -> None:
    for table in (mine, other):
        if day in table:
            prior_label, prior_where = table[day]
            raise InvalidCalendar(
                f"{where}: {day} of {label} is already listed for {prior_label} at {prior_where}"
            )
    if kind == "a working day" and day.weekday() not in _WEEKEND:
        raise InvalidCalendar(f"{where}: make-up working day {day} is not a Saturday or Sunday")
    mine[day] = (label, where)


def parse_time_of_day(value: str) -> time | None:
    """`03:00` -> 03:00 (hotline time); an empty value -> None (no nightly run)."""
    if not value.strip():
        return None
    if not re.fullmatch(r"\d{2}:\d{2}", value.strip()):
        raise ValueError(f"{value!r} is not HH:MM")
    hour, minute = (int(part) for part in value.strip().split(":"))
    if hour > 23 or minute > 59:
        raise ValueError(f"{value!r} is not a time of day")
    return time(hour, minute)


def next_run(now: datetime, at: time) -> datetime:
    """The first `at` (hotline time) strictly after `now`, as an aware datetime."""
    local = now.astimezone(HOTLINE_ZONE)
    candidate = datetime.combine(local.date(), at, tzinfo=HOTLINE_ZONE)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=HOTLINE_ZONE)
    return candidate
