"""The banking pack as a whole, on SQLite, PostgreSQL and MariaDB: it loads with the core
pack it requires, migrates to exactly its model, and every screen of every object it
declares or extends — list, create form, record page, edit form — renders for an admin."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from app_builder.security import COOKIE
from framework.app import create_app
from storage.drift import drift
from tests.conftest import session_cookie
from tests.verticals.banking.conftest import customer, product
from verticals.banking import PACK

EXTENDED = ("account", "product", "contract")


def test_the_pack_loads_migrates_and_every_screen_renders(bank: Any) -> None:
    assert [p.name for p in bank.model.packs][-2:] == ["core", "banking"]
    pack_objects = [o.name for o in bank.model if o.pack == "banking"]
    assert sorted(pack_objects) == ["bank_complaint", "campaign_call", "mortgage_simulation"]
    assert drift(bank.storage) == []
    create = bank.records.create
    account = customer(bank, "Lucía Banca")
    mortgage = product(bank, "mortgage")
    ids = {
        "account": account,
        "product": mortgage,
        "contract": create(
            "contract",
            {"account": account, "product": mortgage, "principal": "180000", "term_months": 300},
        ).id,
        "mortgage_simulation": create(
            "mortgage_simulation",
            {
                "account": account,
                "property_value": "250000",
                "loan_amount": "180000",
                "term_years": 25,
                "interest_rate": "3",
            },
        ).id,
        "bank_complaint": create(
            "bank_complaint", {"account": account, "subject": "Fee", "category": "fees"}
        ).id,
        "campaign_call": create("campaign_call", {"age": 41, "job": "technician"}).id,
    }
    with TestClient(create_app(bank.settings, ficha=bank)) as client:
        client.cookies.set(COOKIE, session_cookie(bank))
        for name in (*pack_objects, *EXTENDED):
            for page in ("list", "create"):
                response = client.get(f"/admin/{name}/{page}")
                assert response.status_code == 200, (name, page, response.text[-800:])
            for page in ("detail", "edit"):
                response = client.get(f"/admin/{name}/{page}", params={"pk": ids[name]})
                assert response.status_code == 200, (name, page, response.text[-800:])
        detail = client.get("/admin/account/detail", params={"pk": account}).text
        assert "KYC status" in detail and "Personal manager" in detail
        simulation = client.get(
            "/admin/mortgage_simulation/detail", params={"pk": ids["mortgage_simulation"]}
        ).text
        assert "853.58" in simulation  # the monthly payment the pack computed
        # the pack's reports, with the records above in them
        reports = sorted(p.stem for p in (PACK.path / "reports").glob("*.yaml"))
        assert len(reports) >= 2
        for name in reports:
            response = client.get(f"/admin/reports/{name}")
            assert response.status_code == 200, (name, response.text[-800:])


def test_the_banking_and_utilities_packs_combine(sqlite_project: Any) -> None:
    """A multi-service company (a utility that also lends) enables both: their extensions
    of the same core objects merge, and the database is exactly the merged model."""
    ficha = sqlite_project.migrated({}, packs=("utilities", "banking"))
    assert [p.name for p in ficha.model.packs][-3:] == ["core", "utilities", "banking"]
    contract = ficha.model["contract"].fields
    assert {"supply_point", "term", "iban", "principal"} <= set(contract)
    assert drift(ficha.storage) == []
