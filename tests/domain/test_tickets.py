"""The ticket state machine: transitions, who may take them, deadlines, SLA colour, visibility."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import Forbidden, IllegalTransition, InvalidInput
from callcenter.domain.ticket_workflow import TicketWorkflow
from callcenter.domain.tickets import (
    Action,
    CallbackResult,
    Category,
    Change,
    ExtensionOutcome,
    Handling,
    SlaColour,
    Source,
    Status,
    Ticket,
    TicketDetails,
    TicketPolicy,
    caller_hidden,
    mask_phone,
    sla_colour,
    visible_to,
)
from callcenter.storage.calendar_files import DEFAULT_CALENDAR_DIR, load_calendar

CN = ZoneInfo("Asia/Shanghai")
AGENT = Principal(1, "agent-07", Role.AGENT, "7")
SUPERVISOR = Principal(2, "supervisor", Role.SUPERVISOR)
HOUSING = Principal(3, "housing-desk", Role.DEPARTMENT, "housing")
EAST = Principal(4, "east-desk", Role.DEPARTMENT, "district.east")
WATER = Principal(5, "water-desk", Role.DEPARTMENT, "water")
COMPLAINT = TicketDetails(
    caller_name="王女士",
    caller_phone="13812345678",
    address="东城区幸福路12号",
    category=Category.COMPLAINT,
    content="小区楼下烧烤店油烟扰民，晚上十点后仍在营业",
)


def local(m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=CN)


@pytest.fixture(scope="module")
def flow() -> TicketWorkflow:
    return TicketWorkflow(load_calendar(DEFAULT_CALENDAR_DIR), TicketPolicy())


def created(
    flow: TicketWorkflow, details: TicketDetails = COMPLAINT, at: datetime | None = None
) -> Ticket:
    change = flow.create(
        number="20260213-0001",
        query_code="123456",
        source=Source.CALL,
        details=details,
        actor=AGENT,
        now=at or local(2, 13, 10),
    )
    return replace(change.ticket, id=1)


def dispatched(flow: TicketWorkflow, at: datetime | None = None) -> Ticket:
    at = at or local(2, 13, 10, 5)
    ticket = created(flow, at=at)
    return flow.dispatch(ticket, "housing", ["district.east"], AGENT, at).ticket


def test_full_lifecycle_with_deadlines_and_history(flow: TicketWorkflow) -> None:
    change = flow.create(
        number="20260213-0001",
        query_code="123456",
        source=Source.CALL,
        details=COMPLAINT,
        actor=AGENT,
        now=local(2, 13, 10),
    )
    ticket, trail = change.ticket, [change.entry]
    assert ticket.status is Status.PENDING and trail[0].action is Action.CREATED

    def step(c: Change) -> Ticket:
        trail.append(c.entry)
        return c.ticket

    ticket = step(flow.dispatch(ticket, "housing", ["district.east"], AGENT, local(2, 13, 10, 5)))
    assert ticket.status is Status.DISPATCHED and ticket.handling is Handling.DISPATCHED
    assert ticket.departments == ["housing", "district.east"]
    assert ticket.sign_due_at == local(2, 15)  # the worked Saturday 14 February
    assert ticket.due_at == local(3, 13)  # 15 working days across the Spring Festival
    assert ticket.return_due_at == local(2, 14, 10, 5)  # 24 working hours
    ticket = step(flow.sign(ticket, HOUSING, local(2, 14, 9, 30)))
    assert ticket.status is Status.IN_PROGRESS and trail[-1].details["on_time"] is True
    ticket = step(
        flow.request_extension(ticket, 5, "需协调城管联合执法", HOUSING, local(2, 24, 10))
    )
    assert ticket.status is Status.EXTENSION_REQUESTED
    ticket = step(flow.decide_extension(ticket, True, SUPERVISOR, local(2, 24, 15)))
    assert ticket.status is Status.IN_PROGRESS and ticket.due_at == local(3, 20)
    lead = ticket.lead
    assert lead is not None and lead.extended_days == 5 and lead.due_at == local(3, 20)
    assert ticket.extensions[0].outcome is ExtensionOutcome.APPROVED
    ticket = step(flow.reply(ticket, "已责令整改，加装油烟净化器", HOUSING, local(3, 16, 11)))
    assert ticket.status is Status.REPLIED
    ticket = step(flow.review(ticket, True, SUPERVISOR, local(3, 16, 15)))
    assert ticket.status is Status.AWAITING_CALLBACK
    assert ticket.lead is not None and ticket.lead.completed_at == local(3, 16, 11)
    ticket = step(
        flow.record_callback(
            ticket, CallbackResult.DISSATISFIED, "仍有油烟", AGENT, local(3, 17, 10)
        )
    )
    # 重办: a new round with its own deadlines, across the Qingming holiday (4-6 April)
    assert ticket.status is Status.DISPATCHED and ticket.redo_count == 1
    assert ticket.due_at == local(4, 9) and ticket.signed_at is None
    assert ticket.return_due_at is None  # a redo cannot be returned
    lead = ticket.lead
    assert lead is not None and lead.redo_count == 1
    assert lead.due_at == local(3, 20)  # "on time" is judged on the first round
    ticket = step(flow.sign(ticket, HOUSING, local(3, 17, 14)))
    ticket = step(flow.reply(ticket, "店铺已停业整顿", HOUSING, local(3, 25, 9)))
    ticket = step(flow.review(ticket, True, SUPERVISOR, local(3, 25, 10)))
    assert ticket.lead is not None and ticket.lead.completed_at == local(3, 16, 11)
    ticket = step(
        flow.record_callback(ticket, CallbackResult.SATISFIED, "", AGENT, local(3, 26, 10))
    )
    assert ticket.status is Status.RESOLVED and ticket.satisfaction is CallbackResult.SATISFIED
    ticket = step(flow.archive(ticket, SUPERVISOR, local(3, 27, 9)))
    assert ticket.status is Status.ARCHIVED and ticket.archived_at == local(3, 27, 9)
    assert [e.action for e in trail] == [
        Action.CREATED,
        Action.DISPATCHED,
        Action.SIGNED,
        Action.EXTENSION_REQUESTED,
        Action.EXTENSION_APPROVED,
        Action.REPLIED,
        Action.REPLY_APPROVED,
        Action.REDO,
        Action.SIGNED,
        Action.REPLIED,
        Action.REPLY_APPROVED,
        Action.CALLBACK,
        Action.ARCHIVED,
    ]
    assert [e.to_status for e in trail][-1] is Status.ARCHIVED
    assert all(a.to_status == b.from_status for a, b in pairwise(trail))
    assert {e.actor for e in trail} == {"agent-07", "supervisor", "housing-desk"}
    assert [c.result for c in ticket.callbacks] == [
        CallbackResult.DISSATISFIED,
        CallbackResult.SATISFIED,
    ]


@pytest.mark.parametrize(
    ("status", "verb"),
    [
        (Status.PENDING, "sign"),
        (Status.PENDING, "reply"),
        (Status.DISPATCHED, "reply"),
        (Status.DISPATCHED, "dispatch"),
        (Status.IN_PROGRESS, "archive"),
        (Status.IN_PROGRESS, "review"),
        (Status.IN_PROGRESS, "callback"),
        (Status.IN_PROGRESS, "decide"),
        (Status.DISPATCHED, "extension"),
    ],
)
def test_illegal_transitions_are_refused(flow: TicketWorkflow, status: Status, verb: str) -> None:
    ticket = created(flow) if status is Status.PENDING else dispatched(flow)
    if status is Status.IN_PROGRESS:
        ticket = flow.sign(ticket, HOUSING, local(2, 14, 9)).ticket
    now = local(2, 14, 10)
    steps = {
        "sign": lambda: flow.sign(ticket, HOUSING, now),
        "reply": lambda: flow.reply(ticket, "done", HOUSING, now),
        "dispatch": lambda: flow.dispatch(ticket, "water", [], AGENT, now),
        "archive": lambda: flow.archive(ticket, SUPERVISOR, now, "x"),
        "review": lambda: flow.review(ticket, True, SUPERVISOR, now),
        "callback": lambda: flow.record_callback(ticket, CallbackResult.SATISFIED, "", AGENT, now),
        "decide": lambda: flow.decide_extension(ticket, True, SUPERVISOR, now),
        "extension": lambda: flow.request_extension(ticket, 3, "why", HOUSING, now),
    }
    if status is Status.PENDING and verb in ("sign", "reply"):
        # nobody leads a ticket that was never dispatched
        with pytest.raises(Forbidden, match="not dispatched to your department"):
            steps[verb]()
        return
    with pytest.raises(IllegalTransition) as err:
        steps[verb]()
    assert f"it is {status.value}" in err.value.message
    assert ticket.number in err.value.message


def test_only_the_lead_department_handles(flow: TicketWorkflow) -> None:
    ticket = dispatched(flow)
    now = local(2, 14, 9)
    with pytest.raises(Forbidden, match="only the lead department may sign"):
        flow.sign(ticket, EAST, now)  # co-handling
    with pytest.raises(Forbidden, match="not dispatched to your department"):
        flow.sign(ticket, WATER, now)
    with pytest.raises(Forbidden, match="lead department's handler"):
        flow.sign(ticket, SUPERVISOR, now)
    with pytest.raises(Forbidden, match="only the hotline center"):
        flow.dispatch(created(flow), "housing", [], HOUSING, now)
    # a co-handling department gives its opinion as a note
    noted = flow.note(ticket, "已配合现场核查", EAST, now)
    assert noted.ticket == ticket and noted.entry.action is Action.NOTE
    with pytest.raises(Forbidden):
        flow.note(ticket, "?", WATER, now)
    with pytest.raises(InvalidInput, match="both lead and co-handling"):
        flow.dispatch(created(flow), "housing", ["housing"], AGENT, now)


def test_return_within_the_window_goes_back_to_the_center(flow: TicketWorkflow) -> None:
    ticket = dispatched(flow, at=local(2, 13, 17))
    # 24 working hours: 7 on Friday, 17 on the worked Saturday
    assert ticket.return_due_at == local(2, 14, 17)
    with pytest.raises(InvalidInput, match="reason"):
        flow.give_back(ticket, "  ", HOUSING, local(2, 14, 9))
    late = flow.sign(ticket, HOUSING, local(2, 14, 9)).ticket
    with pytest.raises(IllegalTransition, match="window closed"):
        flow.give_back(late, "不属于本单位职责", HOUSING, local(2, 14, 17))
    back = flow.give_back(ticket, "属供水公司职责", HOUSING, local(2, 14, 16, 59))
    returned = back.ticket
    assert returned.status is Status.RETURNED and returned.due_at is None
    assert returned.lead is None and returned.departments == []
    assert [a.returned_at for a in returned.assignments] == [local(2, 14, 16, 59), None]
    assert all(a.ended_at == local(2, 14, 16, 59) for a in returned.assignments)
    assert not visible_to(returned, HOUSING)
    again = flow.dispatch(returned, "water", [], AGENT, local(2, 24, 9)).ticket
    assert again.lead is not None and again.lead.department == "water"
    assert len(again.assignments) == 3  # history kept
    assert again.due_at == local(3, 17)  # a fresh 15 days for the right department


def test_extension_rules(flow: TicketWorkflow) -> None:
    ticket = flow.sign(dispatched(flow), HOUSING, local(2, 14, 9)).ticket
    with pytest.raises(InvalidInput, match="1 to 15 working days"):
        flow.request_extension(ticket, 16, "long", HOUSING, local(2, 24, 9))
    with pytest.raises(IllegalTransition, match="already overdue"):
        flow.request_extension(ticket, 5, "late", HOUSING, local(3, 13))
    asked = flow.request_extension(ticket, 5, "need time", HOUSING, local(3, 12, 9)).ticket
    refused = flow.decide_extension(asked, False, SUPERVISOR, local(3, 12, 10), note="no").ticket
    assert refused.due_at == ticket.due_at and refused.status is Status.IN_PROGRESS
    assert refused.extensions[0].outcome is ExtensionOutcome.REFUSED
    asked = flow.request_extension(refused, 5, "again", HOUSING, local(3, 12, 11)).ticket
    assert asked.pending_extension is not None
    # replying while a request is pending withdraws it
    replied = flow.reply(asked, "done", HOUSING, local(3, 12, 12)).ticket
    assert replied.status is Status.REPLIED and replied.pending_extension is None
    assert replied.extensions[1].outcome is ExtensionOutcome.WITHDRAWN
    # a partial grant
    asked = flow.request_extension(ticket, 10, "big job", HOUSING, local(2, 24, 9)).ticket
    granted = flow.decide_extension(asked, True, SUPERVISOR, local(2, 24, 10), days=2).ticket
    assert granted.due_at == local(3, 17) and granted.extensions[-1].granted_days == 2


def test_review_send_back_and_archive_rules(flow: TicketWorkflow) -> None:
    ticket = flow.sign(dispatched(flow), HOUSING, local(2, 14, 9)).ticket
    ticket = flow.reply(ticket, "done", HOUSING, local(2, 24, 9)).ticket
    with pytest.raises(InvalidInput, match="reason for sending the reply back"):
        flow.review(ticket, False, SUPERVISOR, local(2, 24, 10))
    back = flow.review(ticket, False, SUPERVISOR, local(2, 24, 10), "未答复诉求").ticket
    assert back.status is Status.IN_PROGRESS and back.rework_count == 1
    ticket = flow.reply(back, "已答复", HOUSING, local(2, 25, 9)).ticket
    ticket = flow.review(ticket, True, SUPERVISOR, local(2, 25, 10)).ticket
    with pytest.raises(InvalidInput, match="without a callback"):
        flow.archive(ticket, SUPERVISOR, local(2, 26))
    archived = flow.archive(ticket, SUPERVISOR, local(2, 26), "三次联系不上市民").ticket
    assert archived.status is Status.ARCHIVED
    with pytest.raises(IllegalTransition):
        flow.archive(archived, SUPERVISOR, local(2, 27), "again")


def test_direct_answers_and_refusals(flow: TicketWorkflow) -> None:
    consultation = replace(COMPLAINT, category=Category.CONSULTATION, content="社保卡怎么补办")
    ticket = created(flow, consultation)
    answered = flow.answer(ticket, "携带身份证到社保大厅办理", AGENT, local(2, 13, 10)).ticket
    assert answered.status is Status.AWAITING_CALLBACK and answered.handling is Handling.DIRECT
    # not solved after all: the center takes it up again and may dispatch it
    redo = flow.record_callback(
        answered, CallbackResult.DISSATISFIED, "大厅说不能办", AGENT, local(2, 24, 9)
    ).ticket
    assert redo.status is Status.PENDING and redo.redo_count == 1 and redo.handling is None
    assert flow.dispatch(redo, "housing", [], AGENT, local(2, 24, 10)).ticket.due_at == local(3, 3)
    refused = flow.not_accept(created(flow), "属110警情，已告知报警", AGENT, local(2, 13, 10))
    assert refused.ticket.status is Status.NOT_ACCEPTED
    assert refused.ticket.resolution == "属110警情，已告知报警"
    assert flow.archive(refused.ticket, SUPERVISOR, local(2, 14)).ticket.status is Status.ARCHIVED


def test_drafts_and_edits(flow: TicketWorkflow) -> None:
    with pytest.raises(InvalidInput, match="category"):
        flow.create(
            number="n",
            query_code="1",
            source=Source.VOICEMAIL,
            details=TicketDetails(content="留言"),
            actor=AGENT,
            now=local(2, 13),
        )
    draft = flow.create(
        number="n",
        query_code="1",
        source=Source.VOICEMAIL,
        details=TicketDetails(content="留言：路灯不亮"),
        actor=AGENT,
        now=local(2, 13),
        recording="voicemail/1.wav",
        draft=True,
    ).ticket
    assert draft.status is Status.DRAFT
    with pytest.raises(InvalidInput, match="complete category"):
        flow.register(draft, AGENT, local(2, 13, 9))
    edited = flow.edit(
        draft, replace(draft.details, category=Category.HELP), AGENT, local(2, 13, 9)
    )
    assert edited.entry.details["changed"] == {"category": [None, "help"]}
    assert flow.register(edited.ticket, AGENT, local(2, 13, 9)).ticket.status is Status.PENDING
    with pytest.raises(InvalidInput, match="nothing to change"):
        flow.edit(edited.ticket, edited.ticket.details, AGENT, local(2, 13, 9))
    with pytest.raises(IllegalTransition):
        flow.edit(dispatched(flow), COMPLAINT, AGENT, local(2, 14))


def test_sla_colour_follows_working_time(flow: TicketWorkflow) -> None:
    consultation = replace(COMPLAINT, category=Category.CONSULTATION)
    ticket = flow.dispatch(
        created(flow, consultation, local(3, 2, 9)), "housing", [], AGENT, local(3, 2, 9)
    ).ticket
    # due at the end of Monday 9 March: 135 working hours; yellow once 80% (108 h) have passed
    assert ticket.due_at == local(3, 10)
    assert ticket.warn_at == local(3, 6, 21)
    assert sla_colour(ticket, local(3, 6, 20, 59)) is SlaColour.GREEN
    assert sla_colour(ticket, local(3, 6, 21)) is SlaColour.YELLOW
    assert sla_colour(ticket, local(3, 9, 23, 59)) is SlaColour.YELLOW
    assert sla_colour(ticket, local(3, 10)) is SlaColour.RED
    # the colour belongs to the department's hands: none once replied or before dispatch
    assert sla_colour(created(flow), local(3, 10)) is None
    strict = TicketWorkflow(flow.calendar, TicketPolicy(warn_share=0.5, limits={"consultation": 2}))
    quick = strict.dispatch(
        created(flow, consultation, local(3, 2, 9)), "housing", [], AGENT, local(3, 2, 9)
    ).ticket
    assert quick.due_at == local(3, 5)  # Tue 3 and Wed 4
    assert quick.warn_at == local(3, 3, 16, 30)  # half of 63 working hours: 15 + 16.5


def test_policy_fills_unnamed_categories() -> None:
    policy = TicketPolicy.model_validate({"limits": {"help": 3}})
    assert policy.limit(Category.HELP) == 3 and policy.limit(Category.REPORT) == 30
    assert TicketPolicy().limit(Category.CONSULTATION) == 5
    assert TicketPolicy().limit(Category.COMPLAINT) == 15
    assert TicketPolicy().limit(Category.SUGGESTION) == 15
    with pytest.raises(ValueError):
        TicketPolicy.model_validate({"limits": {"help": 0}})
    with pytest.raises(ValueError):
        TicketPolicy.model_validate({"warn_share": 1.5})


def test_who_sees_what(flow: TicketWorkflow) -> None:
    ticket = dispatched(flow)
    assert visible_to(ticket, AGENT) and visible_to(ticket, SUPERVISOR)
    assert visible_to(ticket, HOUSING) and visible_to(ticket, EAST)
    assert not visible_to(ticket, WATER)
    assert not visible_to(ticket, Principal(9, "no-subject", Role.DEPARTMENT))
    assert not caller_hidden(ticket, HOUSING)
    report = replace(ticket, details=replace(ticket.details, category=Category.REPORT))
    secret = replace(ticket, details=replace(ticket.details, confidential=True))
    for hidden in (report, secret):
        assert caller_hidden(hidden, HOUSING) and not caller_hidden(hidden, AGENT)
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("02162345678") == "021****5678"
    assert mask_phone("12345") == "*****"


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),  # mobile
        ("02162345678", "021****5678"),  # landline, 3-digit area code + 8 digits
        ("021-62345678", "021****5678"),  # the same, written with a dash
        ("057112345678", "057*****5678"),  # 4-digit area code + 8 digits
        ("07551234567", "075****4567"),  # 4-digit area code + 7 digits
        ("62345678", "****5678"),  # 8-digit local number: showed 7 digits
        ("6234567", "****567"),  # 7-digit local number: was shown unmasked
        ("123456789", "1****6789"),
        ("+8613812345678", "+86*******5678"),  # international
        ("008613812345678", "008********5678"),
        ("12345", "*****"),  # a service number
        ("110", "***"),
        ("", ""),
    ],
)
def test_one_masking_rule_hides_at_least_four_digits_of_any_number(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked
    shown = [c for c in masked if c != "*"]
    assert masked.count("*") >= min(4, len(masked))
    assert len(shown) <= 7


def test_deadlines_are_computed_in_the_hotline_zone(flow: TicketWorkflow) -> None:
    # 23:30 UTC on Thursday is Friday morning in Beijing
    at = datetime(2026, 2, 12, 23, 30, tzinfo=ZoneInfo("UTC"))
    ticket = flow.dispatch(created(flow, at=at), "housing", [], AGENT, at).ticket
    assert ticket.due_at == local(3, 13)
    assert ticket.sign_due_at is not None and ticket.sign_due_at - at > timedelta(hours=24)
