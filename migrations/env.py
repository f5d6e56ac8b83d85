"""Alembic environment: migrations run on a connection the engine hands over."""

from __future__ import annotations

from alembic import context

from callcenter.storage import ticket_tables  # noqa: F401  (registers the ticket tables)
from callcenter.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `python -m callcenter migrate` (it passes a connection)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
