"""Layout keys a user sees in the screens: section read-only fields and the record's
time stamps as list columns."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from app_builder.security import COOKIE
from framework.app import create_app
from tests.conftest import ProjectFactory, make_user, session_cookie

DEALS = {
    "person": "object: person\nfields:\n  name: string\n",
    "deal": """
        object: deal
        fields:
          title: string
          amount: integer
          people: {type: many_to_many, object: person}
        form:
          sections:
            - {section: Main, fields: [title, amount], read_only: [amount]}
            - {section: Links, fields: [people], read_only: [people]}
        list:
          columns: [title, created_at]
          sort: -created_at
        """,
}


@pytest.fixture
def deals(project: ProjectFactory):
    return project.migrated(DEALS)


@pytest.fixture
def client(deals) -> Iterator[TestClient]:
    make_user(deals)
    with TestClient(create_app(deals.settings, ficha=deals)) as test_client:
        test_client.cookies.set(COOKIE, session_cookie(deals))
        yield test_client


def _input(page: str, name: str) -> str:
    match = re.search(rf'<(?:input|select)[^>]*name="{name}"[^>]*>', page)
    assert match, f"the form has an input for {name}"
    return match.group(0)


def test_fields_a_section_marks_read_only_have_no_input_and_keep_their_value(
    deals, client: TestClient
) -> None:
    ana = deals.records.create("person", {"name": "Ana"})
    deal = deals.records.create("deal", {"title": "Big", "amount": 5, "people": [ana.id]})
    page = client.get(f"/admin/deal/edit?pk={deal.id}").text
    assert "disabled" in _input(page, "people") and "readonly" in _input(page, "amount")
    assert "disabled" not in _input(page, "title") and "readonly" not in _input(page, "title")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page)
    assert token
    saved = client.post(
        f"/admin/deal/edit?pk={deal.id}",
        data={"csrftoken": token.group(1), "title": "Bigger", "amount": "999", "version": "1"},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text[:1500]
    after = deals.records.get("deal", deal.id)
    assert after["title"] == "Bigger" and after["amount"] == 5
    with deals.storage.read() as conn:
        people, _ = deals.reader.related(conn, "deal", deal.id, "people")
    assert [p.id for p in people] == [ana.id]  # the disabled input sent nothing: kept


def test_created_at_is_a_list_column_and_the_default_sort(deals, client: TestClient) -> None:
    first = deals.records.create("deal", {"title": "First"})
    deals.records.create("deal", {"title": "Second"})
    page = client.get("/admin/deal/list").text
    assert 'data-column="created_at"' in page and 'data-column="amount"' not in page
    assert page.index("Second") < page.index("First")  # newest first, as declared
    detail = client.get(f"/admin/deal/detail?pk={first.id}").text
    assert "Created" in detail and "Last changed" in detail


def test_times_are_typed_and_shown_in_the_projects_timezone_and_stored_in_utc(
    project: ProjectFactory,
) -> None:
    ficha = project.migrated({"meeting": "object: meeting\nfields:\n  starts: datetime\n"})
    assert ficha.settings.timezone == "Europe/Madrid"  # the project default
    make_user(ficha)
    with TestClient(create_app(ficha.settings, ficha=ficha)) as client:
        client.cookies.set(COOKIE, session_cookie(ficha))
        page = client.get("/admin/meeting/create").text
        token = re.search(r'name="csrftoken" value="([^"]+)"', page)
        assert token
        saved = client.post(
            "/admin/meeting/create",
            data={"csrftoken": token.group(1), "starts": "2026-06-01T10:00"},
            follow_redirects=False,
        )
        assert saved.status_code == 303, saved.text[:1500]
        with ficha.storage.read() as conn:
            [meeting] = ficha.reader.list(conn, "meeting")
        assert meeting["starts"] == dt.datetime(2026, 6, 1, 8, 0)  # summer time: UTC+2
        detail = client.get(f"/admin/meeting/detail?pk={meeting.id}").text
        assert "10:00" in detail and "08:00" not in detail
