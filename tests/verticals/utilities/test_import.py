"""The pack's import mappings on the real Telco churn file (its first 300 customers, on
each database): plans first, then customers with their contract and customer number;
a second run changes nothing."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from framework.importing import Importer, load_mapping
from framework.records import Actor
from verticals.utilities import PACK

TELCO = (
    Path(__file__).resolve().parents[4] / "shared" / "data" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
)
MAPPINGS = PACK.path / "mappings" if PACK.path else Path()


def run(ficha: Any, source: Path, mapping: str) -> Any:
    loaded = load_mapping(MAPPINGS / mapping, ficha.model)
    return Importer(ficha, loaded, Actor(None, "tests", "cli")).run(source)


def test_telco_customers_import_with_their_plan_and_contract(utility: Any, tmp_path: Path) -> None:
    if not TELCO.exists():
        pytest.skip(f"the shared Telco data set is not at {TELCO}")
    sample = tmp_path / "telco.csv"
    with TELCO.open(encoding="utf-8") as source:
        sample.write_text("".join(itertools.islice(source, 301)), encoding="utf-8")
    plans = run(utility, MAPPINGS / "telco_plans.csv", "telco_plans.yaml")
    assert plans.failed == 0, plans.errors[:3]
    first = run(utility, sample, "telco_customers.yaml")
    assert (first.rows, first.created, first.failed) == (300, 300, 0), first.errors[:3]
    assert first.children == {"identifier": 300, "contract": 300}

    accounts, contracts = utility.storage.table("account"), utility.storage.table("contract")
    products = utility.storage.table("product")
    with utility.storage.read() as conn:
        account = conn.execute(sa.select(accounts).where(accounts.c.name == "7590-VHVEG")).one()
        contract = conn.execute(
            sa.select(
                contracts.c.term,
                contracts.c.price,
                contracts.c.payment_method,
                contracts.c.billed_to_date,
                products.c.code,
            )
            .join(products, products.c.id == contracts.c.product_id)
            .where(contracts.c.account_id == account.id)
        ).one()
    # 7590-VHVEG,Female,0,Yes,No,1,No,No phone service,DSL,…,Month-to-month,Yes,
    # Electronic check,29.85,29.85,No
    assert (account.kind, account.tenure_months, account.churned) == ("person", 1, False)
    assert account.churn_risk == "medium"  # a first year on a month-to-month contract
    assert tuple(contract) == (
        "month_to_month",
        Decimal("29.85"),
        "electronic_check",
        Decimal("29.85"),
        "TEL-DSL",
    )
    with utility.storage.read() as conn:
        found = utility.reader.list(
            conn,
            "identifier",
            # kept as the search compares it: in capitals, without its hyphen
            where=[utility.storage.table("identifier").c.value == "7590VHVEG"],
            limit=2,
        )
    assert len(found) == 1 and found[0]["kind"] == "customer_number"

    again = run(utility, sample, "telco_customers.yaml")
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 300, 0)
