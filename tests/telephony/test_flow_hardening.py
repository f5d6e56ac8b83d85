"""Whatever an operator's flow file holds, loading it answers file:line lines, never a traceback,
reads only regular files of the flows folder, and takes time linear in the number of nodes."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from callcenter.app import Application
from callcenter.domain.errors import InvalidFlows
from callcenter.domain.flow_model import PromptCatalogue
from callcenter.domain.flow_validation import _loops
from callcenter.domain.flows import MAX_FLOW_NODES
from callcenter.settings import load_settings
from callcenter.telephony import flow_yaml
from callcenter.telephony.flow_registry import FlowRegistry, check_directory
from callcenter.telephony.flow_yaml import MAX_FLOW_BYTES, load_catalogue, load_flow

REPO = Path(__file__).resolve().parents[2]
GOOD = """\
languages: [zh]
start: greeting
nodes:
  greeting:
    type: play
    prompts: [welcome]
    next: to_agent
  to_agent:
    type: queue
"""


def catalogue() -> PromptCatalogue:
    text = (REPO / "ivr_flows" / "prompts.yaml").read_text()
    loaded = load_catalogue(text, "prompts.yaml")
    assert loaded.value is not None
    return loaded.value


def problems_of(text: str) -> list[str]:
    result = load_flow(text, "f.yaml", "f", catalogue(), "prompts.yaml")
    assert result.value is None
    return [str(p) for p in result.problems]


def chain(n: int) -> str:
    """A flow of n nodes, each playing a prompt and going on to the next, ending in a queue."""
    lines = ["languages: [zh]", "start: n0", "nodes:"]
    for i in range(n - 1):
        lines += [f"  n{i}:", "    type: play", "    prompts: [welcome]", f"    next: n{i + 1}"]
    lines += [f"  n{n - 1}:", "    type: queue"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (GOOD + "# a bell \x07 here\n", 10, "control character U+0007"),
        (GOOD + "# a raw \x00 here\n", 10, "control character U+0000"),
        (GOOD.replace("  greeting:", '  "gree\\0ting":'), 4, "control character U+0000"),
        (GOOD.replace("start: greeting", 'start: "a\\x1bb"'), 2, "control character U+001B"),
        (GOOD + "x: " + "9" * 4400 + "\n", 10, "4400 digits is too large"),
        (GOOD + "x: " + "[" * 5000 + "]" * 5000 + "\n", 10, "nested more than"),
        (GOOD + "x: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", 10, "nested more than"),
        (GOOD + "x: 1e400\ny: -99999999999999999999\n", 11, "20 digits is too large"),
    ],
)
def test_malformed_input_is_a_line_numbered_problem(text: str, line: int, words: str) -> None:
    found = problems_of(text)
    assert len(found) == 1, found
    assert found[0].startswith(f"f.yaml:{line}: ") and words in found[0], found


def test_a_flow_has_a_size_and_a_node_ceiling() -> None:
    found = problems_of(chain(MAX_FLOW_NODES + 1))
    assert found == [f"f.yaml:3: {MAX_FLOW_NODES + 1} nodes: a flow may have at most 10000"]
    found = problems_of(GOOD + "# " + "x" * MAX_FLOW_BYTES + "\n")
    assert found == [f"f.yaml:1: the file is larger than {MAX_FLOW_BYTES} bytes"]


def test_the_largest_flow_allowed_is_checked_in_linear_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text, prompts = chain(MAX_FLOW_NODES), catalogue()
    parsed = flow_yaml.parse_yaml(text, "f.yaml")
    # YAML parsing is linear and timed by `make bench`; this times the checks of the graph
    monkeypatch.setattr(flow_yaml, "parse_yaml", lambda _text, _source: parsed)
    started = time.perf_counter()
    result = load_flow(text, "f.yaml", "f", prompts, "prompts.yaml")
    assert result.ok, result.problems[:3]
    # the quadratic checks took 23 s for 8,000 nodes on this kind of machine; now well under 1 s
    assert time.perf_counter() - started < 10


def test_loops_are_found_in_one_pass() -> None:
    n = 50_000
    edges = {f"n{i}": [f"n{i + 1}"] for i in range(n - 1)} | {f"n{n - 1}": ["n0"]}
    started = time.perf_counter()
    assert [len(part) for part in _loops(edges, edges)] == [n]
    assert time.perf_counter() - started < 5
    # two loops and a self-loop, reported in file order with members in file order
    edges = {"a": ["b"], "b": ["a", "c"], "c": ["c"], "d": ["e"], "e": ["d"], "f": []}
    assert _loops(edges, edges) == [["a", "b"], ["c"], ["d", "e"]]


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    shutil.copy(REPO / "ivr_flows" / "prompts.yaml", folder / "prompts.yaml")
    (folder / "good.yaml").write_text(GOOD)
    return folder


def test_links_out_of_the_folder_are_refused(flows: Path, tmp_path: Path) -> None:
    (flows / "passwd.yaml").symlink_to("/etc/passwd")
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(GOOD)
    (flows / "linked.yaml").symlink_to(outside)
    (flows / "big.yaml").write_text(GOOD + "# " + "x" * MAX_FLOW_BYTES + "\n")
    loaded, problems = check_directory(flows)
    assert sorted(loaded) == ["good"]
    assert sorted(map(str, problems)) == [
        f"{flows}/big.yaml:1: the file is larger than {MAX_FLOW_BYTES} bytes",
        f"{flows}/linked.yaml:1: a flow file must be a regular file, not a link",
        f"{flows}/passwd.yaml:1: a flow file must be a regular file, not a link",
    ]
    registry = FlowRegistry(flows)
    result = registry.load()
    assert registry.names() == ["good"] and len(result.problems) == 3


async def test_the_watcher_validates_off_the_event_loop() -> None:
    threads: list[threading.Thread] = []
    called = asyncio.Event()
    loop = asyncio.get_running_loop()

    def reload_changed() -> None:
        threads.append(threading.current_thread())
        loop.call_soon_threadsafe(called.set)

    fake = SimpleNamespace(
        settings=SimpleNamespace(flow_reload_seconds=0.01),
        flows=SimpleNamespace(reload_changed=reload_changed),
    )
    watch = asyncio.create_task(Application._watch_flows(fake))  # type: ignore[arg-type]
    await asyncio.wait_for(called.wait(), timeout=10)
    watch.cancel()
    assert threads[0] is not threading.main_thread()


async def test_a_broken_flow_stops_start_up_with_its_lines(flows: Path, tmp_path: Path) -> None:
    (flows / "broken.yaml").write_text(GOOD.replace("next: to_agent", "next: to_agnet"))
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3",
        ami_secret="not-used-in-this-test",
        run_dir=tmp_path / "run",
        flows_dir=flows,
        flow="good",
    )
    app = Application(settings)
    with pytest.raises(InvalidFlows) as stopped:
        await app.start()
    assert stopped.value.message == (
        f"{flows}/broken.yaml:7: node 'greeting': next goes to unknown node 'to_agnet'"
        " (did you mean 'to_agent'?)"
    )
    await app.db.dispose()
