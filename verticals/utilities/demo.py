"""Demo records of the utilities pack, on top of the core pack's customers: a Seville
electricity and water distributor with five service areas, a premise and a supply point
per customer with a year of monthly readings (a few far above their average, so the
check tasks exist), tariffs, supply contracts, an outage with its incident reports,
disputes, service orders, moves and the customers who complained three times.
Everything is written through the records service, so the pack's rules run as in real
life. Then, when the shared data sets are there, the first Telco customers are imported
with the pack's own mappings."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from faker import Faker

from framework.records import Actor, utcnow
from storage.tables import column_name

if TYPE_CHECKING:
    from framework.app import DemoContext, Ficha

DEMO = Actor(None, "demo", "script")
HERE = Path(__file__).parent
TELCO = HERE.parents[2] / "shared" / "data" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"

AREAS = [
    ("SEV-TRIANA", "Triana", "Sevilla"),
    ("SEV-NERVION", "Nervión", "Sevilla"),
    ("SEV-MACARENA", "Macarena", "Sevilla"),
    ("DH-CENTRO", "Dos Hermanas centro", "Sevilla"),
    ("UTR-NORTE", "Utrera norte", "Sevilla"),
]
TARIFFS = [
    # code, name, service, unit, unit price, standing charge, time of use, price a month
    ("LUZ-FIJA", "Luz precio fijo", "electricity", "kwh", "0.149000", "4.20", False, "55.00"),
    ("LUZ-3P", "Luz tres periodos", "electricity", "kwh", "0.121000", "4.20", True, "48.00"),
    ("AGUA-DOM", "Agua doméstica", "water", "m3", "1.350000", "6.10", False, "22.00"),
]


def _ids(ficha: Ficha, name: str, limit: int, **where: Any) -> list[Any]:
    table, obj = ficha.storage.table(name), ficha.model[name]
    query = (
        sa.select(table)
        .where(table.c.deleted_at.is_(None))
        .where(*(table.c[column_name(obj.fields[k])] == v for k, v in where.items()))
        .order_by(table.c.id)
        .limit(limit)
    )
    with ficha.storage.read() as conn:
        return list(conn.execute(query))


def fill(context: DemoContext) -> None:
    ficha, rnd = context.ficha, context.random
    create = ficha.records.create

    def make(obj: str, values: dict[str, Any]) -> Any:
        return create(obj, values, DEMO)

    fake = Faker("es_ES")  # Spanish street names; the areas are Seville's
    fake.seed_instance(context.seed)
    users = {u.username: u.id for u in _ids(ficha, "user", 100)}
    areas = [make("service_area", {"code": c, "name": n, "region": r}).id for c, n, r in AREAS]
    tariffs = []
    for code, name, service, unit, price, standing, tou, monthly in TARIFFS:
        tariffs.append(
            (
                make(
                    "product",
                    {
                        "code": code,
                        "name": name,
                        "kind": "service",
                        "family": "tariff",
                        "utility_service": service,
                        "unit": unit,
                        "unit_price": price,
                        "standing_charge": standing,
                        "time_of_use": tou,
                        "billing": "monthly",
                        "price": monthly,
                    },
                ).id,
                service,
                unit,
                monthly,
            )
        )
    customers = _ids(ficha, "account", max(10, min(context.size, 150)))
    points: list[tuple[int, int, int, int]] = []  # account, area, premise, supply point
    for n, account in enumerate(customers):
        with ficha.records.transaction() as conn:
            points.append(_supply(ficha, conn, rnd, fake, n, account.id, areas, tariffs))
    _incidents(ficha, rnd, points, users)
    _complaints(ficha, rnd, customers)
    _moves(ficha, points)
    _telco(ficha, limit=min(500, 20 * context.size))


def _supply(
    ficha: Ficha,
    conn: Any,
    rnd: random.Random,
    fake: Faker,
    n: int,
    account: int,
    areas: list[int],
    tariffs: list[tuple[int, str, str, str]],
) -> tuple[int, int, int, int]:
    def make(obj: str, values: dict[str, Any]) -> Any:
        return ficha.records.create(obj, values, DEMO, conn=conn)

    area = areas[n % len(areas)]
    premise = make(
        "premise",
        {
            "address": fake.street_address(),
            "postcode": f"410{fake.random_int(10, 99)}",
            "city": "Sevilla",
            "area": area,
            "kind": "home" if n % 4 else "business",
            "occupant": account,
        },
    )
    tariff, service, unit, monthly = tariffs[n % len(tariffs)]
    point = make(
        "supply_point",
        {
            "code": f"ES0031{n:012d}{'AB' if service == 'electricity' else 'WT'}",
            "premise": premise.id,
            "service": service,
            "account": account,
            "status": "connected",
            "tariff": tariff,
            "contracted_power_kw": "4.60" if service == "electricity" else None,
        },
    )
    make(
        "contract",
        {
            "account": account,
            "product": tariff,
            "supply_point": point.id,
            "price": monthly,
            "start_date": dt.date.today() - dt.timedelta(days=rnd.randrange(200, 2000)),
            "term": rnd.choice(["month_to_month", "one_year", "two_year"]),
            "payment_method": "direct_debit",
            "paperless_billing": rnd.random() < 0.6,
        },
    )
    meter = make(
        "meter",
        {"serial_number": f"MTR-{n:06d}", "supply_point": point.id, "unit": unit},
    )
    usual = Decimal(rnd.randrange(150, 400) if unit == "kwh" else rnd.randrange(8, 20))
    today = dt.date.today()
    for month in range(12, 0, -1):
        spike = month == 1 and n % 9 == 0  # one customer in nine: last month's is odd
        factor = Decimal("3.2") if spike else Decimal(rnd.randrange(80, 121)) / 100
        make(
            "meter_reading",
            {
                "meter": meter.id,
                "read_on": today - dt.timedelta(days=30 * month),
                "consumption": (usual * factor).quantize(Decimal("0.001")),
                "source": "smart",
            },
        )
    return account, area, premise.id, point.id


def _incidents(
    ficha: Ficha, rnd: random.Random, points: list[tuple[int, int, int, int]], users: dict[str, int]
) -> None:
    def make(obj: str, values: dict[str, Any]) -> Any:
        return ficha.records.create(obj, values, DEMO)

    area = points[0][1]
    make(
        "outage",
        {
            "area": area,
            "service": "electricity",
            "kind": "unplanned",
            "started_at": utcnow() - dt.timedelta(hours=2),
            "estimated_restore_at": utcnow() + dt.timedelta(hours=3),
            "cause": "Transformer fault in the district substation.",
        },
    )
    make(
        "outage",
        {
            "area": points[1][1],
            "service": "water",
            "kind": "planned",
            "started_at": utcnow() + dt.timedelta(days=2),
            "estimated_restore_at": utcnow() + dt.timedelta(days=2, hours=6),
            "cause": "Replacement of the main pipe.",
        },
    )
    in_area = [p for p in points if p[1] == area]
    for n in range(4):  # the third report confirms the outage
        account, area_id, premise, _ = in_area[n % len(in_area)]
        make(
            "incident_report",
            {
                "summary": "No electricity at home" if n < len(in_area) else "Street lights out",
                "area": area_id,
                "account": account if n < len(in_area) else None,
                "premise": premise if n < len(in_area) else None,
                "channel": rnd.choice(["phone", "web", "app"]) if n < len(in_area) else "crew",
            },
        )
    technicians = [users[u] for u in ("pablo", "irene") if u in users]
    for n, (account, _, _, point) in enumerate(points[:12]):
        kind = ["inspection", "meter_change", "repair", "reading"][n % 4]
        order = make(
            "service_order",
            {
                "kind": kind,
                "supply_point": point,
                "account": account,
                "technician": technicians[n % len(technicians)] if technicians else None,
                "scheduled_for": utcnow() + dt.timedelta(days=n % 5, hours=9 - n % 3),
            },
        )
        if n % 3 == 0:
            ficha.records.update("service_order", order.id, {"status": "done"}, DEMO)
    for n, (account, _, _, point) in enumerate(points[12:20]):
        make(
            "billing_dispute",
            {
                "account": account,
                "supply_point": point,
                "invoice_number": f"FAC-2026-{1000 + n}",
                "invoice_date": dt.date.today() - dt.timedelta(days=20 + n),
                "disputed_amount": Decimal(rnd.randrange(30, 400)),
                "reason": ["estimated_reading", "wrong_tariff", "double_charge", "other"][n % 4],
            },
        )


def _complaints(ficha: Ficha, rnd: random.Random, customers: list[Any]) -> None:
    """Two customers complain three times this month: the pack's rule puts an alert on
    their file."""
    for account in customers[3:5]:
        for days in (21, 9, 1):
            ficha.records.create(
                "ticket",
                {
                    "subject": rnd.choice(
                        ["Invoice too high", "Supply cut without notice", "Nobody came"]
                    ),
                    "account": account.id,
                    "category": "complaint",
                    "opened_at": utcnow() - dt.timedelta(days=days),
                },
                DEMO,
            )


def _moves(ficha: Ficha, points: list[tuple[int, int, int, int]]) -> None:
    if len(points) < 8:
        return
    account, _, premise, point = points[7]
    move = ficha.records.create(
        "move_request",
        {
            "kind": "move_out",
            "account": account,
            "premise": premise,
            "supply_point": point,
            "move_date": dt.date.today() - dt.timedelta(days=3),
        },
        DEMO,
    )
    ficha.records.update("move_request", move.id, {"status": "done"}, DEMO)
    ficha.records.create(
        "move_request",
        {
            "kind": "move_in",
            "account": points[6][0],
            "premise": premise,
            "supply_point": point,
            "move_date": dt.date.today() + dt.timedelta(days=10),
        },
        DEMO,
    )


def _telco(ficha: Ficha, limit: int = 500) -> None:
    """The pack's mappings on the first Telco customers, as a consultant would run them."""
    if not TELCO.exists():
        return
    import itertools
    import tempfile

    from framework.importing import Importer, load_mapping

    mappings = HERE / "mappings"
    Importer(ficha, load_mapping(mappings / "telco_plans.yaml", ficha.model), DEMO).run(
        mappings / "telco_plans.csv"
    )
    with tempfile.TemporaryDirectory() as folder:
        sample = Path(folder) / "telco.csv"
        with TELCO.open(encoding="utf-8") as source:
            sample.write_text("".join(itertools.islice(source, limit + 1)), encoding="utf-8")
        mapping = load_mapping(mappings / "telco_customers.yaml", ficha.model)
        Importer(ficha, mapping, DEMO).run(sample)
