"""Checking operator-edited flow files and the prompt catalogue, parsed by an adapter
(telephony/flow_yaml.py) into documents that know their lines: every problem at file:line."""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

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

# a flow is tens of nodes: this is far beyond any real one and far below what would hurt
MAX_FLOW_NODES = 10_000


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


class LinedMapping(dict[Any, Any]):
    """A mapping of an operator's file that remembers the line of itself and of each key."""

    line: int = 1
    key_lines: dict[Any, int]


class LinedSequence(list[Any]):
    """A list of an operator's file that remembers the line of itself and of each item."""

    line: int = 1
    item_lines: list[int]


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """What a reader made of an operator's file: the document (mappings and lists that know
    their lines, LinedMapping and LinedSequence; None when it could not be read) and what was
    found wrong reading it."""

    source: str
    data: Any
    problems: tuple[FlowProblem, ...] = ()


def line_of(data: Any, path: Iterable[object]) -> int:
    """The line of the deepest part of `path` present in the parsed document."""
    line = getattr(data, "line", 1)
    current = data
    for part in path:
        if isinstance(current, LinedMapping) and isinstance(part, str) and part.isdigit():
            # menu digits were validated to text; the document may hold them as YAML integers
            part = part if part in current else int(part)
        if isinstance(current, LinedMapping) and isinstance(part, Hashable) and part in current:
            line = current.key_lines[part]
            current = current[part]
        elif isinstance(current, LinedSequence) and isinstance(part, int) and part < len(current):
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


def check_catalogue(parsed: ParsedFile) -> LoadResult[PromptCatalogue]:
    """Check ivr_flows/prompts.yaml."""
    source, data, problems = parsed.source, parsed.data, list(parsed.problems)
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


def check_flow(
    parsed: ParsedFile, name: str, catalogue: PromptCatalogue, catalogue_source: str
) -> LoadResult[Flow]:
    """Check one flow file; returns the flow, or all problems found in it."""
    source, data, problems = parsed.source, parsed.data, list(parsed.problems)
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
