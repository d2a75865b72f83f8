"""A wrapped object in a real browser: customers of a legacy HTTP/JSON system (a small
server on 127.0.0.1) listed, opened, created and edited through the generated screens,
and the page a user sees when that system goes down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import ProjectFactory, make_user
from tests.e2e.conftest import Screenshot, serving, sign_in
from tests.framework.test_wrappers_http import LegacyCrm, wrapped

pytestmark = pytest.mark.browser


@pytest.fixture
def legacy_page(browser: Browser, tmp_path: Path) -> Iterator[tuple[Page, LegacyCrm, str]]:
    crm = LegacyCrm()
    factory = ProjectFactory(tmp_path / "proj", f"sqlite:///{tmp_path / 'proj.sqlite'}")
    try:
        ficha = factory.migrated({"old_customer": wrapped(crm.url)})
        make_user(ficha)
        with serving(ficha) as site:
            context = browser.new_context(
                base_url=site.url, viewport={"width": 1280, "height": 900}
            )
            context.set_default_timeout(5_000)
            context.route(
                lambda url: not url.startswith("http://127.0.0.1:"), lambda route: route.abort()
            )
            page = context.new_page()
            sign_in(page, site)
            try:
                yield page, crm, site.admin("old_customer")
            finally:
                context.close()
    finally:
        crm.stop()
        factory.close()


def test_legacy_customers_in_the_screens_and_when_the_system_is_down(
    legacy_page: tuple[Page, LegacyCrm, str], screenshot: Screenshot
) -> None:
    page, crm, base = legacy_page
    page.goto(f"{base}/list")
    rows = page.locator("table tbody tr")
    expect(rows.filter(has_text="Marta Sanz")).to_contain_text("marta@old.es")
    expect(rows).to_have_count(3)
    screenshot(page, "legacy-customers")

    with page.expect_navigation():
        page.get_by_role("link", name="New Old customer").click()
    page.get_by_label("Name", exact=True).fill("Eva Paz")
    page.get_by_label("Email", exact=True).fill("eva@old.es")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text('The item "Eva Paz" was added successfully')).to_be_visible()
    assert [c["fullName"] for c in crm.customers.values()][-1] == "Eva Paz"

    page.goto(f"{base}/edit?pk=8")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Luis Gil")
    page.get_by_label("Email", exact=True).fill("test@example.com")  # a validation refuses it
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("the old CRM does not take test addresses")).to_be_visible()
    assert crm.customers[8]["mail"] == "luis@old.es"
    page.get_by_label("Email", exact=True).fill("luis.gil@old.es")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text('The item "Luis Gil" was changed successfully')).to_be_visible()
    assert crm.customers[8]["mail"] == "luis.gil@old.es"

    crm.stop()
    response = page.goto(f"{base}/list")
    assert response is not None and response.status == 503
    expect(page.get_by_text("the legacy system the old CRM is not reachable")).to_be_visible()
    expect(page.get_by_text("Traceback")).to_have_count(0)
    screenshot(page, "legacy-customers-down")
