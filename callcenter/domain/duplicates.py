"""Duplicates (判重): how alike two tickets' contents are, and which earlier ones to suggest."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, letters and digits only (CJK counts as letters)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if ch.isalnum())


def address_key(address: str) -> str:
    """The form addresses are compared in: 'XX路 12号' and 'xx路12号' are the same place."""
    return normalize(address)


def _bigrams(text: str) -> set[str]:
    # Chinese has no spaces: overlapping character pairs are the usual unit of comparison
    if len(text) < 2:
        return {text} if text else set()
    return {text[i : i + 2] for i in range(len(text) - 1)}


def similarity(a: str, b: str) -> float:
    """Dice coefficient of the character bigrams of two texts: 1.0 same, 0.0 nothing shared."""
    left, right = _bigrams(normalize(a)), _bigrams(normalize(b))
    if not left or not right:
        return 0.0
    return 2 * len(left & right) / (len(left) + len(right))


@dataclass(frozen=True, slots=True)
class Candidate:
    """An earlier ticket from the same phone or the same address."""

    ticket_id: int
    number: str
    created_at: datetime
    caller_phone: str
    address: str
    content: str
    status: str


@dataclass(frozen=True, slots=True)
class Suggestion:
    ticket_id: int
    number: str
    created_at: datetime
    status: str
    score: float
    same_phone: bool
    same_address: bool


def suggest(
    *,
    content: str,
    phone: str,
    address: str,
    candidates: Iterable[Candidate],
    threshold: float,
) -> list[Suggestion]:
    """Earlier tickets from the same phone or address whose content is alike, most alike first."""
    key = address_key(address)
    found = []
    for candidate in candidates:
        same_phone = bool(phone) and candidate.caller_phone == phone
        same_address = bool(key) and address_key(candidate.address) == key
        if not (same_phone or same_address):
            continue
        score = similarity(content, candidate.content)
        if score >= threshold:
            found.append(
                Suggestion(
                    ticket_id=candidate.ticket_id,
                    number=candidate.number,
                    created_at=candidate.created_at,
                    status=candidate.status,
                    score=round(score, 3),
                    same_phone=same_phone,
                    same_address=same_address,
                )
            )
    return sorted(found, key=lambda s: (-s.score, -s.created_at.timestamp()))
