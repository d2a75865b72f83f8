"""The banking pack: a retail bank's customers on top of the core CRM.

KYC status and review, bank products (current accounts, cards, loans, mortgages) held
as contracts, mortgage simulations made on the web that reach the customer's personal
manager the next day, complaints with their regulatory answer deadline, and the
telemarketing campaign calls of the bank-marketing data set. Hook implementations only;
the objects are YAML in objects/, the mortgage payment in actions.py, the `iban` field
type in iban.py, the demo in demo.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modeler.schema import PackInfo
from plugins import hookimpl

if TYPE_CHECKING:
    from framework.actions import ActionContext
    from framework.app import DemoContext
    from modeler.fieldtypes import FieldType

PACK = PackInfo(
    name="banking",
    label="Banking",
    path=Path(__file__).parent,
    version="0.1.0",
    description="KYC, bank products, mortgage simulations, complaints and campaign calls.",
    requires=("core",),
)


@hookimpl
def ficha_packs() -> list[PackInfo]:
    return [PACK]


@hookimpl
def ficha_field_types() -> list[FieldType]:
    from verticals.banking.iban import IBAN

    return [IBAN]


@hookimpl
def ficha_actions() -> dict[str, Callable[[ActionContext], Any]]:
    from verticals.banking.actions import mortgage_payment

    return {"mortgage_payment": mortgage_payment}


# After core's demo (trylast): the customers and the managers must exist first.
@hookimpl(trylast=True)
def ficha_demo_data(context: DemoContext) -> None:
    if PACK.name in context.packs:
        from verticals.banking.demo import fill

        fill(context)
