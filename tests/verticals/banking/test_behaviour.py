"""What the banking pack's YAML (and its one Python action) declares, on SQLite,
PostgreSQL and MariaDB: KYC before any bank product, mortgage simulations that reach the
personal manager the next day, complaints with their answer deadline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from framework.app import create_app
from framework.errors import ValidationFailed
from framework.expressions.evaluate import Context
from framework.records import utcnow
from storage.tables import column_name
from tests.verticals.banking.conftest import customer, product, user_id
from verticals.banking.actions import annuity
from verticals.banking.iban import make_iban, normalize_iban


def project_today() -> dt.date:
    """Today on the project's clock (ficha.yaml timezone), as `today()` in rules sees it."""
    return Context().today


def rows(ficha: Any, name: str, **where: Any) -> list[Any]:
    table, obj = ficha.storage.table(name), ficha.model[name]
    query = sa.select(table).where(
        *(table.c[column_name(obj.fields[k])] == v for k, v in where.items())
    )
    with ficha.storage.read() as conn:
        return list(conn.execute(query.order_by(table.c.id)))


def scheduled(ficha: Any, obj: str, rule: str) -> None:
    with ficha.storage.write() as conn:
        ficha.rules.run_scheduled(conn, obj, rule)


def test_the_annuity_matches_the_published_formula() -> None:
    # 150,000 over 30 years at 3%: 632.41 a month (any mortgage calculator)
    assert annuity(Decimal(150000), Decimal(3), 360) == Decimal("632.41")
    assert annuity(Decimal(12000), Decimal(0), 12) == Decimal("1000.00")
    with pytest.raises(ValueError):
        annuity(Decimal(1000), Decimal(3), 0)


def test_ibans_are_checked_and_made_with_their_check_digits() -> None:
    assert normalize_iban("IBAN GB29 NWBK 6016 1331 9268 19") == "GB29NWBK60161331926819"
    with pytest.raises(ValueError, match="has 24 characters"):
        normalize_iban("ES91 2100 0418 4502 0005 133")
    assert make_iban("ES", "21000418450200051332") == "ES9121000418450200051332"


def test_no_bank_product_without_a_verified_kyc(bank: Any) -> None:
    rec = bank.records
    pending = customer(bank, "Pendiente KYC", kyc="pending")
    card = product(bank, "card")
    with pytest.raises(ValidationFailed) as refused:
        rec.create("contract", {"account": pending, "product": card})
    assert refused.value.errors == {
        "account": "The customer's KYC must be verified before a bank product is opened"
    }
    rec.update("account", pending, {"kyc_status": "verified"})
    assert rec.get("account", pending)["kyc_checked_on"] == project_today()
    rec.create("contract", {"account": pending, "product": card, "card_last_digits": "4242"})
    current = product(bank, "current_account")
    with pytest.raises(ValidationFailed) as mistyped:
        rec.create(
            "contract",
            {"account": pending, "product": current, "iban": "ES91 2100 0418 4502 0005 1333"},
        )
    assert "the check digits of" in mistyped.value.errors["iban"]
    opened = rec.create(
        "contract",
        {"account": pending, "product": current, "iban": "es91 2100 0418 4502 0005 1332"},
    )
    assert rec.get("contract", opened.id)["iban"] == "ES9121000418450200051332"
    with pytest.raises(ValidationFailed) as loan:
        rec.create("contract", {"account": pending, "product": product(bank, "loan")})
    assert "principal" in loan.value.errors
    # a non-bank product of the core catalogue needs no KYC
    other = rec.create("product", {"code": "SAFE-BOX", "name": "Safe box", "family": "service"})
    rec.create(
        "contract", {"account": customer(bank, "Sin KYC", kyc="pending"), "product": other.id}
    )


def test_kyc_rejection_review_and_politically_exposed_people(bank: Any) -> None:
    rec = bank.records
    rejected = customer(bank, "Rechazado", kyc="rejected")
    alerts = rows(bank, "alert", account=rejected)
    assert [(a.title, a.level) for a in alerts] == [
        ("KYC rejected: open no new products", "critical")
    ]
    pep = customer(bank, "Persona Expuesta")
    rec.update("account", pep, {"pep": True})
    assert rec.get("account", pep)["risk_rating"] == "high"
    checked = project_today() - dt.timedelta(days=400)
    rec.update("account", pep, {"kyc_checked_on": checked})
    assert rec.get("account", pep)["kyc_review_due"] == checked + dt.timedelta(days=365)
    low = customer(bank, "Riesgo Bajo")
    rec.update("account", low, {"kyc_checked_on": checked})
    scheduled(bank, "account", "KYC review overdue")
    assert rec.get("account", pep)["kyc_status"] == "expired"  # high risk: yearly review
    assert rec.get("account", low)["kyc_status"] == "verified"  # three-yearly: not yet


def simulate(bank: Any, account: int, **values: Any) -> Any:
    return bank.records.create(
        "mortgage_simulation",
        {
            "account": account,
            "property_value": "250000",
            "loan_amount": "180000",
            "term_years": 25,
            "interest_rate": "3",
            **values,
        },
    )


def test_a_web_simulation_reaches_the_personal_manager_the_next_day(bank: Any) -> None:
    rec = bank.records
    marta = user_id(bank, "marta")
    account = customer(bank, "Simula Hipoteca")
    yesterday = simulate(bank, account, simulated_at=utcnow() - dt.timedelta(days=1))
    found = rec.get("mortgage_simulation", yesterday.id)
    assert found["monthly_payment"] == Decimal("853.58")
    assert found["loan_to_value"] == Decimal("72.00")
    # made today: tomorrow's turn (a few hours ahead, so that it is today on the project's
    # clock whatever the hour in UTC)
    today = simulate(
        bank, account, loan_amount="100000", simulated_at=utcnow() + dt.timedelta(hours=3)
    )
    branch = simulate(  # made at the branch: the manager already knows
        bank, account, channel="branch", simulated_at=utcnow() - dt.timedelta(days=2)
    )
    scheduled(bank, "mortgage_simulation", "tell the personal manager the next day")
    assert rec.get("mortgage_simulation", yesterday.id)["manager_alerted"]
    assert not rec.get("mortgage_simulation", today.id)["manager_alerted"]
    assert not rec.get("mortgage_simulation", branch.id)["manager_alerted"]
    reference = found["reference"]
    alerts = rows(bank, "alert", account=account)
    assert [a.title for a in alerts] == [f"Simulated a mortgage on the web: {reference}"]
    calls = rows(bank, "activity", account=account)
    assert [(c.kind, c.assigned_to_id) for c in calls] == [("call", marta)]
    notes = bank.storage.table("notification")
    with bank.storage.read() as conn:
        messages = (
            conn.execute(sa.select(notes.c.message).where(notes.c.recipient_id == marta))
            .scalars()
            .all()
        )
    expected = (
        f"Simula Hipoteca simulated a mortgage of 180000.00 EUR over 25 years on the web "
        f"({reference}): call them"
    )
    assert expected in messages, messages
    scheduled(bank, "mortgage_simulation", "tell the personal manager the next day")
    assert len(rows(bank, "alert", account=account)) == 1  # once, not every morning


def test_a_simulation_is_recomputed_and_checked(bank: Any) -> None:
    rec = bank.records
    account = customer(bank, "Recalcula")
    sim = simulate(bank, account)
    rec.update("mortgage_simulation", sim.id, {"term_years": 30})
    assert rec.get("mortgage_simulation", sim.id)["monthly_payment"] == annuity(
        Decimal(180000), Decimal(3), 360
    )
    with pytest.raises(ValidationFailed) as refused:
        simulate(bank, account, loan_amount="300000")
    assert refused.value.errors == {
        "loan_amount": "The loan cannot be more than the property's value"
    }


def test_complaints_have_a_regulatory_deadline(bank: Any) -> None:
    rec = bank.records
    person = customer(bank, "Reclama Persona")
    company = customer(bank, "Reclama S.L.", kind="company")
    received = dt.date(2026, 3, 2)

    def complain(account: int, category: str, **values: Any) -> Any:
        made = rec.create(
            "bank_complaint",
            {
                "account": account,
                "subject": "Not happy",
                "category": category,
                "received_on": received,
                **values,
            },
        )
        return rec.get("bank_complaint", made.id)

    transfer = complain(person, "payment_services")
    assert transfer["payment_service"] and transfer["response_due"] == dt.date(2026, 3, 17)
    assert complain(person, "fees")["response_due"] == dt.date(2026, 4, 1)
    assert complain(company, "fees")["response_due"] == dt.date(2026, 5, 1)
    assert rec.get("account", person)["open_complaints"] == 2

    with pytest.raises(ValidationFailed) as unanswered:
        rec.update("bank_complaint", transfer["id"], {"status": "answered"})
    assert {"answer", "outcome"} <= set(unanswered.value.errors)
    rec.update(
        "bank_complaint",
        transfer["id"],
        {"status": "answered", "answer": "Refunded", "outcome": "upheld"},
    )
    answered = rec.get("bank_complaint", transfer["id"])
    assert answered["answered_on"] == project_today() and answered["answered_late"]
    assert rec.get("account", person)["open_complaints"] == 1

    carmen = user_id(bank, "carmen")
    soon = complain(person, "service", received_on=project_today() - dt.timedelta(days=27))
    late = complain(person, "service", received_on=project_today() - dt.timedelta(days=31))
    relaxed = complain(person, "service", received_on=project_today())
    scheduled(bank, "bank_complaint", "deadline in five days")
    scheduled(bank, "bank_complaint", "deadline missed")
    assert rec.get("bank_complaint", soon["id"])["deadline_warned"]
    assert not rec.get("bank_complaint", soon["id"])["overdue"]
    assert rec.get("bank_complaint", late["id"])["overdue"]
    assert not rec.get("bank_complaint", relaxed["id"])["deadline_warned"]
    notes = bank.storage.table("notification")
    with bank.storage.read() as conn:
        messages = conn.execute(
            sa.select(notes.c.message, notes.c.level).where(notes.c.recipient_id == carmen)
        ).all()
    assert (
        f"Complaint {late['reference']} of Reclama Persona missed its deadline "
        f"({late['response_due']})",
        "alert",
    ) in [tuple(m) for m in messages]


def test_the_banks_website_posts_a_simulation_through_the_api(bank: Any) -> None:
    """The seed's example end to end: the website (a token of its own) posts what the
    customer typed; the answer carries the monthly payment; a refused figure is named."""
    account = customer(bank, "Desde La Web")
    user = bank.records.create("user", {"username": "website", "name": "Website", "role": "admin"})
    token = bank.auth.create_token(user.id, "bank website")
    with TestClient(create_app(bank.settings, ficha=bank)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        posted = client.post(
            "/api/v1/mortgage_simulation",
            headers=headers,
            json={
                "account": account,
                "channel": "web",
                "property_value": "250000",
                "loan_amount": "180000",
                "term_years": 25,
                "interest_rate": "3",
            },
        )
        assert posted.status_code == 201, posted.text
        made = posted.json()
        shown = client.get(f"/api/v1/mortgage_simulation/{made['id']}", headers=headers).json()
        assert Decimal(str(shown["monthly_payment"])) == Decimal("853.58")
        refused = client.post(
            "/api/v1/mortgage_simulation",
            headers=headers,
            json={
                "account": account,
                "property_value": "100000",
                "loan_amount": "150000",
                "term_years": 25,
                "interest_rate": "3",
            },
        )
        assert refused.status_code == 422
        assert "The loan cannot be more than the property's value" in refused.text
