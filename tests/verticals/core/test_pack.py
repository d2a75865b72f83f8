"""The core pack as a whole, on SQLite, PostgreSQL and MariaDB: it loads, passes
`ficha check`, migrates, and every generated screen of every object renders — lists,
record pages and forms — with a record of each object in place."""

from __future__ import annotations

import datetime as dt
from typing import Any

from framework.app import Ficha
from storage.drift import drift
from tests.verticals.core.conftest import client_for, customer, user_id


def one_of_everything(ficha: Any) -> dict[str, int]:
    """A record of every object of the pack (those `customer` does not make itself)."""
    made = customer(ficha)
    create = ficha.records.create
    ana = user_id(ficha, "ana")
    ids = {
        "account": made.account,
        "contact": made.contact,
        "opportunity": made.deal,
        "ticket": made.ticket,
        "asset": made.asset,
    }
    group = create("account_group", {"name": "Grupo Ruiz", "kind": "family"})
    category = create("category", {"family": "Sector", "name": "Workshops"})
    ficha.records.update(
        "account", made.account, {"groups": [group.id], "categories": [category.id]}
    )
    ids["account_group"], ids["category"] = group.id, category.id
    ids["address"] = create(
        "address", {"account": made.account, "street": "Calle Feria 1", "city": "Sevilla"}
    ).id
    ids["account_role"] = create(
        "account_role", {"account": made.account, "contact": made.contact, "role": "billing"}
    ).id
    ids["service_contract"] = create(
        "service_contract", {"account": made.account, "level": "premium"}
    ).id
    quote = create("quote", {"account": made.account, "opportunity": made.deal})
    ids["quote"] = quote.id
    ids["quote_line"] = create(
        "quote_line", {"quote": quote.id, "description": "Router", "quantity": 2, "unit_price": 50}
    ).id
    ficha.records.update("quote", quote.id, {"status": "sent"})
    ficha.records.update("quote", quote.id, {"status": "accepted"})  # → a sales order
    ids["sales_order"] = ficha.records.get("quote", quote.id)["sales_order"].id
    ids["activity"] = create(
        "activity",
        {
            "subject": "Call Rosa",
            "kind": "call",
            "account": made.account,
            "assigned_to": ana,
            "due": dt.datetime(2026, 3, 2, 9, 0),
        },
    ).id
    ids["plan_target"] = create(
        "plan_target",
        {
            "year": 2026,
            "quarter": "q1",
            "product_family": "hardware",
            "territory": "Madrid",
            "target_amount": 50000,
        },
    ).id
    campaign = create(
        "campaign", {"name": "Spring fibre", "segment": 'segment == "smb"', "status": "active"}
    )
    ids["campaign"] = campaign.id
    ids["campaign_response"] = create(
        "campaign_response",
        {"campaign": campaign.id, "account": made.account, "response": "interested"},
    ).id
    ids["lead"] = create("lead", {"full_name": "Eva Gil", "email": "eva@gil.example"}).id
    ids["warranty_claim"] = create(
        "warranty_claim",
        {"asset": made.asset, "account": made.account, "problem": "Does not start"},
    ).id
    ids["service_visit"] = create(
        "service_visit",
        {"purpose": "Maintenance", "account": made.account, "planned_at": "2026-03-03 10:00"},
    ).id
    ids["kb_article"] = create(
        "kb_article", {"title": "Restart the router", "answer": "Unplug it for 30 seconds."}
    ).id
    ids["alert"] = create("alert", {"title": "Pays late", "account": made.account}).id
    ids["work_queue"] = create(
        "work_queue", {"name": "Hot leads", "object": "lead", "filter": 'rating == "hot"'}
    ).id
    return ids


def test_the_pack_loads_migrates_and_every_screen_renders(crm: Ficha) -> None:
    pack_objects = [o.name for o in crm.model if o.pack == "core"]
    assert len(pack_objects) >= 30
    assert drift(crm.storage) == []  # the migrated database is exactly the model
    ids = one_of_everything(crm)
    assert set(pack_objects) <= set(ids) | {
        "contact_phone",
        "contact_email",
        "identifier",
        "product",
        "contract",
        "interaction",
        "order_line",
    }
    with client_for(crm) as client:
        for name in pack_objects:
            for page in ("list", "create"):
                response = client.get(f"/admin/{name}/{page}")
                assert response.status_code == 200, (name, page, response.text[-800:])
            if name in ids:
                for page in ("detail", "edit"):
                    response = client.get(f"/admin/{name}/{page}", params={"pk": ids[name]})
                    assert response.status_code == 200, (name, page, response.text[-800:])
        for page in (
            "/admin/ficha",
            f"/admin/ficha/{ids['account']}",
            "/admin/pipeline",
            "/admin/agenda",
            "/admin/queues",
            f"/admin/queues/{ids['work_queue']}",
            f"/admin/queues/{ids['work_queue']}/work",
            "/admin/ticket-board",
        ):
            response = client.get(page)
            assert response.status_code == 200, (page, response.text[-800:])
