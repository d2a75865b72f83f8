"""Browser fixtures: a Shop project served by uvicorn in a thread, driven by Chromium.

One server and one browser per test session (per xdist worker); each test gets a fresh
browser context and page, and creates the records it works on under unique names, so the
tests do not depend on each other or on their order.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import ProjectFactory, make_user, session_cookie
from tests.samples import SHOP

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
STARTUP_TIMEOUT = 15.0

Screenshot = Callable[["Page", str], None]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Site:
    """The running application and the project behind it."""

    url: str
    ficha: Any

    def admin(self, path: str = "") -> str:
        return f"{self.url}/admin/{path.lstrip('/')}"

    def count(self, object_name: str, **equal: Any) -> int:
        """Live records of an object whose fields equal the given values."""
        import sqlalchemy as sa

        table = self.ficha.storage.table(object_name)
        query = sa.select(sa.func.count()).select_from(table).where(table.c.deleted_at.is_(None))
        for name, value in equal.items():
            query = query.where(table.c[name] == value)
        with self.ficha.storage.read() as conn:
            return int(conn.execute(query).scalar_one())


class _Server(threading.Thread):
    def __init__(self, app: Any, port: int) -> None:
        import uvicorn

        super().__init__(daemon=True, name="ficha-e2e-server")
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
        )
        self.server = uvicorn.Server(config)

    def run(self) -> None:
        self.server.run()

    def stop(self) -> None:
        self.server.should_exit = True
        self.join(timeout=10)


def _wait_until_up(url: str, server: _Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if not server.is_alive():
            raise RuntimeError("the test server stopped while starting")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the test server did not answer on {url} within {STARTUP_TIMEOUT}s")


@contextlib.contextmanager
def serving(ficha: Any) -> Iterator[Site]:
    """Serve a loaded project on a free 127.0.0.1 port for as long as the block lasts."""
    from framework.app import create_app

    app = create_app(ficha.settings, ficha=ficha)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _Server(app, port)
    server.start()
    try:
        _wait_until_up(url, server)
        yield Site(url, ficha)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The Shop project (customer, product, order) on a SQLite file, with a few records,
    served on a free 127.0.0.1 port."""
    root = tmp_path_factory.mktemp("e2e")
    factory = ProjectFactory(root / "shop", f"sqlite:///{root / 'shop.sqlite'}")
    ficha = factory.migrated(SHOP)
    seed(ficha)
    make_user(ficha)
    try:
        with serving(ficha) as running:
            yield running
    finally:
        factory.close()


@pytest.fixture(scope="session")
def crm_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The core CRM pack, with a sales team: Berta (senior manager) and Ana, who reports
    to her."""
    root = tmp_path_factory.mktemp("crm")
    factory = ProjectFactory(root / "crm", f"sqlite:///{root / 'crm.sqlite'}")
    ficha = factory.migrated({}, packs=("core",))
    make_user(ficha)
    create = ficha.records.create
    team = create("team", {"name": "Sales"})
    berta = create(
        "user",
        {"username": "berta", "name": "Berta Ortega", "role": "sales_manager", "team": team.id},
    )
    create(
        "user",
        {
            "username": "ana",
            "name": "Ana López",
            "role": "sales",
            "team": team.id,
            "manager": berta.id,
        },
    )
    try:
        with serving(ficha) as running:
            yield running
    finally:
        factory.close()


def seed(ficha: Any) -> None:
    """A few records every test can rely on being there (and none deletes)."""
    create = ficha.records.create
    ana = create(
        "customer",
        {
            "name": "Ana Seed López",
            "email": "ana.seed@example.com",
            "segment": "smb",
            "credit_limit": "1500",
        },
    )
    create(
        "customer",
        {
            "name": "Borja Seed Industries",
            "email": "borja.seed@example.com",
            "segment": "ent",
            "credit_limit": "250000",
        },
    )
    create(
        "customer",
        {"name": "Carmen Seed Ruiz", "email": "carmen.seed@example.com", "segment": "smb"},
    )
    widget = create(
        "product", {"code": "WID-1", "name": "Seed Widget", "price": "9.99", "stock": 100}
    )
    create("order", {"customer": ana.id, "product": widget.id, "quantity": 2})


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = "Chromium is missing: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    """A fresh page (own cookies and storage) in a desktop-sized window."""
    from playwright.sync_api import expect

    expect.set_options(timeout=5_000)
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5_000)
    # The pages import a web font from the internet: tests never leave 127.0.0.1.
    context.route(lambda url: not url.startswith("http://127.0.0.1:"), lambda route: route.abort())
    page = context.new_page()
    sign_in(page, site)
    try:
        yield page
    finally:
        context.close()


def sign_in(page: Page, site: Site, username: str = "admin") -> None:
    """Sign the page's browser in to `site` as `username` (a session cookie, as the login
    page would set; tests of the login page itself fill the form instead)."""
    from app_builder.security import COOKIE

    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": COOKIE, "value": session_cookie(site.ficha, username), "url": site.url}]
    )


@pytest.fixture
def screenshot() -> Screenshot:
    """`screenshot(page, "name")` saves tests/e2e/screenshots/name.png when the environment
    variable FICHA_SCREENSHOTS is set (the docs use them), and does nothing otherwise."""

    def take(page: Page, name: str) -> None:
        if not os.environ.get("FICHA_SCREENSHOTS"):
            return
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take
