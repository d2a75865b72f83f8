"""The utilities pack: an energy, water or telecom provider on top of the core CRM.

Premises and supply points, meters and readings, tariffs and plans, move-in and move-out,
outages by area with incident reports, billing disputes, service orders and a churn risk.
Hook implementations only; the objects are YAML in objects/, the import mappings in
mappings/, the demo data in demo.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from modeler.schema import PackInfo
from plugins import hookimpl

if TYPE_CHECKING:
    from framework.app import DemoContext

PACK = PackInfo(
    name="utilities",
    label="Utilities",
    path=Path(__file__).parent,
    version="0.1.0",
    description="Premises, supply points, meters, tariffs, moves, outages and disputes.",
    requires=("core",),
)


@hookimpl
def ficha_packs() -> list[PackInfo]:
    return [PACK]


# After core's demo (trylast): the customers and the catalogue must exist first.
@hookimpl(trylast=True)
def ficha_demo_data(context: DemoContext) -> None:
    if PACK.name in context.packs:
        from verticals.utilities.demo import fill

        fill(context)
