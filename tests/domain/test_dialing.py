"""Calls out: which numbers may be dialled (what Asterisk's reasons for no answer mean is
telephony's: tests/telephony/test_events.py)."""

from __future__ import annotations

from callcenter.domain.dialing import dialable


def test_only_plain_numbers_are_dialled() -> None:
    assert dialable("+8613800000000") and dialable("110") and dialable("12329")
    assert not dialable("12") and not dialable("123-29") and not dialable("12329,1")
