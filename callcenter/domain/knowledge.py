"""Knowledge base (知识库) rules: entries, immutable versions, the editorial workflow, who sees.

Pure: no I/O, the clock passed in. A department handler drafts and revises its own department's
entries; knowledge editors review, send back with a reason, publish and retire; agents and
supervisors read the published version of entries in effect only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from callcenter.domain.access import Principal, Role
from callcenter.domain.errors import Forbidden, IllegalTransition, InvalidInput

TITLE_MAX = 200
ANSWER_MAX = 20_000
KEYWORDS_MAX = 30
KEYWORD_MAX = 40
BASIS_MAX = 2_000
REGION_MAX = 64
REASON_MAX = 2_000


class EntryStatus(StrEnum):
    """The state of an entry's latest version in the editorial workflow."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    PUBLISHED = "published"
    RETIRED = "retired"


class KnowledgeAction(StrEnum):
    CREATED = "created"
    REVISED = "revised"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    PUBLISHED = "published"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class EntryContent:
    """What one version of an entry says; a saved version never changes."""

    title: str
    answer_markdown: str
    department: str
    topic: str | None = None
    keywords: tuple[str, ...] = ()
    basis: str | None = None
    effective_from: date | None = None
    effective_until: date | None = None
    region: str | None = None

    def checked(self) -> EntryContent:
        """The content trimmed and validated; InvalidInput names the first bad field."""
        title = _text(self.title, "title", TITLE_MAX)
        answer = _text(self.answer_markdown, "answer_markdown", ANSWER_MAX)
        department = _text(self.department, "department", 64)
        keywords: list[str] = []
        for word in self.keywords:
            cleaned = _text(word, "keywords", KEYWORD_MAX)
            if cleaned not in keywords:
                keywords.append(cleaned)
        if len(keywords) > KEYWORDS_MAX:
            raise InvalidInput(f"keywords: at most {KEYWORDS_MAX}")
        if (
            self.effective_from is not None
            and self.effective_until is not None
            and self.effective_until < self.effective_from
        ):
            raise InvalidInput("effective_until: before effective_from")
        return replace(
            self,
            title=title,
            answer_markdown=answer,
            department=department,
            topic=_optional(self.topic, "topic", 64),
            keywords=tuple(keywords),
            basis=_optional(self.basis, "basis", BASIS_MAX),
            region=_optional(self.region, "region", REGION_MAX),
        )

    def in_effect(self, today: date) -> bool:
        if self.effective_from is not None and today < self.effective_from:
            return False
        return self.effective_until is None or today <= self.effective_until


def _text(value: str, field: str, limit: int) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput(f"{field}: must not be empty")
    if len(cleaned) > limit:
        raise InvalidInput(f"{field}: at most {limit} characters")
    # PostgreSQL refuses NUL in text; SQLite would keep it: refuse it on both
    if "\x00" in cleaned:
        raise InvalidInput(f"{field}: contains a NUL character")
    return cleaned


def _optional(value: str | None, field: str, limit: int) -> str | None:
    if value is None or not value.strip():
        return None
    return _text(value, field, limit)


@dataclass(frozen=True, slots=True)
class Version:
    number: int
    content: EntryContent
    created_at: datetime
    created_by: str
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    department: str
    status: EntryStatus
    latest_version: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    # what agents read; None until first published and again once retired
    published_version: int | None = None
    retired_at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class KnowledgeEvent:
    """One line of an entry's audit trail."""

    action: KnowledgeAction
    version: int
    actor: str
    at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class KnowledgeChange:
    """What a workflow step decided: the entry after it, its audit line, a version to add."""

    entry: Entry
    event: KnowledgeEvent
    new_version: Version | None = None
    # the version now published (index it), or True in `unpublish` to drop it from search
    published: int | None = None
    unpublish: bool = False


def is_editor(principal: Principal) -> bool:
    return principal.role in (Role.KNOWLEDGE_EDITOR, Role.ADMIN)


def may_edit(principal: Principal, department: str) -> bool:
    """Editors edit any department's entries; a department handler its own department's."""
    if is_editor(principal):
        return True
    return principal.role is Role.DEPARTMENT and principal.subject == department


def sees_drafts(principal: Principal, department: str) -> bool:
    """Who reads unpublished versions and the audit trail: editors and the owning department."""
    return may_edit(principal, department)


def require_edit(principal: Principal, department: str) -> None:
    if not may_edit(principal, department):
        raise Forbidden(f"{principal.name} may not edit department {department}'s entries")


def require_editor(principal: Principal, what: str) -> None:
    if not is_editor(principal):
        raise Forbidden(f"only knowledge editors may {what}")


def _expect(entry: Entry, action: str, *allowed: EntryStatus) -> None:
    if entry.status not in allowed:
        raise IllegalTransition(f"cannot {action} an entry that is {entry.status.value}")


def _reason(reason: str, required: bool) -> str:
    cleaned = reason.strip()
    if required and not cleaned:
        raise InvalidInput("reason: must not be empty")
    if len(cleaned) > REASON_MAX:
        raise InvalidInput(f"reason: at most {REASON_MAX} characters")
    return cleaned


def create(content: EntryContent, actor: Principal, now: datetime) -> KnowledgeChange:
    content = content.checked()
    require_edit(actor, content.department)
    entry = Entry(
        department=content.department,
        status=EntryStatus.DRAFT,
        latest_version=1,
        created_at=now,
        created_by=actor.name,
        updated_at=now,
    )
    version = Version(1, content, now, actor.name)
    return KnowledgeChange(
        entry, KnowledgeEvent(KnowledgeAction.CREATED, 1, actor.name, now), new_version=version
    )


def revise(
    entry: Entry, latest: EntryContent, content: EntryContent, actor: Principal, now: datetime
) -> KnowledgeChange:
    """Every edit is a new version (a draft); the published one stays in search until replaced."""
    content = content.checked()
    require_edit(actor, entry.department)
    if content.department != entry.department:
        # moving an entry to another department is the center's call
        require_editor(actor, "move an entry to another department")
    _expect(
        entry,
        "revise",
        EntryStatus.DRAFT,
        EntryStatus.RETURNED,
        EntryStatus.PUBLISHED,
        EntryStatus.RETIRED,
    )
    if content == latest:
        raise InvalidInput("nothing to change")
    number = entry.latest_version + 1
    new = replace(
        entry,
        department=content.department,
        status=EntryStatus.DRAFT,
        latest_version=number,
        updated_at=now,
    )
    return KnowledgeChange(
        new,
        KnowledgeEvent(KnowledgeAction.REVISED, number, actor.name, now),
        new_version=Version(number, content, now, actor.name),
    )


def submit(entry: Entry, actor: Principal, now: datetime) -> KnowledgeChange:
    require_edit(actor, entry.department)
    _expect(entry, "submit", EntryStatus.DRAFT, EntryStatus.RETURNED)
    new = replace(entry, status=EntryStatus.IN_REVIEW, updated_at=now)
    event = KnowledgeEvent(KnowledgeAction.SUBMITTED, entry.latest_version, actor.name, now)
    return KnowledgeChange(new, event)


def send_back(entry: Entry, reason: str, actor: Principal, now: datetime) -> KnowledgeChange:
    require_editor(actor, "send entries back")
    _expect(entry, "send back", EntryStatus.IN_REVIEW)
    note = _reason(reason, required=True)
    new = replace(entry, status=EntryStatus.RETURNED, updated_at=now)
    event = KnowledgeEvent(KnowledgeAction.RETURNED, entry.latest_version, actor.name, now, note)
    return KnowledgeChange(new, event)


def publish(entry: Entry, actor: Principal, now: datetime) -> KnowledgeChange:
    require_editor(actor, "publish entries")
    _expect(entry, "publish", EntryStatus.IN_REVIEW)
    number = entry.latest_version
    new = replace(
        entry,
        status=EntryStatus.PUBLISHED,
        published_version=number,
        retired_at=None,
        updated_at=now,
    )
    event = KnowledgeEvent(KnowledgeAction.PUBLISHED, number, actor.name, now)
    return KnowledgeChange(new, event, published=number)


def retire(entry: Entry, reason: str, actor: Principal, now: datetime) -> KnowledgeChange:
    """Withdrawn from agents' search at once; the history stays readable."""
    require_editor(actor, "retire entries")
    _expect(
        entry,
        "retire",
        EntryStatus.DRAFT,
        EntryStatus.IN_REVIEW,
        EntryStatus.RETURNED,
        EntryStatus.PUBLISHED,
    )
    note = _reason(reason, required=False)
    new = replace(
        entry, status=EntryStatus.RETIRED, published_version=None, retired_at=now, updated_at=now
    )
    event = KnowledgeEvent(KnowledgeAction.RETIRED, entry.latest_version, actor.name, now, note)
    return KnowledgeChange(new, event, unpublish=True)


def expiring(content: EntryContent, today: date, days: int) -> bool:
    """In effect today, and its `until` falls within the next `days` days."""
    until = content.effective_until
    return until is not None and today <= until <= today + timedelta(days=days)
