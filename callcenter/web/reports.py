"""/reporting: the report page (考核, 热点, charts, workbook downloads) for supervisors, admins
and department handlers; it reads the same token-checked /reports API a script would."""

from __future__ import annotations

from callcenter.web.pages import page_router

router = page_router("/reporting", "reports", "reports.html")
# browser libraries served unchanged (see static/vendor/README.md)
vendor = page_router("/static/vendor", "vendor", None)
