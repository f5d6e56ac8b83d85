"""Serving a page and its files: one strict Content-Security-Policy for every page."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


@cache
def _read(path: Path) -> bytes:
    return path.read_bytes()


def headers(request: Request) -> dict[str, str]:
    # pages hold no data and take the credentials from the user, so they are served openly; the
    # policy keeps them to their own scripts and their own API (ws:// of the same host included)
    host = request.headers.get("host", "")
    if not HOST.fullmatch(host):
        host = "localhost"  # a Host header that is not a plain host[:port] never reaches the policy
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; "
            f"connect-src 'self' ws://{host} wss://{host}; img-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def files(folder: str) -> dict[str, Path]:
    """The files of one page's folder under static/, by name."""
    return {
        path.name: path
        for path in sorted((STATIC / folder).iterdir())
        if path.suffix in MEDIA_TYPES and path.is_file()
    }


def serve(request: Request, path: Path) -> Response:
    return Response(_read(path), media_type=MEDIA_TYPES[path.suffix], headers=headers(request))


def page_router(path: str, folder: str, html: str | None) -> APIRouter:
    """`path` serves `html` (if any); `path/<name>` the folder's other files (scripts, styles)."""
    router = APIRouter(tags=["pages"])
    served: Mapping[str, Path] = files(folder)
    if html is not None:
        page_file = served[html]

        @router.get(path, include_in_schema=False)
        async def page(request: Request) -> Response:
            return serve(request, page_file)

    @router.get(path + "/{name}", include_in_schema=False)
    async def asset(request: Request, name: str) -> Response:
        found = served.get(name)
        if found is None or name == html:
            raise HTTPException(status_code=404, detail=f"no file {name!r} for {path}")
        return serve(request, found)

    return router
