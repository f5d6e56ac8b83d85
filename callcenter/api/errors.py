"""The one table mapping domain error codes to HTTP status codes, and the 422 answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from callcenter.domain.errors import DomainError

STATUS_BY_CODE: dict[str, int] = {
    "not_found": 404,
    "invalid_input": 422,
    "forbidden": 403,
    "telephony_unavailable": 503,
    "storage_behind": 503,
    "search_budget_exceeded": 503,
    "illegal_transition": 409,
    "conflict": 409,
    "seat_state_conflict": 409,
    "bad_credentials": 401,
    "account_locked": 423,
}


def _text(value: object) -> str:
    # a lone surrogate cannot be encoded as UTF-8: the answer must encode whatever was sent
    return str(value).encode("utf-8", "replace").decode("utf-8")


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Where and what, never the input itself: an echo of NaN, 1e400 or "\\ud800" could not be
    encoded, and echoing a probe back helps nobody."""
    details = []
    for error in errors:
        location = [item if isinstance(item, int) else _text(item) for item in error.get("loc", ())]
        details.append(
            {
                "loc": location,
                "msg": _text(error.get("msg", "invalid")),
                "type": _text(error.get("type", "value_error")),
            }
        )
    return details


def _where(location: list[Any]) -> str:
    # ("body", "name") -> "name"; a query or path parameter keeps its own name
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "the request"


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, err: DomainError) -> JSONResponse:
        return JSONResponse(
            status_code=STATUS_BY_CODE.get(err.code, 409),
            content={"error": err.code, "message": err.message},
        )

    @app.exception_handler(DBAPIError)
    async def _database_refused(_request: Request, err: DBAPIError) -> JSONResponse:
        # the safety net under the edge's own validation: a value the database cannot store
        # (SQLSTATE class 22, or the driver refusing an argument) is the client's input, not a
        # fault of the engine; anything else stays a server error
        if not _data_exception(err):
            raise err
        return JSONResponse(
            status_code=422,
            content={
                "error": "invalid_input",
                "message": "a value in the request is beyond what the database stores",
            },
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, err: RequestValidationError) -> JSONResponse:
        details = validation_details(err.errors())
        message = "; ".join(f"{_where(d['loc'])}: {d['msg']}" for d in details[:5])
        return JSONResponse(
            status_code=422,
            content={"error": "invalid_input", "message": message, "detail": details},
        )


def _data_exception(err: DBAPIError) -> bool:
    for cause in (err.orig, getattr(err.orig, "__cause__", None)):
        if cause is None:
            continue
        if str(getattr(cause, "sqlstate", "") or "").startswith("22"):
            return True
        if type(cause).__name__ in {"DataError", "CharacterNotInRepertoireError"}:
            return True
    return False
