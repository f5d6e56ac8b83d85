"""Flow files reload while the engine runs; a bad file never replaces a good running flow."""

from __future__ import annotations

import logging
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from callcenter.domain.errors import NotFound
from callcenter.domain.flow_model import QueueNode
from callcenter.domain.ivr import Play
from callcenter.telephony.flow_registry import FlowRegistry, check_directory

REPO = Path(__file__).resolve().parents[2]
SIMPLE = """\
languages: [zh, en]
start: to_agent
nodes:
  to_agent:
    type: queue
    prompts: [connecting_agent]
    priority: {priority}
"""


class Weekdays:
    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    shutil.copy(REPO / "ivr_flows" / "prompts.yaml", tmp_path / "prompts.yaml")
    (tmp_path / "simple.yaml").write_text(SIMPLE.format(priority=1))
    return tmp_path


def priority(registry: FlowRegistry) -> int:
    node = registry.get("simple").nodes["to_agent"]
    assert isinstance(node, QueueNode)
    return node.priority


def test_loads_the_shipped_directory() -> None:
    registry = FlowRegistry(REPO / "ivr_flows")
    result = registry.load()
    assert result.problems == ()
    assert sorted(result.loaded) == ["after_hours", "holiday", "main"]
    assert registry.names() == ["after_hours", "holiday", "main"]
    turn = registry.runner("main", Weekdays()).start(datetime(2026, 3, 2, 10, 0))
    assert isinstance(turn.actions[0], Play)
    assert registry.reload_changed().loaded == ()  # nothing changed


def test_valid_edit_takes_effect(flows: Path) -> None:
    registry = FlowRegistry(flows)
    registry.load()
    before = registry.version("simple")
    old_runner = registry.runner("simple", Weekdays())
    (flows / "simple.yaml").write_text(SIMPLE.format(priority=7))
    result = registry.reload_changed()
    assert result.loaded == ("simple",)
    assert priority(registry) == 7
    assert registry.version("simple") != before
    # a call that started before the edit keeps its version to the end
    node = old_runner.flow.nodes["to_agent"]
    assert isinstance(node, QueueNode) and node.priority == 1


def test_invalid_replacement_keeps_the_previous_version(
    flows: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = FlowRegistry(flows)
    registry.load()
    broken = SIMPLE.format(priority=7).replace("type: queue", "type: queue\n    timout: 3")
    (flows / "simple.yaml").write_text(broken)
    with caplog.at_level(logging.ERROR, logger="callcenter.telephony.flow_registry"):
        result = registry.reload_changed()
    assert result.loaded == ()
    assert [str(p) for p in result.problems] == [
        f"{flows}/simple.yaml:6: node 'to_agent': unknown field 'timout'"
    ]
    assert f"{flows}/simple.yaml:6: node 'to_agent': unknown field 'timout'" in caplog.text
    assert "previous version keeps serving" in caplog.text
    assert priority(registry) == 1
    # reported once, not on every poll
    caplog.clear()
    assert registry.reload_changed().problems == ()
    assert caplog.text == ""
    # fixed: the new version serves
    (flows / "simple.yaml").write_text(SIMPLE.format(priority=9))
    assert registry.reload_changed().loaded == ("simple",)
    assert priority(registry) == 9


def test_new_and_removed_files(flows: Path, caplog: pytest.LogCaptureFixture) -> None:
    registry = FlowRegistry(flows)
    registry.load()
    with pytest.raises(NotFound):
        registry.get("other")
    (flows / "other.yaml").write_text(SIMPLE.format(priority=2))
    assert registry.reload_changed().loaded == ("other",)
    (flows / "other.yaml").unlink()
    with caplog.at_level(logging.WARNING, logger="callcenter.telephony.flow_registry"):
        registry.reload_changed()
    assert "flow other: its file is gone" in caplog.text
    assert registry.get("other").name == "other"


def test_a_bad_new_file_is_not_served(flows: Path) -> None:
    registry = FlowRegistry(flows)
    registry.load()
    (flows / "other.yaml").write_text("languages: [zh]\nstart: x\nnodes: {a: {type: queue}}\n")
    result = registry.reload_changed()
    assert [p.line for p in result.problems] == [2]
    with pytest.raises(NotFound):
        registry.get("other")


def test_catalogue_change_rechecks_flows(flows: Path) -> None:
    registry = FlowRegistry(flows)
    registry.load()
    catalogue = flows / "prompts.yaml"
    text = catalogue.read_text()
    (flows / "simple.yaml").write_text(
        SIMPLE.format(priority=3).replace("[connecting_agent]", "[brand_new]")
    )
    assert [p.message for p in registry.reload_changed().problems] == [
        f"node 'to_agent': prompt 'brand_new' is not in {catalogue}"
    ]
    assert priority(registry) == 1
    # the prompt is recorded: the waiting file becomes valid without being touched
    catalogue.write_text(text + "  brand_new:\n    zh: 新的\n    en: New\n")
    assert registry.reload_changed().loaded == ("simple",)
    assert priority(registry) == 3
    # a broken catalogue is rejected and the previous one keeps serving
    catalogue.write_text("default_language: zh\nlanguages: {zh: cmn}\nprompts: [oops]\n")
    result = registry.reload_changed()
    assert [p.line for p in result.problems] == [3]
    assert registry.catalogue.has("brand_new", "en")


def test_check_directory_reports_without_logging(
    flows: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (flows / "simple.yml").write_text(SIMPLE.format(priority=1))
    valid, problems = check_directory(flows)
    assert list(valid) == ["simple"]
    assert [str(p) for p in problems] == [
        f"{flows}/simple.yml:1: another file already defines 'simple'"
    ]
    assert caplog.text == ""
