"""The import screens (upload → map → preview → run) and the list's streamed Export
button, driven through HTTP as a signed-in user."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from app_builder.security import COOKIE
from framework.app import create_app
from tests.conftest import ProjectFactory, make_user, session_cookie
from tests.samples import SHOP

CSRF_RE = re.compile(r'name="csrftoken"\s+value="([^"]+)"')


@pytest.fixture
def shop(sqlite_project: ProjectFactory) -> Any:
    return sqlite_project.migrated(SHOP)


@pytest.fixture
def client(shop: Any) -> Iterator[TestClient]:
    make_user(shop)
    with TestClient(create_app(shop.settings, ficha=shop)) as test_client:
        test_client.cookies.set(COOKIE, session_cookie(shop))
        yield test_client


def token_of(client: TestClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text[:500]
    match = CSRF_RE.search(page.text)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def test_upload_map_preview_run(shop: Any, client: TestClient) -> None:
    shop.records.create("customer", {"name": "Acme"})
    body = "Who,How many\nAcme,2\nNobody,1\nAcme,3\n"
    token = token_of(client, "/admin/import")
    uploaded = client.post(
        "/admin/import",
        data={"csrftoken": token, "object": "order"},
        files={"file": ("orders.csv", body.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert uploaded.status_code == 303, uploaded.text[:500]
    map_url = uploaded.headers["location"]
    page = client.get(map_url)
    assert page.status_code == 200 and "How many" in page.text and "Acme" in page.text
    mapped = client.post(
        map_url,
        data={
            "csrftoken": CSRF_RE.search(page.text).group(1),  # type: ignore[union-attr]
            "field_0": "customer",
            "lookup_0": "name",
            "field_1": "quantity",
            "mode": "good_rows",
            "on_existing": "update",
            "save_as": "orders_by_name",
        },
        follow_redirects=False,
    )
    assert mapped.status_code == 303, mapped.text[:800]
    assert (shop.settings.project_dir / "mappings" / "orders_by_name.yaml").exists()
    preview = client.get(mapped.headers["location"])
    assert preview.status_code == 200
    assert "3 rows read, 2 created" in preview.text and "Nobody" in preview.text
    with shop.storage.read() as conn:
        assert shop.reader.count(conn, "order").value == 0  # a preview saves nothing
    run_url = mapped.headers["location"].replace("/preview", "/run")
    started = client.post(
        run_url,
        data={"csrftoken": CSRF_RE.search(preview.text).group(1)},  # type: ignore[union-attr]
        follow_redirects=False,
    )
    assert started.status_code == 303
    status_url = started.headers["location"]
    for _ in range(100):
        status = client.get(status_url)
        if "Importing" not in status.text:
            break
        time.sleep(0.1)
    assert "2 created" in status.text, status.text[-2000:]
    errors = client.get(status_url + "/errors.csv")
    assert errors.status_code == 200 and "Nobody" in errors.text
    with shop.storage.read() as conn:
        assert shop.reader.count(conn, "order").value == 2
    other = make_user(shop, "luis")
    assert other is not None
    client.cookies.set(COOKIE, session_cookie(shop, "luis"))
    assert client.get(status_url).status_code == 404  # someone else's import


def test_export_streams_the_list_with_its_filters(shop: Any, client: TestClient) -> None:
    for i in range(30):
        shop.records.create(
            "customer", {"name": f"C{i:02d}", "segment": "ent" if i % 3 == 0 else "smb"}
        )
    client.get("/admin/customer/list")  # sets the CSRF cookie
    csrf = client.cookies.get("starlette_admin_csrftoken")
    response = client.post(
        "/admin/_api/customer/action",
        params={"name": "export", "_list_query": "?filter=segment__eq=ent&sort=name__desc"},
        data={"scope": "all", "format": "csv", "fields": ["name", "segment"]},
        headers={"X-CSRFToken": csrf or ""},
    )
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Name", "Segment"]
    assert [r[0] for r in rows[1:]] == [f"C{i:02d}" for i in range(27, -1, -3)]
    xlsx = client.post(
        "/admin/_api/customer/action",
        params={"name": "export", "_list_query": ""},
        data={"scope": "all", "format": "xlsx"},
        headers={"X-CSRFToken": csrf or ""},
    )
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    with shop.storage.read() as conn:
        table = shop.storage.tables.system["audit"]
        import sqlalchemy as sa

        exports = conn.execute(
            sa.select(sa.func.count()).where(table.c.action == "export")
        ).scalar_one()
    assert exports == 2
