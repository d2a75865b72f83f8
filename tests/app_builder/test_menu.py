"""The side menu is rendered once per kind of page (app_builder/menu.py): every user still
sees only the entries their role opens, with the page they are on marked, whatever
another user asked for before them."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from app_builder.security import COOKIE
from framework.app import create_app
from tests.conftest import ProjectFactory, make_user, session_cookie

OBJECTS = {
    "account": "object: account\ntitle: name\nfields:\n  name: {type: string, required: true}\n",
    "deal": "object: deal\ntitle: title\nfields:\n  title: {type: string, required: true}\n",
}
ROLES = """
roles:
  accounts_only:
    objects:
      account: {read: yes}
"""


@pytest.fixture
def crm(project: ProjectFactory):
    project.write(OBJECTS)
    (project.root / "roles.yaml").write_text(ROLES)
    ficha = project.migrated()
    make_user(ficha, "admin")
    make_user(ficha, "ana", role="accounts_only")
    return ficha


def menu(html: str) -> str:
    return html.split('id="sidebar-menu"', 1)[1].split("</aside>", 1)[0]


def active(menu_html: str) -> list[str]:
    """The list pages the menu marks as the one being shown."""
    return re.findall(r'href="[^"]*/admin/(\w+)/list"\s+class="[^"]*\bactive\b', menu_html)


def test_each_user_sees_their_own_menu_with_their_page_marked(crm) -> None:
    app = create_app(crm.settings, ficha=crm)
    with TestClient(app) as admin, TestClient(app) as ana:
        admin.cookies.set(COOKIE, session_cookie(crm, "admin"))
        ana.cookies.set(COOKIE, session_cookie(crm, "ana"))
        for _ in range(2):  # the second round is served from the cache
            on_deals = menu(admin.get("/admin/deal/list").text)
            assert "/admin/deal/list" in on_deals and "/admin/account/list" in on_deals
            assert active(on_deals) == ["deal"]
            on_accounts = menu(admin.get("/admin/account/list").text)
            assert active(on_accounts) == ["account"]
            hers = menu(ana.get("/admin/account/list").text)
            assert "/admin/account/list" in hers
            assert "/admin/deal/list" not in hers  # never the admin's menu
            assert active(hers) == ["account"]
            assert ana.get("/admin/deal/list").status_code == 403
