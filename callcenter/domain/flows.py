"""Loading flow files and the prompt catalogue from YAML text, with every problem at file:line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import Composer

from callcenter.domain import flow_validation
from callcenter.domain.flow_model import (
    NODE_TYPES,
    PATTERN_MEANINGS,
    DateRange,
    Flow,
    FlowHeader,
    Node,
    PromptCatalogue,
    PromptRef,
    TimeRule,
)

T = TypeVar("T")
Path_ = tuple[str | int, ...]

# ceilings that keep one operator's file from taking the engine's time or memory: a flow is
# tens of nodes; these are far beyond any real one and far below what would hurt
MAX_FLOW_BYTES = 2 * 1024 * 1024
MAX_FLOW_NODES = 10_000
MAX_NESTING = 64
MAX_INTEGER_DIGITS = 18
# what YAML may not carry, raw or escaped: C0/C1 controls but tab and newlines, and surrogates
_UNPRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


@dataclass(frozen=True, slots=True, order=True)
class FlowProblem:
    """One thing wrong with an operator's file, printed as `file:line: message`."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class LoadResult(Generic[T]):
    """Either the loaded value or every problem found (never both)."""

    value: T | None
    problems: tuple[FlowProblem, ...]

    @property
    def ok(self) -> bool:
        return self.value is not None and not self.problems


class _Mapping(dict[Any, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 1
    key_lines: dict[Any, int]


class _Sequence(list[Any]):
    line: int = 1
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records line numbers and collects duplicate keys instead of keeping the
    last one silently (PyYAML's default, which hides an operator's copy-and-paste mistake)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, Any, int]] = []
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        # PyYAML composes nested collections recursively: a file nested thousands deep would
        # exhaust the interpreter's stack instead of getting a line-numbered message
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_NESTING} levels deep",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_INTEGER_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {digits} digits is too large", node.start_mark
            )
        value: int = super().construct_yaml_int(node)
        return value

    def construct_yaml_str(self, node: yaml.ScalarNode) -> str:
        value = str(self.construct_scalar(node))
        bad = _UNPRINTABLE.search(value)
        if bad is not None:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"control character U+{ord(bad.group()):04X} is not allowed in text",
                node.start_mark,
            )
        return value

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        self.flatten_mapping(node)
        result = _Mapping()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value", key_node.start_mark
                )
            if key in result.key_lines:
                # keep the first: the error names both lines, so which one wins does not matter
                self.duplicates.append((line, key, result.key_lines[key]))
                continue
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = line
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> list[Any]:
        result = _Sequence(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    return loader.construct_mapping(node, deep=True)


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> list[Any]:
    return loader.construct_sequence(node, deep=True)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_LineLoader.add_constructor("tag:yaml.org,2002:int", _LineLoader.construct_yaml_int)
_LineLoader.add_constructor("tag:yaml.org,2002:str", _LineLoader.construct_yaml_str)
# Dates stay text so that pydantic checks them and a bad one (2026-02-30) gets a file:line
# message instead of a constructor crash.
# YAML 1.1 also reads 8:30 as the base-60 integer 510: integers here are plain decimal (or 0x,
# 0o-style octal), so a time written without quotes stays the text the operator wrote.
_DROPPED = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int"}
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _FastLineLoader(CParser, _LineLoader):
        """libyaml's parser (about three times faster on large files) under the same composer,
        nesting check and line-recording constructor as _LineLoader."""

        get_single_node = Composer.get_single_node
        compose_document = Composer.compose_document
        compose_node = _LineLoader.compose_node
        compose_scalar_node = Composer.compose_scalar_node
        compose_sequence_node = Composer.compose_sequence_node
        compose_mapping_node = Composer.compose_mapping_node

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self.anchors = {}
            self.duplicates = []
            self._depth = 0

    _FastLoader: type[_LineLoader] | None = _FastLineLoader
else:  # pragma: no cover - PyYAML built without libyaml
    _FastLoader = None


def _unprintable(text: str, source: str) -> FlowProblem | None:
    bad = _UNPRINTABLE.search(text)
    if bad is None:
        return None
    line = text.count("\n", 0, bad.start()) + 1
    column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
    return FlowProblem(
        source,
        line,
        f"control character U+{ord(bad.group()):04X} at column {column} is not allowed",
    )


def parse_yaml(text: str, source: str) -> tuple[Any, list[FlowProblem]]:
    """The document with line numbers attached, and syntax and duplicate-key problems.

    Whatever the text holds, the answer is problems at file:line, never an exception."""
    if len(text) > MAX_FLOW_BYTES:
        return None, [FlowProblem(source, 1, f"the file is larger than {MAX_FLOW_BYTES} bytes")]
    unprintable = _unprintable(text, source)
    if unprintable is not None:
        return None, [unprintable]
    if _FastLoader is not None:
        try:
            return _parse(_FastLoader, text, source)
        except (yaml.YAMLError, ValueError, OverflowError, RecursionError, MemoryError):
            pass  # the pure-Python parser words the problem as operators know it, below
    try:
        return _parse(_LineLoader, text, source)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = err.problem or "cannot be read"
        context = f" ({err.context})" if err.context else ""
        return None, [FlowProblem(source, line, f"YAML syntax error: {what}{context}")]
    except yaml.YAMLError as err:
        return None, [FlowProblem(source, 1, f"YAML syntax error: {err}")]
    except (ValueError, OverflowError, RecursionError, MemoryError) as err:
        # a value PyYAML cannot build (the checks above catch the known ones with their line)
        return None, [FlowProblem(source, 1, f"cannot be read: {type(err).__name__}")]


def _parse(
    loader_class: type[_LineLoader], text: str, source: str
) -> tuple[Any, list[FlowProblem]]:
    loader = loader_class(text)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    problems = [
        FlowProblem(source, line, f"duplicate key {key!r} (first given on line {first})")
        for line, key, first in loader.duplicates
    ]
    return data, problems


def line_of(data: Any, path: Iterable[object]) -> int:
    """The line of the deepest part of `path` present in the parsed document."""
    line = getattr(data, "line", 1)
    current = data
    for part in path:
        if isinstance(current, _Mapping) and isinstance(part, str) and part.isdigit():
            # menu digits were validated to text; the document may hold them as YAML integers
            part = part if part in current else int(part)
        if isinstance(current, _Mapping) and isinstance(part, Hashable) and part in current:
            line = current.key_lines[part]
            current = current[part]
        elif isinstance(current, _Sequence) and isinstance(part, int) and part < len(current):
            line = current.item_lines[part]
            current = current[part]
    return line


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


_NESTED_FIELDS = [
    name for model in (TimeRule, DateRange, PromptRef) for name in _field_names(model)
]


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(error: Mapping[str, Any], data: Any, model: type[BaseModel]) -> tuple[str, Path_]:
    """An operator's sentence for one pydantic error, and the document path it is about."""
    walked: list[str | int] = []
    current = data
    for part in error["loc"]:
        present = (isinstance(current, Mapping) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and part < len(current)
        )
        if present:
            walked.append(part)
            current = current[part]
    label = ".".join(str(p) for p in walked)
    kind = error["type"]
    last = error["loc"][-1] if error["loc"] else ""
    if kind == "extra_forbidden":
        names = _field_names(model) if len(walked) == 1 else _NESTED_FIELDS
        hint = _suggest(str(last), names)
        return f"unknown field {last!r}{hint}", tuple(walked)
    if kind == "missing":
        where = ".".join(str(p) for p in walked)
        return f"missing field {last!r}" + (f" in {where}" if where else ""), tuple(walked)
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        pattern = str(error.get("ctx", {}).get("pattern"))
        wanted = PATTERN_MEANINGS.get(pattern, "a different value")
        message = f"{error['input']!r} is not {wanted}"
    return (f"{label}: {message}" if label else message), tuple(walked)


def _validate(
    model: type[BaseModel], data: Any, source: str, root: Any, base: Path_, prefix: str
) -> tuple[Any, list[FlowProblem]]:
    try:
        return model.model_validate(data), []
    except ValidationError as err:
        problems = []
        errors = err.errors()
        locs = [tuple(error["loc"]) for error in errors]
        for error in errors:
            loc = tuple(error["loc"])
            # a list that is short only because its items failed: the items' errors say it all
            if error["type"] == "too_short" and any(
                len(other) > len(loc) and other[: len(loc)] == loc for other in locs
            ):
                continue
            message, path = _describe(error, data, model)
            problems.append(FlowProblem(source, line_of(root, base + path), prefix + message))
        return None, problems


def load_catalogue(text: str, source: str) -> LoadResult[PromptCatalogue]:
    """Parse and check ivr_flows/prompts.yaml."""
    data, problems = parse_yaml(text, source)
    if data is None and not problems:
        problems.append(FlowProblem(source, 1, "the file is empty"))
    if problems:
        return LoadResult(None, tuple(problems))
    catalogue, found = _validate(PromptCatalogue, data, source, data, (), "")
    problems.extend(found)
    if catalogue is not None:
        assert isinstance(catalogue, PromptCatalogue)
        languages = catalogue.languages
        if catalogue.default_language not in languages:
            problems.append(
                FlowProblem(
                    source,
                    line_of(data, ("default_language",)),
                    f"default_language {catalogue.default_language!r} is not in languages",
                )
            )
        for key, texts in catalogue.prompts.items():
            for language in texts:
                if language not in languages:
                    problems.append(
                        FlowProblem(
                            source,
                            line_of(data, ("prompts", key, language)),
                            f"prompt {key!r}: language {language!r} is not in languages",
                        )
                    )
    if problems:
        return LoadResult(None, tuple(sorted(problems)))
    return LoadResult(catalogue, ())


def load_flow(
    text: str, source: str, name: str, catalogue: PromptCatalogue, catalogue_source: str
) -> LoadResult[Flow]:
    """Parse and check one flow file; returns the flow, or all problems found in it."""
    data, problems = parse_yaml(text, source)
    if data is None and not problems:
        problems.append(
            FlowProblem(source, 1, "the file is empty: a flow needs languages, start and nodes")
        )
    if problems and data is None:
        return LoadResult(None, tuple(problems))
    if not isinstance(data, Mapping):
        problems.append(
            FlowProblem(
                source, line_of(data, ()), "a flow file is a mapping: languages, start, nodes"
            )
        )
        return LoadResult(None, tuple(problems))
    raw_nodes = data.get("nodes")
    if isinstance(raw_nodes, Mapping) and len(raw_nodes) > MAX_FLOW_NODES:
        problems.append(
            FlowProblem(
                source,
                line_of(data, ("nodes",)),
                f"{len(raw_nodes)} nodes: a flow may have at most {MAX_FLOW_NODES}",
            )
        )
        return LoadResult(None, tuple(problems))
    header, found = _validate(FlowHeader, data, source, data, (), "")
    problems.extend(found)
    if header is None:
        # an unknown or malformed optional field must not hide the flow's other mistakes
        optional = {"description"} | {
            str(key) for key in data if key not in FlowHeader.model_fields
        }
        trimmed = {key: value for key, value in data.items() if key not in optional}
        header, _ = _validate(FlowHeader, trimmed, source, data, (), "")
    # nodes are checked even when the header is wrong, so one run shows every mistake
    nodes: dict[str, Node] = {}
    all_valid = True
    for node_name, raw in raw_nodes.items() if isinstance(raw_nodes, Mapping) else ():
        node, found = _load_node(str(node_name), raw, source, data)
        problems.extend(found)
        if node is None:
            all_valid = False
        else:
            nodes[str(node_name)] = node
    if header is None:
        return LoadResult(None, tuple(sorted(problems)))
    assert isinstance(header, FlowHeader)

    def where(path: Sequence[str | int]) -> int:
        return line_of(data, path)

    checks = flow_validation.FlowChecks(
        header=header,
        nodes=nodes,
        catalogue=catalogue,
        catalogue_source=catalogue_source,
        where=where,
    )
    # a node that failed validation has unknown ways out: checks of the whole graph would
    # report phantom unreachable nodes and loops, so they wait until every node is valid
    problems.extend(
        FlowProblem(source, line, message) for line, message in checks.run(whole_graph=all_valid)
    )
    if problems:
        return LoadResult(None, tuple(sorted(problems)))
    flow = Flow(
        name=name,
        description=header.description,
        languages=header.languages,
        start=header.start,
        nodes=nodes,
    )
    return LoadResult(flow, ())


def _load_node(
    name: str, raw: Any, source: str, root: Any
) -> tuple[Node | None, list[FlowProblem]]:
    base: Path_ = ("nodes", name)
    prefix = f"node {name!r}: "
    if not isinstance(raw, Mapping):
        line = line_of(root, base)
        return None, [
            FlowProblem(source, line, prefix + "must be a mapping of fields, e.g. type: play")
        ]
    kinds = ", ".join(NODE_TYPES)
    kind = raw.get("type")
    if kind is None:
        return None, [
            FlowProblem(source, line_of(root, base), f"{prefix}missing field 'type' ({kinds})")
        ]
    model = NODE_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        hint = _suggest(str(kind), NODE_TYPES)
        line = line_of(root, (*base, "type"))
        return None, [
            FlowProblem(source, line, f"{prefix}unknown type {kind!r}{hint}; one of {kinds}")
        ]
    node, problems = _validate(model, raw, source, root, base, prefix)
    return node, problems
