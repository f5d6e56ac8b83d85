"""Report arithmetic: assessment periods, the hotline's indicators against its norms, rankings
and hot issues (热点). Plain functions over counts the storage layer has already aggregated."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from callcenter.domain.errors import InvalidInput
from callcenter.domain.seats import SeatState, Transition
from callcenter.domain.workdays import WorkdayCalendar

# complaints about the hotline's own staff are filed under this topic (or one below it)
SERVICE_TOPIC = "hotline"
# a topic is news when it has at least this many tickets in the latest week and grew
RISING_MINIMUM = 5
# the same address and topic complained about this many times in the period is a repeat
REPEAT_MINIMUM = 2


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"


@dataclass(frozen=True, slots=True)
class Period:
    """Local calendar days [first, following) of a month or quarter."""

    kind: PeriodKind
    label: str
    first: date
    following: date

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.following - self.first).days)]


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def parse_period(text: str) -> Period:
    """``2026-03`` (a month) or ``2026-Q1`` (a quarter)."""
    if found := _MONTH.match(text):
        year, month = int(found[1]), int(found[2])
        if not 1 <= month <= 12:
            raise InvalidInput(f"no month {text}")
        return Period(
            PeriodKind.MONTH, text, _month_start(year, month), _month_start(year, month + 1)
        )
    if found := _QUARTER.match(text):
        year, quarter = int(found[1]), int(found[2])
        first = _month_start(year, 3 * quarter - 2)
        return Period(PeriodKind.QUARTER, text, first, _month_start(year, 3 * quarter + 1))
    raise InvalidInput(f"a period is YYYY-MM or YYYY-Qn, not {text!r}")


# ---- indicators ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Indicator:
    """One figure a hotline is judged by: numerator / denominator against its norm."""

    code: str
    name: str
    numerator: int
    denominator: int
    numerator_means: str
    denominator_means: str
    norm: float | None = None
    # True: the rate must reach the norm; False: it must stay at or below it
    at_least: bool = True

    @property
    def rate(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def met(self) -> bool | None:
        """Whether the norm is met; None without a norm or without anything to judge."""
        rate = self.rate
        if self.norm is None or rate is None:
            return None
        return rate >= self.norm if self.at_least else rate <= self.norm

    @property
    def definition(self) -> str:
        return f"{self.numerator_means} / {self.denominator_means}"


@dataclass(frozen=True, slots=True)
class CallCounts:
    """Inbound calls of a period, as the norms count them."""

    offered: int = 0  # every inbound call
    answered: int = 0  # answered by a person (an agent)
    within_15s: int = 0  # of those, answered within 15 s of asking for an agent
    abandoned: int = 0  # hung up while waiting for an agent
    rated: int = 0  # rated after the conversation
    satisfied: int = 0  # rated satisfied or basically satisfied

    @property
    def connect_rate(self) -> float | None:
        """人工接通率: answered by a person / every inbound call."""
        return self.answered / self.offered if self.offered else None

    @property
    def answer_15s_rate(self) -> float | None:
        """人工应答及时率: answered within 15 s / answered by a person."""
        return self.within_15s / self.answered if self.answered else None


@dataclass(frozen=True, slots=True)
class CenterCounts:
    calls: CallCounts
    service_complaints: int = 0
    dispatch_due: int = 0
    dispatched_in_time: int = 0


def center_indicators(counts: CenterCounts) -> list[Indicator]:
    """The center's own indicators exactly as docs NORMS.md defines them."""
    calls = counts.calls
    return [
        Indicator(
            "connect_rate",
            "人工接通率",
            calls.answered,
            calls.offered,
            "人工接听的来电",
            "全部来电",
            0.95,
        ),
        Indicator(
            "answer_15s_rate",
            "人工应答及时率(15秒)",
            calls.within_15s,
            calls.answered,
            "15秒内人工接听的来电",
            "人工接听的来电",
            0.80,
        ),
        Indicator(
            "complaint_rate",
            "投诉率",
            counts.service_complaints,
            calls.answered,
            "对热线自身服务的有效投诉",
            "有效来电(人工接听)",
            0.02,
            at_least=False,
        ),
        Indicator(
            "service_satisfaction_rate",
            "服务过程满意率",
            calls.satisfied,
            calls.rated,
            "评价为满意或基本满意的通话",
            "通话后参与评价的通话",
            0.98,
        ),
        Indicator(
            "dispatch_rate",
            "转办及时率",
            counts.dispatched_in_time,
            counts.dispatch_due,
            "当日(非工作日受理的为下一工作日)转办的工单",
            "应转办的工单",
            0.90,
        ),
    ]


def dispatch_due_day(created: date, calendar: WorkdayCalendar) -> date:
    """A ticket registered on a working day is dispatched that day; otherwise on the next one."""
    if calendar.is_working_day(created):
        return created
    return calendar.nth_working_day_after(created, 1)


def dispatch_timeliness(
    by_day: Iterable[tuple[date, date | None, int]], calendar: WorkdayCalendar, today: date
) -> tuple[int, int]:
    """(dispatched in time, due) from counts of tickets by (registered day, first dispatch day);
    a ticket not dispatched yet counts as due only once its day has passed or come."""
    due = timely = 0
    for created, dispatched, count in by_day:
        deadline = dispatch_due_day(created, calendar)
        if dispatched is None:
            if deadline <= today:
                due += count
            continue
        due += count
        if dispatched <= deadline:
            timely += count
    return timely, due


# ---- departments -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DepartmentCounts:
    """One lead department's tickets received in the period (see storage/ticket_stats.py)."""

    department: str
    name: str
    received: int
    signed_on_time: int
    completed_on_time: int
    returned: int
    extended: int
    overdue: int
    supervised: int
    redo: int
    callback_reached: int
    surveyed: int
    satisfied: int


@dataclass(frozen=True, slots=True)
class DepartmentAssessment:
    counts: DepartmentCounts
    indicators: list[Indicator]
    rank: int = 0

    def rate(self, code: str) -> float | None:
        return next(i.rate for i in self.indicators if i.code == code)


def department_indicators(c: DepartmentCounts) -> list[Indicator]:
    kept = c.received - c.returned
    return [
        Indicator("sign_rate", "按时签收率", c.signed_on_time, c.received, "按时签收", "收到工单"),
        Indicator(
            "on_time_rate",
            "按期办结率",
            c.completed_on_time,
            kept,
            "期限内答复并经审核通过",
            "收到工单(不含退回)",
        ),
        Indicator("overdue_rate", "超期率", c.overdue, kept, "超期工单", "收到工单(不含退回)"),
        Indicator(
            "satisfaction_rate",
            "满意率",
            c.satisfied,
            c.surveyed,
            "回访满意或基本满意",
            "回访次数",
        ),
    ]


def rank_departments(counts: Iterable[DepartmentCounts]) -> list[DepartmentAssessment]:
    """The league table: by 按期办结率, then 满意率, then fewer overdue, then code; a department
    with nothing to judge ranks after those with figures."""
    rows = [DepartmentAssessment(c, department_indicators(c)) for c in counts]

    def key(row: DepartmentAssessment) -> tuple[float, float, int, str]:
        on_time = row.rate("on_time_rate")
        happy = row.rate("satisfaction_rate")
        return (
            -(on_time if on_time is not None else -1.0),
            -(happy if happy is not None else -1.0),
            row.counts.overdue,
            row.counts.department,
        )

    rows.sort(key=key)
    return [DepartmentAssessment(r.counts, r.indicators, n) for n, r in enumerate(rows, 1)]


# ---- agents ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentCounts:
    agent_id: str
    name: str
    calls: int = 0
    talk_seconds: float = 0.0
    wrap_up_seconds: float = 0.0
    rated: int = 0
    satisfied: int = 0
    missed: int = 0
    pauses: int = 0
    pause_seconds: float = 0.0

    @property
    def average_handle_time(self) -> float | None:
        """(talk + wrap-up) / calls handled, in seconds."""
        return (self.talk_seconds + self.wrap_up_seconds) / self.calls if self.calls else None

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None


# ---- hot issues ------------------------------------------------------------------------------

# a district or county named in an address: the shortest run ending in 区 or 县 that does not
# cross a province or city name (北京市朝阳区… -> 朝阳区); storage mirrors it in SQL
DISTRICT_PATTERN = "([^省市区县]{1,8}?[区县])"
_DISTRICT = re.compile(DISTRICT_PATTERN)


def district_of(address: str) -> str:
    """The district named in an address, or '' when none is named."""
    found = _DISTRICT.search(address)
    return found[1] if found else ""


@dataclass(frozen=True, slots=True)
class Rising:
    topic: str
    this_week: int
    last_week: int

    @property
    def growth(self) -> float | None:
        """Relative growth; None when the topic was absent the week before."""
        return (self.this_week - self.last_week) / self.last_week if self.last_week else None


def rising_topics(
    this_week: Mapping[str, int], last_week: Mapping[str, int], minimum: int = RISING_MINIMUM
) -> list[Rising]:
    """Topics with at least ``minimum`` tickets this week and more than the week before,
    the biggest increase first."""
    found = [
        Rising(topic, count, last_week.get(topic, 0))
        for topic, count in this_week.items()
        if count >= minimum and count > last_week.get(topic, 0)
    ]
    found.sort(key=lambda r: (-(r.this_week - r.last_week), -r.this_week, r.topic))
    return found


@dataclass(frozen=True, slots=True)
class Table:
    """A report section as rows of cells, for the workbook and CSV exports."""

    title: str
    headers: Sequence[str]
    rows: list[list[object]] = field(default_factory=list)
    # per column: "int", "percent", "seconds", "text" (number formats in the workbook)
    kinds: Sequence[str] = ()


# ---- the day in quarter hours ------------------------------------------------------------------

SLOT = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    # agents logged in at any moment of the quarter hour
    on_duty: int = 0


def quarter_hours(
    calls: Iterable[tuple[datetime, bool, bool]],
    transitions: Sequence[Transition],
    start: datetime,
    end: datetime,
) -> list[Slot]:
    """Calls (asked for an agent at, answered, abandoned) and agents on duty per 15 minutes of
    [start, end); ``transitions`` in time order, each agent's may begin before ``start``."""
    count = (end - start) // SLOT
    offered, answered, abandoned = [0] * count, [0] * count, [0] * count
    for at, taken, left in calls:
        index = (at - start) // SLOT
        if 0 <= index < count:
            offered[index] += 1
            answered[index] += taken
            abandoned[index] += left
    duty: list[set[str]] = [set() for _ in range(count)]
    by_agent: dict[str, list[Transition]] = {}
    for transition in transitions:
        by_agent.setdefault(transition.agent_id, []).append(transition)
    for agent, history in by_agent.items():
        for current, following in zip(history, [*history[1:], None], strict=True):
            if current.state is SeatState.LOGGED_OUT:
                continue
            begin = max(current.at, start)
            finish = min(following.at if following else end, end)
            if finish <= begin:
                continue
            first = (begin - start) // SLOT
            last = (finish - start - timedelta(microseconds=1)) // SLOT
            for index in range(first, min(last, count - 1) + 1):
                duty[index].add(agent)
    return [
        Slot(start + n * SLOT, offered[n], answered[n], abandoned[n], len(duty[n]))
        for n in range(count)
    ]
