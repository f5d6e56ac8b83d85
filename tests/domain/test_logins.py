"""Account rules: lockout after repeated failures, names and passwords checked at the edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.domain.access import Role
from callcenter.domain.errors import InvalidInput
from callcenter.domain.logins import (
    LoginPolicy,
    after_failure,
    check_account,
    check_password,
    locked,
)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
POLICY = LoginPolicy(max_failures=3, lockout=timedelta(minutes=15), session=timedelta(hours=8))


def test_the_nth_failure_in_a_row_locks_for_the_lockout() -> None:
    first = after_failure(0, POLICY, NOW)
    second = after_failure(first.failures, POLICY, NOW)
    third = after_failure(second.failures, POLICY, NOW)
    assert (first.failures, first.locked_until) == (1, None)
    assert (second.failures, second.locked_until) == (2, None)
    assert (third.failures, third.locked_until) == (0, NOW + timedelta(minutes=15))
    assert locked(third.locked_until, NOW + timedelta(minutes=14, seconds=59))
    assert not locked(third.locked_until, NOW + timedelta(minutes=15))
    assert not locked(None, NOW)


@pytest.mark.parametrize("name", ["a", "Zhang", "-x", "名字", "a b", "x" * 33])
def test_bad_user_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        check_account(name, Role.SUPERVISOR, None)


def test_agents_and_departments_need_a_subject() -> None:
    check_account("zhang.wei", Role.AGENT, "a01")
    check_account("boss", Role.SUPERVISOR, None)
    for role in (Role.AGENT, Role.DEPARTMENT):
        with pytest.raises(InvalidInput):
            check_account("zhang.wei", role, None)


@pytest.mark.parametrize("password", ["short", "x" * 257, "with\x00nul-inside"])
def test_bad_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInput):
        check_password(password)
