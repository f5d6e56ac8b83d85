"""Flow files on disk: load a directory, re-read changed files, keep the last good version."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from callcenter.domain.errors import NotFound
from callcenter.domain.flow_model import Flow, Node, PromptCatalogue
from callcenter.domain.flows import FlowProblem, LoadResult
from callcenter.domain.ivr import FlowRunner, PromptLayout, WorkingDayCalendar
from callcenter.telephony.flow_yaml import MAX_FLOW_BYTES, load_catalogue, load_flow

log = logging.getLogger(__name__)

CATALOGUE_NAME = "prompts.yaml"
FLOW_SUFFIXES = (".yaml", ".yml")


def _read(path: Path, inside: Path | None = None) -> tuple[str | None, bytes, FlowProblem | None]:
    """The file's text, or why it may not be read: a flow file must be a regular file of the
    flows folder itself (never a link, which could lead anywhere), and none may be huge."""

    def refused(message: str) -> tuple[None, bytes, FlowProblem]:
        return None, b"", FlowProblem(str(path), 1, message)

    if inside is not None:
        try:
            within = path.parent.resolve() == inside.resolve()
        except (OSError, RuntimeError):
            within = False
        if not within:
            return refused("a flow file must be inside the flows folder")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) if inside is not None else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if inside is not None and path.is_symlink():
            return refused("a flow file must be a regular file, not a link")
        return refused(f"cannot read the file: {err.strerror}")
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            return refused("not a regular file")
        if info.st_size > MAX_FLOW_BYTES:
            return refused(f"the file is larger than {MAX_FLOW_BYTES} bytes")
        try:
            raw = file.read(MAX_FLOW_BYTES + 1)
        except OSError as err:
            return refused(f"cannot read the file: {err.strerror}")
    if len(raw) > MAX_FLOW_BYTES:
        return refused(f"the file is larger than {MAX_FLOW_BYTES} bytes")
    try:
        return raw.decode("utf-8"), raw, None
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        return None, raw, FlowProblem(str(path), line, "the file is not UTF-8 text")


def read_catalogue(path: Path) -> LoadResult[PromptCatalogue]:
    text, _, problem = _read(path)
    if text is None:
        assert problem is not None
        return LoadResult(None, (problem,))
    return load_catalogue(text, str(path))


def flow_files(directory: Path, catalogue: Path) -> list[Path]:
    """The flow files of a directory: every *.yaml and *.yml but the prompt catalogue (links
    are listed too, for the reader to refuse them by name rather than skip them in silence)."""
    return sorted(
        path
        for path in directory.iterdir()
        if path.suffix in FLOW_SUFFIXES
        and (path.is_symlink() or path.is_file())
        and not path.name.startswith(".")
        and os.path.abspath(path) != os.path.abspath(catalogue)
    )


def check_directory(
    directory: Path, catalogue: Path | None = None
) -> tuple[dict[str, Flow], list[FlowProblem]]:
    """Validate the catalogue and every flow file; the valid flows and all problems found."""
    catalogue = catalogue or directory / CATALOGUE_NAME
    loaded = read_catalogue(catalogue)
    problems = list(loaded.problems)
    if loaded.value is None:
        return {}, problems
    flows: dict[str, Flow] = {}
    for path in flow_files(directory, catalogue):
        text, _, problem = _read(path, directory)
        if text is None:
            assert problem is not None
            problems.append(problem)
            continue
        if path.stem in flows:
            problems.append(
                FlowProblem(str(path), 1, f"another file already defines {path.stem!r}")
            )
            continue
        result = load_flow(text, str(path), path.stem, loaded.value, str(catalogue))
        problems.extend(result.problems)
        if result.value is not None:
            flows[path.stem] = result.value
    return flows, problems


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What one poll changed: the flows now serving a new version, and the problems found."""

    loaded: tuple[str, ...]
    problems: tuple[FlowProblem, ...]


@dataclass(frozen=True, slots=True)
class _Version:
    flow: Flow
    digest: str


class FlowRegistry:
    """The flows new calls start with, by name (the file name without .yaml).

    A valid file replaces the previous version for new calls (a call keeps the runner it started
    with); an invalid file is rejected, its problems are logged as file:line lines, and the
    previous valid version keeps serving. A deleted file keeps serving too, with a warning:
    removing a flow in service takes a restart, so a stray `rm` cannot cut the hotline off.
    """

    def __init__(self, directory: Path, catalogue: Path | None = None) -> None:
        self.directory = directory
        self.catalogue_path = catalogue or directory / CATALOGUE_NAME
        self._catalogue: PromptCatalogue | None = None
        self._catalogue_digest = ""
        self._flows: dict[str, _Version] = {}
        # digest of the content last examined per file, valid or not: a rejected file is
        # reported once, not on every poll
        self._seen: dict[Path, str] = {}
        self._missing: set[str] = set()

    @property
    def catalogue(self) -> PromptCatalogue:
        if self._catalogue is None:
            raise NotFound("no valid prompt catalogue has been loaded")
        return self._catalogue

    @property
    def layout(self) -> PromptLayout:
        return PromptLayout(self.catalogue.default_language)

    def names(self) -> list[str]:
        return sorted(self._flows)

    def get(self, name: str) -> Flow:
        version = self._flows.get(name)
        if version is None:
            raise NotFound(f"no flow named {name!r} in {self.directory}")
        return version.flow

    def node(self, flow: str, name: str) -> Node | None:
        """A node of the serving version of a flow (None: no such flow or node now)."""
        version = self._flows.get(flow)
        return None if version is None else version.flow.nodes.get(name)

    def version(self, name: str) -> str:
        """A short content hash of the serving version, for logs and call records."""
        self.get(name)
        return self._flows[name].digest[:12]

    def runner(self, name: str, calendar: WorkingDayCalendar) -> FlowRunner:
        """What a new call runs: the serving version of `name`."""
        return FlowRunner(self.get(name), self.layout, calendar)

    def load(self) -> ReloadResult:
        """The first load: the same as a reload, when nothing has been seen yet."""
        return self.reload_changed()

    def reload_changed(self) -> ReloadResult:
        """Re-read the catalogue and the flow files; apply what changed and is valid.

        Files are read and hashed on every call: they are a few kilobytes, and comparing
        contents is exact where file times are coarse (two saves within one tick)."""
        problems: list[FlowProblem] = []
        catalogue_changed = self._reload_catalogue(problems)
        if self._catalogue is None:
            return ReloadResult((), tuple(problems))
        try:
            paths = flow_files(self.directory, self.catalogue_path)
        except OSError as err:
            problem = FlowProblem(str(self.directory), 1, f"cannot list flows: {err.strerror}")
            log.error("%s", problem)
            return ReloadResult((), (*problems, problem))
        loaded: list[str] = []
        claimed: dict[str, Path] = {}
        for path in paths:
            if path.stem in claimed:
                if self._seen.get(path) != "duplicate":
                    problem = FlowProblem(
                        str(path), 1, f"{claimed[path.stem].name} already defines {path.stem!r}"
                    )
                    log.error("%s; file ignored", problem)
                    problems.append(problem)
                    self._seen[path] = "duplicate"
                continue
            claimed[path.stem] = path
            if self._reload_file(path, catalogue_changed, problems):
                loaded.append(path.stem)
        self._note_missing(set(self._flows) - set(claimed))
        return ReloadResult(tuple(loaded), tuple(problems))

    def _reload_catalogue(self, problems: list[FlowProblem]) -> bool:
        text, raw, problem = _read(self.catalogue_path)
        digest = hashlib.sha256(raw).hexdigest()
        if digest == self._catalogue_digest:
            return False
        self._catalogue_digest = digest
        if text is None:
            assert problem is not None
            result: LoadResult[PromptCatalogue] = LoadResult(None, (problem,))
        else:
            result = load_catalogue(text, str(self.catalogue_path))
        if result.value is None:
            for problem in result.problems:
                log.error("%s", problem)
            keeps = "the previous catalogue keeps serving" if self._catalogue else "no flows"
            log.error("prompt catalogue %s rejected: %s", self.catalogue_path, keeps)
            problems.extend(result.problems)
            return False
        self._catalogue = result.value
        log.info("prompt catalogue %s loaded", self.catalogue_path)
        return True

    def _reload_file(self, path: Path, recheck: bool, problems: list[FlowProblem]) -> bool:
        text, raw, problem = _read(path, self.directory)
        digest = hashlib.sha256(raw).hexdigest()
        if self._seen.get(path) == digest and not recheck:
            return False
        self._seen[path] = digest
        name = path.stem
        current = self._flows.get(name)
        if current is not None and current.digest == digest and not recheck:
            return False
        if text is None:
            assert problem is not None
            result: LoadResult[Flow] = LoadResult(None, (problem,))
        else:
            assert self._catalogue is not None
            result = load_flow(text, str(path), name, self._catalogue, str(self.catalogue_path))
        if result.value is None:
            self._reject(name, result.problems)
            problems.extend(result.problems)
            return False
        self._missing.discard(name)
        if current is not None and current.digest == digest:
            return False  # re-checked against a new catalogue, still the same flow
        self._flows[name] = _Version(result.value, digest)
        log.info("flow %s loaded from %s (version %s)", name, path, digest[:12])
        return True

    def _reject(self, name: str, found: Iterable[FlowProblem]) -> None:
        for problem in found:
            log.error("%s", problem)
        if name in self._flows:
            log.error("flow %s: new version rejected; the previous version keeps serving", name)
        else:
            log.error("flow %s: rejected; it is not available to calls", name)

    def _note_missing(self, names: set[str]) -> None:
        for name in sorted(names - self._missing):
            log.warning("flow %s: its file is gone; the loaded version serves until restart", name)
        self._missing = names
