"""/wallboard: the supervisors' live page (static; its data comes from the token-checked API).

Open it as /wallboard#token=<supervisor token> or type the token in."""

from __future__ import annotations

from callcenter.web.pages import page_router

router = page_router("/wallboard", "wallboard", "wallboard.html")
