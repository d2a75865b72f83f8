"""Reports in a real browser: a dashboard's bar opens the records behind it; a monitor
tile changes by itself when a record is saved elsewhere."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from framework.records import Actor
from tests.conftest import ProjectFactory, make_user
from tests.e2e.conftest import Site, serving, sign_in
from tests.reports import calls
from tests.reports.test_monitors import REDIS, redis_or_skip

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def calls_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    redis_or_skip()
    before = os.environ.get("FICHA_REDIS_URL")
    os.environ["FICHA_REDIS_URL"] = REDIS
    root = tmp_path_factory.mktemp("calls")
    factory = ProjectFactory(root / "calls", f"sqlite:///{root / 'calls.sqlite'}")
    ficha = factory.migrated(calls.copy_example(root / "calls"))
    calls.load(ficha, 400)
    make_user(ficha)
    try:
        with serving(ficha) as running:
            yield running
    finally:
        factory.close()
        if before is None:
            os.environ.pop("FICHA_REDIS_URL", None)
        else:
            os.environ["FICHA_REDIS_URL"] = before


@pytest.fixture
def page(browser: Any, calls_site: Site) -> Iterator[Any]:
    from playwright.sync_api import expect

    expect.set_options(timeout=5_000)
    context = browser.new_context(base_url=calls_site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5_000)
    context.route(lambda url: not url.startswith("http://127.0.0.1:"), lambda route: route.abort())
    page = context.new_page()
    sign_in(page, calls_site)
    try:
        yield page
    finally:
        context.close()


def test_a_bar_of_a_dashboard_opens_the_records_behind_it(page: Any, screenshot: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/admin/dashboards/call_centre")
    widget = page.locator('[data-ficha=widget][data-report="calls_per_hour"]')
    bar = widget.locator(".apexcharts-bar-area").nth(8)
    expect(bar).to_be_visible()
    count = int(float(bar.get_attribute("val") or "0"))
    assert count > 0
    screenshot(page, "dashboard")
    bar.click()
    expect(page).to_have_url(re.compile(r"/admin/call/list\?expr=.*hour"))
    expect(page.get_by_text(re.compile(rf"Showing 1 to \d+ of {count} entries"))).to_be_visible()


def test_a_monitor_tile_changes_when_a_record_is_saved_elsewhere(
    page: Any, calls_site: Site
) -> None:
    from playwright.sync_api import expect

    ficha = calls_site.ficha
    page.goto("/admin/monitors/call_centre_live")
    tile = page.locator('[data-tile="abandoned"]')
    expect(tile).to_be_visible()
    before = int(tile.inner_text().replace(",", ""))
    expect(page.locator("[data-ficha=monitor]")).to_have_attribute("data-version", "1")
    table = ficha.storage.table("call")
    with ficha.storage.read() as conn:
        served = ficha.reader.list(conn, "call", where=[table.c.outcome == "AGENT"], limit=1)[0]
    ficha.records.update("call", served.id, {"outcome": "HANG"}, Actor(None, "agent", "screen"))
    expect(tile).to_have_text(f"{before + 1:,}")
    expect(page.locator('[data-list="latest"] tr').first).to_contain_text(str(served.call_id))
