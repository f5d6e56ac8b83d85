"""Checks across a flow's nodes: targets, reachability, loops, prompts, languages, variables."""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from callcenter.domain.flow_model import (
    TERMINAL_TYPES,
    CollectNode,
    FlowHeader,
    Node,
    PromptCatalogue,
    SelfServiceNode,
    SetNode,
)

Where = Callable[[Sequence[str | int]], int]
Found = list[tuple[int, str]]

# nodes that pass control on at once, without waiting for the caller or for a lookup: a loop
# made of these alone spins forever within the same instant (a time condition decides the same
# way every time round), even when one of them has a branch that leaves
INSTANT_TYPES = frozenset({"play", "set", "time_condition"})


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _label(path: Sequence[str | int]) -> str:
    if path[0] == "options":
        return f"option {path[1]}"
    if path[0] == "rules" and isinstance(path[1], int):
        return f"rule {path[1] + 1}"
    return str(path[0])


def _names(names: Sequence[str]) -> str:
    return "node " + repr(names[0]) if len(names) == 1 else "nodes " + ", ".join(map(repr, names))


def _reach(starts: Iterable[str], edges: Mapping[str, Iterable[str]]) -> set[str]:
    seen = set(starts)
    todo = deque(seen)
    while todo:
        for nxt in edges.get(todo.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _loops(names: Iterable[str], edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The cycles among `names` (strongly connected parts with a way round), in given order.

    Tarjan's algorithm, iterative (a chain of thousands of nodes must not exhaust the stack),
    so the check stays linear in nodes and edges however large an operator's file grows."""
    order = list(names)
    position = {name: i for i, name in enumerate(order)}
    inner = {n: [m for m in edges.get(n, ()) if m in position] for n in order}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    parts: list[list[str]] = []
    for root in order:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(inner[root]))]
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(inner[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                part = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.append(member)
                    if member == node:
                        break
                if len(part) > 1 or node in inner[node]:
                    parts.append(sorted(part, key=position.__getitem__))
    return sorted(parts, key=lambda part: position[part[0]])


@dataclass(frozen=True, slots=True)
class FlowChecks:
    """The checks that need the whole flow; each finding is (line, message)."""

    header: FlowHeader
    # the nodes that passed their own validation; header.nodes names every node in the file
    nodes: Mapping[str, Node]
    catalogue: PromptCatalogue
    catalogue_source: str
    where: Where

    def run(self, *, whole_graph: bool) -> Found:
        found: Found = []
        found += self._languages()
        target_problems = self._targets()
        found += target_problems
        found += self._prompts()
        found += self._variables()
        # a misspelt target makes its intended node look unreachable too: one mistake, one line
        if whole_graph and not target_problems:
            reached = _reach([self.header.start], self._edges())
            found += self._unreachable(reached)
            # a loop among unreachable nodes is already reported as unreachable
            found += self._dead_ends(reached)
        return found

    def _node_line(self, name: str, *path: str | int) -> int:
        return self.where(("nodes", name, *path))

    def _languages(self) -> Found:
        found: Found = []
        for i, language in enumerate(self.header.languages):
            if language not in self.catalogue.languages:
                found.append(
                    (
                        self.where(("languages", i)),
                        f"language {language!r} is not in {self.catalogue_source}"
                        f" (it has {', '.join(self.catalogue.languages)})",
                    )
                )
        for name, node in self.nodes.items():
            if (
                isinstance(node, SetNode)
                and node.language is not None
                and node.language not in self.header.languages
            ):
                found.append(
                    (
                        self._node_line(name, "language"),
                        f"node {name!r}: language {node.language!r} is not one of this"
                        f" flow's languages ({', '.join(self.header.languages)})",
                    )
                )
        return found

    def _targets(self) -> Found:
        known = self.header.nodes
        found: Found = []
        if self.header.start not in known:
            found.append(
                (
                    self.where(("start",)),
                    f"start: unknown node {self.header.start!r}"
                    + _suggest(self.header.start, known),
                )
            )
        for name, node in self.nodes.items():
            for path, target in node.targets():
                if target not in known:
                    found.append(
                        (
                            self._node_line(name, *path),
                            f"node {name!r}: {_label(path)} goes to unknown node {target!r}"
                            + _suggest(target, known),
                        )
                    )
        return found

    def _prompts(self) -> Found:
        catalogue, source = self.catalogue, self.catalogue_source
        found: Found = []
        for name, node in self.nodes.items():
            for path, ref in node.prompt_refs():
                line = self._node_line(name, *path)
                if ref.key not in catalogue.prompts:
                    hint = _suggest(ref.key, catalogue.prompts)
                    found.append(
                        (line, f"node {name!r}: prompt {ref.key!r} is not in {source}{hint}")
                    )
                    continue
                if ref.language is not None and ref.language not in catalogue.languages:
                    found.append(
                        (
                            line,
                            f"node {name!r}: prompt language {ref.language!r} is not in {source}",
                        )
                    )
                    continue
                # a flow language missing from the catalogue altogether is reported once, above
                wanted = [ref.language] if ref.language else self._catalogue_languages()
                missing = [lang for lang in wanted if not catalogue.has(ref.key, lang)]
                if missing:
                    found.append(
                        (
                            line,
                            f"node {name!r}: prompt {ref.key!r} has no {', '.join(missing)}"
                            f" text in {source}",
                        )
                    )
        return found

    def _catalogue_languages(self) -> list[str]:
        return [lang for lang in self.header.languages if lang in self.catalogue.languages]

    def _variables(self) -> Found:
        # read from the raw nodes too, so a collect node with another mistake still counts
        stored = {
            raw.get("store_as") for raw in self.header.nodes.values() if isinstance(raw, Mapping)
        }
        stored |= {n.store_as for n in self.nodes.values() if isinstance(n, CollectNode)}
        found: Found = []
        for name, node in self.nodes.items():
            if isinstance(node, SelfServiceNode) and node.code_from not in stored:
                found.append(
                    (
                        self._node_line(name, "code_from"),
                        f"node {name!r}: code_from {node.code_from!r} is not stored by any"
                        " collect node (store_as)",
                    )
                )
        return found

    def _edges(self) -> dict[str, list[str]]:
        return {name: [t for _, t in node.targets()] for name, node in self.nodes.items()}

    def _unreachable(self, reached: set[str]) -> Found:
        return [
            (
                self._node_line(name),
                f"node {name!r} is unreachable: no path leads to it from start"
                f" {self.header.start!r}",
            )
            for name in self.nodes
            if name not in reached
        ]

    def _dead_ends(self, reached: set[str]) -> Found:
        edges = self._edges()
        reverse: dict[str, list[str]] = {}
        for name, targets in edges.items():
            for target in targets:
                reverse.setdefault(target, []).append(name)
        exits = [name for name, node in self.nodes.items() if node.type in TERMINAL_TYPES]
        can_leave = _reach(exits, reverse)
        found: Found = []
        trapped = [name for name in self.nodes if name in reached and name not in can_leave]
        reported: set[str] = set()
        for loop in _loops(trapped, edges):
            reported.update(loop)
            found.append(
                (
                    self._node_line(loop[0]),
                    f"loop with no way out through {_names(loop)}: no queue, voicemail,"
                    " transfer or hangup can be reached from it",
                )
            )
        instant = [
            name
            for name, node in self.nodes.items()
            if node.type in INSTANT_TYPES and name in reached and name not in reported
        ]
        for loop in _loops(instant, edges):
            found.append(
                (
                    self._node_line(loop[0]),
                    f"loop that never waits for the caller through {_names(loop)}:"
                    " it would repeat forever at the same instant; put a menu in it",
                )
            )
        return found
