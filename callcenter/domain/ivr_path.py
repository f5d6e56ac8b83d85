"""What a caller did in the IVR, as the agent's screen pop says it: the keys pressed, the
branches taken (named by the node's description, the part before " - "), a query code looked
up and what was found. The normal way through (no key at the greeting, a time rule, entering
the queue) says nothing: an agent reads the pop in the second before answering."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from callcenter.domain.flow_model import Node
from callcenter.domain.ivr import FlowStep

# a ticket looked up by query code (self_service): what the caller heard
LOOKUP_RESULTS = {
    "received": "已受理",
    "in_progress": "办理中",
    "replied": "已答复",
    "closed": "已办结",
    "not_found": "未查到",
    "failed": "查询失败",
    "no_code": "未输入查询码",
}


def branch_name(node: Node | None) -> str:
    """A node's name for people: its description up to " - " ("" when it has none)."""
    if node is None or not node.description:
        return ""
    return node.description.split(" - ", 1)[0].strip()


def _collects(node: Node | None) -> bool:
    return node is not None and node.type == "collect"


def _keyed(value: str) -> str:
    """What a collect step logged: only the length of a code ("8 digits"), never the code."""
    count = value.removesuffix(" digits")
    return f" {count} 位" if count != value and count.isdigit() else ""


def caller_path(steps: Sequence[FlowStep], node_of: Callable[[str, str], Node | None]) -> list[str]:
    """The steps worth telling, in order, a repeat of the previous one left out. ``node_of``
    finds a step's node in its flow (None for a flow or node no longer served)."""
    path: list[str] = []
    for step in steps:
        node = node_of(step.flow, step.node)
        said = ""
        if step.event == "entered":
            said = branch_name(node)
        elif step.event == "digits":
            said = f"输入{_keyed(step.value)}" if _collects(node) else f"按 {step.value}"
        elif step.event == "invalid":
            said = f"输入无效{_keyed(step.value)}" if _collects(node) else f"按键无效 {step.value}"
        elif step.event == "lookup":
            found = LOOKUP_RESULTS.get(step.value)
            if found is None and step.value.startswith("unknown:"):
                found = step.value.removeprefix("unknown:")
            said = f"查询工单：{found or step.value}"
        elif step.event == "recorded":
            said = "已留言"
        if said and (not path or path[-1] != said):
            path.append(said)
    return path
