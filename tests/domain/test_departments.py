"""Department codes and the tree's parent rules."""

from __future__ import annotations

import pytest

from callcenter.domain.departments import check_code, check_parent
from callcenter.domain.errors import InvalidInput

TREE = {"city": None, "district.east": "city", "street.a": "district.east"}


def test_codes() -> None:
    assert check_code("district.east") == "district.east"
    for bad in ("", "has space", "-lead", "x" * 65, "住建局"):
        with pytest.raises(InvalidInput):
            check_code(bad)


def test_parents_must_exist_and_never_loop() -> None:
    check_parent("street.b", "district.east", TREE)
    check_parent("city", None, TREE)
    with pytest.raises(InvalidInput, match="parent department nowhere does not exist"):
        check_parent("street.b", "nowhere", TREE)
    with pytest.raises(InvalidInput, match="a loop"):
        check_parent("city", "street.a", TREE)
    with pytest.raises(InvalidInput, match="a loop"):
        check_parent("city", "city", TREE)
    with pytest.raises(InvalidInput, match="parent topic"):
        check_parent("t", "missing", {}, "topic")
