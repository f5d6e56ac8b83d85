"""People who log in with a name and password: account rules, lockout and session lifetime."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from callcenter.domain.access import Role
from callcenter.domain.errors import DomainError, InvalidInput

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256


class BadCredentials(DomainError):
    """Unknown user, wrong password or disabled account: one message for all, so a caller
    cannot tell which names exist."""

    code = "bad_credentials"

    def __init__(self) -> None:
        super().__init__("wrong user name or password")


class AccountLocked(DomainError):
    code = "account_locked"

    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many failed logins; try again after {until.isoformat()}")
        self.until = until


class AuthEvent(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    FAILURE = "failure"
    LOCKED = "locked"
    REFUSED_LOCKED = "refused_locked"
    CREATED = "created"
    DISABLED = "disabled"
    PASSWORD_RESET = "password_reset"


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures: int
    lockout: timedelta
    session: timedelta


@dataclass(frozen=True, slots=True)
class Lock:
    failures: int
    locked_until: datetime | None


def after_failure(failures: int, policy: LoginPolicy, now: datetime) -> Lock:
    """Count a failed password; the Nth failure in a row locks the account for a while."""
    failures += 1
    if failures >= policy.max_failures:
        return Lock(0, now + policy.lockout)
    return Lock(failures, None)


def locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


def check_account(username: str, role: Role, subject: str | None) -> None:
    if not USERNAME.fullmatch(username):
        raise InvalidInput(
            "a user name is 2-32 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if role in (Role.AGENT, Role.DEPARTMENT) and not subject:
        raise InvalidInput(
            f"a {role.value} account needs a subject (the agent id or the department code)"
        )


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if "\x00" in password:
        raise InvalidInput("a password may not contain NUL")
