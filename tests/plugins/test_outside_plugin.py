"""The acceptance test of plugins: a plugin written here, outside Ficha's source tree, with
its own pyproject.toml and entry point (group `ficha`), pip-installed into a temporary
folder, adds a field type (`acme_iban`), a rule action (`fill_bank`) and a service
(`bank_directory`). A project using them is checked and migrated by the `ficha` command
and served by uvicorn in a subprocess that sees the plugin only through its entry point;
the test drives the screens and the REST API over real HTTP."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.plugins.conftest import environment_with, ficha, pip_install

pytestmark = pytest.mark.slow

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "acme-bank"
version = "1.4.0"
dependencies = ["ficha"]

[project.entry-points.ficha]
acme_bank = "acme_bank"
"""

PLUGIN = '''
"""Acme's banking bits for Ficha: IBANs, the bank behind one, and a rule action."""

from __future__ import annotations

import re
import weakref
from typing import Protocol

import sqlalchemy as sa

from framework.services import Health, ServiceDef
from modeler.fieldtypes import FieldType
from plugins import hookimpl

IBAN_RE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def coerce_iban(field, value, ctx):
    text = re.sub(r"\\s+", "", str(value)).upper()
    if not IBAN_RE.match(text):
        raise ValueError(f"'{value}' is not an IBAN (country, check digits, account)")
    digits = "".join(str(int(c, 36)) for c in text[4:] + text[:4])
    if int(digits) % 97 != 1:
        raise ValueError(f"'{value}' is not a valid IBAN: its check digits do not match")
    return text


class BankDirectory(Protocol):
    def bank_name(self, iban: str) -> str: ...


class SpanishBanks:
    BANKS = {"2100": "CaixaBank", "0049": "Banco Santander", "0182": "BBVA"}

    def bank_name(self, iban: str) -> str:
        return self.BANKS.get(iban[4:8], "unknown bank") if iban[:2] == "ES" else "unknown bank"

    def health(self) -> Health:
        return Health(True, f"{len(self.BANKS)} banks known")


#: each loaded project's services, by its records service (what an action is handed)
SERVICES = weakref.WeakKeyDictionary()


@hookimpl
def ficha_field_types():
    return [
        FieldType(
            "acme_iban",
            "A bank account number (IBAN), checked by its check digits.",
            sql_type=lambda f: sa.String(34),
            coerce=coerce_iban,
            source="acme-bank",
        )
    ]


@hookimpl
def ficha_services(ficha):
    SERVICES[ficha.records] = ficha.services
    return [ServiceDef("bank_directory", SpanishBanks(), BankDirectory, "1.4", "banks by IBAN")]


def fill_bank(ctx):
    directory = SERVICES[ctx.records].get("bank_directory")
    options = ctx.action.options
    iban = ctx.record[options.get("from", "iban")]
    values = {options.get("to", "bank"): directory.bank_name(iban)}
    ctx.records.update(ctx.object, int(ctx.record["id"]), values, ctx.actor, conn=ctx.conn)


@hookimpl
def ficha_actions():
    return {"fill_bank": fill_bank}
'''

PAYER = """
object: payer
title: name
fields:
  name: {type: string, required: true}
  iban: {type: acme_iban, required: true}
  bank: {type: string}
rules:
  - name: bank from the iban
    on: save
    do:
      - call: {action: fill_bank, from: iban, to: bank}
"""

SERVER = """
import json, sys

import uvicorn

from framework.app import Ficha, create_app
from framework.settings import Settings

project, port, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ficha = Ficha.load(Settings.load(project))
user = ficha.records.create("user", {"username": "admin", "name": "Admin", "role": "admin"})
ficha.auth.set_password(user.id, password)
token = ficha.auth.create_token(user.id, "tests")
cookie = ficha.auth.login("admin", password, ip="127.0.0.1").token
print(json.dumps({"token": token, "cookie": cookie}), flush=True)
uvicorn.run(create_app(ficha.settings, ficha=ficha), host="127.0.0.1", port=port,
            log_level="warning")
"""

CAIXA = "ES91 2100 0418 4502 0005 1332"
BBVA = "ES3501821234561234567890"
BAD = "ES91 2100 0418 4502 0005 1333"  # one digit off: the check digits do not match
CSRF_RE = re.compile(r'name="csrftoken"\s+value="([^"]+)"')


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin, written and pip-installed outside Ficha's tree (once for the module)."""
    root = tmp_path_factory.mktemp("acme")
    source = root / "acme-bank"
    (source / "acme_bank").mkdir(parents=True)
    (source / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (source / "acme_bank" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    site = root / "site"
    pip_install(source, site)
    return site


@dataclass
class Served:
    """The project served with the plugin: an API client (token), a signed-in browser
    client (session cookie), and the cookie itself for a real browser."""

    url: str
    api: httpx.Client
    browser: httpx.Client
    cookie: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(tmp_path: Path, database: str, plugin_site: Path) -> Iterator[Served]:
    """The project served with the plugin: an API client (token) and a signed-in browser
    client (session cookie)."""
    project = tmp_path / "bank"
    (project / "objects").mkdir(parents=True)
    (project / "ficha.yaml").write_text(f"name: Bank\ndatabase: '{database}'\npacks: []\n")
    (project / "objects" / "payer.yaml").write_text(textwrap.dedent(PAYER))
    env = environment_with(plugin_site)

    # Without the plugin the project does not check: the type and the action are its.
    bare = ficha("check", "-p", str(project), env=environment_with(tmp_path / "none"))
    assert bare.returncode == 1
    assert "unknown field type 'acme_iban'" in bare.stderr
    checked = ficha("check", "-p", str(project), env=env)
    assert checked.returncode == 0, checked.stderr
    migrated = ficha("migrate", "-p", str(project), env=env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    (tmp_path / "serve.py").write_text(textwrap.dedent(SERVER))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(tmp_path / "serve.py"), str(project), str(port), "s3cret-Pa55word"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line, server.stderr.read() if server.stderr else "the server said nothing"
        secrets = json.loads(line)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/api/v1/payer", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "the server did not start in 60 s"
                time.sleep(0.2)
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secrets['token']}"})
        browser = httpx.Client(base_url=base, cookies={"ficha_session": secrets["cookie"]})
        with api, browser:
            yield Served(base, api, browser, secrets["cookie"])
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert "Traceback" not in errors, errors


@pytest.fixture
def served(tmp_path: Path, any_database: str, plugin_site: Path) -> Iterator[Served]:
    with serving(tmp_path, any_database, plugin_site) as running:
        yield running


def test_the_plugin_field_type_action_and_service_work_in_api_and_screens(
    served: Served,
) -> None:
    api, browser = served.api, served.browser

    # API: the field type checks and normalises; the action fills the bank on save,
    # asking the plugin's service.
    created = api.post("/api/v1/payer", json={"name": "Ana", "iban": CAIXA})
    assert created.status_code == 201, created.text
    ana = api.get(f"/api/v1/payer/{created.json()['id']}").json()
    assert (ana["iban"], ana["bank"]) == ("ES9121000418450200051332", "CaixaBank")
    refused = api.post("/api/v1/payer", json={"name": "Bob", "iban": BAD})
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["field"] == "iban" and "check digits do not match" in error["detail"]
    changed = api.patch(
        f"/api/v1/payer/{ana['id']}", json={"iban": BBVA, "version": ana["version"]}
    )
    assert changed.status_code == 200, changed.text
    assert api.get(f"/api/v1/payer/{ana['id']}").json()["bank"] == "BBVA"

    # Screens: the form refuses a wrong IBAN next to the field, and saves a good one;
    # the record page shows the bank the action filled in.
    page = browser.get("/admin/payer/create")
    assert page.status_code == 200
    match = CSRF_RE.search(page.text)
    assert match, "the form carries a CSRF token"
    form = {"csrftoken": match.group(1), "name": "Carmen"}
    wrong = browser.post("/admin/payer/create", data={**form, "iban": BAD})
    assert wrong.status_code == 422
    assert "its check digits do not match" in wrong.text
    saved = browser.post("/admin/payer/create", data={**form, "iban": CAIXA})
    assert saved.status_code == 303, saved.text[:2000]
    listing = api.get("/api/v1/payer", params={"sort": "id"}).json()
    carmen = next(r for r in listing["data"] if r["name"] == "Carmen")
    assert carmen["bank"] == "CaixaBank"
    detail = browser.get(f"/admin/payer/detail?pk={carmen['id']}")
    assert detail.status_code == 200
    assert "Carmen" in detail.text and "CaixaBank" in detail.text
    assert "ES9121000418450200051332" in detail.text
    assert len(listing["data"]) == 2  # the refused ones saved nothing

    # The admin's Services page lists the plugin's service, where it comes from, up.
    services = browser.get("/admin/services")
    assert services.status_code == 200
    found = re.search(r'<tr data-service="bank_directory">(.*?)</tr>', services.text, re.S)
    assert found, "the Services page lists bank_directory"
    row = " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())
    assert "from acme_bank" in row and "1.4" in row
    assert "up" in row and "3 banks known" in row


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
def test_the_plugin_field_type_in_a_real_browser(tmp_path: Path, plugin_site: Path) -> None:
    """One page in Chromium: the payer form refuses a wrong IBAN next to the field, saves
    a good one, and the payer's page shows the bank the action found."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is missing: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    database = f"sqlite:///{tmp_path / 'bank.sqlite'}"
    with serving(tmp_path, database, plugin_site) as served, sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = chromium.new_context(base_url=served.url)
            context.set_default_timeout(10_000)
            context.route(
                lambda url: not url.startswith("http://127.0.0.1:"), lambda route: route.abort()
            )
            context.add_cookies(
                [{"name": "ficha_session", "value": served.cookie, "url": served.url}]
            )
            page = context.new_page()
            page.goto("/admin/payer/create")
            page.get_by_label("Name", exact=True).fill("Dora")
            page.get_by_label("Iban", exact=True).fill(BAD)
            with page.expect_navigation():
                page.get_by_role("button", name="Save", exact=True).click()
            expect(page.get_by_text("its check digits do not match")).to_be_visible()
            page.get_by_label("Iban", exact=True).fill(CAIXA)
            with page.expect_navigation():
                page.get_by_role("button", name="Save", exact=True).click()
            expect(page.get_by_text('The item "Dora" was added successfully')).to_be_visible()
            [dora] = served.api.get("/api/v1/payer").json()["data"]
            page.goto(f"/admin/payer/detail?pk={dora['id']}")
            details = page.get_by_role("table").first
            expect(details.get_by_role("row", name="Bank")).to_contain_text("CaixaBank")
            expect(details.get_by_role("row", name="Iban")).to_contain_text(
                "ES9121000418450200051332"
            )
            context.close()
        finally:
            chromium.close()
