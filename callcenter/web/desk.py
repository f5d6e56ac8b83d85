"""/desk: the agent desk (坐席工作台), a static page; people sign in on it, and it works through
the same JSON API a script would (seat, screen pop, ticket intake, knowledge, in-call actions)."""

from __future__ import annotations

from callcenter.web.pages import page_router

router = page_router("/desk", "desk", "desk.html")
