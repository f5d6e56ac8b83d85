"""The ticket API as the tests drive it: one factory for every desk the API tests build."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.api.app import create_api
from callcenter.api.deps import Services, Ticketing
from callcenter.domain.access import Role
from callcenter.services.knowledge import KnowledgeBase
from callcenter.services.knowledge_text import Vocabulary
from callcenter.services.reports import Reports
from callcenter.services.tickets import TicketService
from callcenter.storage.attachments import AttachmentRepository
from callcenter.storage.calendar_files import DEFAULT_CALENDAR_DIR, load_calendar
from callcenter.storage.db import make_engine, make_sessions, migrate
from callcenter.storage.departments import DepartmentRepository
from callcenter.storage.knowledge import KnowledgeRepository
from callcenter.storage.knowledge_index import KnowledgeIndex
from callcenter.storage.knowledge_stats import KnowledgeStatistics
from callcenter.storage.recording_files import RecordingFiles
from callcenter.storage.reports import ReportQueries
from callcenter.storage.seats import SeatRepository
from callcenter.storage.supervisions import SupervisionRepository
from callcenter.storage.ticket_stats import TicketStatistics
from callcenter.storage.tickets import TicketRepository
from callcenter.storage.tokens import TokenRepository
from callcenter.storage.topics import TopicRepository


@dataclass
class TicketApi:
    """An HTTP client for the API, a token per person, the database and the services."""

    client: httpx.AsyncClient
    tokens: dict[str, str]
    engine: AsyncEngine
    services: Services


@asynccontextmanager
async def ticket_api(
    url: str,
    clock: Callable[[], datetime],
    people: Mapping[str, tuple[Role, str | None]],
    *,
    empty: str = "",
    files: RecordingFiles | None = None,
    attachments: Path | None = None,
    reports: bool = False,
    knowledge: bool = False,
) -> AsyncIterator[TicketApi]:
    """The ticket routes (and the reports or the knowledge base, if asked) over a migrated
    database (`url`, PostgreSQL or SQLite), the tables `empty` names emptied on PostgreSQL,
    with a token for each of `people` (name: role, subject)."""
    engine = make_engine(url)
    try:
        await migrate(engine)
        if empty and engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {empty} RESTART IDENTITY CASCADE"))
        sessions = make_sessions(engine)
        calendar = load_calendar(DEFAULT_CALENDAR_DIR)
        statistics = TicketStatistics(sessions, clock)
        ticketing = Ticketing(
            tickets=TicketService(TicketRepository(sessions), calendar, clock),
            departments=DepartmentRepository(sessions),
            topics=TopicRepository(sessions),
            supervisions=SupervisionRepository(sessions, clock),
            statistics=statistics,
            files=files,
            attachments=AttachmentRepository(sessions, attachments) if attachments else None,
        )
        token_store = TokenRepository(sessions)
        services = Services(
            clock=clock,
            tokens=token_store,
            ticketing=ticketing,
            reports=(
                Reports(
                    ReportQueries(sessions, calendar, statistics, clock), SeatRepository(sessions)
                )
                if reports
                else None
            ),
            knowledge=(
                KnowledgeBase(
                    KnowledgeRepository(sessions, KnowledgeIndex(sessions, clock), clock),
                    Vocabulary(),
                    clock,
                    KnowledgeStatistics(sessions),
                )
                if knowledge
                else None
            ),
        )
        tokens = {
            name: await token_store.create(name, role, clock(), subject)
            for name, (role, subject) in people.items()
        }
        transport = httpx.ASGITransport(app=create_api(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
            yield TicketApi(client, tokens, engine, services)
    finally:
        await engine.dispose()
