"""Builds the reports a hotline is judged by (考核, 热点) from the report queries and the domain's
arithmetic, and lays each out as tables for the workbook and CSV exports."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from callcenter.domain.access import Principal
from callcenter.domain.reports import (
    RISING_MINIMUM,
    AgentCounts,
    DepartmentAssessment,
    Indicator,
    Period,
    Rising,
    Slot,
    Table,
    center_indicators,
    quarter_hours,
    rank_departments,
    rising_topics,
)
from callcenter.domain.tickets import is_center
from callcenter.storage.reports import DayCalls, ReportQueries
from callcenter.storage.seats import SeatRepository

WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Assessment:
    period: Period
    start: datetime
    end: datetime
    as_of: datetime
    # the center's own figures: None for a department's view
    center: list[Indicator] | None
    departments: list[DepartmentAssessment]
    agents: list[AgentCounts] | None
    daily: list[DayCalls] | None


@dataclass(frozen=True, slots=True)
class HotIssues:
    period: Period
    start: datetime
    end: datetime
    as_of: datetime
    topics: list[tuple[str, str, int]]
    districts: list[tuple[str, int]]
    # the last 7 days of the period (or up to today) against the 7 before
    week_ending: date
    rising: list[Rising]
    minimum: int
    repeats: list[tuple[str, str, list[int]]]
    # per topic, tickets per day of the period (the trend lines)
    trend: dict[str, list[int]] = field(default_factory=dict)
    days: list[date] = field(default_factory=list)


class Reports:
    def __init__(self, queries: ReportQueries, seats: SeatRepository) -> None:
        self.queries = queries
        self.seats = seats

    def bounds(self, period: Period) -> tuple[datetime, datetime]:
        calendar = self.queries.calendar
        return calendar.midnight(period.first), calendar.midnight(period.following)

    async def assessment(
        self, period: Period, viewer: Principal, department: str | None = None
    ) -> Assessment:
        start, end = self.bounds(period)
        counts = await self.queries.departments(start, end, viewer, department)
        league = rank_departments(counts)
        center = agents = daily = None
        if is_center(viewer):
            center = center_indicators(await self.queries.center(start, end))
            agents = await self.queries.agents(start, end)
            daily = await self.queries.calls_by_day(start, end)
        return Assessment(period, start, end, self.queries.clock(), center, league, agents, daily)

    async def hot(
        self, period: Period, viewer: Principal, minimum: int = RISING_MINIMUM
    ) -> HotIssues:
        start, end = self.bounds(period)
        calendar = self.queries.calendar
        today = calendar.local_day(self.queries.clock())
        last_day = min(period.following - timedelta(days=1), today)
        # the week-over-week comparison may reach back before the period's first day
        window_start = min(start, calendar.midnight(last_day - 2 * WEEK + timedelta(days=1)))
        per_day = await self.queries.topic_days(window_start, end, viewer)
        this_week: dict[str, int] = defaultdict(int)
        last_week: dict[str, int] = defaultdict(int)
        days = period.days()
        index = {day: n for n, day in enumerate(days)}
        trend: dict[str, list[int]] = {}
        for day, topic, count in per_day:
            age = (last_day - day).days
            if 0 <= age < 7:
                this_week[topic] += count
            elif 7 <= age < 14:
                last_week[topic] += count
            if day in index:
                trend.setdefault(topic, [0] * len(days))[index[day]] += count
        return HotIssues(
            period=period,
            start=start,
            end=end,
            as_of=self.queries.clock(),
            topics=await self.queries.by_topic(start, end, viewer),
            districts=await self.queries.by_district(start, end, viewer),
            week_ending=last_day,
            rising=rising_topics(this_week, last_week, minimum),
            minimum=minimum,
            repeats=await self.queries.repeats(start, end, viewer),
            trend=trend,
            days=days,
        )

    async def intraday(self, day: date) -> tuple[datetime, list[Slot]]:
        calendar = self.queries.calendar
        start, end = calendar.midnight(day), calendar.midnight(day + timedelta(days=1))
        samples = await self.queries.queued_samples(start, end)
        transitions = await self.seats.transitions(start, end)
        calls = [(s.queued_at, s.answered, s.abandoned) for s in samples]
        return start, quarter_hours(calls, transitions, start, end)


# ---- tables for the exports --------------------------------------------------------------------

INDICATOR_HEADERS = ("指标", "分子", "分母", "比率", "标准", "是否达标", "定义(分子/分母)")
INDICATOR_KINDS = ("text", "int", "int", "percent", "text", "text", "text")


def _norm(indicator: Indicator) -> str:
    if indicator.norm is None:
        return ""
    return f"{'≥' if indicator.at_least else '≤'}{indicator.norm:.0%}"


def _met(indicator: Indicator) -> str:
    return {True: "达标", False: "未达标", None: "—"}[indicator.met]


def indicator_rows(indicators: list[Indicator]) -> list[list[object]]:
    return [
        [i.name, i.numerator, i.denominator, i.rate, _norm(i), _met(i), i.definition]
        for i in indicators
    ]


DEPARTMENT_HEADERS = (
    "排名",
    "单位代码",
    "承办单位",
    "收到工单",
    "按时签收",
    "按期办结",
    "退回",
    "延期",
    "超期",
    "督办",
    "重办",
    "回访到",
    "回访次数",
    "满意",
    "按时签收率",
    "按期办结率",
    "超期率",
    "满意率",
)
DEPARTMENT_KINDS = ("int", "text", "text", *("int",) * 11, *("percent",) * 4)


def department_rows(league: list[DepartmentAssessment]) -> list[list[object]]:
    rows: list[list[object]] = []
    for row in league:
        c = row.counts
        rows.append(
            [
                row.rank,
                c.department,
                c.name,
                c.received,
                c.signed_on_time,
                c.completed_on_time,
                c.returned,
                c.extended,
                c.overdue,
                c.supervised,
                c.redo,
                c.callback_reached,
                c.surveyed,
                c.satisfied,
                *(i.rate for i in row.indicators),
            ]
        )
    return rows


def assessment_tables(report: Assessment) -> list[Table]:
    tables = []
    if report.center is not None:
        tables.append(
            Table("中心考核指标", INDICATOR_HEADERS, indicator_rows(report.center), INDICATOR_KINDS)
        )
    tables.append(
        Table(
            "承办单位考核",
            DEPARTMENT_HEADERS,
            department_rows(report.departments),
            DEPARTMENT_KINDS,
        )
    )
    if report.agents is not None:
        tables.append(
            Table(
                "坐席绩效",
                (
                    "工号",
                    "姓名",
                    "接听量",
                    "平均处理时长(秒)",
                    "评价数",
                    "满意率",
                    "未接来电",
                    "示闲次数",
                    "示忙时长(秒)",
                ),
                [
                    [
                        a.agent_id,
                        a.name,
                        a.calls,
                        a.average_handle_time,
                        a.rated,
                        a.satisfaction_rate,
                        a.missed,
                        a.pauses,
                        a.pause_seconds,
                    ]
                    for a in report.agents
                ],
                ("text", "text", "int", "seconds", "int", "percent", "int", "int", "seconds"),
            )
        )
    if report.daily is not None:
        tables.append(
            Table(
                "每日话务",
                ("日期", "来电", "人工接听", "15秒内接听", "放弃", "人工接通率", "15秒接通率"),
                [
                    [
                        d.day.isoformat(),
                        d.counts.offered,
                        d.counts.answered,
                        d.counts.within_15s,
                        d.counts.abandoned,
                        d.counts.connect_rate,
                        d.counts.answer_15s_rate,
                    ]
                    for d in report.daily
                ],
                ("text", "int", "int", "int", "int", "percent", "percent"),
            )
        )
    return tables


def hot_tables(report: HotIssues, topic_names: dict[str, str]) -> list[Table]:
    def named(code: str) -> str:
        return topic_names.get(code, "") or code or "(未分类)"

    return [
        Table(
            "热点-按类别",
            ("类别代码", "类别", "工单数"),
            [[code, name or named(code), count] for code, name, count in report.topics],
            ("text", "text", "int"),
        ),
        Table(
            "热点-按区县",
            ("区县", "工单数"),
            [[district or "(未识别)", count] for district, count in report.districts],
            ("text", "int"),
        ),
        Table(
            "热点-周环比上升",
            ("类别代码", "类别", "本周", "上周", "增幅"),
            [[r.topic, named(r.topic), r.this_week, r.last_week, r.growth] for r in report.rising],
            ("text", "text", "int", "int", "percent"),
        ),
        Table(
            "热点-重复投诉",
            ("地址", "类别代码", "类别", "投诉次数", "工单ID"),
            [
                [key, code, named(code), len(ids), ",".join(map(str, ids))]
                for key, code, ids in report.repeats
            ],
            ("text", "text", "text", "int", "text"),
        ),
    ]
