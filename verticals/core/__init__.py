"""The core CRM pack: accounts, contacts, products, opportunities and activities.

Hook implementations only; the objects are YAML in objects/, the demo data in demo.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from modeler.schema import PackInfo
from plugins import hookimpl

if TYPE_CHECKING:
    from framework.app import DemoContext

PACK = PackInfo(
    name="core",
    label="CRM",
    path=Path(__file__).parent,
    version="0.1.0",
    description="Accounts, contacts, products, opportunities and activities.",
)


@hookimpl
def ficha_packs() -> list[PackInfo]:
    return [PACK]


@hookimpl
def ficha_demo_data(context: DemoContext) -> None:
    if PACK.name in context.packs:
        from verticals.core.demo import fill

        fill(context)
