"""/department-desk: the department handlers' page (承办单位工作台); everything it shows and does
goes through the token-checked ticket API (/worklist, /tickets/..., /supervisions)."""

from __future__ import annotations

from callcenter.web.pages import page_router

router = page_router("/department-desk", "department", "department.html")
