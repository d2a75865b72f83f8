"""The generated screens, driven through HTTP: lists, record pages and forms, with the
number of queries each page runs held constant (no N+1, never more than a page of rows)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from app_builder.security import COOKIE
from framework.app import create_app
from tests.conftest import ProjectFactory, make_user, session_cookie
from tests.samples import SHOP

CSRF_RE = re.compile(r'name="csrftoken"\s+value="([^"]+)"')


@pytest.fixture
def shop(project: ProjectFactory):
    return project.migrated(SHOP)


@pytest.fixture
def client(shop) -> Iterator[TestClient]:
    """A client signed in as an administrator."""
    make_user(shop)
    app = create_app(shop.settings, ficha=shop)
    with TestClient(app) as test_client:
        test_client.cookies.set(COOKIE, session_cookie(shop))
        yield test_client


def csrf(client: TestClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200
    match = CSRF_RE.search(page.text)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def csrf_header(client: TestClient, url: str) -> dict[str, str]:
    """What the list page's script sends with an action: the token of the signed cookie."""
    assert client.get(url).status_code == 200
    return {"X-CSRFToken": client.cookies["starlette_admin_csrftoken"]}


def fill(shop, customers: int, orders_each: int = 0) -> list[int]:
    ids = []
    with shop.storage.read() as conn:
        start = shop.reader.count(conn, "customer").value
    for i in range(start, start + customers):
        c = shop.records.create(
            "customer", {"name": f"Customer {i:03d}", "email": f"c{i}@example.com"}
        )
        ids.append(c.id)
        for _ in range(orders_each):
            shop.records.create("order", {"customer": c.id, "quantity": 2})
    return ids


def test_list_shows_rows_with_linked_titles(shop, client: TestClient) -> None:
    fill(shop, 3, orders_each=1)
    page = client.get("/admin/order/list")
    assert page.status_code == 200
    assert "Customer 000" in page.text and "Customer 002" in page.text
    assert "ORD-" in page.text
    listing = client.get("/admin/customer/list", params={"q": "c1@example.com"})
    assert "Customer 001" in listing.text and "Customer 002" not in listing.text
    filtered = client.get("/admin/customer/list", params={"filter": "segment__eq=ent"})
    assert filtered.status_code == 200 and "Customer 000" not in filtered.text


def test_create_through_the_form(shop, client: TestClient) -> None:
    token = csrf(client, "/admin/customer/create")
    response = client.post(
        "/admin/customer/create",
        data={
            "csrftoken": token,
            "name": "Ana López",
            "email": "ana@example.com",
            "phone": "600 123 456",
            "segment": "ent",
            "credit_limit": "2500",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:2000]
    with shop.storage.read() as conn:
        [ana] = shop.reader.list(conn, "customer")
    assert (ana["name"], ana["phone"], ana["segment"]) == ("Ana López", "+34600123456", "ent")
    detail = client.get(f"/admin/customer/detail?pk={ana.id}")
    assert "Ana López" in detail.text and "Enterprise" in detail.text


def test_a_refused_form_says_why_next_to_the_field(shop, client: TestClient) -> None:
    fill(shop, 1)
    token = csrf(client, "/admin/customer/create")
    response = client.post(
        "/admin/customer/create",
        data={"csrftoken": token, "name": "Dup", "email": "c0@example.com", "credit_limit": "-5"},
    )
    assert response.status_code == 422
    text = response.text
    assert "&#39;c0@example.com&#39; is already used by customer #1" in text
    assert "must be at least 0" in text
    with shop.storage.read() as conn:
        assert shop.reader.count(conn, "customer").value == 1


def test_edit_and_delete(shop, client: TestClient) -> None:
    [ident] = fill(shop, 1)
    token = csrf(client, f"/admin/customer/edit?pk={ident}")
    response = client.post(
        f"/admin/customer/edit?pk={ident}",
        data={"csrftoken": token, "name": "Renamed", "email": "c0@example.com", "segment": "smb"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:2000]
    assert shop.records.get("customer", ident)["name"] == "Renamed"
    response = client.post(
        f"/admin/_api/customer/row-action?name=delete&pk={ident}",
        headers=csrf_header(client, "/admin/customer/list"),
    )
    assert response.status_code == 200, response.text
    with shop.storage.read() as conn:
        assert shop.reader.count(conn, "customer").value == 0


def test_a_delete_blocked_by_links_is_explained(shop, client: TestClient) -> None:
    [ident] = fill(shop, 1, orders_each=2)
    response = client.post(
        f"/admin/_api/customer/row-action?name=delete&pk={ident}",
        headers=csrf_header(client, "/admin/customer/list"),
    )
    assert response.status_code == 400
    assert response.json()["msg"] == (
        "cannot be deleted: 2 orders still link to it through 'Customer'; delete them or "
        "change their customer first"
    )


def test_posts_without_the_csrf_token_are_refused(shop, client: TestClient) -> None:
    client.get("/admin/customer/create")
    response = client.post("/admin/customer/create", data={"name": "Mallory"})
    assert response.status_code == 403
    with shop.storage.read() as conn:
        assert shop.reader.count(conn, "customer").value == 0


def test_list_page_queries_do_not_grow_with_rows(shop, client: TestClient, count_queries) -> None:
    fill(shop, 2, orders_each=2)
    with count_queries(shop.storage.engine) as few:
        assert client.get("/admin/order/list").status_code == 200
    assert few.count == 1  # a page that is not full counts itself
    fill(shop, 13, orders_each=2)
    with count_queries(shop.storage.engine) as full:
        assert client.get("/admin/order/list").status_code == 200
    fill(shop, 40, orders_each=2)
    with count_queries(shop.storage.engine) as many:
        assert client.get("/admin/order/list?page=3").status_code == 200
    assert full.count == many.count == 2  # the page (with linked titles) and its count
    assert all(re.search(r"\bLIMIT\b", s, re.I) for s in many.statements)


def test_detail_page_queries_do_not_grow_with_related_rows(
    shop, client: TestClient, count_queries
) -> None:
    [small] = fill(shop, 1, orders_each=1)
    with count_queries(shop.storage.engine) as few:
        page = client.get(f"/admin/customer/detail?pk={small}")
    assert page.status_code == 200
    [big] = fill(shop, 1, orders_each=60)
    with count_queries(shop.storage.engine) as many:
        page = client.get(f"/admin/customer/detail?pk={big}")
    assert page.status_code == 200
    assert few.count == many.count
    assert "60 in all" in page.text  # a preview and a link, never all 60 orders
    assert page.text.count("ORD-") == 10


def test_unknown_record_is_a_404_page_not_a_trace(client: TestClient) -> None:
    response = client.get("/admin/customer/detail?pk=999")
    assert response.status_code == 404
    assert "Traceback" not in response.text
    assert client.get("/admin/customer/detail?pk=abc").status_code == 404


def test_input_the_form_cannot_parse_is_read_or_refused_never_dropped(shop, client) -> None:
    [ident] = fill(shop, 1)
    token = csrf(client, "/admin/order/create")
    response = client.post(
        "/admin/order/create",
        data={"csrftoken": token, "customer": str(ident), "quantity": "abc", "status": "new"},
    )
    assert response.status_code == 422
    assert "&#39;abc&#39; is not a whole number" in response.text
    token = csrf(client, "/admin/product/create")
    response = client.post(
        "/admin/product/create",
        data={
            "csrftoken": token,
            "code": "P-1",
            "name": "Pen",
            "price": "149,90",
            "stock": "1,000",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[-3000:]
    with shop.storage.read() as conn:
        [pen] = shop.reader.list(conn, "product")
    assert (str(pen["price"]), pen["stock"]) == ("149.90", 1000)
