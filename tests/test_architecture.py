"""The house's walls, checked by walking the source: rooms import one way, Asterisk stays in
telephony/, and no module imports itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "callcenter"

# which rooms a room may import (callcenter.<room>); the composition root (app, cli, settings)
# may import anything
MAY_IMPORT: dict[str, set[str]] = {
    "domain": {"domain"},
    "telephony": {"domain", "telephony"},
    "storage": {"domain", "storage"},
    "speech": {"speech"},
    "services": {"domain", "telephony", "storage", "speech", "services"},
    "api": {"domain", "services", "storage", "api"},
    "web": {"domain", "api", "services", "web"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The callcenter modules a file imports, at any depth of the file (late imports count)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        out.update(name for name in names if name in modules)
    return out


def _foreign_imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


MODULES = _modules()
GRAPH = {name: _imports(path, MODULES) - {name} for name, path in MODULES.items()}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycle() -> None:
    # Tarjan's strongly connected components: any component of two or more modules is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            # a package's __init__ importing its own modules is no cycle of substance
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert cycles == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _room(m) in MAY_IMPORT))
def test_rooms_import_one_way(module: str) -> None:
    room = _room(module)
    wrong = sorted(m for m in GRAPH[module] if _room(m) and _room(m) not in MAY_IMPORT[room])
    assert wrong == [], f"{module} ({room}/) may import only {sorted(MAY_IMPORT[room])}"


def test_panoramisk_only_in_telephony() -> None:
    outside = sorted(
        name
        for name, path in MODULES.items()
        if _room(name) != "telephony" and "panoramisk" in _foreign_imports(path)
    )
    assert outside == []


def test_domain_does_no_io() -> None:
    """The domain gets parsed data: no file, socket or database library is imported there."""
    io = {"sqlalchemy", "asyncpg", "aiosqlite", "panoramisk", "fastapi", "aiohttp", "yaml"}
    offenders = {
        name: sorted(_foreign_imports(path) & io)
        for name, path in MODULES.items()
        if _room(name) == "domain" and _foreign_imports(path) & io
    }
    assert offenders == {}


# ---- Asterisk's vocabulary stays in telephony/ ----

# AMI event names (what Asterisk reports)
AMI_EVENTS = {
    "AgentCalled",
    "AgentComplete",
    "AgentConnect",
    "AgentRingNoAnswer",
    "AsyncAGIEnd",
    "AsyncAGIExec",
    "AsyncAGIStart",
    "BridgeCreate",
    "BridgeDestroy",
    "BridgeEnter",
    "BridgeLeave",
    "ChanSpyStart",
    "ChanSpyStop",
    "ContactStatus",
    "CoreShowChannel",
    "CoreShowChannelsComplete",
    "DeviceStateChange",
    "DialBegin",
    "DialEnd",
    "DialState",
    "DTMFBegin",
    "DTMFEnd",
    "FullyBooted",
    "Hangup",
    "HangupRequest",
    "MixMonitorStart",
    "MixMonitorStop",
    "MusicOnHoldStart",
    "MusicOnHoldStop",
    "NewCallerid",
    "Newchannel",
    "Newexten",
    "Newstate",
    "OriginateResponse",
    "PeerStatus",
    "QueueCallerAbandon",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "SoftHangupRequest",
    "VarSet",
}
# AMI actions and the fields of AMI messages
AMI_WORDS = {
    "Action",
    "ActionID",
    "CallerIDName",
    "CallerIDNum",
    "Cause-txt",
    "ChannelId",
    "ChannelState",
    "CoreShowChannels",
    "DBDel",
    "DBGet",
    "DBPut",
    "DestChannel",
    "DialStatus",
    "Event",
    "Linkedid",
    "Originate",
    "Reason",
    "Response",
    "Uniqueid",
    # Dial's statuses
    "CHANUNAVAIL",
    "NOANSWER",
}
# AGI commands, matched at the start of a string ("WAIT FOR DIGIT 5000")
AGI_COMMANDS = (
    "ANSWER",
    "CHANNEL STATUS",
    "CONTROL STREAM FILE",
    "DATABASE ",
    "EXEC",
    "GET DATA",
    "GET FULL VARIABLE",
    "GET OPTION",
    "GET VARIABLE",
    "HANGUP",
    "RECORD FILE",
    "SAY DIGITS",
    "SAY NUMBER",
    "SET MUSIC",
    "SET VARIABLE",
    "STREAM FILE",
    "WAIT FOR DIGIT",
)
# dialplan applications a script runs, and channel variables/functions (`${DIALSTATUS}`)
DIALPLAN_APPLICATIONS = {
    "ChanSpy",
    "ConfBridge",
    "Dial",
    "MixMonitor",
    "Playback",
    "StartMusicOnHold",
    "StopMusicOnHold",
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def asterisk_strings(source: str, filename: str = "<source>") -> list[str]:
    """`line: text` of every string in the source (docstrings aside) that speaks Asterisk's
    protocols: AMI event, action and field names, AGI commands, dialplan applications and
    `${...}` channel expressions."""
    tree = ast.parse(source, filename)
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in docstrings:
            continue
        text = node.value
        raw = (
            text in AMI_EVENTS
            or text in AMI_WORDS
            or text in DIALPLAN_APPLICATIONS
            or "${" in text
            or any(text == cmd or text.startswith(cmd + " ") for cmd in AGI_COMMANDS)
        )
        if raw:
            found.append(f"{node.lineno}: {text!r}")
    return found


def test_the_check_finds_asterisks_words_and_spares_prose() -> None:
    source = '''
"""A module that says Hangup and DialEnd in its docstring, which is fine."""
def handler(message, channel, timeout):
    """Reads the Newchannel event."""
    if message.get("Event") == "Newchannel":
        reason = message.get("Reason")
    name = "OriginateResponse"
    key = message["Uniqueid"]
    command = f"WAIT FOR DIGIT {timeout}"
    other = "STREAM FILE " + channel
    ok = "ANSWER"
    app = ("Dial", "PJSIP/agent")
    expression = "${DIALSTATUS}"
    fine = ("waiting for a digit", "hang up", "Answered", "Dialled", "events")
'''
    found = asterisk_strings(source)
    texts = sorted(line.split(": ", 1)[1] for line in found)
    assert texts == sorted(
        [
            "'Event'",
            "'Newchannel'",
            "'Reason'",
            "'OriginateResponse'",
            "'Uniqueid'",
            "'WAIT FOR DIGIT '",
            "'STREAM FILE '",
            "'ANSWER'",
            "'Dial'",
            "'${DIALSTATUS}'",
        ]
    )


def test_asterisks_words_only_in_telephony() -> None:
    """No AMI event, action or field name, AGI command, dialplan application or channel
    expression outside telephony/: the rest of the engine speaks in typed events and the
    call-control interface."""
    outside = {
        name: found
        for name, path in MODULES.items()
        if _room(name) != "telephony"
        and (found := asterisk_strings(path.read_text(encoding="utf-8"), str(path)))
    }
    assert outside == {}
