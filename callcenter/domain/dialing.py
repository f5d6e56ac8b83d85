"""Numbers the hotline may dial out through its trunk (surveys, three-way calls, transfers)."""

from __future__ import annotations


def dialable(phone: str) -> bool:
    """Digits only (an optional leading +), 3 to 20 of them: nothing a dialplan could misread."""
    digits = phone.removeprefix("+")
    return digits.isdigit() and 3 <= len(digits) <= 20
