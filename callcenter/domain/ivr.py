"""The IVR interpreter: a flow, the call's state and one input in; actions and the next state out.

Pure: no I/O and no clock of its own. Every input carries the current local time (Asia/Shanghai
for a hotline), which time conditions read. The adapter (FastAGI) performs the actions in order;
when the last action waits for something (digits, a lookup, a recording) it feeds exactly one
input back through `FlowRunner.advance`. Every step the caller takes is returned as data
(`FlowStep`) for the engine to store with the call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Literal, Protocol

from callcenter.domain.errors import DomainError, InvalidInput
from callcenter.domain.flow_model import (
    DTMF,
    WEEKDAYS,
    CollectNode,
    Flow,
    HangupNode,
    MenuNode,
    Node,
    PlayNode,
    PromptRef,
    QueueNode,
    SelfServiceNode,
    SetNode,
    TimeConditionNode,
    TimeRule,
    TransferNode,
    VoicemailNode,
)

# far more hops than any sane flow makes between two inputs; validation rejects instant loops,
# so reaching this means a bug, and the call must not spin the event loop forever
MAX_HOPS = 200


class WorkingDayCalendar(Protocol):
    """The holiday calendar (法定节假日 and 调休 make-up working days)."""

    def is_working_day(self, day: date) -> bool: ...


class FlowStuck(DomainError):
    code = "flow_stuck"


@dataclass(frozen=True, slots=True)
class PromptLayout:
    """Where prompt files are, relative to the prompt root: the catalogue's default language at
    the top (`welcome`), the others in a folder each (`en/welcome`). No extension: Asterisk picks
    the best format it has."""

    default_language: str

    def path(self, key: str, language: str) -> str:
        return key if language == self.default_language else f"{language}/{key}"


# ---- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigitsPressed:
    """What the caller keyed, including a digit that interrupted a prompt; a trailing
    terminator (#) may be included or not."""

    at: datetime
    digits: str


@dataclass(frozen=True, slots=True)
class InputTimeout:
    """ReadDigits ended with nothing pressed."""

    at: datetime


@dataclass(frozen=True, slots=True)
class LookupResult:
    """The answer to LookupTicket: the ticket's status, None if no ticket has that code, or
    failed=True if the lookup itself failed (database down)."""

    at: datetime
    status: str | None
    failed: bool = False


@dataclass(frozen=True, slots=True)
class RecordingFinished:
    at: datetime


IvrInput = DigitsPressed | InputTimeout | LookupResult | RecordingFinished


# ---- actions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Play:
    """Play `files` in order. A digit in `interrupt_digits` stops the playback, and is the first
    digit of the ReadDigits that follows."""

    keys: tuple[str, ...]
    files: tuple[str, ...]
    interrupt_digits: str = ""


@dataclass(frozen=True, slots=True)
class SayDigits:
    digits: str
    language: str


@dataclass(frozen=True, slots=True)
class ReadDigits:
    """Wait for up to `max_digits` (ending early on `terminator`); answer with DigitsPressed, or
    InputTimeout if nothing was pressed within `timeout` seconds."""

    max_digits: int
    timeout: float
    terminator: str = ""


@dataclass(frozen=True, slots=True)
class LookupTicket:
    """Look the ticket up by its query code; answer with LookupResult."""

    code: str


@dataclass(frozen=True, slots=True)
class RecordVoicemail:
    """Record the caller's message; answer with RecordingFinished (or the caller hangs up)."""

    max_seconds: int
    silence_seconds: int
    beep: bool


@dataclass(frozen=True, slots=True)
class Queue:
    """Wait for an agent with these skill requirements and priority (higher goes first)."""

    requirements: Mapping[str, int]
    priority: int
    language: str
    # prompt files played once on hold if no agent takes the call at once
    hold_files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Transfer:
    number: str


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


Action = Play | SayDigits | ReadDigits | LookupTicket | RecordVoicemail | Queue | Transfer | Hangup

Waiting = Literal["digits", "lookup", "recording"]
Outcome = Literal["queue", "voicemail", "transfer", "hangup"]
StepEvent = Literal[
    "entered", "digits", "invalid", "timeout", "matched", "lookup", "recorded", "finished"
]


@dataclass(frozen=True, slots=True)
class FlowStep:
    """One thing that happened in the flow, stored with the call so a supervisor can see where
    callers leave the menu."""

    at: datetime
    flow: str
    node: str
    event: StepEvent
    value: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "at": self.at.isoformat(),
            "flow": self.flow,
            "node": self.node,
            "event": self.event,
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class IvrState:
    """Where a call is in its flow, and what it will carry to the queue."""

    flow: str
    node: str
    language: str
    # skills chosen in the flow (e.g. the English line); they replace the queue's defaults
    # of the same kind
    skills: Mapping[str, int] = field(default_factory=dict)
    priority: int | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    # invalid inputs and unanswered timeouts at the current node
    failures: int = 0
    waiting: Waiting | None = None
    outcome: Outcome | None = None

    @property
    def finished(self) -> bool:
        return self.outcome is not None


@dataclass(frozen=True, slots=True)
class IvrTurn:
    """The result of one input: perform `actions` in order, store `steps`, keep `state`."""

    state: IvrState
    actions: tuple[Action, ...]
    steps: tuple[FlowStep, ...]


def requirements_for(defaults: Mapping[str, int], chosen: Mapping[str, int]) -> dict[str, int]:
    """The queue's default skills, with a chosen skill replacing the defaults of its kind: a
    caller who chose the English line needs lang:english, no longer lang:mandarin."""
    kinds = {name.partition(":")[0] for name in chosen}
    kept = {name: level for name, level in defaults.items() if name.partition(":")[0] not in kinds}
    return {**kept, **chosen}


def rule_matches(rule: TimeRule, at: datetime, calendar: WorkingDayCalendar) -> bool:
    if rule.weekdays is not None and WEEKDAYS[at.weekday()] not in rule.weekdays:
        return False
    if rule.dates is not None and not rule.dates.contains(at.date()):
        return False
    if rule.hours and not any(span.contains(at.time()) for span in rule.hours):
        return False
    # asked last: the calendar is the one condition that may cost more than a comparison
    return rule.working_day is None or calendar.is_working_day(at.date()) == rule.working_day


class FlowRunner:
    """Runs calls through one flow version. A call keeps its runner to the end, so a flow
    reloaded meanwhile only affects new calls."""

    def __init__(self, flow: Flow, layout: PromptLayout, calendar: WorkingDayCalendar) -> None:
        self.flow = flow
        self.layout = layout
        self.calendar = calendar

    def start(self, at: datetime) -> IvrTurn:
        """The call has been answered: enter the start node."""
        state = IvrState(flow=self.flow.name, node=self.flow.start, language=self.flow.language)
        turn = _Turn(self, state, at)
        turn.enter(self.flow.start)
        return turn.result()

    def advance(self, state: IvrState, event: IvrInput) -> IvrTurn:
        """Apply one input to a waiting call."""
        if state.finished:
            raise InvalidInput(f"flow {state.flow!r} has already finished ({state.outcome})")
        node = self.flow.nodes.get(state.node)
        if node is None or state.flow != self.flow.name:
            raise InvalidInput(f"state is at {state.flow}/{state.node}, not in this flow")
        turn = _Turn(self, state, event.at)
        if state.waiting == "digits" and isinstance(event, DigitsPressed | InputTimeout):
            if isinstance(node, MenuNode):
                turn.menu_input(state.node, node, event)
            elif isinstance(node, CollectNode):
                turn.collect_input(state.node, node, event)
        elif state.waiting == "lookup" and isinstance(event, LookupResult):
            assert isinstance(node, SelfServiceNode)
            turn.lookup_result(state.node, node, event)
        elif state.waiting == "recording" and isinstance(event, RecordingFinished):
            assert isinstance(node, VoicemailNode)
            turn.step(state.node, "recorded")
            turn.play(node.goodbye_prompts)
            turn.finish(state.node, "voicemail", Hangup())
        else:
            raise InvalidInput(
                f"{type(event).__name__} does not answer node {state.node!r},"
                f" which waits for {state.waiting}"
            )
        return turn.result()


class _Turn:
    """The mutable scratch pad of one call to start/advance; its result is immutable."""

    def __init__(self, runner: FlowRunner, state: IvrState, at: datetime) -> None:
        self.runner = runner
        self.flow = runner.flow
        self.state = replace(state, waiting=None)
        self.at = at
        self.actions: list[Action] = []
        self.steps: list[FlowStep] = []

    def result(self) -> IvrTurn:
        return IvrTurn(self.state, tuple(self.actions), tuple(self.steps))

    def step(self, node: str, event: StepEvent, value: str = "") -> None:
        self.steps.append(FlowStep(self.at, self.flow.name, node, event, value))

    def play(self, refs: Sequence[PromptRef], interrupt_digits: str = "") -> None:
        if not refs:
            return
        layout, language = self.runner.layout, self.state.language
        keys = tuple(ref.key for ref in refs)
        files = tuple(layout.path(ref.key, ref.language or language) for ref in refs)
        self.actions.append(Play(keys, files, interrupt_digits))

    def wait(self, waiting: Waiting, action: Action) -> None:
        self.actions.append(action)
        self.state = replace(self.state, waiting=waiting)

    def finish(self, node: str, outcome: Outcome, action: Action) -> None:
        self.actions.append(action)
        self.step(node, "finished", outcome)
        self.state = replace(self.state, outcome=outcome)

    def enter(self, name: str) -> None:
        """Enter `name` and keep going through nodes that need no input."""
        target: str | None = name
        for _ in range(MAX_HOPS):
            if target is None:
                return
            self.state = replace(self.state, node=target, failures=0)
            self.step(target, "entered")
            target = self._run(target, self.flow.nodes[target])
        raise FlowStuck(f"flow {self.flow.name!r} passed {MAX_HOPS} nodes without input")

    def _run(self, name: str, node: Node) -> str | None:
        """Perform a node; returns the next node, or None when the call waits or has ended."""
        if isinstance(node, PlayNode):
            self.play(node.prompts)
            return node.next
        if isinstance(node, MenuNode):
            self._ask_menu(node, node.prompts)
            return None
        if isinstance(node, CollectNode):
            self._ask_collect(node, None)
            return None
        if isinstance(node, TimeConditionNode):
            for i, rule in enumerate(node.rules):
                if rule_matches(rule, self.at, self.runner.calendar):
                    self.step(name, "matched", f"rule {i + 1}")
                    return rule.then
            self.step(name, "matched", "otherwise")
            return node.otherwise
        if isinstance(node, SetNode):
            self._set(node)
            return node.next
        if isinstance(node, SelfServiceNode):
            code = self.state.variables.get(node.code_from)
            if not code:
                self.step(name, "lookup", "no_code")
                self.play([node.not_found_prompt])
                return node.next
            self.play(node.prompts)
            self.wait("lookup", LookupTicket(code))
            return None
        if isinstance(node, VoicemailNode):
            self.play(node.prompts)
            self.wait(
                "recording", RecordVoicemail(node.max_seconds, node.silence_seconds, node.beep)
            )
            return None
        if isinstance(node, QueueNode):
            self.play(node.prompts)
            requirements = requirements_for(node.skills, self.state.skills)
            priority = node.priority if self.state.priority is None else self.state.priority
            language = self.state.language
            hold = tuple(
                self.runner.layout.path(ref.key, ref.language or language)
                for ref in node.hold_prompts
            )
            self.finish(name, "queue", Queue(requirements, priority, language, hold))
            return None
        if isinstance(node, TransferNode):
            self.play(node.prompts)
            self.finish(name, "transfer", Transfer(node.number))
            return None
        assert isinstance(node, HangupNode)
        self.play(node.prompts)
        self.finish(name, "hangup", Hangup())
        return None

    def _set(self, node: SetNode) -> None:
        state = self.state
        if node.language is not None:
            state = replace(state, language=node.language)
        if node.skills is not None:
            state = replace(state, skills={**state.skills, **node.skills})
        if node.priority is not None:
            state = replace(state, priority=node.priority)
        self.state = state

    def _ask_menu(self, node: MenuNode, prompts: Sequence[PromptRef]) -> None:
        # any key cuts the prompt short: a key that is not an option must count as invalid,
        # not vanish while the prompt plays
        self.play(prompts, interrupt_digits=DTMF)
        self.wait("digits", ReadDigits(max_digits=1, timeout=node.timeout))

    def _ask_collect(self, node: CollectNode, before: PromptRef | None) -> None:
        self.play([*([before] if before else []), *node.prompts], interrupt_digits=DTMF)
        self.wait(
            "digits",
            ReadDigits(node.max_length, node.timeout, node.terminator or ""),
        )

    def _failed(self, node: MenuNode | CollectNode) -> bool:
        """Count a failed try; True (and moved on) when that was the last one."""
        failures = self.state.failures + 1
        self.state = replace(self.state, failures=failures)
        if failures >= node.max_invalid:
            self.enter(node.on_max_invalid)
            return True
        return False

    def menu_input(self, name: str, node: MenuNode, event: DigitsPressed | InputTimeout) -> None:
        digit = event.digits[:1] if isinstance(event, DigitsPressed) else ""
        if digit and digit in node.options:
            self.step(name, "digits", digit)
            self.enter(node.options[digit])
            return
        if digit:
            self.step(name, "invalid", digit)
        else:
            self.step(name, "timeout")
            if node.on_timeout is not None:
                self.enter(node.on_timeout)
                return
        if self._failed(node):
            return
        if digit and node.invalid_prompt is not None:
            self.play([node.invalid_prompt])
        self._ask_menu(node, node.retry_prompts or node.prompts)

    def collect_input(
        self, name: str, node: CollectNode, event: DigitsPressed | InputTimeout
    ) -> None:
        digits = event.digits if isinstance(event, DigitsPressed) else ""
        if node.terminator:
            digits = digits.removesuffix(node.terminator)
        if not digits:
            self.step(name, "timeout")
            if node.on_timeout is not None:
                self.enter(node.on_timeout)
                return
            if not self._failed(node):
                self._ask_collect(node, None)
            return
        # a query code lets anyone hear a ticket's progress: the step log keeps only its length
        shown = f"{len(digits)} digits"
        if digits.isdigit() and node.min_length <= len(digits) <= node.max_length:
            self.step(name, "digits", shown)
            variables = {**self.state.variables, node.store_as: digits}
            self.state = replace(self.state, variables=variables)
            self.enter(node.next)
            return
        self.step(name, "invalid", shown)
        if not self._failed(node):
            self._ask_collect(node, node.invalid_prompt)

    def lookup_result(self, name: str, node: SelfServiceNode, event: LookupResult) -> None:
        code = self.state.variables.get(node.code_from, "")
        status_prompt = node.status_prompts.get(event.status or "")
        if event.failed:
            self.step(name, "lookup", "failed")
            self.play([node.failed_prompt])
        elif event.status is None:
            self.step(name, "lookup", "not_found")
            self._say_code(node, code)
            self.play([node.not_found_prompt])
        elif status_prompt is None:
            # a status this flow does not know how to say: better "try later" than silence
            self.step(name, "lookup", f"unknown:{event.status}")
            self.play([node.failed_prompt])
        else:
            self.step(name, "lookup", event.status)
            self._say_code(node, code)
            self.play([status_prompt])
        self.enter(node.next)

    def _say_code(self, node: SelfServiceNode, code: str) -> None:
        if node.code_prompt is not None and code:
            self.play([node.code_prompt])
            self.actions.append(SayDigits(code, self.state.language))
