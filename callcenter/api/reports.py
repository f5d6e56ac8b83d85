"""/reports: assessment (考核) by month or quarter, hot issues (热点), the day in quarter hours,
the tickets behind each number, and every report as an XLSX workbook or CSV."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import AliasPath, BaseModel, Field, model_validator

from callcenter.api.auth import allowed
from callcenter.api.deps import ReportsDep
from callcenter.api.report_files import CSV_TYPE, XLSX_TYPE, csv_text, workbook
from callcenter.api.types import FromDomain, SafeStr
from callcenter.domain.access import Permission, Principal
from callcenter.domain.errors import InvalidInput
from callcenter.domain.reports import (
    RISING_MINIMUM,
    DepartmentAssessment,
    Period,
    Table,
    parse_period,
)
from callcenter.services.reports import assessment_tables, hot_tables
from callcenter.storage.reports import TicketLine
from callcenter.storage.ticket_stats import measures

router = APIRouter(prefix="/reports", tags=["reports"])


def _counts(name: str) -> Any:
    return Field(validation_alias=AliasPath("counts", name))


PeriodQuery = Annotated[
    str, Query(max_length=7, description="a month YYYY-MM or a quarter YYYY-Qn")
]
Format = Annotated[Literal["json", "xlsx", "csv"], Query(alias="format")]
StatsReader = Annotated[Principal, Depends(allowed(Permission.READ_TICKET_STATS))]
MetricsReader = Annotated[Principal, Depends(allowed(Permission.READ_METRICS))]


Backend = ReportsDep
Department = Annotated[SafeStr | None, Query(max_length=64)]


def report_period(period: PeriodQuery) -> Period:
    """The month (YYYY-MM) or quarter (YYYY-Qn) a report covers."""
    return parse_period(period)


PeriodDep = Annotated[Period, Depends(report_period)]


class IndicatorOut(FromDomain):
    code: str
    name: str
    numerator: int
    denominator: int
    rate: float | None
    norm: float | None
    at_least: bool
    met: bool | None
    definition: str


class DepartmentOut(FromDomain):
    rank: int
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
    indicators: list[IndicatorOut]

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        # a department's counts sit beside its rank and indicators in the response
        if isinstance(data, DepartmentAssessment):
            return {**asdict(data.counts), "rank": data.rank, "indicators": data.indicators}
        return data


class AgentOut(FromDomain):
    agent_id: str
    name: str
    calls: int
    talk_seconds: float
    wrap_up_seconds: float
    average_handle_time_seconds: float | None = Field(validation_alias="average_handle_time")
    rated: int
    satisfaction_rate: float | None
    missed: int
    pauses: int
    pause_seconds: float


class DayOut(FromDomain):
    day: date
    offered: int = _counts("offered")
    answered: int = _counts("answered")
    within_15s: int = _counts("within_15s")
    abandoned: int = _counts("abandoned")
    connect_rate: float | None = _counts("connect_rate")
    answer_15s_rate: float | None = _counts("answer_15s_rate")


class AssessmentOut(FromDomain):
    period: str = Field(validation_alias=AliasPath("period", "label"))
    kind: str = Field(validation_alias=AliasPath("period", "kind"))
    start: datetime
    end: datetime
    as_of: datetime
    center: list[IndicatorOut] | None
    departments: list[DepartmentOut]
    agents: list[AgentOut] | None
    daily: list[DayOut] | None


class TicketLineOut(FromDomain):
    id: int
    number: str
    created_at: datetime
    category: str | None
    topic: str | None
    address: str
    status: str
    department: str | None


class TicketsOut(BaseModel):
    total: int
    items: list[TicketLineOut]


def _lines(lines: list[TicketLine]) -> TicketsOut:
    return TicketsOut(total=len(lines), items=[TicketLineOut.model_validate(t) for t in lines])


class TopicCount(BaseModel):
    topic: str
    name: str
    count: int


class DistrictCount(BaseModel):
    district: str
    count: int


class RisingOut(BaseModel):
    topic: str
    name: str
    this_week: int
    last_week: int
    growth: float | None


class RepeatOut(BaseModel):
    address: str
    topic: str
    count: int
    ticket_ids: list[int]


class HotOut(BaseModel):
    period: str
    start: datetime
    end: datetime
    as_of: datetime
    topics: list[TopicCount]
    districts: list[DistrictCount]
    week_ending: date
    minimum: int
    rising: list[RisingOut]
    repeats: list[RepeatOut]
    days: list[date]
    trend: dict[str, list[int]]


class SlotOut(BaseModel):
    start: datetime
    # the local time of day the quarter hour starts (HH:MM in the calendar's zone)
    label: str
    offered: int
    answered: int
    abandoned: int
    on_duty: int


class IntradayOut(BaseModel):
    day: date
    start: datetime
    slots: list[SlotOut]


def _file(tables: list[Table], fmt: str, name: str) -> Response:
    if fmt == "xlsx":
        return Response(
            workbook(tables),
            media_type=XLSX_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return Response(
        csv_text(tables),
        media_type=CSV_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/assessment", response_model=AssessmentOut)
async def assessment(
    viewer: StatsReader,
    reports: Backend,
    period: PeriodDep,
    department: Department = None,
    fmt: Format = "json",
) -> AssessmentOut | Response:
    """考核 for a month or quarter: each lead department's figures and rates ranked (a
    department sees its own row only); for the center also its own indicators against the
    norms, agent scorecards and the calls of each day."""
    report = await reports.assessment(period, viewer, department)
    if fmt != "json":
        return _file(assessment_tables(report), fmt, f"assessment-{report.period.label}")
    return AssessmentOut.model_validate(report)


@router.get("/assessment/tickets", response_model=TicketsOut)
async def assessment_tickets(
    viewer: StatsReader,
    reports: Backend,
    period: PeriodDep,
    measure: Annotated[SafeStr, Query(max_length=32, description="received, overdue, redo, ...")],
    department: Department = None,
) -> TicketsOut:
    """The tickets behind one department figure of the assessment."""
    if measure not in measures(reports.queries.clock()):
        raise InvalidInput(f"no figure {measure!r}")
    start, end = reports.bounds(period)
    lines = await reports.queries.department_tickets(start, end, viewer, department, measure)
    return _lines(lines)


@router.get("/hot", response_model=HotOut)
async def hot(
    viewer: StatsReader,
    reports: Backend,
    period: PeriodDep,
    minimum: Annotated[int, Query(ge=1, le=10_000)] = RISING_MINIMUM,
    fmt: Format = "json",
) -> HotOut | Response:
    """热点: tickets by topic and district, topics rising week over week (at least ``minimum``
    tickets in the latest week), repeated complaints about the same address and topic, and
    each topic's tickets per day. A department sees the tickets it was given."""
    report = await reports.hot(period, viewer, minimum)
    names = {code: name for code, name, _ in report.topics}
    if fmt != "json":
        return _file(hot_tables(report, names), fmt, f"hot-{report.period.label}")
    return HotOut(
        period=report.period.label,
        start=report.start,
        end=report.end,
        as_of=report.as_of,
        topics=[TopicCount(topic=c, name=n, count=k) for c, n, k in report.topics],
        districts=[DistrictCount(district=d, count=k) for d, k in report.districts],
        week_ending=report.week_ending,
        minimum=report.minimum,
        rising=[
            RisingOut(
                topic=r.topic,
                name=names.get(r.topic, ""),
                this_week=r.this_week,
                last_week=r.last_week,
                growth=r.growth,
            )
            for r in report.rising
        ],
        repeats=[
            RepeatOut(address=a, topic=t, count=len(ids), ticket_ids=ids)
            for a, t, ids in report.repeats
        ],
        days=report.days,
        trend=report.trend,
    )


@router.get("/hot/tickets", response_model=TicketsOut)
async def hot_tickets(
    viewer: StatsReader,
    reports: Backend,
    period: PeriodDep,
    topic: Annotated[SafeStr | None, Query(max_length=64)] = None,
    district: Annotated[SafeStr | None, Query(max_length=64)] = None,
    address: Annotated[
        SafeStr | None, Query(max_length=255, description="a repeat group's")
    ] = None,
) -> TicketsOut:
    """The tickets behind a hot-issue number: a topic, a district, or a repeat group
    (address and topic)."""
    start, end = reports.bounds(period)
    ids = None
    if address is not None:
        groups = await reports.queries.repeats(start, end, viewer)
        ids = next((found for a, t, found in groups if a == address and t == (topic or "")), [])
    lines = await reports.queries.hot_tickets(
        start, end, viewer, topic=topic, district=district, ids=ids
    )
    return _lines(lines)


@router.get("/intraday", response_model=IntradayOut)
async def intraday(
    _viewer: MetricsReader,
    reports: Backend,
    day: date,
    fmt: Format = "json",
) -> IntradayOut | Response:
    """A day in quarter hours: calls offered to agents, answered, abandoned, agents on duty."""
    start, slots = await reports.intraday(day)
    if fmt != "json":
        calendar = reports.queries.calendar
        table = Table(
            f"分时话务 {day.isoformat()}",
            ("时段", "呼入", "人工接听", "放弃", "在岗坐席"),
            [
                [
                    s.start.astimezone(calendar.tz).strftime("%H:%M"),
                    s.offered,
                    s.answered,
                    s.abandoned,
                    s.on_duty,
                ]
                for s in slots
            ],
            ("text", "int", "int", "int", "int"),
        )
        return _file([table], fmt, f"intraday-{day.isoformat()}")
    return IntradayOut(
        day=day,
        start=start,
        slots=[
            SlotOut(
                start=s.start,
                label=s.start.astimezone(reports.queries.calendar.tz).strftime("%H:%M"),
                offered=s.offered,
                answered=s.answered,
                abandoned=s.abandoned,
                on_duty=s.on_duty,
            )
            for s in slots
        ],
    )
