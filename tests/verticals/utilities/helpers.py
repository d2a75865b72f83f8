"""Small builders for the utilities tests: each call makes records of its own (unique
codes), so tests never depend on what another test left in the shared database."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from typing import Any

_N = itertools.count(1)


def unique() -> int:
    return next(_N) * 100_000 + secrets.randbelow(100_000)


@dataclass
class Supply:
    account: int
    area: int
    premise: int
    supply_point: int
    meter: int
    product: int
    contract: int


def supply(ficha: Any, name: str = "Rosa Ruiz", *, holder: bool = True) -> Supply:
    """An area, a premise with an electricity supply point and a meter, a tariff, and a
    customer holding the supply under an active contract."""
    n = unique()
    create = ficha.records.create
    account = create("account", {"name": name, "kind": "person"})
    area = create("service_area", {"code": f"AREA-{n}", "name": f"District {n}"})
    premise = create("premise", {"address": f"Calle Feria {n}", "city": "Sevilla", "area": area.id})
    product = create(
        "product",
        {
            "code": f"TAR-{n}",
            "name": f"Tarifa {n}",
            "family": "tariff",
            "utility_service": "electricity",
            "unit": "kwh",
            "unit_price": "0.145000",
            "standing_charge": "4.50",
            "billing": "monthly",
        },
    )
    point = create(
        "supply_point",
        {
            "code": f"ES00210000{n:010d}AB",
            "premise": premise.id,
            "service": "electricity",
            "tariff": product.id,
            **({"account": account.id, "status": "connected"} if holder else {}),
        },
    )
    meter = create("meter", {"serial_number": f"MTR-{n}", "supply_point": point.id})
    contract = create(
        "contract",
        {
            "account": account.id,
            "product": product.id,
            "supply_point": point.id,
            "price": "45.00",
            "start_date": "2024-01-01",
            "term": "one_year",
        },
    )
    return Supply(account.id, area.id, premise.id, point.id, meter.id, product.id, contract.id)
