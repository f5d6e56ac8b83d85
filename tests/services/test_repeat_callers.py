"""The in-memory repeat-caller index: who called within the window, without the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.services.repeat_callers import RepeatCallers

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_a_number_that_called_within_the_window_is_a_repeat_caller() -> None:
    index = RepeatCallers(timedelta(hours=24))
    assert not index.seen("13900000001", "1.1", T0)
    assert not index.seen("13900000001", "1.1", T0)  # the same call asking again
    assert index.seen("13900000001", "1.2", T0 + timedelta(hours=23))
    assert not index.seen("13900000002", "1.3", T0)
    assert not index.seen("", "1.4", T0) and not index.seen("", "1.5", T0)


def test_calls_older_than_the_window_do_not_count_and_are_forgotten() -> None:
    index = RepeatCallers(timedelta(hours=24))
    index.warm({"13900000001": T0, "13900000002": T0 + timedelta(hours=20)})
    assert not index.seen("13900000001", "2.1", T0 + timedelta(hours=25))
    assert index.seen("13900000002", "2.2", T0 + timedelta(hours=25))
    index.seen("13900000003", "2.3", T0 + timedelta(hours=50))
    assert len(index) == 1  # the others aged out


def test_warming_keeps_the_latest_call() -> None:
    index = RepeatCallers(timedelta(hours=1))
    index.seen("13900000001", "3.1", T0)
    index.warm({"13900000001": T0 - timedelta(hours=5)})
    assert index.seen("13900000001", "3.2", T0 + timedelta(minutes=30))
