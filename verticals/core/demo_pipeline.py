"""The public B2B sales pipeline (Maven Analytics' "CRM + Sales + Opportunities": 85
accounts, 7 products, 35 agents, 8,800 deals) loaded into the demo when
../shared/data/crm_sales_opportunities/ is there.

The agents become users (a username is made from the name) and the products catalogue
items through the records service; accounts and deals go through the importer
(framework/importing) with mappings declared here, as an admin would write them. The deals
get two derived columns the file lacks: a name ("GTX Pro for Cancity") and, for the lost
ones, a reason. Deals with no account (prospecting ones) are refused by the importer, as
the core pack requires an account on every opportunity, and counted.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.records import Actor

if TYPE_CHECKING:
    from framework.app import Ficha
    from framework.importing import ImportReport

log = logging.getLogger("ficha.demo")

IMPORT = Actor(None, "demo import", "import")
DATA = Path(
    os.environ.get("FICHA_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)
FOLDER = DATA / "crm_sales_opportunities"

ACCOUNTS = {
    "object": "account",
    "key": ["name"],
    "on_existing": "update",
    "columns": {
        "account": "name",
        "sector": {"field": "industry", "map": {"technolgy": "technology"}, "transform": "title"},
        "employees": "employees",
        "office_location": "country",
    },
    "constants": {"kind": "company", "segment": "enterprise"},
}
PARENTS = {
    "object": "account",
    "key": ["name"],
    "on_existing": "update",
    "columns": {"account": "name", "subsidiary_of": {"field": "parent", "lookup": "name"}},
}
DEALS = {
    "object": "opportunity",
    "key": ["external_ref"],
    "on_existing": "update",
    "columns": {
        "opportunity_id": "external_ref",
        "name": "name",
        "sales_agent": {"field": "owner", "lookup": "name"},
        "product": {"field": "product", "lookup": "name", "map": {"GTXPro": "GTX Pro"}},
        "account": {"field": "account", "lookup": "name"},
        "deal_stage": {"field": "stage", "map": {"Engaging": "qualification"}},
        "close_date": "expected_close",
        "close_value": "amount",
        "lost_reason": "lost_reason",
    },
    "constants": {"source": "import"},
}


def available() -> bool:
    return (FOLDER / "sales_pipeline.csv").is_file()


def import_pipeline(ficha: Ficha, *, limit: int | None = None) -> list[ImportReport]:
    """Load the pipeline (at most `limit` deals); nothing when the folder is missing."""
    if not available():
        log.info("no %s: the demo has no imported pipeline", FOLDER)
        return []
    _agents(ficha)
    _products(ficha)
    reports = [
        _run(ficha, ACCOUNTS, _sheet(FOLDER / "accounts.csv")),
        _run(ficha, PARENTS, _sheet(FOLDER / "accounts.csv")),
        _run(ficha, DEALS, _deals(FOLDER / "sales_pipeline.csv"), limit=limit),
    ]
    for report in reports:
        log.info("%s: %s", report.object, report.summary())
    return reports


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [
            {k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)
        ]


def username(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".")[:60]


def _agents(ficha: Ficha) -> None:
    """The agents and their managers as users: territory = the regional office."""
    rows = _rows(FOLDER / "sales_teams.csv")
    users = ficha.storage.table("user")
    with ficha.storage.read() as conn:
        existing = {r.name: r.id for r in conn.execute(users.select())}
    team = ficha.records.create("team", {"name": "Field sales (imported)"}, IMPORT)
    for manager in sorted({r["manager"] for r in rows}):
        if manager not in existing:
            existing[manager] = ficha.records.create(
                "user",
                {
                    "username": username(manager),
                    "name": manager,
                    "role": "sales_manager",
                    "team": team.id,
                    "territory": next(
                        r["regional_office"] for r in rows if r["manager"] == manager
                    ),
                },
                IMPORT,
            ).id
    for row in rows:
        if row["sales_agent"] not in existing:
            existing[row["sales_agent"]] = ficha.records.create(
                "user",
                {
                    "username": username(row["sales_agent"]),
                    "name": row["sales_agent"],
                    "role": "sales",
                    "team": team.id,
                    "manager": existing[row["manager"]],
                    "territory": row["regional_office"],
                },
                IMPORT,
            ).id


def _products(ficha: Ficha) -> None:
    table = ficha.storage.table("product")
    with ficha.storage.read() as conn:
        existing = {r.name for r in conn.execute(table.select())}
    for row in _rows(FOLDER / "products.csv"):
        if row["product"] in existing:
            continue
        ficha.records.create(
            "product",
            {
                "code": re.sub(r"[^A-Z0-9]+", "-", row["product"].upper()),
                "name": row["product"],
                "kind": "product",
                "family": "hardware",
                "price": row["sales_price"],
                "warranty_months": 24,
                "description": f"Series {row['series']}",
            },
            IMPORT,
        )


def _sheet(path: Path) -> Any:
    from framework.importing.sources import open_sheet

    return open_sheet(path)


def _deals(path: Path) -> Any:
    """The pipeline with the two derived columns: name and lost_reason."""
    from framework.importing.sources import Sheet

    rows = _rows(path)
    headers = [*rows[0].keys(), "name", "lost_reason"] if rows else []

    def cells() -> Iterator[tuple[int, list[Any]]]:
        for number, row in enumerate(rows, start=2):
            name = f"{row['product']} for {row['account'] or 'a prospect'}"
            reason = "Not recorded in the source" if row["deal_stage"] == "Lost" else ""
            yield number, [*row.values(), name, reason]

    return Sheet(headers, cells(), size=len(rows))


def _run(ficha: Ficha, spec: dict[str, Any], sheet: Any, limit: int | None = None) -> Any:
    from framework.importing import Importer, mapping_from_dict

    mapping = mapping_from_dict(spec, ficha.model)
    return Importer(ficha, mapping, IMPORT, limit=limit).run_sheet(sheet, spec["object"])
