"""The screen pop's IVR path: the main flow's real steps told as an agent reads them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from callcenter.domain.flow_model import Flow, Node
from callcenter.domain.ivr import DigitsPressed, FlowStep, IvrTurn, LookupResult
from callcenter.domain.ivr_path import branch_name, caller_path
from tests.domain.test_ivr import MONDAY_10, runner, shipped


def nodes(flow: Flow) -> Callable[[str, str], Node | None]:
    def node_of(name: str, node: str) -> Node | None:
        return flow.nodes.get(node) if name == flow.name else None

    return node_of


def steps(*turns: IvrTurn) -> list[FlowStep]:
    return [s for turn in turns for s in turn.steps]


def test_a_caller_who_pressed_nothing_has_no_path_to_tell() -> None:
    ivr = runner("main")
    started = ivr.start(MONDAY_10)
    queued = ivr.advance(started.state, DigitsPressed(MONDAY_10, ""))
    assert caller_path(steps(started, queued), nodes(shipped("main"))) == []


def test_keys_and_branches_named_by_the_flows_descriptions() -> None:
    ivr = runner("main")
    started = ivr.start(MONDAY_10)
    elderly = ivr.advance(started.state, DigitsPressed(MONDAY_10, "2"))
    assert caller_path(steps(started, elderly), nodes(shipped("main"))) == [
        "按 2",
        "老年人优先",
    ]


def test_a_query_code_lookup_tells_what_was_found_never_the_code() -> None:
    ivr = runner("main")
    started = ivr.start(MONDAY_10)
    pressed = ivr.advance(started.state, DigitsPressed(MONDAY_10, "1"))
    asked = ivr.advance(pressed.state, DigitsPressed(MONDAY_10, "20260302#"))
    told = ivr.advance(asked.state, LookupResult(MONDAY_10, status="in_progress"))
    path = caller_path(steps(started, pressed, asked, told), nodes(shipped("main")))
    assert path == ["按 1", "工单办理进度查询", "输入 8 位", "查询工单：办理中"]
    assert "20260302" not in "".join(path)


def test_a_flow_no_longer_served_still_shows_keys() -> None:
    step = FlowStep(datetime(2026, 3, 2, 10), "gone", "menu", "digits", "3")
    assert caller_path([step, step], lambda _f, _n: None) == ["按 3"]
    assert branch_name(None) == ""
