"""Hostile input, each refused or made harmless, with nothing written: SQL injection in
every kind of parameter, script in every kind of field, path traversal in file names,
oversized bodies, posts without a CSRF token, forged or expired sessions and tokens,
and guessing passwords."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from app_builder.security import COOKIE, MAX_BODY
from framework.app import create_app
from framework.records import utcnow
from tests.conftest import PASSWORD, ProjectFactory, make_user, session_cookie

THING = """
object: thing
title: name
fields:
  name: {type: string, required: true, search: true}
  notes: text
  email: email
  site: url
  data: json
  kind: {type: choice, values: [a, b], filter: true}
  size: {type: integer, filter: true}
  paper: {type: file, accept: ".pdf,.txt", max_size: 100000}
list:
  columns: [name, notes, email, site, kind, size]
"""
SQL_PAYLOADS = [
    "' OR '1'='1",
    "'; DROP TABLE thing; --",
    '" OR 1=1 --',
    "1; DELETE FROM thing",
    "x' UNION SELECT password_hash FROM ficha_credential --",
    "%' AND 1=(SELECT 1) --",
    "\\'; SELECT pg_sleep(5); --",
    "admin'--",
    "') OR ('a'='a",
    "*/ OR /* 1=1",
]
XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "{{ 7*7 }}<b>bold</b>",
]


def rows(ficha) -> int:
    with ficha.storage.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(ficha.storage.table("thing"))
            ).scalar_one()
        )


@pytest.fixture
def site(project: ProjectFactory):
    ficha = project.migrated({"thing": THING})
    make_user(ficha)
    ficha.records.create("thing", {"name": "Alpha thing", "kind": "a", "size": 1})
    ficha.records.create("thing", {"name": "Beta thing", "kind": "b", "size": 2})
    client = TestClient(create_app(ficha.settings, ficha=ficha))
    client.cookies.set(COOKIE, session_cookie(ficha))
    return ficha, client


@pytest.mark.parametrize("payload", SQL_PAYLOADS)
def test_sql_in_search_filters_sorts_and_ids_is_just_text(site, payload: str) -> None:
    ficha, client = site
    before = rows(ficha)
    found = client.get("/admin/thing/list", params={"q": payload})
    assert found.status_code == 200 and "Alpha thing" not in found.text
    filtered = client.get("/admin/thing/list", params={"filter": f"kind__eq={payload}"})
    assert filtered.status_code in (200, 400) and "Alpha thing" not in filtered.text
    numeric = client.get("/admin/thing/list", params={"filter": f"size__gt={payload}"})
    assert numeric.status_code in (200, 400) and "Traceback" not in numeric.text
    sorted_ = client.get("/admin/thing/list", params={"sort": f"{payload}__asc"})
    assert sorted_.status_code in (200, 400)
    page = client.get("/admin/thing/detail", params={"pk": f"1 {payload}"})
    assert page.status_code == 404
    picker = client.get("/admin/_api/thing/relation-lookup", params={"q": payload})
    assert picker.status_code == 200 and picker.json()["items"] == []
    assert rows(ficha) == before


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_script_in_stored_values_is_shown_as_text(site, payload: str) -> None:
    ficha, client = site
    thing = ficha.records.create(
        "thing", {"name": payload, "notes": payload, "data": {"x": payload}}
    )
    for page in (
        client.get("/admin/thing/list"),
        client.get(f"/admin/thing/detail?pk={thing.id}"),
        client.get(f"/admin/thing/edit?pk={thing.id}"),
    ):
        assert page.status_code == 200
        assert payload not in page.text  # never the raw markup …
        assert "&lt;" in page.text or "{{ 7*7 }}" in page.text  # … only its escaped text
        assert "49" not in re.findall(r"<b>(.*?)</b>", page.text)  # no template injection


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("site", "javascript:alert(1)"),
        ("site", "data:text/html,<script>alert(1)</script>"),
        ("email", "<script>@x.com"),
        ("email", "a@b.com\r\nBcc: everyone@example.com"),
        ("size", "1; DROP TABLE thing"),
        ("kind", "a' OR '1'='1"),
    ],
)
def test_values_that_do_not_fit_their_field_are_refused(site, field: str, value: str) -> None:
    ficha, client = site
    before = rows(ficha)
    form = client.get("/admin/thing/create")
    token = re.search(r'name="csrftoken"\s+value="([^"]+)"', form.text).group(1)
    response = client.post(
        "/admin/thing/create", data={"csrftoken": token, "name": "Bad", field: value}
    )
    assert response.status_code == 422
    assert rows(ficha) == before


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd.txt",
        "..\\..\\boot.ini.txt",
        "/etc/shadow.txt",
        "file\x00name.txt",
        "normal name <script>.txt",
    ],
)
def test_uploaded_file_names_cannot_escape_the_files_folder(site, filename: str) -> None:
    ficha, client = site
    form = client.get("/admin/thing/create")
    token = re.search(r'name="csrftoken"\s+value="([^"]+)"', form.text).group(1)
    response = client.post(
        "/admin/thing/create",
        data={"csrftoken": token, "name": "Doc"},
        files={"paper": (filename, io.BytesIO(b"hello"), "text/plain")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[-500:]
    with ficha.storage.read() as conn:
        [doc] = ficha.reader.list(
            conn, "thing", where=[ficha.storage.table("thing").c.name == "Doc"]
        )
    key = doc["paper"]["key"]
    assert ".." not in key and not key.startswith("/") and "\\" not in key
    stored = (ficha.settings.data_dir / "files" / key).resolve()
    assert stored.is_relative_to((ficha.settings.data_dir / "files").resolve())


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [("page.html", "text/html"), ("evil.svg", "image/svg+xml"), ("run.exe", "application/x")],
)
def test_uploads_of_other_types_are_refused(site, filename: str, content_type: str) -> None:
    ficha, client = site
    form = client.get("/admin/thing/create")
    token = re.search(r'name="csrftoken"\s+value="([^"]+)"', form.text).group(1)
    response = client.post(
        "/admin/thing/create",
        data={"csrftoken": token, "name": "Doc2"},
        files={"paper": (filename, io.BytesIO(b"<html>"), content_type)},
    )
    assert response.status_code == 422
    assert rows(ficha) == 2


def test_oversized_bodies_are_refused_unread(site) -> None:
    ficha, client = site
    response = client.post(
        "/admin/thing/create",
        content=b"x" * 10,
        headers={
            "content-length": str(MAX_BODY + 1),
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 413
    assert rows(ficha) == 2


@pytest.mark.parametrize("how", ["create", "edit", "row-delete", "batch-delete"])
def test_posts_without_the_csrf_token_are_refused(site, how: str) -> None:
    ficha, client = site
    client.get("/admin/thing/list")
    url = {
        "create": "/admin/thing/create",
        "edit": "/admin/thing/edit?pk=1",
        "row-delete": "/admin/_api/thing/row-action?name=delete&pk=1",
        "batch-delete": "/admin/_api/thing/action?name=delete&pks=1&pks=2",
    }[how]
    response = client.post(url, data={"name": "Changed"})
    assert response.status_code == 403
    assert rows(ficha) == 2
    assert ficha.records.get("thing", 1)["name"] == "Alpha thing"


def test_forged_and_expired_sessions_and_tokens_are_refused(site) -> None:
    ficha, client = site
    good = client.cookies.get(COOKIE)
    anonymous = TestClient(create_app(ficha.settings, ficha=ficha))
    for cookie in (good[:-3] + "abc", "not-even-signed", good + "x"):
        anonymous.cookies.set(COOKIE, cookie)
        page = anonymous.get("/admin/thing/list", follow_redirects=False)
        assert page.status_code in (302, 303) and "/login" in page.headers["location"]
    sessions = ficha.storage.tables.system["session"]
    with ficha.storage.write() as conn:
        conn.execute(sessions.update().values(expires_at=utcnow() - dt.timedelta(minutes=1)))
    assert client.get("/admin/thing/list", follow_redirects=False).status_code in (302, 303)
    bearer = TestClient(create_app(ficha.settings, ficha=ficha))
    for token in ("ficha_forged", "", "Bearer"):
        page = bearer.get(
            "/admin/thing/list",
            headers={"authorization": f"Bearer {token}"},
            follow_redirects=False,
        )
        assert page.status_code in (302, 303)


def test_guessing_passwords_locks_the_account(site) -> None:
    ficha, _ = site
    client = TestClient(create_app(ficha.settings, ficha=ficha))
    for attempt in range(6):
        page = client.get("/admin/login")
        token = re.search(r'name="csrftoken"\s+value="([^"]+)"', page.text).group(1)
        guess = PASSWORD if attempt == 5 else f"guess number {attempt}"
        response = client.post(
            "/admin/login",
            data={"csrftoken": token, "username": "admin", "password": guess},
            follow_redirects=False,
        )
        assert response.status_code == 400
    assert "locked" in response.text and COOKIE not in response.cookies


def test_security_headers_are_on_every_response(site) -> None:
    _, client = site
    for url in ("/admin/thing/list", "/admin/login", "/healthz", "/nowhere"):
        headers = client.get(url).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
