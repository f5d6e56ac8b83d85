"""The pages people work in: routes that serve each page and its static files."""

from __future__ import annotations

from fastapi import FastAPI

from callcenter.web import department_desk, desk, reports, wallboard
from callcenter.web.pages import page_router


def mount(api: FastAPI) -> None:
    """Serve every page: the shared files (session helper, login form, Chinese strings) under
    /static/common/, then each page."""
    api.include_router(page_router("/static/common", "common", None))
    api.include_router(wallboard.router)
    api.include_router(reports.vendor)
    api.include_router(reports.router)
    api.include_router(department_desk.router)
    api.include_router(desk.router)
