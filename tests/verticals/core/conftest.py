"""Fixtures of the core pack's tests: a migrated project with the pack on each database,
a signed-in client, and one customer with a little of everything."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from app_builder.security import COOKIE
from framework.app import create_app
from modeler.national_ids import spanish_company_nif, spanish_dni
from tests.conftest import BACKENDS, ProjectFactory, _fresh_database, make_user, session_cookie

CSRF_RE = re.compile(r'name="csrftoken"\s+value="([^"]+)"')


@pytest.fixture(scope="module", params=BACKENDS)
def crm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The core pack on SQLite, PostgreSQL and MariaDB in turn, migrated once per test
    module (30 objects take a while to create), with a sales team: Berta (manager) and
    Ana, who reports to her. Tests make their own records and never count on an empty
    table."""
    root = tmp_path_factory.mktemp("crm")
    database = _fresh_database(request, str(request.param), root / "db")
    factory = ProjectFactory(root / "proj", next(database))
    try:
        ficha = factory.migrated({}, packs=("core",))
        make_user(ficha)
        team = ficha.records.create("team", {"name": "Sales"})
        berta = make_user(ficha, "berta", role="admin", name="Berta Ortega", team=team.id)
        make_user(
            ficha,
            "ana",
            role="admin",
            name="Ana López",
            team=team.id,
            manager=berta.id,
            territory="Madrid",
        )
        yield ficha
    finally:
        factory.close()
        database.close()


def client_for(ficha: Any, username: str = "admin") -> TestClient:
    client = TestClient(create_app(ficha.settings, ficha=ficha))
    client.cookies.set(COOKIE, session_cookie(ficha, username))
    return client


@pytest.fixture
def client(crm: Any) -> Iterator[TestClient]:
    with client_for(crm, "ana") as test_client:
        yield test_client


def csrf(client: TestClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text[:500]
    match = CSRF_RE.search(page.text)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def user_id(ficha: Any, username: str) -> int:
    table = ficha.storage.table("user")
    with ficha.storage.read() as conn:
        return int(conn.execute(table.select().where(table.c.username == username)).first().id)


@dataclass
class Customer:
    account: int
    contact: int
    deal: int
    ticket: int
    asset: int
    #: what identifies it: phone (as stored), email, DNI, card (as printed), cookie, tax id
    phone: str
    email: str
    dni: str
    card: str
    cookie: str
    tax_id: str


_SEQUENCE = itertools.count(1)


def customer(ficha: Any, name: str = "Talleres Ruiz", *, owner: str = "ana") -> Customer:
    """A customer with an identifier of each kind (all its own), a contact with two phones
    and an email, a contract, an asset, an open deal, an open ticket and some history."""
    n = next(_SEQUENCE) + secrets.randbelow(10_000) * 100
    create = ficha.records.create
    ana = user_id(ficha, owner)
    tax_id = spanish_company_nif(n)
    account = create(
        "account",
        {
            "name": name,
            "tax_id": tax_id,
            "segment": "smb",
            "value_tier": "gold",
            "owner": ana,
            "city": "Sevilla",
        },
    )
    contact = create("contact", {"full_name": f"Rosa of {name}", "account": account.id})
    phone = f"+346{n:08d}"
    email = f"rosa.{n}@talleres.example"
    create("contact_phone", {"contact": contact.id, "number": phone, "primary": True})
    create("contact_phone", {"contact": contact.id, "number": f"+347{n:08d}", "kind": "work"})
    create("contact_email", {"contact": contact.id, "address": email})
    dni = spanish_dni(n)
    card, cookie = f"4000 {n:08d}", f"c0ffee-{n}"
    create("identifier", {"account": account.id, "kind": "national_id", "national_id": dni})
    create("identifier", {"account": account.id, "kind": "card", "code": card})
    create("identifier", {"account": account.id, "kind": "cookie", "code": cookie})
    product = create("product", {"code": f"RT-{n}", "name": f"Router T{n}", "family": "hardware"})
    create("contract", {"account": account.id, "product": product.id, "price": "29.90"})
    asset = create(
        "asset",
        {
            "serial_number": f"SN-{n}",
            "account": account.id,
            "product": product.id,
            "warranty_end": dt.date.today() + dt.timedelta(days=100),
        },
    )
    deal = create(
        "opportunity",
        {
            "name": f"Fibre for {name}",
            "account": account.id,
            "owner": ana,
            "amount": "12000",
            "stage": "qualification",
        },
    )
    ticket = create("ticket", {"subject": "No internet", "account": account.id, "priority": "high"})
    for k in range(3):
        create(
            "interaction",
            {
                "account": account.id,
                "subject": f"Earlier call {k}",
                "channel": "phone",
                "occurred_at": dt.datetime(2026, 1, 1 + k, 10, 0),
            },
        )
    return Customer(
        account.id,
        contact.id,
        deal.id,
        ticket.id,
        asset.id,
        phone,
        email,
        dni,
        card,
        cookie,
        tax_id,
    )
