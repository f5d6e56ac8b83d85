"""The knowledge search index in the database itself: PostgreSQL tsvector (+ pg_trgm), SQLite FTS5.

Both hold the published version of each entry as jieba's segmented terms; the queries here find
candidates and their text rank, domain/knowledge_search ranks them the same way on both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.knowledge_search import CANDIDATES, Candidate, IndexDoc, SearchQuery
from callcenter.storage.knowledge_tables import (
    KnowledgeIndexRow,
    KnowledgeMissRow,
    KnowledgeTermRow,
)

# PostgreSQL's ts_rank weights for D, C, B, A (title and keywords are A, the body C)
PG_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"
# SQLite's bm25 column weights: title, keywords, body
FTS_WEIGHTS = "10.0, 6.0, 1.0"
# how far `total` counts: past it an agent refines the query anyway
TOTAL_CAP = 1000
# a term in more than this share of entries is left out of the match (from this base size on)
COMMON_SHARE = 0.4
COMMON_MIN_ENTRIES = 200
TERM_MAX = 100


def _split_terms(*fields: str) -> set[str]:
    return {t for field in fields for t in field.split() if len(t) <= TERM_MAX}


def _distinct_terms(doc: IndexDoc) -> set[str]:
    return _split_terms(doc.title_terms, doc.keyword_terms, doc.body_terms)


@dataclass(frozen=True, slots=True)
class Gap:
    query: str
    count: int
    first_at: datetime
    last_at: datetime


def _row(doc: IndexDoc) -> dict[str, Any]:
    return {
        "entry_id": doc.entry_id,
        "version": doc.version,
        "title": doc.title,
        "body": doc.body,
        "department_code": doc.department,
        "topic_code": doc.topic,
        "region": doc.region,
        "effective_from": doc.effective_from,
        "effective_until": doc.effective_until,
        "published_at": doc.published_at,
        "title_terms": doc.title_terms,
        "keyword_terms": doc.keyword_terms,
        "body_terms": doc.body_terms,
    }


def _tsquery(terms: Iterable[str]) -> str:
    # terms are \w+ only (see services/knowledge_text): quoting cannot be broken out of
    return " | ".join(f"'{t}':*" for t in terms)


def _fts_match(terms: Iterable[str]) -> str:
    return " OR ".join(f'"{t}"*' for t in terms)


def _candidate(row: KnowledgeIndexRow, rank: float) -> Candidate:
    return Candidate(
        entry_id=row.entry_id,
        version=row.version,
        title=row.title,
        body=row.body,
        topic=row.topic_code,
        department=row.department_code,
        published_at=row.published_at,
        title_terms=row.title_terms,
        keyword_terms=row.keyword_terms,
        body_terms=row.body_terms,
        rank=rank,
    )


class KnowledgeIndex:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._trigram: bool | None = None

    async def put(self, session: AsyncSession, doc: IndexDoc) -> None:
        await self.drop(session, doc.entry_id)
        await session.execute(insert(KnowledgeIndexRow).values(**_row(doc)))
        await self._count_terms(session, _distinct_terms(doc), +1)
        if session.get_bind().dialect.name == "sqlite":
            await session.execute(
                text(
                    "INSERT INTO knowledge_fts(rowid, title_terms, keyword_terms, body_terms) "
                    "VALUES (:id, :t, :k, :b)"
                ),
                {
                    "id": doc.entry_id,
                    "t": doc.title_terms,
                    "k": doc.keyword_terms,
                    "b": doc.body_terms,
                },
            )

    async def drop(self, session: AsyncSession, entry_id: int) -> None:
        old = await session.get(KnowledgeIndexRow, entry_id)
        if old is not None:
            await self._count_terms(
                session, _split_terms(old.title_terms, old.keyword_terms, old.body_terms), -1
            )
        await session.execute(
            delete(KnowledgeIndexRow).where(KnowledgeIndexRow.entry_id == entry_id)
        )
        if session.get_bind().dialect.name == "sqlite":
            await session.execute(
                text("DELETE FROM knowledge_fts WHERE rowid = :id"), {"id": entry_id}
            )

    async def rebuild(self, docs: Iterable[IndexDoc], batch: int = 500) -> int:
        """Replace the whole index (after a vocabulary change): one transaction, batched."""
        count = 0
        async with self._sessions.begin() as session:
            sqlite = session.get_bind().dialect.name == "sqlite"
            await session.execute(delete(KnowledgeIndexRow))
            await session.execute(delete(KnowledgeTermRow))
            counts: Counter[str] = Counter()
            if sqlite:
                await session.execute(text("DELETE FROM knowledge_fts"))
            chunk: list[IndexDoc] = []
            for doc in docs:
                counts.update(_distinct_terms(doc))
                chunk.append(doc)
                if len(chunk) >= batch:
                    await self._insert_many(session, chunk, sqlite)
                    count += len(chunk)
                    chunk = []
            if chunk:
                await self._insert_many(session, chunk, sqlite)
                count += len(chunk)
            rows = [{"term": t, "docs": n} for t, n in counts.items()]
            for start in range(0, len(rows), 5_000):
                await session.execute(insert(KnowledgeTermRow), rows[start : start + 5_000])
        if not sqlite:
            # fresh statistics, so the planner uses the GIN index on the new rows
            async with self._sessions.begin() as session:
                await session.execute(text("ANALYZE knowledge_index"))
        return count

    async def _count_terms(self, session: AsyncSession, terms: set[str], step: int) -> None:
        if not terms:
            return
        if step < 0:
            await session.execute(
                update(KnowledgeTermRow)
                .where(KnowledgeTermRow.term.in_(sorted(terms)))
                .values(docs=KnowledgeTermRow.docs - 1)
            )
            return
        make = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = make(KnowledgeTermRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=[KnowledgeTermRow.term],
            set_={"docs": KnowledgeTermRow.docs + stmt.excluded.docs},
        )
        await session.execute(stmt, [{"term": t, "docs": 1} for t in sorted(terms)])

    async def _common(self, session: AsyncSession, terms: tuple[str, ...]) -> set[str]:
        """The terms held by more than COMMON_SHARE of the indexed entries."""
        size = await session.scalar(select(func.count()).select_from(KnowledgeIndexRow)) or 0
        if size < COMMON_MIN_ENTRIES:
            return set()
        rows = await session.execute(
            select(KnowledgeTermRow.term).where(
                KnowledgeTermRow.term.in_(terms), KnowledgeTermRow.docs > size * COMMON_SHARE
            )
        )
        return {term for (term,) in rows.all()}

    async def _insert_many(self, session: AsyncSession, docs: list[IndexDoc], sqlite: bool) -> None:
        await session.execute(insert(KnowledgeIndexRow), [_row(d) for d in docs])
        if sqlite:
            await session.execute(
                text(
                    "INSERT INTO knowledge_fts(rowid, title_terms, keyword_terms, body_terms) "
                    "VALUES (:id, :t, :k, :b)"
                ),
                [
                    {"id": d.entry_id, "t": d.title_terms, "k": d.keyword_terms, "b": d.body_terms}
                    for d in docs
                ],
            )

    async def _has_trigram(self, session: AsyncSession) -> bool:
        if self._trigram is None:
            found = await session.scalar(
                text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            )
            self._trigram = found is not None
        return self._trigram

    @staticmethod
    def _filters(query: SearchQuery, prefix: str) -> tuple[str, dict[str, Any]]:
        sql = [
            f"({prefix}effective_from IS NULL OR {prefix}effective_from <= :today)",
            f"({prefix}effective_until IS NULL OR {prefix}effective_until >= :today)",
        ]
        params: dict[str, Any] = {"today": query.today}
        if query.topic:
            sql.append(
                f"({prefix}topic_code = :topic OR {prefix}topic_code LIKE :topic_under ESCAPE '\\')"
            )
            params["topic"] = query.topic
            params["topic_under"] = query.topic.replace("%", "").replace("_", "\\_") + ".%"
        if query.department:
            sql.append(f"{prefix}department_code = :department")
            params["department"] = query.department
        if query.region:
            # an entry without a region holds for the whole city
            sql.append(f"({prefix}region IS NULL OR {prefix}region = :region)")
            params["region"] = query.region
        return " AND ".join(sql), params

    async def search(self, query: SearchQuery) -> tuple[int, list[Candidate]]:
        """Entries in effect matching any of the query's terms, best text rank first, and how
        many match (counted up to TOTAL_CAP).

        Two steps: rank ids only (the index alone), then read the best rows whole."""
        terms = query.terms
        if not terms:
            return 0, []
        async with self._sessions() as session:
            common = await self._common(session, terms)
            # the match leaves out words most entries hold (all of them if every one is)
            kept = tuple(t for t in terms if t not in common)
            terms = kept or terms
            if session.get_bind().dialect.name == "postgresql":
                # an OR of prefixes is overestimated, and a sequential scan then reads every
                # row's tsvector: the GIN index is always the better way here
                await session.execute(text("SET LOCAL enable_seqscan = off"))
                match, params = await self._match_postgres(session, query, terms)
                rank_sql = (
                    f"SELECT entry_id, {params.pop('_rank')} AS rank FROM knowledge_index "
                    f"WHERE {match} ORDER BY rank DESC, entry_id LIMIT :limit"
                )
                count_sql = f"SELECT 1 FROM knowledge_index WHERE {match}"
            else:
                where, params = self._filters(query, "i.")
                params["match"] = _fts_match(terms)
                # bm25 where the MATCH is (a step of its own), then the filters by primary key
                hits = (
                    "WITH hits AS MATERIALIZED (SELECT rowid AS id, "
                    f"-bm25(knowledge_fts, {FTS_WEIGHTS}) AS rank FROM knowledge_fts "
                    "WHERE knowledge_fts MATCH :match) "
                )
                join = f"hits JOIN knowledge_index i ON i.entry_id = hits.id WHERE {where}"
                rank_sql = (
                    f"{hits}SELECT hits.id AS entry_id, hits.rank FROM {join} "
                    "ORDER BY hits.rank DESC, hits.id LIMIT :limit"
                )
                count_sql = f"{hits}SELECT 1 FROM {join}"
            ranked = [
                (int(r.entry_id), float(r.rank or 0.0))
                for r in await session.execute(text(rank_sql), {**params, "limit": CANDIDATES})
            ]
            if len(ranked) < query.limit and session.get_bind().dialect.name == "postgresql":
                ranked += await self._similar_titles(session, query, {i for i, _ in ranked})
            total = len(ranked)
            if total >= CANDIDATES:
                total = int(
                    await session.scalar(
                        text(f"SELECT count(*) FROM ({count_sql} LIMIT :cap) AS counted"),
                        {**params, "cap": TOTAL_CAP},
                    )
                    or 0
                )
            rank_of = dict(ranked)
            rows = await session.scalars(
                select(KnowledgeIndexRow).where(KnowledgeIndexRow.entry_id.in_(list(rank_of)))
            )
            candidates = [_candidate(row, rank_of[row.entry_id]) for row in rows]
        candidates.sort(key=lambda c: (-c.rank, c.entry_id))
        return total, candidates

    async def _match_postgres(
        self, session: AsyncSession, query: SearchQuery, terms: tuple[str, ...]
    ) -> tuple[str, dict[str, Any]]:
        where, params = self._filters(query, "")
        params.update(all=_tsquery(terms))
        params["_rank"] = f"ts_rank('{PG_WEIGHTS}', tsv, to_tsquery('simple', :all))"
        return f"tsv @@ to_tsquery('simple', :all) AND {where}", params

    async def _similar_titles(
        self, session: AsyncSession, query: SearchQuery, exclude: set[int]
    ) -> list[tuple[int, float]]:
        """Titles like the query as typed (partial words, typos), by pg_trgm: asked only when
        the terms found too little, since it compares the whole query with every title hit."""
        if not await self._has_trigram(session):
            return []
        where, params = self._filters(query, "")
        rows = await session.execute(
            text(
                "SELECT entry_id, word_similarity(:raw, title) AS rank FROM knowledge_index "
                f"WHERE :raw <% title AND {where} ORDER BY rank DESC, entry_id LIMIT :limit"
            ),
            {**params, "raw": query.text, "limit": CANDIDATES},
        )
        return [(int(r.entry_id), float(r.rank)) for r in rows if int(r.entry_id) not in exclude]

    async def count_miss(self, query: str, now: datetime) -> None:
        """A search that found nothing: a knowledge gap, counted per normalised query."""
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            make = pg_insert if dialect == "postgresql" else sqlite_insert
            stmt = make(KnowledgeMissRow).values(query=query, count=1, first_at=now, last_at=now)
            stmt = stmt.on_conflict_do_update(
                index_elements=[KnowledgeMissRow.query],
                set_={"count": KnowledgeMissRow.count + 1, "last_at": stmt.excluded.last_at},
            )
            await session.execute(stmt)

    async def gaps(self, limit: int) -> list[Gap]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(KnowledgeMissRow)
                .order_by(KnowledgeMissRow.count.desc(), KnowledgeMissRow.last_at.desc())
                .limit(limit)
            )
            return [Gap(r.query, r.count, r.first_at, r.last_at) for r in rows]

    async def forget_gap(self, query: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(KnowledgeMissRow).where(KnowledgeMissRow.query == query)
            )
            return bool(getattr(result, "rowcount", 0))

    async def size(self) -> int:
        async with self._sessions() as session:
            return int(
                await session.scalar(select(func.count()).select_from(KnowledgeIndexRow)) or 0
            )
