"""Chinese text for the knowledge base: jieba segmentation with the hotline's own vocabulary,
synonym expansion of queries, and safe HTML from an entry's Markdown.

The vocabulary is data, edited by people: `knowledge/hotline_words.txt` (jieba's user-dictionary
format: word, frequency, part of speech), `knowledge/synonyms.txt` (one group of words that mean the
same a line) and `knowledge/stopwords.txt` (words that never decide which entry answers).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import jieba
from markdown_it import MarkdownIt

from callcenter.domain.errors import InvalidInput
from callcenter.domain.knowledge_search import QUERY_MAX, SearchQuery, TermGroup

DEFAULT_VOCABULARY_DIR = Path(__file__).resolve().parents[2] / "knowledge"
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3400-\u9fff]")

log = logging.getLogger("callcenter.knowledge")
# jieba logs its dictionary loading at INFO on its own logger
logging.getLogger("jieba").setLevel(logging.WARNING)


def _lines(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@dataclass
class Vocabulary:
    """The segmenter and the word lists; loads jieba's dictionary once, on first use."""

    directory: Path = DEFAULT_VOCABULARY_DIR
    _tokenizer: jieba.Tokenizer | None = field(default=None, init=False, repr=False)
    _synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict, init=False, repr=False)
    _stopwords: frozenset[str] = field(default=frozenset(), init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _ready(self) -> jieba.Tokenizer:
        with self._lock:
            if self._tokenizer is None:
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                tokenizer.load_userdict(str(self.directory / "hotline_words.txt"))
                synonyms: dict[str, tuple[str, ...]] = {}
                for line in _lines(self.directory / "synonyms.txt"):
                    words = tuple(w.lower() for w in line.split())
                    for word in words:
                        # a word's synonyms: every group it belongs to
                        tokenizer.add_word(word, freq=None)
                        merged = dict.fromkeys(synonyms.get(word, ()) + words)
                        synonyms[word] = tuple(merged)
                self._synonyms = synonyms
                stopwords = {
                    w for line in _lines(self.directory / "stopwords.txt") for w in line.split()
                }
                self._stopwords = frozenset(stopwords)
                self._tokenizer = tokenizer
            return self._tokenizer

    def terms(self, text: str) -> list[str]:
        """Every word and sub-word of `text` as search indexes it (lower case, no punctuation).

        Without jieba's HMM guessing of unknown words: twice as fast, and a query and the text
        it should find are cut alike; the hotline's words are in its dictionary."""
        tokenizer = self._ready()
        out: list[str] = []
        for token in tokenizer.cut_for_search(text.lower(), HMM=False):
            if _WORD.fullmatch(token):
                out.append(token)
        return out

    def index_terms(self, text: str) -> str:
        return " ".join(self.terms(text))

    def query(
        self,
        text: str,
        today: date,
        *,
        topic: str | None = None,
        department: str | None = None,
        region: str | None = None,
        limit: int = 10,
    ) -> SearchQuery:
        """The query's words (without stop words), each with its parts and synonyms."""
        text = text.strip()
        if not text:
            raise InvalidInput("q: must not be empty")
        if len(text) > QUERY_MAX:
            raise InvalidInput(f"q: at most {QUERY_MAX} characters")
        if "\x00" in text:
            raise InvalidInput("q: contains a NUL character")
        tokenizer = self._ready()
        words = [
            w
            for w in dict.fromkeys(tokenizer.cut(text.lower(), HMM=False))
            if _WORD.fullmatch(w) and w not in self._stopwords
        ]
        # a lone character (证, 房) matches too much once longer words say what is meant
        if any(len(w) > 1 for w in words):
            words = [w for w in words if len(w) > 1 or not _CJK.match(w)]
        groups: list[TermGroup] = []
        for word in words:
            alternatives: dict[str, None] = {word: None}
            for part in tokenizer.cut_for_search(word, HMM=False):
                if len(part) > 1 and _WORD.fullmatch(part) and part not in self._stopwords:
                    alternatives.setdefault(part, None)
            for term in list(alternatives):
                for synonym in self._synonyms.get(term, ()):
                    alternatives.setdefault(synonym, None)
            groups.append(TermGroup(word, tuple(alternatives)))
        return SearchQuery(
            text=text,
            groups=tuple(groups),
            today=today,
            topic=topic,
            department=department,
            region=region,
            limit=limit,
        )


# raw HTML off: an entry's Markdown can never carry a script; links are checked by markdown-it
_MARKDOWN = MarkdownIt("js-default", {"html": False, "linkify": False})


def answer_html(markdown: str) -> str:
    html: str = _MARKDOWN.render(markdown)
    return html
