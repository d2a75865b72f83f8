"""Demo records for the core pack: Spanish and English companies and people with their
contacts, identifiers, contracts, installed base, deals, campaigns, tickets and history,
written through the records service like any other write; then the public sales pipeline
of ../shared/data/crm_sales_opportunities/ when it is there (demo_pipeline.py)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from faker import Faker

from framework.records import Actor
from modeler.national_ids import spanish_company_nif, spanish_dni

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from framework.app import DemoContext
    from framework.records import RecordService

DEMO = Actor(None, "demo", "script")

PRODUCTS = [
    # code, name, kind, family, price, billing, warranty months
    ("FIB-300", "Fibre 300 Mb", "service", "subscription", "29.90", "monthly", None),
    ("FIB-1G", "Fibre 1 Gb", "service", "subscription", "44.90", "monthly", None),
    ("MOB-UNL", "Mobile unlimited", "service", "subscription", "19.90", "monthly", None),
    ("CLOUD-S", "Cloud backup S", "service", "software", "9.00", "monthly", None),
    ("CLOUD-L", "Cloud backup L", "service", "software", "49.00", "monthly", None),
    ("ROUTER-X", "Router X6", "product", "hardware", "129.00", "one_off", 24),
    ("PBX-BOX", "Office switchboard", "product", "hardware", "890.00", "one_off", 36),
    ("SW-CRM", "CRM licence (seat)", "service", "software", "35.00", "monthly", None),
    ("SRV-INST", "On-site installation", "service", "service", "90.00", "one_off", None),
    ("SRV-SUP", "Premium support (year)", "service", "service", "480.00", "yearly", None),
]
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
CATEGORIES = [
    ("Sector", "Hospitality"),
    ("Sector", "Industry"),
    ("Sector", "Professional services"),
    ("Interest", "Fibre"),
    ("Interest", "Cloud"),
    ("Interest", "Mobility"),
    ("Channel", "Direct"),
    ("Channel", "Partner"),
]
TERRITORIES = ["Madrid", "Barcelona", "Sevilla", "London"]
#: deals of the public pipeline imported per demo customer (--size)
PIPELINE_PER_CUSTOMER = 5
PEOPLE = [
    # username, name, role, territory, reports to
    ("berta", "Berta Ortega", "sales_manager", "Madrid", None),
    ("ana", "Ana López", "sales", "Madrid", "berta"),
    ("luis", "Luis Martín", "sales", "Barcelona", "berta"),
    ("marta", "Marta Ruiz", "sales", "Sevilla", "berta"),
    ("oliver", "Oliver Hughes", "sales", "London", "berta"),
    ("sofia", "Sofía Navarro", "service_manager", "Madrid", None),
    ("pablo", "Pablo Gil", "service", "Madrid", "sofia"),
    ("irene", "Irene Vidal", "service", "Barcelona", "sofia"),
    ("carlos", "Carlos Romero", "marketing", "Madrid", None),
]


@dataclass
class Demo:
    """What the steps share: the records service, the dice, and what was made so far."""

    records: RecordService
    rnd: random.Random
    fakes: list[Faker]
    today: dt.date
    users: dict[str, int] = field(default_factory=dict)
    products: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    categories: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    accounts: list[int] = field(default_factory=list)
    campaigns: list[int] = field(default_factory=list)
    counter: int = 0

    def create(self, obj: str, values: dict[str, Any], conn: Connection | None = None) -> Any:
        return self.records.create(obj, values, DEMO, conn=conn)

    def update(
        self, obj: str, ident: int, values: dict[str, Any], conn: Connection | None = None
    ) -> Any:
        return self.records.update(obj, ident, values, DEMO, conn=conn)

    def next(self) -> int:
        self.counter += 1
        return self.counter

    def sales(self) -> list[int]:
        return [self.users[u] for u, _, role, _, _ in PEOPLE if role == "sales"]

    def agents(self) -> list[int]:
        return [self.users[u] for u, _, role, _, _ in PEOPLE if role in ("service", "sales")]

    def moment(self, days_back: int, days_ahead: int = 0) -> dt.datetime:
        start = dt.datetime.combine(self.today, dt.time(8)) - dt.timedelta(days=days_back)
        span = (days_back + days_ahead) * 24 * 60
        return start + dt.timedelta(minutes=self.rnd.randrange(max(1, span)))


def fill(context: DemoContext) -> None:
    fakes = [Faker("es_ES"), Faker("en_GB")]
    for fake in fakes:
        fake.seed_instance(context.seed)
    demo = Demo(context.records, context.random, fakes, dt.date.today())
    _people(demo)
    _catalogue(demo)
    from verticals.core import demo_customers, demo_service

    for i in range(context.size):
        with demo.records.transaction() as conn:
            demo_customers.customer(demo, i, conn)
    demo_service.marketing(demo)
    demo_service.work_queues(demo)
    from verticals.core.demo_pipeline import import_pipeline

    # every deal is a full save (workflow, plan lookup, roll-ups, audit): about 20 ms on a
    # 2-core machine, so the demo takes a part of the 8,800 (`--size 2000` takes them all;
    # `ficha import` with docs/examples/imports/mappings/sales_pipeline.yaml as well)
    import_pipeline(context.ficha, limit=PIPELINE_PER_CUSTOMER * context.size)


def _people(demo: Demo) -> None:
    """A sales team under a senior manager, a service team, and marketing."""
    sales = demo.create("team", {"name": "Sales"})
    service = demo.create("team", {"name": "Service"})
    for username, name, role, territory, boss in PEOPLE:
        demo.users[username] = demo.create(
            "user",
            {
                "username": username,
                "name": name,
                "email": f"{username}@demo.ficha.example",
                "team": service.id if role.startswith("service") else sales.id,
                "role": role,
                "territory": territory,
                "manager": demo.users.get(boss or ""),
            },
        ).id
    demo.records.update("team", sales.id, {"manager": demo.users["berta"]}, DEMO)
    demo.records.update("team", service.id, {"manager": demo.users["sofia"]}, DEMO)


def _catalogue(demo: Demo) -> None:
    for item in PRODUCTS:
        code, name, kind, family, price, billing, warranty = item
        product = demo.create(
            "product",
            {
                "code": code,
                "name": name,
                "kind": kind,
                "family": family,
                "price": price,
                "billing": billing,
                "warranty_months": warranty,
                "description": f"{name}: demo catalogue item.",
            },
        )
        demo.products.append((product.id, item))
    for family, name in CATEGORIES:
        demo.categories.append(demo.create("category", {"family": family, "name": name}).id)
    for name, kind in (
        ("Grupo Hostelero del Sur", "business"),
        ("Familia Ortega Vidal", "family"),
        ("Central de Compras Retail", "buying"),
    ):
        demo.groups.append(demo.create("account_group", {"name": name, "kind": kind}).id)
    year = demo.today.year
    quarter = f"q{(demo.today.month - 1) // 3 + 1}"
    for territory in TERRITORIES:
        for family in ("hardware", "software", "service", "subscription"):
            demo.create(
                "plan_target",
                {
                    "name": f"{territory} {family} {year} {quarter.upper()}",
                    "year": year,
                    "quarter": quarter,
                    "product_family": family,
                    "territory": territory,
                    "target_amount": Decimal(demo.rnd.randrange(20, 200) * 1000),
                },
            )
    _knowledge(demo)


KB = [
    (
        "How do I restart the router?",
        "technical",
        "router restart reboot lights no internet",
        "Unplug the router for 30 seconds, plug it back and wait until the light turns green.",
    ),
    (
        "Why is my invoice higher this month?",
        "billing",
        "invoice bill higher charge prorated",
        "A change of plan in the middle of the month is billed in proportion for both plans.",
    ),
    (
        "How can I end my contract?",
        "contract",
        "cancel end contract permanence portability",
        "Call us or write from your customer area; a permanence period may apply.",
    ),
    (
        "What does premium support include?",
        "product",
        "premium support hours visit response",
        "A first response within 2 hours, a technician's visit the next working day.",
    ),
    (
        "The fibre is slow over Wi-Fi",
        "technical",
        "fibre slow wifi speed channel",
        "Connect by cable to check the speed; move the router away from walls and metal.",
    ),
]


def _knowledge(demo: Demo) -> None:
    for title, category, keywords, answer in KB:
        demo.create(
            "kb_article",
            {
                "title": title,
                "category": category,
                "keywords": keywords,
                "question": title,
                "answer": answer,
            },
        )


def national_id(demo: Demo, person: bool) -> str:
    number = 10_000_000 + demo.next() * 7919 % 89_999_999
    return spanish_dni(number) if person else spanish_company_nif(number)


def phone(fake: Faker) -> str:
    if fake.locales[0] == "es_ES":
        return f"+34 6{fake.numerify('## ### ###')}"
    return f"+44 7700 {fake.numerify('######')}"
