"""/wallboard: the supervisors' live page (static; its data comes from the token-checked API)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

router = APIRouter(tags=["wallboard"])

HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {
    "wallboard.html": "text/html; charset=utf-8",
    "wallboard.js": "text/javascript; charset=utf-8",
    "wallboard.css": "text/css; charset=utf-8",
}


@cache
def _read(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def _headers(request: Request) -> dict[str, str]:
    # the page holds no data and takes the token from the user, so it can be served openly; the
    # policy keeps it to its own scripts and its own API (ws:// of the same host included)
    host = request.headers.get("host", "")
    if not HOST.fullmatch(host):
        host = "localhost"  # a Host header that is not a plain host[:port] never reaches the policy
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; "
            f"connect-src 'self' ws://{host} wss://{host}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def _file(request: Request, name: str) -> Response:
    return Response(_read(name), media_type=MEDIA_TYPES[name], headers=_headers(request))


@router.get("/wallboard", include_in_schema=False)
async def page(request: Request) -> Response:
    """The wallboard; open it as /wallboard#token=<supervisor token> or type the token in."""
    return _file(request, "wallboard.html")


@router.get("/wallboard/{name}", include_in_schema=False)
async def asset(request: Request, name: str) -> Response:
    if name not in MEDIA_TYPES or name == "wallboard.html":
        raise HTTPException(status_code=404, detail=f"no wallboard file {name!r}")
    return _file(request, name)
