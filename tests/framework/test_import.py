"""The importer: mappings checked against the model, transforms, links by natural key,
child records, upsert by key and duplicates, dry runs, both modes, the error file, CSV
and XLSX — and the real data sets of docs/examples (Telco churn, Maven sales pipeline),
imported twice to show that a re-run changes nothing."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from framework.importing import Importer, load_mapping, mapping_from_dict
from framework.records import Actor
from modeler.problems import ModelError
from tests.conftest import ProjectFactory
from tests.samples import SHOP

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples" / "imports"
SHARED = ROOT.parent / "shared" / "data"
TELCO = SHARED / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
MAVEN = SHARED / "crm_sales_opportunities"


def write_csv(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def count(ficha: Any, name: str) -> int:
    with ficha.storage.read() as conn:
        return ficha.reader.count(conn, name).value


@pytest.fixture
def shop(sqlite_project: ProjectFactory) -> Any:
    return sqlite_project.migrated(SHOP)


def test_mapping_problems_name_the_place_and_suggest(shop: Any, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "object: customer\n"
        "key: [emial]\n"
        "mode: sometimes\n"
        "columns:\n"
        "  Name: nmae\n"
        "  Mail: {field: email, transform: lowercase}\n"
        "  Segment: {field: segment, lookup: name}\n"
    )
    with pytest.raises(ModelError) as caught:
        load_mapping(path, shop.model, tmp_path)
    text = str(caught.value)
    assert "m.yaml:2:" in text and "did you mean 'email'?" in text
    assert "nmae" in text and "did you mean 'name'?" in text
    assert "lowercase" in text and "did you mean 'lower'?" in text
    assert "mode must be one of" in text
    assert "'lookup' finds linked records" in text
    with pytest.raises(ModelError, match="unknown object 'custmer'"):
        mapping_from_dict({"object": "custmer", "columns": {}}, shop.model)


def test_upsert_links_transforms_duplicates_and_the_error_file(shop: Any, tmp_path: Path) -> None:
    shop.records.create("customer", {"name": "Acme", "email": "acme@example.com"})
    mapping = mapping_from_dict(
        {
            "object": "order",
            "columns": {
                "Customer": {"field": "customer", "lookup": "name"},
                "Qty": "quantity",
                "State": {"field": "status", "transform": "lower", "map": {"shipped": "sent"}},
            },
        },
        shop.model,
    )
    source = write_csv(
        tmp_path / "orders.csv",
        [
            ["Customer", "Qty", "State"],
            ["Acme", "2", "PAID"],
            ["Acme", "3", "Shipped"],
            ["Nobody", "1", "new"],
            ["Acme", "zero", "new"],
        ],
    )
    errors = tmp_path / "errors.csv"
    report = Importer(shop, mapping, error_file=errors).run(source)
    assert (report.created, report.failed) == (2, 2), report.errors
    messages = {e.row: e.message for e in report.errors}
    assert "no customer with name 'Nobody'" in messages[4]
    assert "not a whole number" in messages[5]
    with errors.open() as handle:
        refused = list(csv.reader(handle))
    assert refused[0][:4] == ["row", "column", "field", "error"]
    assert [r[0] for r in refused[1:]] == ["4", "5"] and refused[1][4:] == ["Nobody", "1", "new"]
    with shop.storage.read() as conn:
        statuses = sorted(r["status"] for r in shop.reader.list(conn, "order", limit=0))
    assert statuses == ["paid", "sent"]

    people = mapping_from_dict(
        {"object": "customer", "key": ["email"], "columns": {"Name": "name", "Email": "email"}},
        shop.model,
    )
    rows = [["Name", "Email"], ["Ana", "ana@example.com"], ["Ana bis", "ANA@example.com"]]
    source = write_csv(tmp_path / "people.csv", [*rows, ["Acme Ltd", "acme@example.com"]])
    report = Importer(shop, people).run(source)
    assert (report.created, report.updated, report.failed) == (1, 1, 1)
    assert "duplicate" in report.errors[0].message and report.errors[0].row == 3
    again = Importer(shop, people).run(source)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_dry_run_and_all_or_nothing_save_nothing(shop: Any, tmp_path: Path) -> None:
    mapping = mapping_from_dict(
        {"object": "product", "columns": {"Code": "code", "Name": "name"}}, shop.model
    )
    good = write_csv(tmp_path / "good.csv", [["Code", "Name"], ["A-1", "One"], ["A-2", "Two"]])
    dry = Importer(shop, mapping, dry_run=True).run(good)
    assert dry.created == 2 and "dry run" in dry.summary() and count(shop, "product") == 0
    bad = write_csv(tmp_path / "bad.csv", [["Code", "Name"], ["B-1", "One"], ["bad code", "x"]])
    atomic = Importer(shop, mapping, mode="all_or_nothing").run(bad)
    assert atomic.failed == 1 and atomic.rolled_back and count(shop, "product") == 0
    assert "nothing was saved" in atomic.summary()
    loose = Importer(shop, mapping).run(bad)
    assert loose.created == 1 and count(shop, "product") == 1


def test_children_from_several_columns_and_xlsx(shop: Any, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Customer", "Product", "Qty"])
    sheet.append(["Ana", None, None])
    sheet.append(["Luis", None, 4])
    path = tmp_path / "people.xlsx"
    book.save(path)
    mapping = mapping_from_dict(
        {
            "object": "customer",
            "key": ["name"],
            "columns": {"Customer": "name"},
            "children": [{"object": "order", "link": "customer", "columns": {"Qty": "quantity"}}],
        },
        shop.model,
    )
    report = Importer(shop, mapping).run(path)
    assert report.created == 2 and report.children == {"order": 1}
    again = Importer(shop, mapping).run(path)
    assert again.unchanged == 2 and again.children == {"order": 0}
    assert count(shop, "order") == 1


def test_a_refused_child_leaves_no_half_row(shop: Any, tmp_path: Path) -> None:
    mapping = mapping_from_dict(
        {
            "object": "customer",
            "columns": {"Customer": "name"},
            "children": [{"object": "order", "link": "customer", "columns": {"Qty": "quantity"}}],
        },
        shop.model,
    )
    source = write_csv(tmp_path / "c.csv", [["Customer", "Qty"], ["Ana", "2"], ["Luis", "-3"]])
    report = Importer(shop, mapping).run(source)
    assert report.created == 1 and report.failed == 1
    assert report.errors[0].field == "order.quantity"
    assert count(shop, "customer") == 1 and count(shop, "order") == 1


def test_cli_import_shows_a_summary(shop: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import cli

    source = write_csv(tmp_path / "p.csv", [["code", "name"], ["C-1", "Uno"], ["bad", "x"]])
    result = CliRunner().invoke(
        cli, ["import", str(source), "--object", "product", "-p", str(shop.settings.project_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "2 rows read, 1 created" in result.output and "1 refused" in result.output
    assert (tmp_path / "p.csv.errors.csv").exists()
    out = tmp_path / "products.xlsx"
    exported = CliRunner().invoke(
        cli, ["export", "product", "-o", str(out), "-p", str(shop.settings.project_dir)]
    )
    assert exported.exit_code == 0, exported.output
    from openpyxl import load_workbook

    rows = list(load_workbook(out, read_only=True).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("id", "Code", "Name") and rows[1][1:3] == ("C-1", "Uno")


# -- the real data sets --------------------------------------------------------------------


@pytest.fixture
def examples(tmp_path: Path) -> Any:
    if not SHARED.is_dir():
        pytest.skip(f"the shared data sets are not at {SHARED}")
    root = tmp_path / "examples"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns("data"))
    factory = ProjectFactory(root, f"sqlite:///{tmp_path / 'examples.sqlite'}")
    text = (
        (root / "ficha.yaml")
        .read_text()
        .replace("sqlite:///data/examples.sqlite", f"sqlite:///{tmp_path / 'examples.sqlite'}")
    )
    (root / "ficha.yaml").write_text(text)
    ficha = factory.migrated()
    yield ficha
    factory.close()


def run(ficha: Any, source: Path, mapping: str) -> Any:
    loaded = load_mapping(ficha.settings.project_dir / "mappings" / mapping, ficha.model)
    return Importer(ficha, loaded, Actor(None, "tests", "cli")).run(source)


@pytest.mark.slow
def test_telco_churn_customers_twice(examples: Any) -> None:
    first = run(examples, TELCO, "telco_customers.yaml")
    assert (first.rows, first.created, first.failed) == (7043, 7043, 0), first.errors[:3]
    assert first.children == {"contract": 7043}
    with examples.storage.read() as conn:
        table = examples.storage.table("contract")
        blank = conn.execute(
            sa.select(sa.func.count()).where(table.c.total_charges.is_(None))
        ).scalar_one()
    assert blank == 11  # the 11 customers in their first month: an empty total, not a crash
    second = run(examples, TELCO, "telco_customers.yaml")
    assert (second.created, second.updated, second.unchanged) == (0, 0, 7043)
    assert second.children == {"contract": 0}
    assert count(examples, "customer") == 7043 and count(examples, "contract") == 7043


@pytest.mark.slow
def test_maven_sales_pipeline_with_links_twice(examples: Any) -> None:
    steps = [
        ("accounts.csv", "sales_accounts.yaml", 85),
        ("accounts.csv", "sales_account_parents.yaml", 0),
        ("products.csv", "sales_products.yaml", 7),
        ("sales_teams.csv", "sales_agents.yaml", 35),
        ("sales_pipeline.csv", "sales_pipeline.yaml", 8800),
    ]
    for name, mapping, created in steps:
        report = run(examples, MAVEN / name, mapping)
        assert report.failed == 0 and report.created == created, (mapping, report.errors[:3])
    with examples.storage.read() as conn:
        deals = examples.storage.table("deal")
        linked = conn.execute(
            sa.select(sa.func.count()).where(deals.c.account_id.is_not(None))
        ).scalar_one()
        gtx_pro = examples.reader.list(
            conn, "deal", where=[deals.c.opportunity_id == "Z063OYW0"], limit=1
        )[0]
    assert linked == 8800 - 1425  # deals still prospecting have no account yet
    assert gtx_pro["product"].title == "GTX Pro"  # "GTXPro" in the file, mapped
    assert gtx_pro["agent"].title == "Darcel Schlecht" and gtx_pro["stage"] == "won"
    with examples.storage.read() as conn:
        audited = examples.audit.history(conn, "deal", gtx_pro.id)
    for name, mapping, _ in steps:
        again = run(examples, MAVEN / name, mapping)
        assert again.created == again.updated == again.failed == 0, mapping
    with examples.storage.read() as conn:
        assert len(examples.audit.history(conn, "deal", gtx_pro.id)) == len(audited)
    assert count(examples, "deal") == 8800
