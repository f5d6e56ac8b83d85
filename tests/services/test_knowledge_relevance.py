"""Search relevance: citizens' own phrasings against a seeded base, on PostgreSQL and SQLite.

Each query (tests/fixtures/knowledge/queries.yaml) names the entry that answers it; the expected
entry must be in the top 3 for at least 90% of them on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from callcenter.domain.access import Principal, Role
from callcenter.domain.knowledge import EntryContent
from callcenter.services.knowledge import KnowledgeBase
from tests.api.knowledge_desk import Desk, knowledge_desk

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "knowledge"
EDITOR = Principal(1, "editor", Role.KNOWLEDGE_EDITOR)


def seeded_entries() -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = yaml.safe_load(
        (FIXTURES / "entries.yaml").read_text(encoding="utf-8")
    )
    return entries


def queries() -> list[tuple[str, str]]:
    return [(q, key) for q, key in yaml.safe_load((FIXTURES / "queries.yaml").read_text("utf-8"))]


async def seed(base: KnowledgeBase) -> dict[int, str]:
    keys: dict[int, str] = {}
    for key, fields in seeded_entries().items():
        content = EntryContent(
            title=fields["title"],
            answer_markdown=fields["answer"],
            department=fields["department"],
            topic=fields.get("topic"),
            keywords=tuple(fields.get("keywords", ())),
        )
        view = await base.create(content, EDITOR)
        assert view.entry.id is not None
        await base.submit(view.entry.id, EDITOR)
        await base.publish(view.entry.id, EDITOR)
        keys[view.entry.id] = key
    return keys


@pytest.fixture(params=["sqlite", "postgresql"])
async def desk(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str) -> AsyncIterator[Desk]:
    url = pg_url if request.param == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'kb.db'}"
    async with knowledge_desk(url, datetime(2026, 3, 2, 2, 0, tzinfo=UTC)) as desk:
        yield desk


def test_the_fixture_is_a_fair_test() -> None:
    entries = seeded_entries()
    asked = queries()
    assert len(entries) >= 40 and len(asked) >= 40
    assert {key for _, key in asked} <= set(entries)
    # citizens' words, not the titles: no query is an entry's title
    titles = {fields["title"] for fields in entries.values()}
    assert not titles & {q for q, _ in asked}


async def test_the_expected_entry_is_in_the_top_three(desk: Desk) -> None:
    keys = await seed(desk.base)
    missed: list[str] = []
    asked = queries()
    for question, expected in asked:
        result = await desk.base.search(question, limit=3)
        found = [keys[hit.entry_id] for hit in result.items]
        if expected not in found:
            missed.append(f"{question} -> {found} (expected {expected})")
    share = 1 - len(missed) / len(asked)
    assert share >= 0.9, "\n".join(missed)
    print(f"\n{desk.engine.dialect.name}: top-3 {share:.0%} of {len(asked)}; missed: {missed}")
