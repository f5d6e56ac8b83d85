"""SQLAlchemy models of the knowledge base (schema: migration 0014)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.storage.models import Base, BigId, UTCDateTime


class KnowledgeEntryRow(Base):
    __tablename__ = "knowledge_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    latest_version: Mapped[int] = mapped_column(Integer)
    published_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class KnowledgeVersionRow(Base):
    """One saved version of an entry: written once, never updated (but `published_at`)."""

    __tablename__ = "knowledge_versions"
    __table_args__ = (UniqueConstraint("entry_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("knowledge_entries.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    answer_markdown: Mapped[str] = mapped_column(Text)
    department_code: Mapped[str] = mapped_column(String(64))
    topic_code: Mapped[str | None] = mapped_column(String(64))
    keywords: Mapped[list[Any]] = mapped_column(JSON)
    basis: Mapped[str | None] = mapped_column(Text)
    effective_from: Mapped[date | None] = mapped_column(Date)
    effective_until: Mapped[date | None] = mapped_column(Date)
    region: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class KnowledgeEventRow(Base):
    __tablename__ = "knowledge_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("knowledge_entries.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    note: Mapped[str] = mapped_column(Text, default="")


class KnowledgeIndexRow(Base):
    """The published version of each entry as search reads it: segmented terms per field.

    On PostgreSQL the migration adds a generated, GIN-indexed `tsv` column over the terms; on
    SQLite the FTS5 table `knowledge_fts` (rowid = entry id) holds the same terms."""

    __tablename__ = "knowledge_index"

    entry_id: Mapped[int] = mapped_column(ForeignKey("knowledge_entries.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    department_code: Mapped[str] = mapped_column(String(64), index=True)
    topic_code: Mapped[str | None] = mapped_column(String(64), index=True)
    region: Mapped[str | None] = mapped_column(String(64))
    effective_from: Mapped[date | None] = mapped_column(Date)
    effective_until: Mapped[date | None] = mapped_column(Date)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    title_terms: Mapped[str] = mapped_column(Text)
    keyword_terms: Mapped[str] = mapped_column(Text)
    body_terms: Mapped[str] = mapped_column(Text)


class KnowledgeTermRow(Base):
    """How many indexed entries hold each term: a word in most entries (办理, 申请) decides
    nothing, and search leaves it out of the match (it still counts in the ranking)."""

    __tablename__ = "knowledge_terms"

    term: Mapped[str] = mapped_column(String(100), primary_key=True)
    docs: Mapped[int] = mapped_column(Integer)


class KnowledgeMissRow(Base):
    """Searches that found nothing (knowledge gaps), counted per normalised query."""

    __tablename__ = "knowledge_misses"

    query: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
