"""Topic repository: the classification dictionary tickets are filed under; never deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.domain.departments import check_parent
from callcenter.domain.errors import Conflict, InvalidInput, NotFound
from callcenter.storage.departments import UNSET
from callcenter.storage.ticket_tables import TopicRow


@dataclass(frozen=True, slots=True)
class Topic:
    code: str
    name: str
    parent: str | None = None
    active: bool = True
    # the department that usually handles tickets on this topic (a suggestion, not a rule)
    department: str | None = None


def _topic(row: TopicRow) -> Topic:
    return Topic(
        code=row.code,
        name=row.name,
        parent=row.parent_code,
        active=row.active,
        department=row.department_code,
    )


async def _parents(session: AsyncSession) -> dict[str, str | None]:
    rows = await session.execute(select(TopicRow.code, TopicRow.parent_code))
    return {code: parent for code, parent in rows.all()}


class TopicRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, topic: Topic, now: datetime) -> Topic:
        if not topic.code.strip() or len(topic.code) > 64 or not topic.name.strip():
            raise InvalidInput("a topic needs a code (at most 64 characters) and a name")
        try:
            async with self._sessions.begin() as session:
                parents = await _parents(session)
                if topic.code in parents:
                    raise Conflict(f"topic {topic.code} already exists")
                check_parent(topic.code, topic.parent, parents, "topic")
                session.add(
                    TopicRow(
                        code=topic.code,
                        name=topic.name.strip(),
                        parent_code=topic.parent,
                        department_code=topic.department,
                        active=topic.active,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError as err:
            raise Conflict(f"topic {topic.code} already exists") from err
        return topic

    async def update(
        self,
        code: str,
        now: datetime,
        *,
        name: str | None = None,
        parent: str | object | None = UNSET,
        active: bool | None = None,
        department: str | object | None = UNSET,
    ) -> Topic:
        async with self._sessions.begin() as session:
            row = await session.scalar(select(TopicRow).where(TopicRow.code == code))
            if row is None:
                raise NotFound(f"topic {code} does not exist")
            if name is not None:
                if not name.strip():
                    raise InvalidInput("a topic needs a name")
                row.name = name.strip()
            if parent is not UNSET:
                assert parent is None or isinstance(parent, str)
                check_parent(code, parent, await _parents(session), "topic")
                row.parent_code = parent
            if active is not None:
                row.active = active
            if department is not UNSET:
                assert department is None or isinstance(department, str)
                row.department_code = department
            row.updated_at = now
            return _topic(row)

    async def all(self) -> list[Topic]:
        async with self._sessions() as session:
            rows = await session.scalars(select(TopicRow).order_by(TopicRow.code))
            return [_topic(row) for row in rows.all()]
