"""Knowledge search rules: query term groups, ranking of candidates, highlighted snippets.

Pure: the segmenter (jieba) and the database find candidates elsewhere; this module decides the
order both backends return, so PostgreSQL and SQLite rank alike.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime

QUERY_MAX = 200
LIMIT_MAX = 50
# candidates the database hands over for ranking here
CANDIDATES = 50
SNIPPET_CHARS = 90
TITLE_HIT, KEYWORD_HIT, BODY_HIT = 3.0, 2.5, 1.0
RECENT_DAYS = 180.0

_MARKDOWN = re.compile(
    r"!\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\([^)]*\)|^\s*(?:[#>]+|[-+*]|\d+\.)\s|[*_`~|]+",
    re.MULTILINE,
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class TermGroup:
    """One word of the query with what also counts for it: its parts and its synonyms."""

    word: str
    terms: tuple[str, ...]

    @property
    def weight(self) -> float:
        # longer words are more specific (公积金 says more than 办理)
        return 1.0 + 0.25 * min(len(self.word), 4)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str
    groups: tuple[TermGroup, ...]
    today: date
    topic: str | None = None
    department: str | None = None
    region: str | None = None
    limit: int = 10

    @property
    def terms(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for group in self.groups:
            for term in group.terms:
                seen.setdefault(term, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class IndexDoc:
    """The published version of an entry as the search index holds it."""

    entry_id: int
    version: int
    title: str
    body: str
    department: str
    topic: str | None
    region: str | None
    effective_from: date | None
    effective_until: date | None
    published_at: datetime
    title_terms: str
    keyword_terms: str
    body_terms: str


@dataclass(frozen=True, slots=True)
class Candidate:
    entry_id: int
    version: int
    title: str
    body: str
    topic: str | None
    department: str
    published_at: datetime
    title_terms: str
    keyword_terms: str
    body_terms: str
    # the database's own text rank (higher is better), for ties
    rank: float


@dataclass(frozen=True, slots=True)
class Hit:
    entry_id: int
    version: int
    title: str
    snippet_html: str
    topic: str | None
    department: str
    score: float


def normalise(text: str) -> str:
    """A query as knowledge gaps count it: trimmed, spaces collapsed, lower case."""
    return _SPACES.sub(" ", text).strip().lower()[:QUERY_MAX]


def plain_text(markdown: str) -> str:
    """Markdown as the words a reader sees (for indexing and snippets)."""
    text = _MARKDOWN.sub(lambda m: m.group(1) or m.group(2) or " ", markdown)
    return _SPACES.sub(" ", text).strip()


def _field_score(group: TermGroup, title: str, keywords: str, body: str) -> float:
    """The best field a group's terms hit. Fields are space-padded term lists: " t" finds a
    term beginning with t (partial words in titles and keywords), " t " the term itself."""
    best = 0.0
    for term in group.terms:
        if f" {term}" in title:
            return TITLE_HIT
        if f" {term}" in keywords:
            best = KEYWORD_HIT
        elif best < BODY_HIT and f" {term} " in body:
            best = BODY_HIT
    return best


def rank(query: SearchQuery, candidates: list[Candidate], now: datetime) -> list[Hit]:
    """Title and keyword hits above body hits, more of the query's words above fewer, then
    the database's rank, and recently published entries a little higher."""
    if not candidates:
        return []
    top_rank = max(c.rank for c in candidates) or 1.0
    total_weight = sum(g.weight for g in query.groups) * TITLE_HIT or 1.0
    scored: list[tuple[float, Candidate]] = []
    phrase = normalise(query.text)
    for candidate in candidates:
        title = f" {candidate.title_terms} "
        keywords = f" {candidate.keyword_terms} "
        body = f" {candidate.body_terms} "
        coverage = (
            sum(g.weight * _field_score(g, title, keywords, body) for g in query.groups)
            / total_weight
        )
        age_days = max((now - candidate.published_at).total_seconds() / 86_400, 0.0)
        recency = 1.0 / (1.0 + age_days / RECENT_DAYS)
        score = coverage + 0.2 * candidate.rank / top_rank + 0.05 * recency
        if phrase and phrase in candidate.title.lower():
            score += 0.5
        scored.append((score, candidate))
    scored.sort(key=lambda pair: (-pair[0], pair[1].entry_id))
    surfaces = [t for t in query.terms if len(t) > 1 or t.isascii()]
    return [
        Hit(
            entry_id=c.entry_id,
            version=c.version,
            title=c.title,
            snippet_html=snippet(c.body, surfaces),
            topic=c.topic,
            department=c.department,
            score=round(score, 4),
        )
        for score, c in scored[: query.limit]
    ]


def snippet(body: str, terms: list[str], width: int = SNIPPET_CHARS) -> str:
    """A window of the body around the first hit, HTML-escaped, each hit in <mark>…</mark>."""
    words = sorted({t for t in terms if t}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None
    start = 0
    if pattern is not None:
        first = pattern.search(body)
        if first is not None:
            start = max(0, first.start() - width // 4)
    window = body[start : start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(body) else ""
    if pattern is None:
        return prefix + html.escape(window) + suffix
    out: list[str] = []
    position = 0
    for match in pattern.finditer(window):
        out.append(html.escape(window[position : match.start()]))
        out.append(f"<mark>{html.escape(match.group(0))}</mark>")
        position = match.end()
    out.append(html.escape(window[position:]))
    return prefix + "".join(out) + suffix
