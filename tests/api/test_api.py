"""The REST API: CRUD through the records service, problem documents naming the field,
optimistic locking, keyset pages, field selection, expansion, bulk writes, permissions,
tokens, rate limits, the OpenAPI document and its docs page."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from app_builder.api import build_routes
from app_builder.api.ratelimit import RateLimiter
from tests.api.conftest import Api, api_for
from tests.conftest import ProjectFactory
from tests.samples import SHOP

PROBLEM = "application/problem+json"


def test_crud_on_every_database(project: ProjectFactory) -> None:
    ficha = project.migrated(SHOP)
    api = api_for(ficha)
    with api.client:
        created = api.post("/api/v1/customer", json={"name": " Ana ", "email": "ANA@example.com"})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["name"] == "Ana" and body["email"] == "ana@example.com"
        assert created.headers["location"] == f"/api/v1/customer/{body['id']}"
        order = api.post("/api/v1/order", json={"customer": body["id"], "quantity": 3})
        assert order.status_code == 201, order.text
        assert order.json()["customer"] == {"id": body["id"], "title": "Ana"}
        one = api.get(f"/api/v1/customer/{body['id']}")
        assert one.status_code == 200 and one.json()["version"] == 1
        changed = api.patch(f"/api/v1/customer/{body['id']}", json={"name": "Ana B", "version": 1})
        assert changed.status_code == 200 and changed.json()["version"] == 2
        stale = api.patch(f"/api/v1/customer/{body['id']}", json={"name": "Ana C", "version": 1})
        assert stale.status_code == 409 and stale.headers["content-type"] == PROBLEM
        blocked = api.delete(f"/api/v1/customer/{body['id']}")
        assert blocked.status_code == 409, blocked.text  # an order still links to it
        assert api.delete(f"/api/v1/order/{order.json()['id']}").status_code == 204
        assert api.delete(f"/api/v1/customer/{body['id']}").status_code == 204
        assert api.get(f"/api/v1/customer/{body['id']}").status_code == 404


def test_errors_are_problem_documents_naming_the_field(shop_api: Api) -> None:
    refused = shop_api.post("/api/v1/customer", json={"email": "not-an-email", "credit_limit": -5})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    problem = refused.json()
    assert problem["status"] == 422 and problem["type"].startswith("urn:ficha:problem:")
    fields = {e["field"] for e in problem["errors"]}
    assert {"name", "email", "credit_limit"} <= fields
    assert shop_api.post("/api/v1/customer", content=b"name=x").status_code == 415
    bad_json = shop_api.post(
        "/api/v1/customer", content=b"{", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    nul = shop_api.post("/api/v1/customer", json={"name": "a\x00b"})
    assert nul.status_code == 422 and nul.json()["errors"][0]["field"] == "name"
    huge = shop_api.post("/api/v1/product", json={"code": "A", "name": "x", "stock": 2**70})
    assert huge.status_code == 422 and huge.json()["errors"][0]["field"] == "stock"
    assert shop_api.patch("/api/v1/customer/1", json={"name": "x"}).status_code in (404, 428)
    assert shop_api.get("/api/v1/nothing").status_code == 404
    assert shop_api.get("/api/v1/customer/abc").status_code == 404
    assert shop_api.client.put("/api/v1/customer/1", headers=shop_api.headers).status_code == 405
    unknown = shop_api.get("/api/v1/customer", params={"colour": "red"})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "colour"
    where = shop_api.get("/api/v1/customer", params={"where": "name =="})
    assert where.status_code == 400 and where.json()["errors"][0]["field"] == "where"


def test_list_filters_sorts_pages_selects_and_expands(shop_api: Api) -> None:
    ficha = shop_api.ficha
    for i in range(7):
        c = ficha.records.create(
            "customer",
            {"name": f"C{i}", "segment": "ent" if i % 2 else "smb", "credit_limit": i * 100},
        )
        ficha.records.create("order", {"customer": c.id, "quantity": i + 1})
    seen: list[str] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 3, "sort": "-name", "fields": "name"}
        if after:
            params["after"] = after
        page = shop_api.get("/api/v1/customer", params=params).json()
        assert all(
            set(r) == {"id", "version", "created_at", "updated_at", "name"} for r in page["data"]
        )
        seen += [r["name"] for r in page["data"]]
        after = page["next"]
        if not after:
            break
    assert seen == [f"C{i}" for i in reversed(range(7))]
    ent = shop_api.get("/api/v1/customer", params={"segment": "ent"}).json()["data"]
    assert sorted(r["name"] for r in ent) == ["C1", "C3", "C5"]
    rich = shop_api.get("/api/v1/customer", params={"where": "credit_limit >= 400"}).json()
    assert sorted(r["name"] for r in rich["data"]) == ["C4", "C5", "C6"]
    orders = shop_api.get("/api/v1/order", params={"expand": "customer", "limit": 1}).json()
    assert orders["data"][0]["customer"]["segment"] in ("smb", "ent")  # the whole record
    bad = shop_api.get("/api/v1/order", params={"expand": "quantity"})
    assert bad.status_code == 400
    assert shop_api.get("/api/v1/customer", params={"after": "garbage"}).status_code == 400
    assert shop_api.get("/api/v1/customer", params={"limit": 5000}).status_code == 400


def test_bulk_create_and_update_with_a_result_per_item(shop_api: Api) -> None:
    items = [{"code": f"P-{i}", "name": f"Product {i}", "price": i} for i in range(5)]
    items.append({"code": "bad code", "name": "x"})
    first = shop_api.post("/api/v1/product/bulk", json={"items": items, "key": ["code"]})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["created"] == 5 and body["failed"] == 1
    assert body["results"][5]["errors"][0]["field"] == "code"
    again = shop_api.post("/api/v1/product/bulk", json={"items": items[:5], "key": ["code"]})
    assert again.json()["unchanged"] == 5
    one = body["results"][0]["id"]
    update = shop_api.post(
        "/api/v1/product/bulk", json={"items": [{"id": one, "version": 1, "price": 99}]}
    )
    assert update.json()["results"][0]["action"] == "updated"
    stale = shop_api.post(
        "/api/v1/product/bulk", json={"items": [{"id": one, "version": 1, "price": 98}]}
    )
    assert stale.json()["results"][0]["errors"][0]["field"] == "version"
    atomic = shop_api.post(
        "/api/v1/product/bulk",
        json={"items": [{"code": "NEW-1", "name": "n"}, {"code": "x y"}], "all_or_nothing": True},
    )
    assert atomic.status_code == 422
    assert shop_api.get("/api/v1/product", params={"code": "NEW-1"}).json()["data"] == []
    too_many = shop_api.post("/api/v1/product/bulk", json={"items": [{}] * 1001})
    assert too_many.status_code == 413


def test_tokens_sessions_roles_and_hidden_fields(sqlite_project: ProjectFactory) -> None:
    root = sqlite_project.write(SHOP)
    (root / "roles.yaml").write_text(
        "roles:\n"
        "  clerk:\n"
        "    objects:\n"
        "      customer: {read: all, create: yes, update: all}\n"
        "    hidden: {customer: [credit_limit]}\n"
    )
    ficha = sqlite_project.migrated()
    ficha.records.create("customer", {"name": "Ana", "credit_limit": 500})
    clerk = api_for(ficha, role="clerk", username="clerk")
    with clerk.client:
        listed = clerk.get("/api/v1/customer").json()["data"]
        assert listed and "credit_limit" not in listed[0]
        assert clerk.get("/api/v1/product").status_code == 403
        assert (
            clerk.get("/api/v1/customer", params={"where": "credit_limit > 1"}).status_code == 400
        )
        anonymous = clerk.client.get("/api/v1/customer")
        assert (
            anonymous.status_code == 401
            and "bearer" in anonymous.headers["www-authenticate"].lower()
        )
        forged = clerk.client.get("/api/v1/customer", headers={"Authorization": "Bearer ficha_x"})
        assert forged.status_code == 401


def test_rate_limit_per_token_with_retry_after(shop_project: Any) -> None:
    api = api_for(shop_project)
    limiter = RateLimiter(shop_project.storage, 3)
    assert [limiter.hit("t:a", now=120.0).allowed for _ in range(4)] == [True, True, True, False]
    assert limiter.hit("t:b", now=120.0).allowed  # another token has its own count
    assert limiter.hit("t:a", now=181.0).allowed  # a new minute
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from app_builder.security import SecurityMiddleware

    app = Starlette(
        routes=build_routes(shop_project, per_minute=2),
        middleware=[Middleware(SecurityMiddleware, ficha_of=lambda: shop_project)],
    )
    app.state.ficha_state = {"ficha": shop_project}
    with TestClient(app) as client:
        statuses = [client.get("/api/v1/customer", headers=api.headers) for _ in range(3)]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        assert int(statuses[2].headers["retry-after"]) >= 1
        assert statuses[2].headers["content-type"] == PROBLEM
        assert statuses[0].headers["ratelimit-remaining"] == "1"


def test_openapi_document_and_docs_page(shop_api: Api) -> None:
    doc = shop_api.client.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "/api/v1/customer/{id}" in doc["paths"]
    new = doc["components"]["schemas"]["CustomerNew"]
    assert new["required"] == ["name"] and "email" in new["properties"]
    assert doc["components"]["schemas"]["Customer"]["properties"]["segment"]["enum"] == [
        "smb",
        "ent",
        None,
    ]
    page = shop_api.client.get("/api/v1/docs")
    assert page.status_code == 200 and "console.js" in page.text and "cdn" not in page.text.lower()
    script = shop_api.client.get("/api/v1/docs/console.js")
    assert script.status_code == 200 and "openapi.json" in script.text


@pytest.mark.parametrize("path", ["/api/v1/customer", "/api/v1/customer/1"])
def test_session_users_reach_the_api_too(shop_project: Any, path: str) -> None:
    from app_builder.security import COOKIE
    from tests.conftest import session_cookie

    api = api_for(shop_project)
    shop_project.records.create("customer", {"name": "Ana"})
    with api.client as client:
        client.cookies.set(COOKIE, session_cookie(shop_project))
        assert client.get(path).status_code == 200
