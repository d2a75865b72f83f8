"""Demo records of the banking pack, on top of the core pack's customers and staff: KYC
statuses, the bank's catalogue, the products each customer holds, complaints at every
stage of their deadline, mortgage simulations made on the web yesterday — and the
morning run of the rule that puts them in front of the personal manager, so the seed's
example is there to see. Then, when the shared data sets are there, the first calls of
the bank-marketing campaign are imported with the pack's mapping."""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from framework.records import Actor, utcnow
from verticals.banking.iban import make_iban

if TYPE_CHECKING:
    from framework.app import DemoContext, Ficha

DEMO = Actor(None, "demo", "script")
HERE = Path(__file__).parent
BANK = HERE.parents[2] / "shared" / "data" / "bank-additional-full.csv"

CATALOGUE = [
    # code, name, family, nominal rate, APR, annual fee, longest term (months)
    ("CTA-ONLINE", "Cuenta Online", "current_account", "0", "0", "0", None),
    ("CTA-NOMINA", "Cuenta Nómina", "current_account", "0", "0", "0", None),
    ("AHORRO-PLUS", "Depósito Ahorro Plus", "savings", "2.10", "2.12", "0", None),
    ("TARJ-DEB", "Tarjeta de débito", "card", "0", "0", "0", None),
    ("TARJ-CRED", "Tarjeta de crédito Oro", "card", "18.00", "19.56", "36", None),
    ("PREST-PERS", "Préstamo personal", "loan", "7.95", "8.63", "0", 96),
    ("HIPO-FIJA", "Hipoteca tipo fijo", "mortgage", "2.95", "3.24", "0", 360),
    ("HIPO-VAR", "Hipoteca variable (Euríbor + 0,79)", "mortgage", "3.29", "3.61", "0", 360),
]
STATUSES = ["verified"] * 7 + ["pending", "in_review", "rejected"]


def _rows(ficha: Ficha, name: str, limit: int) -> list[Any]:
    table = ficha.storage.table(name)
    query = sa.select(table).where(table.c.deleted_at.is_(None)).order_by(table.c.id).limit(limit)
    with ficha.storage.read() as conn:
        return list(conn.execute(query))


def fill(context: DemoContext) -> None:
    ficha, rnd = context.ficha, context.random
    rec = ficha.records

    def make(obj: str, values: dict[str, Any], conn: Any = None) -> Any:
        return rec.create(obj, values, DEMO, conn=conn)

    products: dict[str, tuple[int, str]] = {}
    for code, name, family, tin, tae, fee, term in CATALOGUE:
        products[code] = (
            make(
                "product",
                {
                    "code": code,
                    "name": name,
                    "kind": "service",
                    "family": family,
                    "interest_rate": tin,
                    "apr": tae,
                    "annual_fee": fee,
                    "max_term_months": term,
                },
            ).id,
            family,
        )
    customers = _rows(ficha, "account", max(10, min(context.size, 150)))
    for n, account in enumerate(customers):
        with rec.transaction() as conn:
            status = STATUSES[n % len(STATUSES)]
            values: dict[str, Any] = {"kyc_status": status}
            if n % 17 == 0:
                values["pep"] = True
            rec.update("account", account.id, values, DEMO, conn=conn)
            if status != "verified":
                continue
            iban = make_iban("ES", f"2100{n % 10_000:04d}00{rnd.randrange(10**10):010d}")
            make(
                "contract",
                {
                    "account": account.id,
                    "product": products["CTA-NOMINA" if n % 2 else "CTA-ONLINE"][0],
                    "iban": iban,
                    "balance": Decimal(rnd.randrange(100, 60_000)),
                    "price": "0",
                },
                conn,
            )
            make(
                "contract",
                {
                    "account": account.id,
                    "product": products["TARJ-CRED" if n % 3 == 0 else "TARJ-DEB"][0],
                    "card_last_digits": f"{rnd.randrange(10_000):04d}",
                    "credit_limit": "3000" if n % 3 == 0 else None,
                    "price": "0",
                },
                conn,
            )
            if n % 5 == 0:
                principal = Decimal(rnd.randrange(80, 300) * 1000)
                make(
                    "contract",
                    {
                        "account": account.id,
                        "product": products["HIPO-FIJA"][0],
                        "principal": principal,
                        "interest_rate": "2.95",
                        "term_months": 300,
                        "balance": -principal * Decimal("0.8"),
                        "start_date": dt.date.today() - dt.timedelta(days=rnd.randrange(300, 3000)),
                    },
                    conn,
                )
    _simulations(ficha, rnd, customers)
    _complaints(ficha, rnd, customers)
    _campaign_calls(ficha, limit=min(2000, 50 * context.size))


def _simulations(ficha: Ficha, rnd: Any, customers: list[Any]) -> None:
    """Simulations made on the web yesterday (and today, and at the branch); then the
    morning run of the rule, as the scheduler does at 08:00."""
    for n, account in enumerate(customers[:12]):
        value = Decimal(rnd.randrange(150, 600) * 1000)
        ficha.records.create(
            "mortgage_simulation",
            {
                "account": account.id,
                "channel": ["web", "web", "app", "branch"][n % 4],
                "simulated_at": utcnow()
                - (dt.timedelta(days=1, hours=n) if n < 8 else dt.timedelta(minutes=n)),
                "property_value": value,
                "loan_amount": (value * Decimal("0.8")).quantize(Decimal(1000)),
                "term_years": rnd.choice([20, 25, 30]),
                "interest_rate": rnd.choice(["2.95", "3.29"]),
            },
            DEMO,
        )
    with ficha.storage.write() as conn:
        ficha.rules.run_scheduled(
            conn, "mortgage_simulation", "tell the personal manager the next day"
        )


def _complaints(ficha: Ficha, rnd: Any, customers: list[Any]) -> None:
    subjects = {
        "fees": "Maintenance fee charged on a free account",
        "payment_services": "Transfer not received after three days",
        "cards": "Card payment I did not make",
        "mortgage": "Floor clause on my mortgage",
        "service": "Waited 40 minutes at the branch",
    }
    categories = list(subjects)
    for n, account in enumerate(customers[:15]):
        category = categories[n % len(categories)]
        made = ficha.records.create(
            "bank_complaint",
            {
                "account": account.id,
                "subject": subjects[category],
                "category": category,
                "channel": rnd.choice(["branch", "web", "phone", "letter"]),
                "received_on": dt.date.today() - dt.timedelta(days=3 * n),
            },
            DEMO,
        )
        if n % 4 == 3:
            ficha.records.update(
                "bank_complaint",
                made.id,
                {"status": "answered", "answer": "We have refunded the fee.", "outcome": "upheld"},
                DEMO,
            )
    with ficha.storage.write() as conn:
        ficha.rules.run_scheduled(conn, "bank_complaint", "deadline in five days")
        ficha.rules.run_scheduled(conn, "bank_complaint", "deadline missed")


def _campaign_calls(ficha: Ficha, limit: int = 2000) -> None:
    if not BANK.exists():
        return
    from framework.importing import Importer, load_mapping

    mapping = load_mapping(HERE / "mappings" / "bank_marketing.yaml", ficha.model)
    with tempfile.TemporaryDirectory() as folder:
        sample = Path(folder) / "bank.csv"
        with BANK.open(encoding="utf-8") as source:
            sample.write_text("".join(itertools.islice(source, limit + 1)), encoding="utf-8")
        Importer(ficha, mapping, DEMO).run(sample)
