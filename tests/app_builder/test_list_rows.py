"""A list page's rows written in Python (app_builder/list_rows.py) read exactly as
starlette-admin's templates write them, for every field type it writes; a page with a
column it does not know is left to the templates."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

import app_builder.list_rows as list_rows
from app_builder.security import COOKIE
from framework.app import create_app
from tests.conftest import ProjectFactory, make_user, session_cookie

EVERY_KIND = {
    "agent": """
object: agent
title: name
fields:
  name: {type: string, required: true}
""",
    "lead": """
object: lead
title: name
fields:
  name: {type: string, required: true}
  notes: text
  visits: integer
  score: {type: decimal, scale: 2}
  budget: money
  share: percent
  hot: boolean
  met_on: date
  called_at: datetime
  email: email
  phone: phone
  site: url
  stage:
    type: choice
    values: {new: New, won: "Won & kept"}
  agent: {type: link, object: agent}
  helpers: {type: many_to_many, object: agent}
  code: {type: autonumber, format: "L-{00000}"}
list:
  columns: [name, notes, visits, score, budget, share, hot, met_on, called_at, email, phone,
            site, stage, agent, helpers, code]
  sort: [name]
""",
}


@pytest.fixture
def crm(project: ProjectFactory):
    ficha = project.migrated(EVERY_KIND)
    make_user(ficha)
    return ficha


@pytest.fixture
def client(crm) -> Iterator[TestClient]:
    with TestClient(create_app(crm.settings, ficha=crm)) as test_client:
        test_client.cookies.set(COOKIE, session_cookie(crm))
        yield test_client


def tbody(html: str) -> str:
    """The table's rows, with whitespace evened out (the templates indent, Python does
    not) and the page's CSRF token left out."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    body = re.sub(r"\s+", " ", body)
    for spaced, tight in ((r">\s+", ">"), (r"\s+<", "<"), (r"\s+>", ">")):
        body = re.sub(spaced, tight, body)
    return body.strip()


def rows_by_templates(client: TestClient, url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as patch:
        patch.setattr(list_rows, "page_rows", lambda *args, **kwargs: None)
        page = client.get(url)
    assert page.status_code == 200
    return tbody(page.text)


def test_rows_written_in_python_match_the_templates(crm, client, monkeypatch) -> None:
    ann = crm.records.create("agent", {"name": "Ann <Admin> & Co"})
    bob = crm.records.create("agent", {"name": "Bob"})
    crm.records.create(
        "lead",
        {
            "name": 'Zoë "Z" <b>Ortiz</b>',
            "notes": "line one\nline <two>",
            "visits": 3,
            "score": "12.50",
            "budget": "1000.10",
            "share": "7.5",
            "hot": True,
            "met_on": "2025-03-01",
            "called_at": "2025-03-01T09:30:00",
            "email": "zoe+crm@example.com",
            "phone": "+34 600 123 456",
            "site": "https://example.com/a?b=1&c=2",
            "stage": "won",
            "agent": ann.id,
            "helpers": [ann.id, bob.id],
        },
    )
    crm.records.create("lead", {"name": "Empty", "hot": False})  # nulls, an empty list
    url = "/admin/lead/list"
    fast = client.get(url)
    assert fast.status_code == 200
    written = tbody(fast.text)
    assert written == rows_by_templates(client, url, monkeypatch)
    # what a user sees, escaped once: no markup of theirs reaches the page
    assert "Zoë &#34;Z&#34; &lt;b&gt;Ortiz&lt;/b&gt;" in written
    assert "Ann &lt;Admin&gt; &amp; Co" in written
    assert "Won &amp; kept" in written
    assert 'href="mailto:zoe+crm@example.com"' in written
    assert "<b>Ortiz" not in written
    # and it was written by Python: the placeholders never reach the page
    assert list_rows.KEY not in fast.text and list_rows.CELLS_MARK not in fast.text


def test_search_and_sorted_pages_match_too(crm, client, monkeypatch) -> None:
    for i in range(30):
        crm.records.create("lead", {"name": f"Lead {i:02d}", "visits": i, "hot": i % 2 == 0})
    for url in ("/admin/lead/list?page=2", "/admin/lead/list?q=Lead&sort=visits__desc"):
        fast = client.get(url)
        assert fast.status_code == 200
        assert tbody(fast.text) == rows_by_templates(client, url, monkeypatch)


def test_a_column_only_its_template_knows_is_left_to_the_templates(project) -> None:
    crm = project.migrated(
        {
            "event": """
object: event
title: name
fields:
  name: {type: string, required: true}
  payload: json
list:
  columns: [name, payload]
"""
        }
    )
    make_user(crm)
    crm.records.create("event", {"name": "Boot", "payload": {"ok": True}})
    with TestClient(create_app(crm.settings, ficha=crm)) as client:
        client.cookies.set(COOKIE, session_cookie(crm))
        page = client.get("/admin/event/list")
    assert page.status_code == 200
    assert "Boot" in page.text
    assert 'class="field-json' in page.text  # starlette-admin's JSON viewer, as before
    assert list_rows.KEY not in page.text
