"""Departments (承办单位): the tree of units tickets are dispatched to, and its rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from callcenter.domain.errors import InvalidInput

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class DepartmentKind(StrEnum):
    CITY = "city"  # 市
    DISTRICT = "district"  # 区/县
    STREET = "street"  # 街道
    TOWNSHIP = "township"  # 乡镇
    BUREAU = "bureau"  # 市直部门, e.g. 住建局
    COMPANY = "company"  # 公共服务企业: water, power, gas
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str
    kind: DepartmentKind
    parent: str | None = None
    hotline: str = ""
    active: bool = True


def check_code(code: str) -> str:
    if not CODE.match(code):
        raise InvalidInput(
            f"department code {code!r} must be 1-64 letters, digits, '.', '_' or '-' "
            "(it is also a token's subject)"
        )
    return code


def check_parent(
    code: str, parent: str | None, parents: Mapping[str, str | None], noun: str = "department"
) -> None:
    """Refuse a parent that does not exist or would make the tree a loop.

    ``parents`` maps every existing code of the tree (departments, or topics) to its parent code.
    """
    if parent is None:
        return
    if parent not in parents:
        raise InvalidInput(f"parent {noun} {parent} does not exist")
    seen = {code}
    cursor: str | None = parent
    while cursor is not None:
        if cursor in seen:
            raise InvalidInput(f"{noun} {parent} cannot be the parent of {code}: a loop")
        seen.add(cursor)
        cursor = parents.get(cursor)
