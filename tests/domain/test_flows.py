"""Flow files are checked like code: every problem found, each at file:line."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from callcenter.domain.flow_model import Flow, MenuNode, PromptCatalogue, TimeConditionNode
from callcenter.domain.flows import FlowProblem, LoadResult
from callcenter.telephony.flow_yaml import load_catalogue, load_flow

REPO = Path(__file__).resolve().parents[2]
CATALOGUE_TEXT = """\
default_language: zh
languages: {zh: cmn, en: en}
prompts:
  welcome: {zh: 您好, en: Hello}
  menu: {zh: 请按1, en: Press 1}
  hold: {zh: 请稍候, en: Please hold}
  english_only: {en: For English press 9}
"""


def catalogue() -> PromptCatalogue:
    result = load_catalogue(CATALOGUE_TEXT, "prompts.yaml")
    assert result.value is not None, result.problems
    return result.value


def load(text: str) -> LoadResult[Flow]:
    return load_flow(text, "f.yaml", "f", catalogue(), "prompts.yaml")


def problems(text: str) -> list[str]:
    result = load(text)
    assert result.value is None
    return [str(problem) for problem in result.problems]


VALID = """\
languages: [zh, en]
start: greeting
nodes:
  greeting:
    type: menu
    prompts: [welcome, menu]
    options:
      1: english
      0: to_agent
    on_timeout: to_agent
    on_max_invalid: to_agent
  english:
    type: set
    language: en
    skills: {"lang:english": 1}
    next: to_agent
  to_agent:
    type: queue
    prompts: [hold]
    skills: {"lang:mandarin": 1}
"""


def test_a_valid_flow_loads() -> None:
    result = load(VALID)
    assert result.ok
    flow = result.value
    assert flow is not None
    assert flow.name == "f"
    assert flow.language == "zh"
    greeting = flow.nodes["greeting"]
    assert isinstance(greeting, MenuNode)
    # unquoted YAML integers are menu digits
    assert greeting.options == {"1": "english", "0": "to_agent"}
    assert greeting.max_invalid == 3


@pytest.mark.parametrize("name", ["main", "after_hours", "holiday"])
def test_shipped_flows_are_valid(name: str) -> None:
    text = (REPO / "ivr_flows" / "prompts.yaml").read_text(encoding="utf-8")
    shipped = load_catalogue(text, "ivr_flows/prompts.yaml")
    assert shipped.value is not None, shipped.problems
    path = REPO / "ivr_flows" / f"{name}.yaml"
    result = load_flow(path.read_text(encoding="utf-8"), str(path), name, shipped.value, "p")
    assert result.ok, [str(p) for p in result.problems]


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = """\
languages: [zh, en]
start: greeting
colour: blue
nodes:
  greeting:
    type: menu
    prompts: [welcom]
    options: {1: englsh, 2: to_agent}
    on_max_invalid: to_agent
  to_agent:
    type: queue
    timout: 3
  bad:
    type: hangup
    prompts: [nope]
"""
    assert problems(text) == [
        "f.yaml:3: unknown field 'colour'",
        "f.yaml:7: node 'greeting': prompt 'welcom' is not in prompts.yaml"
        " (did you mean 'welcome'?)",
        "f.yaml:8: node 'greeting': option 1 goes to unknown node 'englsh'",
        "f.yaml:12: node 'to_agent': unknown field 'timout'",
        "f.yaml:15: node 'bad': prompt 'nope' is not in prompts.yaml",
    ]


def test_yaml_syntax_error_has_its_line() -> None:
    found = problems("languages: [zh]\nstart: a\nnodes:\n  a: {type: queue\n")
    assert len(found) == 1
    assert found[0].startswith("f.yaml:5: YAML syntax error: ")


def test_duplicate_keys_are_errors_wherever_they_are() -> None:
    text = VALID + "  to_agent:\n    type: hangup\n"
    assert problems(text) == ["f.yaml:21: duplicate key 'to_agent' (first given on line 17)"]
    text = VALID.replace("    type: set\n", "    type: set\n    next: to_agent\n")
    assert problems(text) == ["f.yaml:17: duplicate key 'next' (first given on line 14)"]


def test_empty_file_and_non_mapping() -> None:
    assert problems("") == ["f.yaml:1: the file is empty: a flow needs languages, start and nodes"]
    assert problems("- a\n- b\n") == ["f.yaml:1: a flow file is a mapping: languages, start, nodes"]


def test_missing_header_fields() -> None:
    assert problems("nodes: {a: {type: queue}}\n") == [
        "f.yaml:1: missing field 'languages'",
        "f.yaml:1: missing field 'start'",
    ]


def test_unknown_start() -> None:
    text = VALID.replace("start: greeting", "start: greting")
    assert problems(text) == ["f.yaml:2: start: unknown node 'greting' (did you mean 'greeting'?)"]


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("1", True),
        ("'5'", True),
        ("'*'", True),
        ("'#'", True),
        ("12", False),
        ("a", False),
        ("-1", False),
        ("yes", False),
        ("'11'", False),
    ],
)
def test_menu_digits(key: str, ok: bool) -> None:
    text = VALID.replace("      1: english\n", f"      {key}: english\n")
    result = load(text)
    if ok:
        assert result.ok, result.problems
    else:
        assert len(result.problems) == 1
        assert result.problems[0].line == 8
        assert "bad digit" in result.problems[0].message


def _hours_flow(condition: str) -> str:
    return f"""\
languages: [zh]
start: check
nodes:
  check:
    type: time_condition
    rules:
      - {condition}
        then: q
    otherwise: q
  q:
    type: queue
"""


@pytest.mark.parametrize(
    "condition",
    [
        "hours: 08:30-17:30",
        "hours: ['00:00-06:00', '22:00-24:00']",
        "weekdays: [mon, sat]",
        "working_day: false",
        "dates: {from: 2026-02-15, to: 2026-02-23}",
        "working_day: true\n        hours: ['9:00-12:00']",
    ],
)
def test_good_time_conditions(condition: str) -> None:
    result = load(_hours_flow(condition))
    assert result.ok, result.problems


def test_time_values_are_parsed() -> None:
    flow = load(
        _hours_flow("hours: 22:00-24:00\n        dates: {from: 2026-02-15, to: 2026-02-23}")
    )
    assert flow.value is not None
    node = flow.value.nodes["check"]
    assert isinstance(node, TimeConditionNode)
    rule = node.rules[0]
    assert rule.hours is not None and rule.hours[0].start == time(22, 0)
    assert rule.hours[0].contains(time(23, 59, 59))
    assert rule.dates is not None and rule.dates.first == date(2026, 2, 15)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("hours: 8:30", "bad time range '8:30'"),
        ("hours: 08:30-25:00", "bad time range '08:30-25:00'"),
        ("hours: 17:30-08:30", "the end must be after the start"),
        ("hours: 08:60-09:00", "bad time range"),
        ("weekdays: [monday]", "weekdays.0: Input should be 'mon'"),
        ("dates: {from: 2026-02-30, to: 2026-03-01}", "dates.from: Input should be a valid date"),
        (
            "dates: {from: 2026-03-01, to: 2026-02-01}",
            "'to' 2026-02-01 is before 'from' 2026-03-01",
        ),
        ("dates: {from: 2026-03-01}", "missing field 'to' in rules.0.dates"),
        ("working_day: maybe", "working_day: Input should be a valid boolean"),
    ],
)
def test_bad_time_conditions(condition: str, message: str) -> None:
    found = problems(_hours_flow(condition))
    assert len(found) == 1, found
    assert found[0].startswith("f.yaml:7: node 'check': "), found
    assert message in found[0]


def test_prompts_need_a_text_for_every_flow_language() -> None:
    text = VALID.replace("prompts: [hold]", "prompts: [hold, english_only]")
    assert problems(text) == [
        "f.yaml:19: node 'to_agent': prompt 'english_only' has no zh text in prompts.yaml"
    ]
    # pinned to English, it needs only the English text
    text = VALID.replace("prompts: [hold]", "prompts: [hold, {key: english_only, language: en}]")
    assert load(text).ok


def test_a_rule_needs_a_condition() -> None:
    found = problems(
        _hours_flow("then: q").replace("      - then: q\n        then: q", "      - then: q")
    )
    assert found == [
        "f.yaml:7: node 'check': rules.0: a rule needs at least one of weekdays, working_day,"
        " hours, dates"
    ]


def test_a_digit_given_twice() -> None:
    text = VALID.replace("      0: to_agent\n", "      0: to_agent\n      '1': to_agent\n")
    assert problems(text) == ["f.yaml:7: node 'greeting': options: digit 1 is given twice"]


def test_flow_languages_must_be_in_the_catalogue() -> None:
    text = VALID.replace("languages: [zh, en]", "languages: [zh, en, fr]")
    assert problems(text) == ["f.yaml:1: language 'fr' is not in prompts.yaml (it has zh, en)"]


def test_set_language_must_be_a_flow_language() -> None:
    text = VALID.replace("languages: [zh, en]", "languages: [zh]")
    assert problems(text) == [
        "f.yaml:14: node 'english': language 'en' is not one of this flow's languages (zh)"
    ]


def test_unreachable_node() -> None:
    text = VALID + "  survey:\n    type: hangup\n"
    assert problems(text) == [
        "f.yaml:21: node 'survey' is unreachable: no path leads to it from start 'greeting'"
    ]


def test_loop_without_a_way_out() -> None:
    text = """\
languages: [zh]
start: a
nodes:
  a:
    type: menu
    prompts: [menu]
    options: {1: b}
    on_max_invalid: a
  b:
    type: play
    prompts: [welcome]
    next: a
"""
    assert problems(text) == [
        "f.yaml:4: loop with no way out through nodes 'a', 'b': no queue, voicemail, transfer"
        " or hangup can be reached from it"
    ]


def test_a_menu_repeating_itself_is_fine_when_it_has_an_exit() -> None:
    text = VALID.replace("      0: to_agent\n", "      0: to_agent\n      '*': greeting\n")
    assert load(text).ok


def test_self_service_needs_a_collected_code() -> None:
    text = """\
languages: [zh]
start: status
nodes:
  status:
    type: self_service
    code_from: code
    status_prompts: {closed: welcome}
    not_found_prompt: welcome
    failed_prompt: welcome
    next: q
  q:
    type: queue
"""
    assert problems(text) == [
        "f.yaml:6: node 'status': code_from 'code' is not stored by any collect node (store_as)"
    ]


def test_collect_lengths_and_names() -> None:
    text = """\
languages: [zh]
start: code
nodes:
  code:
    type: collect
    prompts: [menu]
    store_as: query_code
    min_length: 8
    max_length: 4
    on_max_invalid: q
    next: q
  q:
    type: queue
"""
    assert problems(text) == [
        "f.yaml:4: node 'code': min_length 8 is more than max_length 4",
    ]
    text = text.replace("store_as: query_code", "store_as: query-code")
    assert problems(text)[0] == (
        "f.yaml:7: node 'code': store_as: 'query-code' is not a name of letters, digits and _"
        " starting with a letter"
    )


def test_node_must_be_a_mapping_with_a_known_type() -> None:
    text = VALID + "  x: 3\n  y: {next: q}\n"
    assert problems(text) == [
        "f.yaml:21: node 'x': must be a mapping of fields, e.g. type: play",
        "f.yaml:22: node 'y': missing field 'type' (play, menu, collect, time_condition, set,"
        " self_service, queue, voicemail, transfer, hangup)",
    ]


def test_problem_prints_as_file_line_message() -> None:
    assert str(FlowProblem("ivr_flows/main.yaml", 7, "bad")) == "ivr_flows/main.yaml:7: bad"


def test_catalogue_problems() -> None:
    result = load_catalogue(
        "default_language: de\nlanguages: {zh: cmn}\nprompts:\n  Bad-Key: {zh: x}\n", "p.yaml"
    )
    assert [str(p) for p in result.problems] == [
        "p.yaml:4: prompts.Bad-Key: 'Bad-Key' is not a prompt key of lowercase letters,"
        " digits and _",
    ]
    result = load_catalogue("default_language: de\nlanguages: {zh: cmn}\nprompts: {}\n", "p.yaml")
    assert [str(p) for p in result.problems] == [
        "p.yaml:1: default_language 'de' is not in languages"
    ]
