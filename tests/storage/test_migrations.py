"""`ficha migrate` on SQLite, PostgreSQL and MariaDB: from nothing to the model, then
additive changes, each kept as a revision file; what would lose data is refused before
anything is written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.migrations import MigrationRefused, migrate, plan
from tests.conftest import ProjectFactory
from tests.samples import CUSTOMER, ORDER, PRODUCT, SHOP


def tables(ficha) -> set[str]:
    with ficha.storage.read() as conn:
        return set(sa.inspect(conn).get_table_names())


def columns(ficha, table: str) -> set[str]:
    with ficha.storage.read() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def test_from_nothing_to_the_model(project: ProjectFactory) -> None:
    project.write(SHOP)
    ficha = project.load()
    first = plan(ficha.storage, ficha.settings.migrations_dir)
    described = [s.description for s in first.steps]
    assert "create customer (9 fields)" in described
    assert "create order (6 fields)" in described
    assert "full-text search on customer: name, email" in described
    assert not first.refused
    assert tables(ficha) == set()  # planning writes nothing
    _, applied = migrate(ficha.storage, ficha.settings.migrations_dir)
    assert len(applied) == 1
    assert {
        "customer",
        "product",
        "order",
        "ficha_meta",
        "ficha_counter",
        "ficha_alembic_version",
    } <= tables(ficha)
    assert {"id", "version", "created_at", "deleted_at", "name", "customer_id"} <= (
        columns(ficha, "order") | columns(ficha, "customer")
    )
    revision_files = list(ficha.settings.migrations_dir.glob("0001_*.py"))
    assert len(revision_files) == 1
    assert plan(ficha.storage, ficha.settings.migrations_dir).empty


def test_an_added_field_and_object_migrate_and_keep_the_data(project: ProjectFactory) -> None:
    ficha = project.migrated(
        {
            "customer": CUSTOMER.replace("  orders: {type: has_many, object: order}\n", ""),
            "product": PRODUCT,
        }
    )
    ana = ficha.records.create("customer", {"name": "Ana", "email": "ana@example.com"})
    with_vat = CUSTOMER.replace("list:\n", "  vat_number: {type: string, index: true}\nlist:\n")
    project.write({"customer": with_vat, "product": PRODUCT, "order": ORDER})
    ficha = project.load()
    steps = [s.description for s in plan(ficha.storage, ficha.settings.migrations_dir).steps]
    assert "add field customer.vat_number" in steps
    assert "create order (6 fields)" in steps
    migrate(ficha.storage, ficha.settings.migrations_dir)
    assert "vat_number" in columns(ficha, "customer")
    kept = ficha.records.get("customer", ana.id)
    assert kept["name"] == "Ana" and kept["vat_number"] is None
    ficha.records.update("customer", ana.id, {"vat_number": "B12345678"})
    order = ficha.records.create("order", {"customer": ana.id})
    assert order["customer"].title == "Ana"
    assert len(list(ficha.settings.migrations_dir.glob("*.py"))) == 2


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (
            lambda text: text.replace("  phone: {type: phone, index: true}\n", ""),
            "'customer.phone' is no longer in the YAML",
        ),
        (
            lambda text: text.replace(
                "credit_limit: {type: money, min: 0, max: 1000000}", "credit_limit: {type: integer}"
            ),
            "1 value(s) of customer.credit_limit do not convert to integer",
        ),
    ],
)
def test_destructive_changes_are_refused_and_nothing_is_written(
    project: ProjectFactory, change, refusal
) -> None:
    ficha = project.migrated(SHOP)
    ficha.records.create(
        "customer", {"name": "Ana", "phone": "600123456", "credit_limit": "1500.50"}
    )
    project.write({**SHOP, "customer": change(CUSTOMER)})
    ficha = project.load()
    before = sorted(ficha.settings.migrations_dir.glob("*.py"))
    current = plan(ficha.storage, ficha.settings.migrations_dir)
    assert any(refusal in (s.refused or "") for s in current.refused), current.steps
    with pytest.raises(MigrationRefused):
        migrate(ficha.storage, ficha.settings.migrations_dir)
    assert sorted(ficha.settings.migrations_dir.glob("*.py")) == before
    assert "phone" in columns(ficha, "customer")


def test_a_dropped_object_is_refused(project: ProjectFactory) -> None:
    ficha = project.migrated(SHOP)
    project.write(
        {
            "customer": CUSTOMER.replace("  orders: {type: has_many, object: order}\n", ""),
            "product": PRODUCT,
        }
    )
    ficha = project.load()
    refused = plan(ficha.storage, ficha.settings.migrations_dir).refused
    assert [s.kind for s in refused] == ["drop_table"]
    assert "order" in tables(ficha)


def test_tables_ficha_does_not_own_are_never_touched(project: ProjectFactory) -> None:
    ficha = project.migrated(SHOP)
    with ficha.storage.write() as conn:
        conn.execute(sa.text("CREATE TABLE legacy_invoices (id INTEGER PRIMARY KEY)"))
    again = plan(ficha.storage, ficha.settings.migrations_dir)
    assert again.empty, again.steps
    assert "legacy_invoices" in tables(ficha)


def test_revision_files_replay_on_another_database(project: ProjectFactory, tmp_path: Path) -> None:
    """Develop on SQLite, deploy elsewhere: the same revision files build the same schema."""
    dev = ProjectFactory(tmp_path / "dev", f"sqlite:///{tmp_path / 'dev.sqlite'}")
    dev.migrated(
        {
            "customer": CUSTOMER.replace("  orders: {type: has_many, object: order}\n", ""),
            "product": PRODUCT,
        }
    )
    dev.migrated(SHOP)
    dev.close()
    project.write(SHOP)
    shutil.copytree(
        tmp_path / "dev" / "migrations", project.root / "migrations", dirs_exist_ok=True
    )
    ficha = project.load()
    pending = plan(ficha.storage, ficha.settings.migrations_dir)
    assert len(pending.pending) == 2 and not pending.steps
    _, applied = migrate(ficha.storage, ficha.settings.migrations_dir)
    assert len(applied) == 2
    assert plan(ficha.storage, ficha.settings.migrations_dir).empty
    assert len(list(ficha.settings.migrations_dir.glob("*.py"))) == 2  # nothing new written
    ana = ficha.records.create("customer", {"name": "Ana Pérez"})
    with ficha.storage.read() as conn:
        found = ficha.reader.list(conn, "customer", search="perez")
    assert [r.id for r in found] == [ana.id]


def test_a_new_tables_indexes_are_made_with_it(
    project: ProjectFactory, backend: str, count_queries
) -> None:
    """MariaDB commits and syncs each DDL statement by itself: there a new table's indexes
    are added in one statement, elsewhere one each; all of them are in place."""
    project.write(SHOP)
    ficha = project.load()
    with count_queries(ficha.storage.engine) as counted:
        migrate(ficha.storage, ficha.settings.migrations_dir)
    wanted = {str(i.name) for i in ficha.storage.table("customer").indexes}
    with ficha.storage.read() as conn:
        found = {i["name"] for i in sa.inspect(conn).get_indexes("customer")}
    assert len(wanted) >= 3 and wanted <= found
    on_customer = re.compile(r"^(CREATE (UNIQUE )?INDEX \S+ ON|ALTER TABLE) [`\"]?customer\b")
    making = [
        s
        for s in counted.statements
        if on_customer.match(s.strip())
        and "INDEX" in s
        and not re.search(r"\b[\"`]?f[tp]_customer", s)  # search indexes, made apart
    ]
    assert len(making) == (1 if backend == "mariadb" else len(wanted)), making
