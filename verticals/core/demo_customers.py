"""One demo customer and everything around it: contacts with their phones, emails and
addresses, roles, identifiers, contracts and assets, deals with quotes, activities,
tickets, visits and claims, and a history of interactions across channels."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from verticals.core.demo import INDUSTRIES, TERRITORIES, Demo, national_id, phone

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

STAGES = ["prospecting", "qualification", "rfp_received", "proposal", "negotiation", "won", "lost"]
CHANNELS = ["phone", "phone", "phone", "email", "email", "web", "chat", "whatsapp", "visit"]
SUBJECTS = {
    "phone": ["Asked about the invoice", "Called about the fibre speed", "Wants to add a line"],
    "email": ["Sent the signed contract", "Question about the offer", "Complaint about a charge"],
    "web": ["Downloaded the brochure", "Filled the contact form"],
    "chat": ["Asked for the router manual", "Chat about portability"],
    "whatsapp": ["Sent a photo of the router", "Confirmed the visit"],
    "visit": ["Visited the office", "Technician's visit"],
}


def customer(demo: Demo, i: int, conn: Connection) -> None:
    fake = demo.fakes[0] if i % 4 else demo.fakes[1]
    rnd = demo.rnd
    person = i % 5 == 0
    name = fake.name() if person else fake.company()
    owner = demo.sales()[i % len(demo.sales())]
    territory = TERRITORIES[i % len(TERRITORIES)]
    segment = "consumer" if person else rnd.choice(["smb", "smb", "mid", "enterprise"])
    account = demo.create(
        "account",
        {
            "name": name,
            "kind": "person" if person else "company",
            "tax_id": national_id(demo, person) if fake is demo.fakes[0] else None,
            "segment": segment,
            "value_tier": rnd.choice(["platinum", "gold", "silver", "silver", "bronze"]),
            "industry": None if person else rnd.choice(INDUSTRIES),
            "email": fake.company_email() if not person else fake.free_email(),
            "phone": phone(fake),
            "website": None if person else f"www.{fake.domain_name()}",
            "city": fake.city(),
            "country": "España" if fake is demo.fakes[0] else "United Kingdom",
            "annual_revenue": None if person else Decimal(rnd.randrange(50, 50_000) * 1000),
            "employees": None if person else rnd.randrange(2, 5000),
            "customer_since": demo.today - dt.timedelta(days=rnd.randrange(30, 3650)),
            "active": rnd.random() > 0.1,
            "owner": owner,
            "territory": territory,
            "categories": rnd.sample(demo.categories, rnd.randrange(0, 3)),
            "groups": [rnd.choice(demo.groups)] if rnd.random() < 0.15 else [],
            "parent": demo.accounts[-1] if demo.accounts and rnd.random() < 0.08 else None,
        },
        conn,
    )
    demo.accounts.append(account.id)
    contacts = _contacts(demo, fake, account.id, name if person else None, conn)
    _identifiers(demo, fake, account.id, contacts[0], person, conn)
    assets = _contracts(demo, account.id, conn)
    deals = _deals(demo, account.id, name, owner, contacts, conn)
    tickets = _tickets(demo, account.id, contacts, assets, conn)
    _history(demo, account.id, contacts, deals, tickets, conn)


def _contacts(
    demo: Demo, fake: Any, account: int, person_name: str | None, conn: Connection
) -> list[int]:
    rnd = demo.rnd
    contacts: list[int] = []
    for n in range(1 if person_name else rnd.randrange(1, 4)):
        full_name = person_name or fake.name()
        user = fake.user_name()
        contact = demo.create(
            "contact",
            {
                "full_name": full_name,
                "account": account,
                "job_title": None if person_name else fake.job()[:80],
                "email": f"{user}.{demo.next()}@{fake.free_email_domain()}",
                "preferred_channel": rnd.choice(["email", "phone", "whatsapp", "visit"]),
                "language": "es" if fake is demo.fakes[0] else "en",
            },
            conn,
        )
        contacts.append(contact.id)
        for k, kind in enumerate(rnd.sample(["mobile", "work", "home"], rnd.randrange(1, 3))):
            demo.create(
                "contact_phone",
                {
                    "contact": contact.id,
                    "kind": kind,
                    "number": phone(fake),
                    "primary": k == 0,
                    "opt_out": rnd.random() < 0.05,
                },
                conn,
            )
        demo.create(
            "contact_email",
            {"contact": contact.id, "address": contact["email"], "primary": True},
            conn,
        )
        if rnd.random() < 0.4:
            demo.create(
                "contact_email",
                {
                    "contact": contact.id,
                    "kind": "personal",
                    "address": f"{user}.{demo.next()}@{fake.free_email_domain()}",
                    "opt_out": rnd.random() < 0.2,
                },
                conn,
            )
        demo.create(
            "address",
            {
                "contact": contact.id,
                "account": account if n == 0 else None,
                "kind": "billing" if n == 0 else "work",
                "street": fake.street_address()[:200],
                "postal_code": fake.postcode(),
                "city": fake.city(),
                "country": "España" if fake is demo.fakes[0] else "United Kingdom",
                "primary": n == 0,
            },
            conn,
        )
        demo.create(
            "account_role",
            {
                "account": account,
                "contact": contact.id,
                "role": "holder" if person_name else ["decision_maker", "billing", "technical"][n],
                "since": demo.today - dt.timedelta(days=rnd.randrange(30, 2000)),
            },
            conn,
        )
    return contacts


def _identifiers(
    demo: Demo, fake: Any, account: int, contact: int, person: bool, conn: Connection
) -> None:
    """A national id (for Spanish customers), a customer card, a web cookie id, and a
    phone registered for the IVR."""
    rnd = demo.rnd
    if fake is demo.fakes[0] and person:
        demo.create(
            "identifier",
            {
                "account": account,
                "contact": contact,
                "kind": "national_id",
                "national_id": national_id(demo, True),
            },
            conn,
        )
    demo.create(
        "identifier",
        {"account": account, "kind": "card", "code": f"4{demo.next():07d}{rnd.randrange(10)}"},
        conn,
    )
    if rnd.random() < 0.5:
        demo.create(
            "identifier",
            {"account": account, "kind": "cookie", "code": fake.uuid4()[:36]},
            conn,
        )
    if rnd.random() < 0.5:
        demo.create(
            "identifier",
            {"account": account, "contact": contact, "kind": "phone", "phone": phone(fake)},
            conn,
        )


def _contracts(demo: Demo, account: int, conn: Connection) -> list[tuple[int, dt.date]]:
    """Contracts, and the assets of the hardware ones with their warranty's end."""
    rnd = demo.rnd
    assets: list[tuple[int, dt.date]] = []
    for product_id, item in rnd.sample(demo.products, rnd.randrange(1, 4)):
        code, _name, _kind, family, price, billing, warranty = item
        start = demo.today - dt.timedelta(days=rnd.randrange(10, 1500))
        contract = demo.create(
            "contract",
            {
                "account": account,
                "product": product_id,
                "status": "active" if rnd.random() < 0.85 else "ended",
                "start_date": start,
                "end_date": start + dt.timedelta(days=730) if rnd.random() < 0.4 else None,
                "quantity": rnd.choice([1, 1, 1, 2, 5]),
                "price": price,
                "billing": billing,
                "conditions": "12 months' permanence" if billing == "monthly" else None,
            },
            conn,
        )
        if family == "hardware":
            warranty_end = start + dt.timedelta(days=30 * (warranty or 24))
            asset = demo.create(
                "asset",
                {
                    "serial_number": f"{code}-{demo.next():06d}",
                    "account": account,
                    "product": product_id,
                    "contract": contract.id,
                    "installed_on": start,
                    "warranty_end": warranty_end,
                },
                conn,
            )
            assets.append((asset.id, warranty_end))
    if assets and rnd.random() < 0.5:
        service = demo.create(
            "service_contract",
            {
                "account": account,
                "level": rnd.choice(["basic", "standard", "premium"]),
                "start_date": demo.today - dt.timedelta(days=rnd.randrange(10, 300)),
                "end_date": demo.today + dt.timedelta(days=rnd.randrange(30, 700)),
                "response_hours": 4,
                "resolution_hours": 24,
                "visits_per_year": 2,
                "price": Decimal(rnd.randrange(3, 20) * 100),
            },
            conn,
        )
        for asset, _ in assets:
            demo.update("asset", asset, {"service_contract": service.id}, conn)
        demo.create(
            "service_visit",
            {
                "purpose": "Yearly maintenance",
                "account": account,
                "asset": assets[0][0],
                "service_contract": service.id,
                "technician": demo.users["pablo"],
                "planned_at": demo.moment(0, 30).replace(minute=0),
            },
            conn,
        )
    return assets


def _deals(
    demo: Demo, account: int, name: str, owner: int, contacts: list[int], conn: Connection
) -> list[int]:
    rnd = demo.rnd
    deals = []
    for _ in range(rnd.randrange(0, 4)):
        stage = rnd.choice(STAGES)
        product_id, item = rnd.choice(demo.products)
        deal = demo.create(
            "opportunity",
            {
                "name": f"{item[1]} for {name}"[:200],
                "account": account,
                "product": product_id,
                "stage": stage,
                "amount": Decimal(rnd.randrange(5, 900) * 100),
                "expected_close": demo.today + dt.timedelta(days=rnd.randrange(-120, 180)),
                "competitors": rnd.sample(
                    ["acme", "globex", "initech", "umbrella"], rnd.randrange(0, 3)
                ),
                "contacts": rnd.sample(contacts, min(len(contacts), rnd.randrange(1, 3))),
                "owner": owner,
                "source": rnd.choice(["referral", "web", "partner", "existing"]),
                "lost_reason": "Price" if stage == "lost" else None,
            },
            conn,
        )
        deals.append(deal.id)
        due = demo.moment(10, 20).replace(minute=0, second=0)
        demo.create(
            "activity",
            {
                "subject": rnd.choice(["Call about", "Visit", "Send proposal to", "Follow up with"])
                + f" {name}",
                "kind": rnd.choice(["call", "meeting", "email", "visit", "task"]),
                "account": account,
                "contact": contacts[0],
                "opportunity": deal.id,
                "due": due,
                "done": due.date() < demo.today and rnd.random() > 0.2,
                "assigned_to": owner,
            },
            conn,
        )
        if stage in ("proposal", "negotiation", "won"):
            quote = demo.create(
                "quote",
                {
                    "account": account,
                    "opportunity": deal.id,
                    "contact": contacts[0],
                    "valid_until": demo.today + dt.timedelta(days=30),
                },
                conn,
            )
            demo.create(
                "quote_line",
                {
                    "quote": quote.id,
                    "product": product_id,
                    "description": item[1],
                    "quantity": rnd.randrange(1, 20),
                    "unit_price": item[4],
                    "discount": rnd.choice([0, 0, 5, 10]),
                },
                conn,
            )
    return deals


def _tickets(
    demo: Demo,
    account: int,
    contacts: list[int],
    assets: list[tuple[int, dt.date]],
    conn: Connection,
) -> list[int]:
    rnd = demo.rnd
    tickets = []
    for _ in range(rnd.randrange(0, 3)):
        ticket = demo.create(
            "ticket",
            {
                "subject": rnd.choice(
                    [
                        "No internet since this morning",
                        "Wrong charge on the invoice",
                        "Router keeps restarting",
                        "Wants to change the plan",
                    ]
                ),
                "account": account,
                "contact": contacts[0],
                "asset": rnd.choice(assets)[0] if assets and rnd.random() < 0.6 else None,
                "category": rnd.choice(["fault", "billing", "question", "request"]),
                "priority": rnd.choice(["low", "normal", "normal", "high", "urgent"]),
                "assigned_to": rnd.choice([demo.users["pablo"], demo.users["irene"]]),
                "opened_at": demo.moment(20),
            },
            conn,
        )
        tickets.append(ticket.id)
        move = rnd.random()
        if move > 0.3:
            demo.update("ticket", ticket.id, {"status": "open"}, conn)
        if move > 0.6:
            demo.update(
                "ticket",
                ticket.id,
                {"status": "resolved", "solution": "Solved on the phone."},
                conn,
            )
        covered = [a for a, end in assets if end >= demo.today]
        if covered and move > 0.8:
            demo.create(
                "warranty_claim",
                {
                    "asset": covered[0],
                    "account": account,
                    "ticket": ticket.id,
                    "problem": "Does not power on.",
                    "claimed_on": demo.today,
                },
                conn,
            )
    return tickets


def _history(
    demo: Demo,
    account: int,
    contacts: list[int],
    deals: list[int],
    tickets: list[int],
    conn: Connection,
) -> None:
    rnd = demo.rnd
    for _ in range(rnd.randrange(3, 12)):
        channel = rnd.choice(CHANNELS)
        demo.create(
            "interaction",
            {
                "account": account,
                "contact": rnd.choice(contacts),
                "channel": channel,
                "direction": "inbound" if rnd.random() < 0.7 else "outbound",
                "occurred_at": demo.moment(400),
                "duration_seconds": rnd.randrange(30, 1200) if channel == "phone" else None,
                "subject": rnd.choice(SUBJECTS.get(channel, ["Contact"])),
                "outcome": rnd.choice(["resolved", "follow_up", "information", "sale"]),
                "agent": rnd.choice(demo.agents()),
                "opportunity": rnd.choice(deals) if deals and rnd.random() < 0.3 else None,
                "ticket": rnd.choice(tickets) if tickets and rnd.random() < 0.3 else None,
            },
            conn,
        )
