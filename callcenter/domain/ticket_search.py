"""Ticket content search at scale: the character grams both backends index, and a page's total.

Chinese has no spaces, so a word index cannot find 油烟 inside 小区楼下烧烤店油烟扰民, and pg_trgm
makes no trigram of a two-character term. Every ticket's content is indexed as its single
characters and overlapping character pairs (lower case): a term of one or two characters is then
one exact index key, a longer term the set of its pairs (the candidates are re-checked for the term
itself). PostgreSQL computes the same grams in SQL (migration 0020, function ticket_grams).
"""

from __future__ import annotations

# a list counts its matching tickets up to this many, then says "10000+"
TOTAL_CAP = 10_000
# a search by words counts up to this many ("1000+"): each counted match is a row read and
# re-checked for the words, where a list's count reads an index only
SEARCH_TOTAL_CAP = 1_000


def grams(text: str) -> set[str]:
    """The keys a text is indexed under: its characters and character pairs, lower case."""
    folded = text.lower()
    found = set(folded)
    found.update(folded[i : i + 2] for i in range(len(folded) - 1))
    return found


def term_grams(term: str) -> list[str]:
    """The keys a ticket must hold to contain the term (a superset test: re-check the text)."""
    folded = term.lower()
    if len(folded) < 2:
        return [folded] if folded else []
    return sorted({folded[i : i + 2] for i in range(len(folded) - 1)})


def total_text(total: int, capped: bool) -> str:
    return f"{total}+" if capped else str(total)
