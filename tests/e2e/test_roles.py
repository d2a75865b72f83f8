"""Two people sign in through the login page and see different things: menus, records,
fields; the one without export rights has no Export button, and the export address
answers 403."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, ProjectFactory, make_user
from tests.e2e.conftest import Site, serving

pytestmark = pytest.mark.browser

ACCOUNT = """
object: account
title: name
fields:
  name: {type: string, required: true, search: true}
  owner: {type: link, object: user}
  revenue: money
list:
  columns: [name, owner, revenue]
"""
BUDGET = """
object: budget
title: name
fields:
  name: {type: string, required: true}
"""
ROLES = """
roles:
  sales:
    objects:
      account: {read: own, create: own, update: own, export: no}
    hidden: {account: [revenue]}
  manager:
    objects:
      account: all
      budget: all
"""


@pytest.fixture(scope="module")
def roles_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("roles")
    factory = ProjectFactory(root / "crm", f"sqlite:///{root / 'crm.sqlite'}")
    factory.write({"account": ACCOUNT, "budget": BUDGET})
    (factory.root / "roles.yaml").write_text(ROLES)
    ficha = factory.migrated()
    sara = make_user(ficha, "sara", role="sales", name="Sara Sales")
    make_user(ficha, "mario", role="manager", name="Mario Manager")
    ficha.records.create(
        "account", {"name": "Sara's client", "owner": sara.id, "revenue": "750000"}
    )
    ficha.records.create("account", {"name": "Someone else's client", "revenue": "1200"})
    ficha.records.create("budget", {"name": "Budget 2027"})
    try:
        with serving(ficha) as site:
            yield site
    finally:
        factory.close()


def login(page: Page, site: Site, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{site.url}/admin/account/list")
    expect(page).to_have_url(re.compile(r"/admin/login"))  # not signed in: sent to sign in
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Login|Sign in", re.I)).click()
    expect(page).to_have_url(re.compile(r"/admin/account/list"))


def test_two_roles_see_different_menus_records_and_fields(page: Page, roles_site: Site) -> None:
    login(page, roles_site, "sara")
    expect(page.get_by_text("Sara's client")).to_be_visible()
    expect(page.get_by_text("Someone else's client")).to_have_count(0)
    expect(page.get_by_text("750000")).to_have_count(0)
    expect(page.get_by_role("columnheader", name=re.compile("Revenue", re.I))).to_have_count(0)
    expect(page.get_by_role("link", name="Budgets")).to_have_count(0)  # not in her menu
    expect(page.get_by_role("link", name="Export", exact=True)).to_have_count(0)
    response = page.request.post(
        f"{roles_site.url}/admin/_api/account/action?name=export&all=1",
        form={"format": "csv", "scope": "all"},
        headers={
            "X-CSRFToken": next(
                c["value"]
                for c in page.context.cookies()
                if c["name"] == "starlette_admin_csrftoken"
            )
        },
    )
    assert response.status in (400, 403)
    assert "Someone else" not in response.text()
    forbidden = page.request.get(f"{roles_site.url}/admin/budget/list")
    assert forbidden.status == 403

    login(page, roles_site, "mario")
    expect(page.get_by_text("Sara's client")).to_be_visible()
    expect(page.get_by_text("Someone else's client")).to_be_visible()
    expect(page.get_by_text("750000")).to_be_visible()
    expect(page.get_by_role("link", name="Budgets")).to_be_visible()
    expect(page.get_by_role("link", name="Export", exact=True)).to_be_visible()
