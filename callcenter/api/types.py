"""The values the API accepts, as pydantic types every router shares: the one validation edge.

What the database cannot store must be refused here, with a 422 naming the field, rather than
fail later as a 500 or, worse, wedge a writer that retries a row the database will never take:
PostgreSQL refuses a NUL byte in text and integers beyond 64 bits, Python's datetime overflows
near years 1 and 9999, and a lone UTF-16 surrogate cannot even be encoded as UTF-8.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import annotated_types as at
from pydantic import (
    AfterValidator,
    AllowInfNan,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    StringConstraints,
)

INT64_MAX = 2**63 - 1
# instants outside these years are typing mistakes or probes, never a hotline's business
FIRST_YEAR = 2000
LAST_YEAR = 2100
_EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
_LATEST = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain a NUL character")
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise ValueError("text may not contain a lone UTF-16 surrogate")
    return value


def _sane_instant(value: datetime) -> datetime:
    # checked on the wall-clock value first: converting 0001-01-01T00:00+05:00 overflows
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"a time must lie in the years {FIRST_YEAR}-{LAST_YEAR}")
    utc = value.astimezone(UTC)
    if not _EARLIEST <= utc < _LATEST:
        raise ValueError(f"a time must lie in the years {FIRST_YEAR}-{LAST_YEAR}")
    return utc


# text the database stores as given: no NUL, no lone surrogate
SafeStr = Annotated[str, AfterValidator(_storable)]
# a row id: what a BIGINT column holds (plain constraints: usable for a path, a query or a
# body field alike)
DbId = Annotated[int, at.Ge(1), at.Le(INT64_MAX)]
# a page's offset, bounded like the database's OFFSET
Offset = Annotated[int, at.Ge(0), at.Le(INT64_MAX)]
# a time with its zone, within the years a hotline deals with, normalised to UTC
Instant = Annotated[AwareDatetime, AfterValidator(_sane_instant)]
# a calendar month, YYYY-MM, within the same years
Month = Annotated[str, StringConstraints(pattern=rf"^(20[0-9]{{2}}|{LAST_YEAR})-(0[1-9]|1[0-2])$")]
# a number of seconds or a share: never NaN or an infinity
Finite = Annotated[float, AllowInfNan(False)]


class FromDomain(BaseModel):
    """A response read from a domain object's attributes (``Out.model_validate(obj)``), nested
    ones too; ``AliasPath`` reaches into parts (``details.content``). Fields with defaults are
    still always present in a response, and the schema says so."""

    model_config = ConfigDict(
        from_attributes=True,
        validate_by_name=True,
        json_schema_serialization_defaults_required=True,
    )
