"""What the core pack's YAML declares, on SQLite, PostgreSQL and MariaDB: identifiers
checked and normalised, the ticket's service level (due times, the clock paused while
waiting, breach and escalation), leads compared with customers and converted, quotes
turned into orders, the marketing plan's actuals, warranty claims and opt-outs."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from framework.errors import ValidationFailed
from framework.records import utcnow
from tests.verticals.core.conftest import customer, user_id


def test_identifiers_are_checked_and_kept_as_the_search_compares_them(crm: Any) -> None:
    made = customer(crm, "Identifiers S.L.")
    create = crm.records.create
    with pytest.raises(ValidationFailed) as refused:
        create(
            "identifier",
            {"account": made.account, "kind": "national_id", "national_id": "12345678A"},
        )
    assert "the letter should be Z" in refused.value.errors["national_id"]
    card = create("identifier", {"account": made.account, "kind": "card", "code": "  ab-12 3.4/5 "})
    phone = create(
        "identifier", {"account": made.account, "kind": "phone", "phone": "600 00 11 22"}
    )
    # in capitals, without the spaces, hyphens, dots and slashes it was printed with
    assert crm.records.get("identifier", card.id)["value"] == "AB12345"
    assert crm.records.get("identifier", phone.id)["value"] == "+34600001122"
    with pytest.raises(ValidationFailed) as short:
        create("identifier", {"account": made.account, "kind": "pin", "code": "12"})
    assert short.value.errors == {"code": "A PIN has 4 to 8 characters"}
    with pytest.raises(ValidationFailed) as missing:
        create("identifier", {"account": made.account, "kind": "phone"})
    assert "phone" in missing.value.errors


def test_a_ticket_keeps_its_service_level(crm: Any) -> None:
    made = customer(crm, "Service Level S.A.")
    rec = crm.records
    ana, berta = user_id(crm, "ana"), user_id(crm, "berta")
    opened = utcnow() - dt.timedelta(hours=1)
    ticket = rec.create(
        "ticket",
        {
            "subject": "Line down",
            "account": made.account,
            "priority": "high",
            "assigned_to": ana,
            "opened_at": opened,
        },
    )
    found = rec.get("ticket", ticket.id)
    assert found["response_due"] == opened + dt.timedelta(hours=2)
    assert found["resolution_due"] == opened + dt.timedelta(days=1)
    rec.update("ticket", ticket.id, {"status": "waiting_customer"})
    waiting = rec.get("ticket", ticket.id)
    assert waiting["paused_since"] is not None and waiting["first_response_at"] is not None
    # three hours of waiting for the customer: the resolution is due three hours later
    rec.update(
        "ticket", ticket.id, {"paused_since": waiting["paused_since"] - dt.timedelta(hours=3)}
    )
    rec.update("ticket", ticket.id, {"status": "open"})
    resumed = rec.get("ticket", ticket.id)
    moved = resumed["resolution_due"] - (opened + dt.timedelta(days=1))
    assert resumed["paused_since"] is None
    assert (
        dt.timedelta(hours=3) - dt.timedelta(seconds=5) <= moved <= dt.timedelta(hours=3, seconds=5)
    )
    rec.update("ticket", ticket.id, {"priority": "urgent"})  # 1 day → 4 hours: 20 hours sooner
    assert rec.get("ticket", ticket.id)["resolution_due"] == resumed[
        "resolution_due"
    ] - dt.timedelta(hours=20)
    # late: the scheduled rule flags it, and the escalation rule tells Ana's manager
    rec.update("ticket", ticket.id, {"resolution_due": utcnow() - dt.timedelta(minutes=1)})
    with crm.storage.write() as conn:
        crm.rules.run_scheduled(conn, "ticket", "resolution late")
    late = rec.get("ticket", ticket.id)
    assert late["resolution_breached"] is True and late["escalated"] is True
    notes = crm.storage.table("notification")
    with crm.storage.read() as conn:
        told = (
            conn.execute(
                sa.select(notes.c.message).where(
                    notes.c.recipient_id == berta, notes.c.about_id == ticket.id
                )
            )
            .scalars()
            .all()
        )
    assert any("missed its resolution time" in m for m in told)


def test_leads_find_their_duplicates_and_convert(crm: Any) -> None:
    name = f"Conservas Vidal {secrets.token_hex(3)}"
    made = customer(crm, name)
    rec = crm.records
    twin = rec.create("lead", {"full_name": "Pepe Vidal", "company": name, "phone": "622 00 00 01"})
    assert rec.get("lead", twin.id)["same_company"].id == made.account
    assert rec.get("lead", twin.id)["possible_duplicate"] is True
    with pytest.raises(ValidationFailed) as unreachable:
        rec.create("lead", {"full_name": "Nobody"})
    assert "needs an email or a phone" in unreachable.value.errors["__all__"]
    rec.update("lead", twin.id, {"status": "qualified"})
    rec.update("lead", twin.id, {"status": "converted"})
    converted = rec.get("lead", twin.id)
    assert converted["converted_account"].id == made.account  # no second account
    assert converted["converted_contact"].title == "Pepe Vidal"
    new = rec.create(
        "lead",
        {
            "full_name": "Lola Paz",
            "company": f"Nueva {secrets.token_hex(3)}",
            "email": f"lola.{secrets.token_hex(3)}@paz.example",
            "estimated_amount": "9000",
            "status": "qualified",
        },
    )
    assert rec.get("lead", new.id)["possible_duplicate"] is False
    rec.update("lead", new.id, {"status": "converted"})
    done = rec.get("lead", new.id)
    account, deal = done["converted_account"], done["converted_opportunity"]
    assert account is not None and account.id != made.account
    assert rec.get("opportunity", deal.id)["account"].id == account.id
    assert rec.get("opportunity", deal.id)["amount"] == Decimal("9000.00")


def test_an_accepted_quote_becomes_an_order_with_its_lines(crm: Any) -> None:
    made = customer(crm, "Quotes S.L.")
    rec = crm.records
    quote = rec.create("quote", {"account": made.account, "opportunity": made.deal})
    rec.create(
        "quote_line",
        {
            "quote": quote.id,
            "description": "Router",
            "quantity": 2,
            "unit_price": 100,
            "discount": 10,
        },
    )
    rec.create(
        "quote_line",
        {"quote": quote.id, "description": "Installation", "quantity": 1, "unit_price": 90},
    )
    assert rec.get("quote", quote.id)["total"] == Decimal("270.00")
    with pytest.raises(ValidationFailed):
        rec.update("quote", quote.id, {"status": "accepted"})  # not sent yet
    rec.update("quote", quote.id, {"status": "sent"})
    rec.update("quote", quote.id, {"status": "accepted"})
    order = rec.get("sales_order", rec.get("quote", quote.id)["sales_order"].id)
    assert order["total"] == Decimal("270.00") and order["account"].id == made.account
    with crm.storage.read() as conn:
        lines, count = crm.reader.related(conn, "sales_order", order.id, "lines")
    assert count.value == 2
    assert sorted(str(line["amount"]) for line in lines) == ["180.00", "90.00"]


def test_the_plan_shows_what_was_won_next_to_the_target(crm: Any) -> None:
    made = customer(crm, "Plan S.L.")
    rec = crm.records
    territory = f"T-{secrets.token_hex(3)}"
    rec.update("user", user_id(crm, "berta"), {"territory": territory})
    target = rec.create(
        "plan_target",
        {
            "year": 2027,
            "quarter": "q2",
            "product_family": "software",
            "territory": territory,
            "target_amount": "20000",
        },
    )
    product = rec.create(
        "product",
        {"code": f"SW-{secrets.token_hex(3).upper()}", "name": "Suite", "family": "software"},
    )
    for amount, stage in (("5000", "won"), ("7000", "proposal")):
        rec.create(
            "opportunity",
            {
                "name": f"Suite {amount}",
                "account": made.account,
                "owner": user_id(crm, "berta"),
                "product": product.id,
                "amount": amount,
                "stage": stage,
                "expected_close": "2027-05-10",
                "lost_reason": None,
            },
        )
    plan = rec.get("plan_target", target.id)
    assert plan["won_amount"] == Decimal("5000.00")
    assert plan["achieved"] == Decimal("25.0000")
    assert plan["pipeline_amount"] == Decimal("4200.00")  # 7,000 at the proposal's 60%


def test_claims_and_opt_outs(crm: Any) -> None:
    made = customer(crm, "Claims S.L.")
    rec = crm.records
    rec.update("asset", made.asset, {"warranty_end": dt.date.today() - dt.timedelta(days=1)})
    with pytest.raises(ValidationFailed) as late:
        rec.create(
            "warranty_claim", {"asset": made.asset, "account": made.account, "problem": "Broken"}
        )
    assert late.value.errors == {"claimed_on": "The asset's warranty had ended by then"}
    campaign = rec.create("campaign", {"name": f"Offer {secrets.token_hex(3)}", "status": "active"})
    rec.create(
        "campaign_response",
        {
            "campaign": campaign.id,
            "account": made.account,
            "contact": made.contact,
            "response": "opted_out",
        },
    )
    assert rec.get("contact", made.contact)["do_not_contact"] is True
    assert rec.get("campaign", campaign.id)["response_count"] == 1


def test_a_contacts_personal_data_is_exported_and_erased_with_its_phones_and_addresses(
    crm: Any,
) -> None:
    from framework.privacy import erase_person, export_json
    from framework.records import Actor

    tag = secrets.token_hex(3)
    create = crm.records.create
    person = create(
        "contact",
        {
            "full_name": f"Lucía Prieto {tag}",
            "email": f"lucia.{tag}@example.com",
            "phone": "612 345 678",
            "birthday": "1985-04-12",
        },
    )
    create("contact_phone", {"contact": person.id, "number": "+34 699 111 222"})
    create("address", {"contact": person.id, "street": "Calle Mayor 7", "city": "Soria"})
    exported = export_json(crm.records, "contact", person.id)
    for shown in (f"Lucía Prieto {tag}", "+34699111222", "Calle Mayor 7", "1985-04-12"):
        assert shown in exported
    erased = erase_person(crm.records, "contact", person.id, Actor(None, "DPO", "screen"))
    assert {"full_name", "email", "phone", "birthday"} <= set(erased)
    after = crm.records.get("contact", person.id)
    assert after["email"] is None and after["birthday"] is None
    assert f"Lucía Prieto {tag}" not in str(after["full_name"])
    again = export_json(crm.records, "contact", person.id)
    for gone in (f"lucia.{tag}@example.com", "+34699111222", "Calle Mayor 7", "1985-04-12"):
        assert gone not in again
    assert "Soria" in again  # a city alone does not name anyone: kept for the figures
