"""Department repository: the tree of units tickets go to; deactivated, never deleted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.departments import Department, DepartmentKind, check_code, check_parent
from callcenter.domain.errors import Conflict, InvalidInput, NotFound
from callcenter.storage.ticket_tables import DepartmentRow

# "leave the parent as it is", as opposed to None, "make it a root"
UNSET: object = object()


def to_department(row: DepartmentRow) -> Department:
    return Department(
        code=row.code,
        name=row.name,
        kind=DepartmentKind(row.kind),
        parent=row.parent_code,
        hotline=row.hotline,
        active=row.active,
    )


async def _parents(session: AsyncSession) -> dict[str, str | None]:
    rows = await session.execute(select(DepartmentRow.code, DepartmentRow.parent_code))
    return {code: parent for code, parent in rows.all()}


class DepartmentRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, department: Department, now: datetime) -> Department:
        check_code(department.code)
        if not department.name.strip():
            raise InvalidInput("a department needs a name")
        try:
            async with self._sessions.begin() as session:
                parents = await _parents(session)
                if department.code in parents:
                    raise Conflict(f"department {department.code} already exists")
                check_parent(department.code, department.parent, parents)
                session.add(
                    DepartmentRow(
                        code=department.code,
                        name=department.name.strip(),
                        kind=department.kind.value,
                        parent_code=department.parent,
                        hotline=department.hotline.strip(),
                        active=department.active,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError as err:
            # a concurrent create of the same code
            raise Conflict(f"department {department.code} already exists") from err
        return department

    async def update(
        self,
        code: str,
        now: datetime,
        *,
        name: str | None = None,
        hotline: str | None = None,
        kind: DepartmentKind | None = None,
        parent: str | object | None = UNSET,
        active: bool | None = None,
    ) -> Department:
        async with self._sessions.begin() as session:
            row = await session.scalar(
                select(DepartmentRow).where(DepartmentRow.code == code).with_for_update()
            )
            if row is None:
                raise NotFound(f"department {code} does not exist")
            if name is not None:
                if not name.strip():
                    raise InvalidInput("a department needs a name")
                row.name = name.strip()
            if hotline is not None:
                row.hotline = hotline.strip()
            if kind is not None:
                row.kind = kind.value
            if parent is not UNSET:
                assert parent is None or isinstance(parent, str)
                check_parent(code, parent, await _parents(session))
                row.parent_code = parent
            if active is not None:
                row.active = active
            row.updated_at = now
            return to_department(row)

    async def get(self, code: str) -> Department | None:
        async with self._sessions() as session:
            row = await session.scalar(select(DepartmentRow).where(DepartmentRow.code == code))
            return to_department(row) if row else None

    async def all(self, include_inactive: bool = True) -> list[Department]:
        async with self._sessions() as session:
            stmt = select(DepartmentRow).order_by(DepartmentRow.code)
            if not include_inactive:
                stmt = stmt.where(DepartmentRow.active.is_(True))
            return [to_department(row) for row in (await session.scalars(stmt)).all()]
