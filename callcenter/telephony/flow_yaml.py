"""Operator-edited flow files as YAML: the line-numbered reader (duplicate keys, nesting,
sizes and control characters refused at file:line), and the text-level loaders that hand the
parsed document to the domain's checks (domain/flows.py)."""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any

import yaml
from yaml.composer import Composer

from callcenter.domain.flow_model import Flow, PromptCatalogue
from callcenter.domain.flows import (
    FlowProblem,
    LinedMapping,
    LinedSequence,
    LoadResult,
    ParsedFile,
    check_catalogue,
    check_flow,
)

# ceilings that keep one operator's file from taking the engine's time or memory: a flow is
# tens of nodes; these are far beyond any real one and far below what would hurt
MAX_FLOW_BYTES = 2 * 1024 * 1024
MAX_NESTING = 64
MAX_INTEGER_DIGITS = 18
# what YAML may not carry, raw or escaped: C0/C1 controls but tab and newlines, and surrogates
_UNPRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


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
        result = LinedMapping()
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
        result = LinedSequence(self.construct_object(child, deep=True) for child in node.value)
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


def read_yaml(text: str, source: str) -> ParsedFile:
    """The parsed file, for the domain's checks."""
    data, problems = parse_yaml(text, source)
    return ParsedFile(source, data, tuple(problems))


def load_catalogue(text: str, source: str) -> LoadResult[PromptCatalogue]:
    """Parse and check ivr_flows/prompts.yaml."""
    return check_catalogue(read_yaml(text, source))


def load_flow(
    text: str, source: str, name: str, catalogue: PromptCatalogue, catalogue_source: str
) -> LoadResult[Flow]:
    """Parse and check one flow file; returns the flow, or all problems found in it."""
    return check_flow(read_yaml(text, source), name, catalogue, catalogue_source)
