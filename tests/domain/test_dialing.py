"""Calls out: which numbers may be dialled, and what Asterisk's reasons for no answer mean."""

from __future__ import annotations

from callcenter.domain.dialing import DialOutcome, dialable, originate_outcome


def test_only_plain_numbers_are_dialled() -> None:
    assert dialable("+8613800000000") and dialable("110") and dialable("12329")
    assert not dialable("12") and not dialable("123-29") and not dialable("12329,1")


def test_asterisks_reasons_for_an_unanswered_call() -> None:
    assert originate_outcome("5") is DialOutcome.BUSY
    assert originate_outcome("3") is DialOutcome.NO_ANSWER
    assert originate_outcome("1") is DialOutcome.NO_ANSWER
    assert originate_outcome("0") is DialOutcome.FAILED
    assert originate_outcome("") is DialOutcome.FAILED
