"""Knowledge search at a mature hotline base's size: 15,000 entries, about 7 million characters.

Search p50/p99 on SQLite (FTS5) and PostgreSQL (tsvector + GIN) through the whole search path
(jieba on the query, the database, ranking and snippets), against a plain `LIKE '%word%'` scan of
the same rows in the same run; and the full index rebuild (segmentation + writing) in entries/s.
CALLCENTER_BENCH_KB_ENTRIES sets the size; CALLCENTER_BENCH_PG the PostgreSQL server (a database
of its own is created and dropped there); without a server the PostgreSQL half is skipped.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import yaml
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.domain.knowledge_search import IndexDoc
from callcenter.services.knowledge import KnowledgeBase
from callcenter.services.knowledge_text import Vocabulary
from callcenter.storage.db import make_engine, make_sessions, migrate
from callcenter.storage.knowledge import KnowledgeRepository
from callcenter.storage.knowledge_index import KnowledgeIndex
from callcenter.storage.knowledge_stats import KnowledgeStatistics
from callcenter.storage.knowledge_tables import KnowledgeEntryRow, KnowledgeVersionRow
from callcenter.storage.ticket_tables import DepartmentRow

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "knowledge"
ENTRIES = int(os.environ.get("CALLCENTER_BENCH_KB_ENTRIES", "15000"))
TARGET_CHARS = 7_000_000 * ENTRIES // 15_000
PG_ADMIN = os.environ.get("CALLCENTER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
DISTRICTS = ["东城区", "西城区", "南山区", "北湖区", "高新区", "经开区", "滨江区", "临港新区"]
ASPECTS = ["办理条件", "所需材料", "办理流程", "收费标准", "办理时限", "常见问题", "政策解读"]
QUERY_ROUNDS = 4
SEGMENT_SAMPLE = 1_000
LIKE_EVERY = 3
GENERIC = [
    "具体以窗口受理时的最新规定为准。",
    "办理时请携带相关证件原件及复印件。",
    "如对答复有异议，可在收到答复之日起十五日内提出。",
    "工作时间为周一至周五上午九点至下午五点，法定节假日除外。",
    "委托他人办理的，还需提供委托书和受托人身份证件。",
    "材料齐全、符合法定形式的，当场受理；材料不全的，一次性告知需要补正的内容。",
    "群众可通过线上平台查询办理进度，也可拨打服务热线查询。",
    "相关政策如有调整，以主管部门发布的最新文件为准。",
    "办理结果将通过短信通知申请人。",
    "对工作人员服务态度不满意的，可以向监督部门反映。",
    "特殊情况需要延期的，经批准可以延长办理时限。",
    "申请人对提交材料的真实性负责，提供虚假材料的将依法处理。",
]


def generate(seed: int = 12345) -> list[dict[str, Any]]:
    """Entries like the seeded base's, varied by district and aspect, padded with its sentences."""
    rng = random.Random(seed)
    templates = list(yaml.safe_load((FIXTURES / "entries.yaml").read_text("utf-8")).values())
    # padding as real answers have it: the department's own sentences and the usual phrases
    own: dict[str, list[str]] = {}
    for t in templates:
        for s in str(t["answer"]).replace("；", "。").split("。"):
            if s:
                own.setdefault(t["department"], []).append(s + "。")
    per_entry = TARGET_CHARS // ENTRIES
    out = []
    for i in range(ENTRIES):
        template = templates[i % len(templates)]
        district = rng.choice(DISTRICTS)
        title = f"{district}{template['title']}（{rng.choice(ASPECTS)}）"[:200]
        body = [str(template["answer"])]
        length = len(body[0])
        while length < per_entry:
            pool = own[template["department"]] if rng.random() < 0.3 else GENERIC
            sentence = rng.choice(pool)
            body.append(sentence)
            length += len(sentence)
        out.append(
            {
                "title": title,
                "answer": "".join(body),
                "department": template["department"],
                "topic": None,
                "keywords": list(template.get("keywords", [])),
                "region": district if rng.random() < 0.5 else None,
            }
        )
    return out


def queries() -> list[str]:
    asked = [q for q, _ in yaml.safe_load((FIXTURES / "queries.yaml").read_text("utf-8"))]
    partial = ["公积", "居住", "医保", "社保卡", "停水", "营业执", "失业", "低保"]
    return asked + partial


async def load(url: str, entries: list[dict[str, Any]]) -> tuple[AsyncEngine, KnowledgeBase]:
    """The generated entries as published versions (rows written directly, not through the
    workflow: the benchmark measures search and indexing)."""
    engine = make_engine(url)
    await migrate(engine)
    async with engine.begin() as conn:
        departments = sorted({e["department"] for e in entries})
        await conn.execute(
            insert(DepartmentRow),
            [
                {
                    "code": d,
                    "name": d,
                    "kind": "bureau",
                    "hotline": "",
                    "active": True,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for d in departments
            ],
        )
        for start in range(0, len(entries), 1000):
            chunk = entries[start : start + 1000]
            await conn.execute(
                insert(KnowledgeEntryRow),
                [
                    {
                        "id": start + i + 1,
                        "department_code": e["department"],
                        "status": "published",
                        "latest_version": 1,
                        "published_version": 1,
                        "created_at": NOW,
                        "created_by": "bench",
                        "updated_at": NOW,
                    }
                    for i, e in enumerate(chunk)
                ],
            )
            await conn.execute(
                insert(KnowledgeVersionRow),
                [
                    {
                        "entry_id": start + i + 1,
                        "version": 1,
                        "title": e["title"],
                        "answer_markdown": e["answer"],
                        "department_code": e["department"],
                        "topic_code": None,
                        "keywords": e["keywords"],
                        "basis": None,
                        "effective_from": None,
                        "effective_until": None,
                        "region": e["region"],
                        "created_at": NOW,
                        "created_by": "bench",
                        "published_at": NOW - timedelta(days=(start + i) % 700),
                    }
                    for i, e in enumerate(chunk)
                ],
            )
    sessions = make_sessions(engine)
    clock = lambda: NOW  # noqa: E731
    return engine, KnowledgeBase(
        KnowledgeRepository(sessions, KnowledgeIndex(sessions, clock), clock),
        Vocabulary(),
        clock,
        KnowledgeStatistics(sessions),
    )


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed(calls: list[Callable[[], Awaitable[Any]]]) -> list[float]:
    samples = []
    for call in calls:
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def like_scan(engine: AsyncEngine, words: list[str]) -> int:
    """The baseline: every row's title and body scanned with LIKE for any of the words."""
    condition = " OR ".join(f"title LIKE :w{i} OR body LIKE :w{i}" for i in range(len(words)))
    params = {f"w{i}": f"%{w}%" for i, w in enumerate(words)}
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT entry_id FROM knowledge_index WHERE {condition}"), params
        )
        return len(rows.all())


def memoised(vocabulary: Vocabulary) -> None:
    """Segment each distinct sentence once. jieba cuts at every 。 anyway, so the terms are the
    same as the real path's; the generated base repeats its sentences, a real one does not."""
    cache: dict[str, str] = {}
    segment = vocabulary.index_terms

    def index_terms(text: str) -> str:
        parts = []
        for sentence in text.split("。"):
            terms = cache.get(sentence)
            if terms is None:
                terms = cache[sentence] = segment(sentence)
            if terms:
                parts.append(terms)
        return " ".join(parts)

    vocabulary.index_terms = index_terms  # type: ignore[method-assign]


async def measure(
    name: str, engine: AsyncEngine, base: KnowledgeBase, docs: list[IndexDoc], seg_each: float
) -> None:
    start = time.perf_counter()
    written = await base.repository.index.rebuild(docs)
    write_s = time.perf_counter() - start
    write_each = write_s / written
    print(
        f"  {name}: full rebuild of {written:,} entries: {1 / (seg_each + write_each):,.0f} "
        f"entries/s (segmenting {1 / seg_each:,.0f}/s, writing {1 / write_each:,.0f}/s: "
        f"{write_s:.1f} s for all)",
        flush=True,
    )
    asked = queries()
    await base.search(asked[0])  # warm caches and the segmenter
    search = await timed(
        [lambda q=q: base.search(q, limit=10) for _ in range(QUERY_ROUNDS) for q in asked]
    )
    p50, p99 = percentile(search, 0.5), percentile(search, 0.99)
    print(
        f"  {name}: search p50 {p50:.1f} ms, p99 {p99:.1f} ms, mean "
        f"{statistics.fmean(search):.1f} ms ({len(search)} searches); goal p99 < 50 ms: "
        f"{'met' if p99 < 50 else 'NOT met'}",
        flush=True,
    )
    # the baseline: the same queries' words, each row scanned (a sample: it is slow)
    words = [[g.word for g in base.vocabulary.query(q, NOW.date()).groups] or [q] for q in asked]
    scan = await timed([lambda w=w: like_scan(engine, w) for w in words[::LIKE_EVERY]])
    l50, l99 = percentile(scan, 0.5), percentile(scan, 0.99)
    print(
        f"  {name}: LIKE scan p50 {l50:.1f} ms, p99 {l99:.1f} ms ({len(scan)} scans); "
        f"search is x{l50 / p50:.1f} faster at p50, x{l99 / p99:.1f} at p99",
        flush=True,
    )


async def run() -> None:
    entries = generate()
    chars = sum(len(e["title"]) + len(e["answer"]) for e in entries)
    print(f"knowledge search: {len(entries):,} entries, {chars:,} characters", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine, sqlite = await load(f"sqlite+aiosqlite:///{Path(tmp) / 'kb.db'}", entries)
        published = await sqlite.repository.published()
        await asyncio.to_thread(sqlite.vocabulary.terms, "")  # the dictionary, once
        # segmentation timed for real on a sample; the rest reuses the sample's sentences
        sample = published[:SEGMENT_SAMPLE]
        start = time.perf_counter()
        for entry_id, version in sample:
            sqlite.index_doc(entry_id, version)
        seg_each = (time.perf_counter() - start) / len(sample)
        print(
            f"  jieba: {1 / seg_each:,.0f} entries/s segmented (timed on {len(sample):,})",
            flush=True,
        )
        memoised(sqlite.vocabulary)
        docs = [sqlite.index_doc(entry_id, version) for entry_id, version in published]
        await measure("SQLite FTS5", engine, sqlite, docs, seg_each)
        await engine.dispose()
    name = f"cc_bench_kb_{os.getpid()}"
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as err:
        print(f"  PostgreSQL: skipped ({err})")
        return
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
        host = PG_ADMIN.split("@", 1)[1].rsplit("/", 1)[0]
        user = PG_ADMIN.split("//", 1)[1].split("@", 1)[0]
        engine, pg = await load(f"postgresql+asyncpg://{user}@{host}/{name}", entries)
        try:
            await measure("PostgreSQL tsvector", engine, pg, docs, seg_each)
        finally:
            await engine.dispose()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
