"""Duplicate suggestions (判重): similar content from the same phone or the same address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.domain.duplicates import Candidate, address_key, similarity, suggest

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
NOISE = "小区楼下烧烤店油烟扰民，晚上十点后仍在营业"


def candidate(i: int, phone: str, address: str, content: str) -> Candidate:
    return Candidate(i, f"20260301-{i:04d}", T0 - timedelta(days=i), phone, address, content, "x")


def test_similarity_of_chinese_texts() -> None:
    assert similarity(NOISE, NOISE) == 1.0
    assert similarity(NOISE, "路灯不亮，晚上很黑") < 0.15
    near = similarity(NOISE, "楼下烧烤店油烟扰民，营业到很晚")
    assert near > 0.45
    # punctuation, spaces and full-width forms do not matter
    assert similarity("油烟扰民！！", "油烟 扰民") == 1.0
    assert similarity("ＡＢＣ１２３", "abc123") == 1.0
    assert similarity("", NOISE) == 0.0
    assert similarity("油", "油") == 1.0


def test_address_key_ignores_spacing_and_width() -> None:
    assert address_key("东城区 幸福路１２号") == address_key("东城区幸福路12号")
    assert address_key("  ") == ""


def test_suggestions_need_the_same_phone_or_address_and_similar_content() -> None:
    candidates = [
        candidate(1, "13812345678", "", "楼下烧烤店油烟扰民，营业到很晚"),  # same phone
        candidate(2, "13900000000", "东城区 幸福路１２号", "烧烤油烟扰民，晚上十点后还营业"),
        candidate(3, "13900000000", "西城区", NOISE),  # alike, but someone else elsewhere
        candidate(4, "13812345678", "", "社保卡补办需要什么材料"),  # same caller, other matter
    ]
    found = suggest(
        content=NOISE,
        phone="13812345678",
        address="东城区幸福路12号",
        candidates=candidates,
        threshold=0.3,
    )
    assert {s.ticket_id for s in found} == {1, 2}
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    by_id = {s.ticket_id: s for s in found}
    assert by_id[1].same_phone and not by_id[1].same_address
    assert by_id[2].same_address and not by_id[2].same_phone
    assert all(0.3 <= s.score <= 1 for s in found)
    # an anonymous caller with no address matches nothing
    assert suggest(content=NOISE, phone="", address="", candidates=candidates, threshold=0.1) == []
