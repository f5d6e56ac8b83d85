"""Ticket attachments: the files under <run_dir>/attachments/<ticket id>/, described in a table.

A file is written before its row and named by a random token, so a name never becomes a path and
a failed insert leaves at most an orphan file (never a row without its file)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import datetime
from pathlib import Path

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.domain.access import Principal, Role
from callcenter.domain.attachments import Attachment
from callcenter.domain.errors import NotFound
from callcenter.storage.models import Base, BigId, UTCDateTime


class AttachmentRow(Base):
    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_as: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uploaded_by: Mapped[str] = mapped_column(String(128))
    uploader_role: Mapped[str] = mapped_column(String(32))
    department_code: Mapped[str | None] = mapped_column(String(64))


def _attachment(row: AttachmentRow) -> Attachment:
    return Attachment(
        id=row.id,
        ticket_id=row.ticket_id,
        name=row.name,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        uploaded_at=row.uploaded_at,
        uploaded_by=row.uploaded_by,
        uploader_role=row.uploader_role,
        department=row.department_code,
    )


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class AttachmentRepository:
    """Callers check that the person may read the ticket (TicketRepository.get) first."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], root: Path) -> None:
        self._sessions = sessions
        self.root = root

    async def add(
        self,
        ticket_id: int,
        name: str,
        media_type: str,
        data: bytes,
        actor: Principal,
        now: datetime,
    ) -> Attachment:
        stored_as = f"{ticket_id}/{secrets.token_hex(16)}"
        await asyncio.to_thread(_write, self.root / stored_as, data)
        row = AttachmentRow(
            ticket_id=ticket_id,
            name=name,
            media_type=media_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            stored_as=stored_as,
            uploaded_at=now,
            uploaded_by=actor.name,
            uploader_role=actor.role.value,
            department_code=actor.subject if actor.role is Role.DEPARTMENT else None,
        )
        async with self._sessions.begin() as session:
            session.add(row)
            await session.flush()
            return _attachment(row)

    async def of_ticket(self, ticket_id: int) -> list[Attachment]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(AttachmentRow)
                .where(AttachmentRow.ticket_id == ticket_id)
                .order_by(AttachmentRow.id)
            )
            return [_attachment(row) for row in rows.all()]

    async def content(self, ticket_id: int, attachment_id: int) -> tuple[Attachment, bytes]:
        async with self._sessions() as session:
            row = await session.get(AttachmentRow, attachment_id)
            if row is None or row.ticket_id != ticket_id:
                raise NotFound(f"ticket {ticket_id} has no attachment {attachment_id}")
            found = _attachment(row)
            path = self.root / row.stored_as
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as err:
            raise NotFound(f"the file of attachment {attachment_id} is missing") from err
        return found, data
