"""The IVR flow file format as pydantic models: nodes, prompts, time rules, the catalogue."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

DTMF = "0123456789*#"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# the node types after which the call leaves the flow: operators call these "exits"
TERMINAL_TYPES = frozenset({"queue", "voicemail", "transfer", "hangup"})

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
# prompt keys become file names on the Asterisk host, so keep them to a portable alphabet
PROMPT_KEY_PATTERN = r"^[a-z0-9][a-z0-9_]{0,63}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"
STATUS_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
# what each pattern means, for messages to operators who do not read regular expressions
PATTERN_MEANINGS = {
    NAME_PATTERN: "a name of letters, digits and _ starting with a letter",
    PROMPT_KEY_PATTERN: "a prompt key of lowercase letters, digits and _",
    LANGUAGE_PATTERN: "a language code such as zh or en",
    STATUS_PATTERN: "a status name of lowercase letters, digits and _",
}
NodeName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
VariableName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
PromptKey = Annotated[str, StringConstraints(pattern=PROMPT_KEY_PATTERN)]
LanguageCode = Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN)]
StatusName = Annotated[str, StringConstraints(pattern=STATUS_PATTERN)]
Seconds = Annotated[float, Field(gt=0, le=120)]
SkillLevel = Annotated[int, Field(ge=1, le=5)]
Priority = Annotated[int, Field(ge=0, le=100)]


def _digit(value: object) -> str:
    # YAML reads an unquoted `1:` as the integer 1; operators should not have to quote digits
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
        return str(value)
    if isinstance(value, str) and len(value) == 1 and value in DTMF:
        return value
    raise ValueError(
        f"bad digit {value!r}: a menu option is one key of 0-9, * or # (quote * and #)"
    )


Digit = Annotated[str, BeforeValidator(_digit)]


def _skill_name(value: object) -> object:
    if isinstance(value, str):
        kind, sep, rest = value.partition(":")
        if not sep or not kind or not rest or len(value) > 64 or re.search(r"\s", value):
            raise ValueError(f"skill {value!r} must look like kind:value, e.g. lang:english")
    return value


SkillName = Annotated[str, BeforeValidator(_skill_name)]


def _prompt_ref(value: object) -> object:
    return {"key": value} if isinstance(value, str) else value


class PromptRef(BaseModel):
    """A prompt by key; `language` pins it (e.g. "For English, press 9" in the Chinese menu)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: PromptKey
    language: LanguageCode | None = None


Prompt = Annotated[PromptRef, BeforeValidator(_prompt_ref)]
Prompts = tuple[Prompt, ...]


def _phone_number(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        # an unquoted YAML number has already lost a leading 0 (or turned octal): refuse it
        raise ValueError("write the number in quotes, e.g. number: '12319'")
    if isinstance(value, str) and not re.fullmatch(r"\+?[0-9*#]{2,32}", value):
        raise ValueError(f"bad number {value!r}: digits only, optionally starting with +")
    return value


PhoneNumber = Annotated[str, BeforeValidator(_phone_number)]


class TimeRange(BaseModel):
    """Local clock times, start inclusive, end exclusive; written "08:30-17:30"."""

    model_config = ConfigDict(frozen=True)

    start: time
    end: time  # time.max stands for "24:00"

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end or (self.end == time.max and moment >= self.start)


def _parse_clock(text: str, whole: str) -> time:
    match = re.fullmatch(r"([01]?[0-9]|2[0-4]):([0-5][0-9])", text.strip())
    if match is None:
        raise ValueError(f"bad time range {whole!r}: write HH:MM-HH:MM, e.g. 08:30-17:30")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24:
        if minute:
            raise ValueError(f"bad time range {whole!r}: 24:00 is the latest time")
        return time.max
    return time(hour, minute)


def _time_range(value: object) -> object:
    if isinstance(value, TimeRange):
        return value
    if not isinstance(value, str) or value.count("-") != 1:
        raise ValueError(f"bad time range {value!r}: write HH:MM-HH:MM, e.g. 08:30-17:30")
    first, last = value.split("-")
    start, end = _parse_clock(first, value), _parse_clock(last, value)
    if start >= end:
        raise ValueError(
            f"bad time range {value!r}: the end must be after the start "
            "(split a range over midnight in two, e.g. 22:00-24:00 and 00:00-06:00)"
        )
    return {"start": start, "end": end}


Hours = Annotated[TimeRange, BeforeValidator(_time_range)]


def _one_or_many(value: object) -> object:
    return value if isinstance(value, list | tuple) else [value]


class DateRange(BaseModel):
    """Calendar days, both ends included: an announcement period such as Spring Festival."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    first: date = Field(alias="from")
    last: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.last < self.first:
            raise ValueError(f"dates: 'to' {self.last} is before 'from' {self.first}")
        return self

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last


class TimeRule(BaseModel):
    """Matches when every condition it names holds; the first matching rule wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekdays: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] | None = None
    # per the holiday calendar: a weekend made a working day (调休) counts as working
    working_day: bool | None = None
    hours: Annotated[tuple[Hours, ...] | None, BeforeValidator(_one_or_many)] = None
    dates: DateRange | None = None
    then: NodeName

    @model_validator(mode="after")
    def _has_condition(self) -> TimeRule:
        if self.weekdays is None and self.working_day is None and not self.hours and not self.dates:
            raise ValueError("a rule needs at least one of weekdays, working_day, hours, dates")
        return self


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    # a note for the next operator; never spoken
    description: str = ""
    # fields holding node names, checked against the flow's nodes by the loader
    target_fields: ClassVar[tuple[str, ...]] = ()

    def targets(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(where in the node, target node) for every way out of this node."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        for name in self.target_fields:
            value = getattr(self, name)
            if value is not None:
                found.append(((name,), value))
        return found

    def prompt_refs(self) -> list[tuple[tuple[str | int, ...], PromptRef]]:
        """(where in the node, prompt) for every prompt the node may play."""
        found: list[tuple[tuple[str | int, ...], PromptRef]] = []
        for name, value in self:
            if isinstance(value, PromptRef):
                found.append(((name,), value))
            elif isinstance(value, tuple):
                found.extend(
                    ((name, i), ref) for i, ref in enumerate(value) if isinstance(ref, PromptRef)
                )
            elif isinstance(value, dict):
                found.extend(
                    ((name, k), ref) for k, ref in value.items() if isinstance(ref, PromptRef)
                )
        return found


class PlayNode(_Node):
    type: Literal["play"]
    prompts: Prompts = Field(min_length=1)
    next: NodeName
    target_fields = ("next",)


class MenuNode(_Node):
    """Prompts the caller may interrupt with an option digit, then a wait for one digit."""

    type: Literal["menu"]
    prompts: Prompts = Field(min_length=1)
    # played instead of `prompts` when the menu repeats (after an invalid digit or a timeout)
    retry_prompts: Prompts | None = None
    options: dict[Digit, NodeName] = Field(min_length=1)
    timeout: Seconds = 5.0
    # where a caller who presses nothing goes; unset: the menu repeats and counts a try
    on_timeout: NodeName | None = None
    invalid_prompt: Prompt | None = None
    max_invalid: int = Field(default=3, ge=1, le=9)
    on_max_invalid: NodeName
    target_fields = ("on_timeout", "on_max_invalid")

    @field_validator("options", mode="before")
    @classmethod
    def _distinct_digits(cls, value: object) -> object:
        # `1:` and `'1':` are different YAML keys but the same key on the phone
        if isinstance(value, Mapping):
            seen: set[str] = set()
            for key in value:
                digit = str(key)
                if digit in seen:
                    raise ValueError(f"digit {digit} is given twice")
                seen.add(digit)
        return value

    def targets(self) -> list[tuple[tuple[str | int, ...], str]]:
        found = [(("options", digit), node) for digit, node in self.options.items()]
        return found + super().targets()


class CollectNode(_Node):
    """Reads a number (e.g. a ticket query code) into a flow variable."""

    type: Literal["collect"]
    prompts: Prompts = Field(min_length=1)
    store_as: VariableName
    min_length: int = Field(default=1, ge=1, le=32)
    max_length: int = Field(ge=1, le=32)
    terminator: Literal["#", "*"] | None = "#"
    timeout: Seconds = 10.0
    invalid_prompt: Prompt | None = None
    max_invalid: int = Field(default=3, ge=1, le=9)
    on_max_invalid: NodeName
    on_timeout: NodeName | None = None
    next: NodeName
    target_fields = ("next", "on_timeout", "on_max_invalid")

    @model_validator(mode="after")
    def _lengths(self) -> CollectNode:
        if self.min_length > self.max_length:
            raise ValueError(
                f"min_length {self.min_length} is more than max_length {self.max_length}"
            )
        return self


class TimeConditionNode(_Node):
    type: Literal["time_condition"]
    rules: tuple[TimeRule, ...] = Field(min_length=1)
    otherwise: NodeName

    def targets(self) -> list[tuple[tuple[str | int, ...], str]]:
        found: list[tuple[tuple[str | int, ...], str]] = [
            (("rules", i, "then"), rule.then) for i, rule in enumerate(self.rules)
        ]
        return [*found, (("otherwise",), self.otherwise)]


class SetNode(_Node):
    """Changes what the call carries to the queue: prompt language, skills, priority."""

    type: Literal["set"]
    language: LanguageCode | None = None
    skills: dict[SkillName, SkillLevel] | None = None
    priority: Priority | None = None
    next: NodeName
    target_fields = ("next",)

    @model_validator(mode="after")
    def _sets_something(self) -> SetNode:
        if self.language is None and self.skills is None and self.priority is None:
            raise ValueError("a set node needs at least one of language, skills, priority")
        return self


class SelfServiceNode(_Node):
    """Reads back a ticket's status by the query code a collect node stored."""

    type: Literal["self_service"]
    lookup: Literal["ticket_status"] = "ticket_status"
    code_from: VariableName
    # played while the lookup runs, e.g. "please wait"
    prompts: Prompts = ()
    # played before the code is spoken back digit by digit, so the caller can check it;
    # unset: the code is not spoken back
    code_prompt: Prompt | None = None
    status_prompts: dict[StatusName, Prompt] = Field(min_length=1)
    not_found_prompt: Prompt
    # the lookup failed, or returned a status this node has no prompt for
    failed_prompt: Prompt
    next: NodeName
    target_fields = ("next",)


class QueueNode(_Node):
    """Waits for an agent. Skills chosen earlier in the flow replace the defaults of their kind."""

    type: Literal["queue"]
    prompts: Prompts = ()
    skills: dict[SkillName, SkillLevel] = Field(default_factory=dict)
    priority: Priority = 0
    # information that can wait: played once on hold when no agent takes the call at once
    hold_prompts: Prompts = ()


class VoicemailNode(_Node):
    type: Literal["voicemail"]
    prompts: Prompts = ()
    max_seconds: int = Field(default=120, ge=5, le=600)
    silence_seconds: int = Field(default=5, ge=1, le=60)
    beep: bool = True
    goodbye_prompts: Prompts = ()


class TransferNode(_Node):
    type: Literal["transfer"]
    prompts: Prompts = ()
    number: PhoneNumber


class HangupNode(_Node):
    type: Literal["hangup"]
    prompts: Prompts = ()


Node = (
    PlayNode
    | MenuNode
    | CollectNode
    | TimeConditionNode
    | SetNode
    | SelfServiceNode
    | QueueNode
    | VoicemailNode
    | TransferNode
    | HangupNode
)

NODE_TYPES: dict[str, type[_Node]] = {
    "play": PlayNode,
    "menu": MenuNode,
    "collect": CollectNode,
    "time_condition": TimeConditionNode,
    "set": SetNode,
    "self_service": SelfServiceNode,
    "queue": QueueNode,
    "voicemail": VoicemailNode,
    "transfer": TransferNode,
    "hangup": HangupNode,
}


class FlowHeader(BaseModel):
    """The top level of a flow file, before its nodes are checked one by one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    # the first language is the one a call starts in
    languages: tuple[LanguageCode, ...] = Field(min_length=1)
    start: NodeName
    nodes: dict[NodeName, Any] = Field(min_length=1)

    @field_validator("languages")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value


class Flow(BaseModel):
    """A validated flow: only the loader builds these, after every check has passed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    languages: tuple[str, ...]
    start: str
    nodes: dict[str, Node]

    @property
    def language(self) -> str:
        return self.languages[0]


class PromptCatalogue(BaseModel):
    """ivr_flows/prompts.yaml: prompt key → text per language, and the espeak voice of each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_language: LanguageCode
    languages: dict[LanguageCode, str] = Field(min_length=1)
    prompts: dict[PromptKey, dict[LanguageCode, Annotated[str, Field(min_length=1)]]]

    def has(self, key: str, language: str) -> bool:
        return language in self.prompts.get(key, {})
