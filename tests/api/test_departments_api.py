"""/departments and /topics over HTTP: the tree, admin-only changes, nothing deleted."""

from __future__ import annotations

from tests.api.test_tickets_api import Desk, desk

__all__ = ["desk"]  # the fixture, shared with the main ticket API tests


async def test_the_department_tree(desk: Desk) -> None:
    listed = await desk.get("/departments", "agent")
    assert [(d["code"], d["parent"]) for d in listed] == [
        ("city", None),
        ("district.east", "city"),
        ("housing", "city"),
        ("street.a", "district.east"),
        ("water", None),
    ]
    assert (await desk.get("/departments/housing", "housing"))["hotline"] == "63001"
    await desk.get("/departments/nowhere", "agent", expect=404)
    new = {"code": "street.b", "name": "和平街道", "kind": "street", "parent": "district.east"}
    await desk.post("/departments", "supervisor", new, expect=403)
    await desk.post("/departments", "housing", new, expect=403)
    assert (await desk.post("/departments", "admin", new, expect=201))["parent"] == "district.east"
    taken = await desk.post("/departments", "admin", new, expect=409)
    assert taken["error"] == "conflict"
    orphan = {**new, "code": "street.c", "parent": "nowhere"}
    assert "does not exist" in (await desk.post("/departments", "admin", orphan, 422))["message"]
    await desk.post("/departments", "admin", {**new, "code": "has space"}, expect=422)
    loop = await desk.call("PATCH", "/departments/city", "admin", 422, json={"parent": "street.a"})
    assert "a loop" in loop["message"]
    moved = await desk.call("PATCH", "/departments/water", "admin", json={"parent": "city"})
    assert moved["parent"] == "city" and moved["name"] == "市供水公司"
    root = await desk.call("PATCH", "/departments/water", "admin", json={"parent": None})
    assert root["parent"] is None
    await desk.call("PATCH", "/departments/water", "admin", 422, json={"name": None})


async def test_departments_are_deactivated_not_deleted(desk: Desk) -> None:
    gone = await desk.call("PATCH", "/departments/water", "admin", json={"active": False})
    assert gone["active"] is False
    assert "water" not in [d["code"] for d in await desk.get("/departments", "agent")]
    everyone = await desk.get("/departments", "agent", include_inactive=True)
    assert "water" in [d["code"] for d in everyone]
    assert (await desk.client.delete("/departments/water")).status_code in (401, 405)
    ticket = await desk.create()
    refused = await desk.post(f"/tickets/{ticket['id']}/dispatch", "agent", {"lead": "water"}, 422)
    assert "inactive" in refused["message"]


async def test_the_topic_dictionary(desk: Desk) -> None:
    topics = await desk.get("/topics", "agent")
    assert [(t["code"], t["parent"]) for t in topics] == [
        ("urban", None),
        ("urban.property", "urban"),
    ]
    await desk.post("/topics", "supervisor", {"code": "x", "name": "x"}, expect=403)
    await desk.post("/topics", "admin", {"code": "urban", "name": "dup"}, expect=409)
    retired = await desk.call("PATCH", "/topics/urban.property", "admin", json={"active": False})
    assert retired["active"] is False
    refused = await desk.post(
        "/tickets",
        "agent",
        {"category": "help", "content": "x", "topic": "urban.property"},
        expect=422,
    )
    assert "no longer in use" in refused["message"]
    unknown = await desk.post(
        "/tickets", "agent", {"category": "help", "content": "x", "topic": "nope"}, expect=422
    )
    assert "classification dictionary" in unknown["message"]


async def test_a_topic_names_the_department_the_desk_suggests(desk: Desk) -> None:
    made = await desk.post(
        "/topics",
        "admin",
        {"code": "urban.noise", "name": "噪声扰民", "parent": "urban", "department": "housing"},
        expect=201,
    )
    assert made["department"] == "housing"
    listed = {t["code"]: t["department"] for t in await desk.get("/topics", "agent")}
    assert listed["urban.noise"] == "housing" and listed["urban"] is None
    await desk.post(
        "/topics", "admin", {"code": "urban.x", "name": "x", "department": "nowhere"}, expect=422
    )
    moved = await desk.call("PATCH", "/topics/urban.noise", "admin", json={"department": "water"})
    assert moved["department"] == "water"
    cleared = await desk.call("PATCH", "/topics/urban.noise", "admin", json={"department": None})
    assert cleared["department"] is None
