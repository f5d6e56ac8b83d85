"""Knowledge base rules without a database: the workflow, who may do what, ranking, snippets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from callcenter.domain import knowledge as rules
from callcenter.domain.access import Permission, Principal, Role, require
from callcenter.domain.errors import Forbidden, IllegalTransition, InvalidInput
from callcenter.domain.knowledge import EntryContent, EntryStatus
from callcenter.domain.knowledge_search import (
    Candidate,
    SearchQuery,
    TermGroup,
    normalise,
    plain_text,
    rank,
    snippet,
)

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
HOUSING = Principal(1, "housing", Role.DEPARTMENT, "housing")
WATER = Principal(2, "water", Role.DEPARTMENT, "water")
EDITOR = Principal(3, "editor", Role.KNOWLEDGE_EDITOR)
AGENT = Principal(4, "agent", Role.AGENT, "7")
CONTENT = EntryContent(title=" 公积金提取 ", answer_markdown="购房可提取。", department="housing")


def test_the_cycle_and_what_each_step_allows() -> None:
    created = rules.create(CONTENT, HOUSING, NOW)
    entry = created.entry
    assert (entry.status, entry.latest_version, created.new_version) == (
        EntryStatus.DRAFT,
        1,
        rules.Version(1, CONTENT.checked(), NOW, "housing"),
    )
    with pytest.raises(IllegalTransition):
        rules.publish(entry, EDITOR, NOW)
    entry = rules.submit(entry, HOUSING, NOW).entry
    with pytest.raises(IllegalTransition):
        rules.revise(entry, CONTENT, CONTENT, HOUSING, NOW)
    with pytest.raises(InvalidInput):
        rules.send_back(entry, "  ", EDITOR, NOW)
    back = rules.send_back(entry, "缺材料", EDITOR, NOW)
    assert back.event.note == "缺材料" and back.entry.status is EntryStatus.RETURNED
    with pytest.raises(InvalidInput, match="nothing to change"):
        rules.revise(back.entry, CONTENT.checked(), CONTENT, HOUSING, NOW)
    v2 = rules.revise(
        back.entry,
        CONTENT.checked(),
        CONTENT.__class__(
            title="公积金提取条件", answer_markdown="购房可提取。", department="housing"
        ),
        HOUSING,
        NOW,
    )
    assert v2.entry.latest_version == 2 and v2.new_version is not None
    entry = rules.submit(v2.entry, HOUSING, NOW).entry
    published = rules.publish(entry, EDITOR, NOW)
    assert (published.published, published.entry.published_version) == (2, 2)
    retired = rules.retire(published.entry, "", EDITOR, NOW)
    assert retired.unpublish and retired.entry.published_version is None
    with pytest.raises(IllegalTransition):
        rules.retire(retired.entry, "", EDITOR, NOW)


def test_who_may_do_what() -> None:
    with pytest.raises(Forbidden):
        rules.create(CONTENT, WATER, NOW)
    with pytest.raises(Forbidden):
        rules.create(CONTENT, AGENT, NOW)
    entry = rules.create(CONTENT, HOUSING, NOW).entry
    with pytest.raises(Forbidden):
        rules.submit(entry, WATER, NOW)
    submitted = rules.submit(entry, EDITOR, NOW).entry
    for step in (rules.publish,):
        with pytest.raises(Forbidden):
            step(submitted, HOUSING, NOW)
    with pytest.raises(Forbidden):
        rules.send_back(submitted, "x", HOUSING, NOW)
    require(AGENT, Permission.READ_KNOWLEDGE)
    require(EDITOR, Permission.REVIEW_KNOWLEDGE)
    with pytest.raises(Forbidden):
        require(HOUSING, Permission.REVIEW_KNOWLEDGE)
    with pytest.raises(Forbidden):
        require(AGENT, Permission.EDIT_KNOWLEDGE)
    assert Role.KNOWLEDGE_EDITOR.value == "knowledge_editor"


def test_content_is_checked() -> None:
    with pytest.raises(InvalidInput, match=r"^title"):
        EntryContent(title=" ", answer_markdown="a", department="d").checked()
    with pytest.raises(InvalidInput, match="NUL"):
        EntryContent(title="a\x00", answer_markdown="a", department="d").checked()
    with pytest.raises(InvalidInput, match="effective_until"):
        EntryContent(
            title="a",
            answer_markdown="a",
            department="d",
            effective_from=date(2026, 2, 1),
            effective_until=date(2026, 1, 1),
        ).checked()
    checked = EntryContent(
        title="a", answer_markdown="b", department="d", keywords=(" 医保 ", "医保", "社保")
    ).checked()
    assert checked.keywords == ("医保", "社保")
    bounded = EntryContent(
        title="a", answer_markdown="b", department="d", effective_until=date(2026, 3, 10)
    )
    assert bounded.in_effect(date(2026, 3, 10)) and not bounded.in_effect(date(2026, 3, 11))
    assert rules.expiring(bounded, date(2026, 3, 1), 10)
    assert not rules.expiring(bounded, date(2026, 2, 1), 10)


def candidate(entry_id: int, title: str, body: str, age_days: int = 0) -> Candidate:
    return Candidate(
        entry_id=entry_id,
        version=1,
        title=title,
        body=body,
        topic=None,
        department="d",
        published_at=NOW - timedelta(days=age_days),
        title_terms=" ".join(title),
        keyword_terms="",
        body_terms=" ".join(body),
        rank=1.0,
    )


def test_title_hits_rank_above_body_hits_and_recent_above_old() -> None:
    query = SearchQuery("水", (TermGroup("水", ("水",)),), NOW.date())
    in_body = candidate(1, "通知", "水")
    in_title = candidate(2, "水", "通知")
    assert [h.entry_id for h in rank(query, [in_body, in_title], NOW)] == [2, 1]
    old, new = candidate(3, "水", "x", age_days=700), candidate(4, "水", "x")
    assert [h.entry_id for h in rank(query, [old, new], NOW)] == [4, 3]


def test_snippets_escape_and_mark() -> None:
    body = "前言" * 40 + "请携带<身份证>到窗口办理身份证"
    text = snippet(body, ["身份证"])
    assert text.startswith("…") and "&lt;<mark>身份证</mark>&gt;" in text
    assert snippet("<b>", []) == "&lt;b&gt;"
    assert plain_text("# 标题\n**粗体** [链接](http://x)") == "标题 粗体 链接"
    assert normalise("  公积金   怎么取 ") == "公积金 怎么取"
