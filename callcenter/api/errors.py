"""The one table mapping domain error codes to HTTP status codes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from callcenter.domain.errors import DomainError

STATUS_BY_CODE: dict[str, int] = {
    "not_found": 404,
    "invalid_input": 422,
    "forbidden": 403,
    "telephony_unavailable": 503,
    "illegal_transition": 409,
    "conflict": 409,
    "seat_state_conflict": 409,
    "bad_credentials": 401,
    "account_locked": 423,
}


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, err: DomainError) -> JSONResponse:
        return JSONResponse(
            status_code=STATUS_BY_CODE.get(err.code, 409),
            content={"error": err.code, "message": err.message},
        )
