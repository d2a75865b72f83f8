"""Demo records for the core pack: realistic Spanish and English companies and people,
written through the records service like any other write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from faker import Faker

from framework.records import Actor

if TYPE_CHECKING:
    from framework.app import DemoContext
    from framework.records import RecordService

DEMO = Actor(None, "demo", "script")

PRODUCTS = [
    ("FIB-300", "Fibre 300 Mb", "subscription", "29.90"),
    ("FIB-1G", "Fibre 1 Gb", "subscription", "44.90"),
    ("MOB-UNL", "Mobile unlimited", "subscription", "19.90"),
    ("CLOUD-S", "Cloud backup S", "software", "9.00"),
    ("CLOUD-L", "Cloud backup L", "software", "49.00"),
    ("ROUTER-X", "Router X6", "hardware", "129.00"),
    ("SW-CRM", "CRM licence (seat)", "software", "35.00"),
    ("SRV-INST", "On-site installation", "service", "90.00"),
    ("SRV-SUP", "Premium support (year)", "service", "480.00"),
    ("PBX-CLOUD", "Cloud switchboard", "subscription", "15.00"),
]
STAGES = ["prospecting", "qualification", "rfp_received", "proposal", "negotiation", "won", "lost"]
INDUSTRIES = [
    "Retail",
    "Energy",
    "Banking",
    "Health",
    "Logistics",
    "Education",
    "Tourism",
    "Manufacturing",
    "Telecom",
    "Public sector",
]


def fill(context: DemoContext) -> None:
    records = context.records
    rnd = context.random
    fakes = [Faker("es_ES"), Faker("en_GB")]
    for fake in fakes:
        fake.seed_instance(context.seed)
    products = [
        records.create(
            "product",
            {
                "code": code,
                "name": name,
                "family": family,
                "price": price,
                "description": f"{name}: demo catalogue item.",
            },
            DEMO,
        ).id
        for code, name, family, price in PRODUCTS
    ]
    owners = _sales_team(records)
    today = dt.date.today()
    used_tax_ids: set[str] = set()
    for i in range(context.size):
        fake = fakes[0] if i % 4 else fakes[1]
        person = i % 5 == 0
        name = fake.name() if person else fake.company()
        tax_id = _tax_id(fake, person, used_tax_ids)
        account = records.create(
            "account",
            {
                "name": name,
                "kind": "person" if person else "company",
                "tax_id": tax_id,
                "segment": "consumer"
                if person
                else rnd.choice(["smb", "smb", "mid", "enterprise"]),
                "industry": None if person else rnd.choice(INDUSTRIES),
                "email": fake.company_email() if not person else fake.free_email(),
                "phone": _phone(fake, rnd),
                "website": None if person else f"www.{fake.domain_name()}",
                "city": fake.city(),
                "country": "España" if fake is fakes[0] else "United Kingdom",
                "annual_revenue": None if person else Decimal(rnd.randrange(50, 50_000) * 1000),
                "employees": None if person else rnd.randrange(2, 5000),
                "customer_since": today - dt.timedelta(days=rnd.randrange(30, 3650)),
                "active": rnd.random() > 0.1,
                "owner": owners[i % len(owners)],
            },
            DEMO,
        )
        contacts: list[int] = []
        for _ in range(1 if person else rnd.randrange(1, 4)):
            contacts.append(
                records.create(
                    "contact",
                    {
                        "full_name": name if person else fake.name(),
                        "account": account.id,
                        "job_title": None if person else fake.job()[:80],
                        "email": _unique_email(fake, i, len(contacts)),
                        "phone": _phone(fake, rnd),
                        "mobile": _phone(fake, rnd),
                        "preferred_channel": rnd.choice(["email", "phone", "whatsapp", "visit"]),
                    },
                    DEMO,
                ).id
            )
        for _ in range(rnd.randrange(0, 4)):
            stage = rnd.choice(STAGES)
            opp = records.create(
                "opportunity",
                {
                    "name": f"{rnd.choice(PRODUCTS)[1]} for {name}"[:200],
                    "account": account.id,
                    "product": rnd.choice(products),
                    "stage": stage,
                    "amount": Decimal(rnd.randrange(5, 900) * 100),
                    "probability": {"won": 100, "lost": 0}.get(stage, rnd.randrange(10, 90, 10)),
                    "expected_close": today + dt.timedelta(days=rnd.randrange(-120, 180)),
                    "competitors": rnd.sample(
                        ["acme", "globex", "initech", "umbrella"], rnd.randrange(0, 3)
                    ),
                    "contacts": rnd.sample(contacts, min(len(contacts), rnd.randrange(1, 3))),
                    "owner": owners[i % len(owners)],
                    "lost_reason": "Price" if stage == "lost" else None,
                },
                DEMO,
            )
            due = dt.datetime.combine(today, dt.time(9)) + dt.timedelta(
                hours=rnd.randrange(-200, 300)
            )
            records.create(
                "activity",
                {
                    "subject": rnd.choice(
                        ["Call about", "Visit", "Send proposal to", "Follow up with"]
                    )
                    + f" {name}",
                    "kind": rnd.choice(["call", "meeting", "email", "visit", "task"]),
                    "account": account.id,
                    "opportunity": opp.id,
                    "due": due,
                    "done": due.date() < today and rnd.random() > 0.2,
                    "assigned_to": owners[i % len(owners)],
                },
                DEMO,
            )


SALES = [
    ("berta", "Berta Ortega", "sales_manager"),
    ("ana", "Ana López", "sales"),
    ("luis", "Luis Martín", "sales"),
    ("marta", "Marta Ruiz", "sales"),
]


def _sales_team(records: RecordService) -> list[int]:
    """A sales team: a senior manager and three representatives who report to her."""
    team = records.create("team", {"name": "Sales"}, DEMO)
    ids: dict[str, int] = {}
    for username, name, role in SALES:
        ids[username] = records.create(
            "user",
            {
                "username": username,
                "name": name,
                "email": f"{username}@demo.ficha.example",
                "team": team.id,
                "role": role,
                "territory": "Madrid",
                "manager": ids.get("berta"),
            },
            DEMO,
        ).id
    records.update("team", team.id, {"manager": ids["berta"]}, DEMO)
    return [ids[u] for u, _, role in SALES if role == "sales"]


def _phone(fake: Faker, rnd: object) -> str:
    if fake.locales[0] == "es_ES":
        return f"+34 6{fake.numerify('## ### ###')}"
    return f"+44 7700 {fake.numerify('######')}"


def _tax_id(fake: Faker, person: bool, used: set[str]) -> str:
    while True:
        value = fake.bothify("########?" if person else "?########").upper()
        if value not in used:
            used.add(value)
            return value


def _unique_email(fake: Faker, account_index: int, n: int) -> str:
    user = fake.user_name()
    return f"{user}.{account_index}.{n}@{fake.free_email_domain()}"
