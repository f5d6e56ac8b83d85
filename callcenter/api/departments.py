"""/departments: the tree of units tickets are dispatched to (承办单位)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from callcenter.api.auth import allowed
from callcenter.api.deps import TicketingDep
from callcenter.api.types import SafeStr
from callcenter.domain.access import Permission, Principal
from callcenter.domain.departments import Department, DepartmentKind
from callcenter.domain.errors import InvalidInput, NotFound
from callcenter.storage.departments import UNSET

router = APIRouter(prefix="/departments", tags=["departments"])

Admin = Annotated[Principal, Depends(allowed(Permission.MANAGE_DEPARTMENTS))]
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Name = Annotated[SafeStr, Field(min_length=1, max_length=200)]
# a code named in a path: looked up, and refused when no database could hold it
CodeRef = Annotated[SafeStr, Field(max_length=64)]
Hotline = Annotated[str, Field(max_length=64, pattern=r"^[0-9+\-]*$")]


class DepartmentIn(BaseModel):
    code: Code
    name: Name
    kind: DepartmentKind
    parent: Code | None = None
    # the number the center dials to bring the department into a three-way call
    hotline: Hotline = ""


class DepartmentPatch(BaseModel):
    """Only the fields given change; ``parent: null`` makes it a root. Codes never change."""

    name: Name | None = None
    kind: DepartmentKind | None = None
    parent: Code | None = None
    hotline: Hotline | None = None
    active: bool | None = None


class DepartmentOut(BaseModel):
    code: str
    name: str
    kind: DepartmentKind
    parent: str | None
    hotline: str
    active: bool

    @classmethod
    def of(cls, d: Department) -> DepartmentOut:
        return cls(
            code=d.code,
            name=d.name,
            kind=d.kind,
            parent=d.parent,
            hotline=d.hotline,
            active=d.active,
        )


@router.get("", response_model=list[DepartmentOut])
async def list_departments(
    _viewer: Annotated[Principal, Depends(allowed(Permission.READ_DEPARTMENTS))],
    ticketing: TicketingDep,
    include_inactive: bool = False,
) -> list[DepartmentOut]:
    """Every department with its parent's code (clients build the tree from it)."""
    found = await ticketing.departments.all(include_inactive=include_inactive)
    return [DepartmentOut.of(d) for d in found]


@router.get("/{code}", response_model=DepartmentOut)
async def get_department(
    code: CodeRef,
    _viewer: Annotated[Principal, Depends(allowed(Permission.READ_DEPARTMENTS))],
    ticketing: TicketingDep,
) -> DepartmentOut:
    found = await ticketing.departments.get(code)
    if found is None:
        raise NotFound(f"department {code} does not exist")
    return DepartmentOut.of(found)


@router.post("", status_code=201, response_model=DepartmentOut)
async def create_department(
    body: DepartmentIn, _actor: Admin, ticketing: TicketingDep
) -> DepartmentOut:
    department = Department(
        code=body.code, name=body.name, kind=body.kind, parent=body.parent, hotline=body.hotline
    )
    repo = ticketing.departments
    return DepartmentOut.of(await repo.create(department, ticketing.tickets.clock()))


@router.patch("/{code}", response_model=DepartmentOut)
async def update_department(
    code: CodeRef, body: DepartmentPatch, _actor: Admin, ticketing: TicketingDep
) -> DepartmentOut:
    given = body.model_fields_set
    for name in given - {"parent"}:
        if getattr(body, name) is None:
            raise InvalidInput(f"{name} cannot be null")
    updated = await ticketing.departments.update(
        code,
        ticketing.tickets.clock(),
        name=body.name,
        kind=body.kind,
        hotline=body.hotline,
        active=body.active,
        parent=body.parent if "parent" in given else UNSET,
    )
    return DepartmentOut.of(updated)
