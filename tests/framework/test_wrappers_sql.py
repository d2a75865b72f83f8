"""An object backed by a table of another SQL database: its own URL, a column mapping
in the YAML, read-only or read-write. The Ficha database is each of SQLite, PostgreSQL
and MariaDB in turn; the legacy database is a SQLite file made by the test with raw SQL,
as a legacy system would have made it."""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from app_builder.security import COOKIE
from framework.app import create_app
from framework.errors import ValidationFailed
from modeler.problems import ModelError
from tests.conftest import ProjectFactory, make_user, session_cookie

CLIENTES = [
    ("Ana Ruiz", "Madrid", "120.50", "2001-03-04"),
    ("Luis Gil", "Sevilla", "0", "1999-12-31"),
    ("Marta Sanz", "Madrid", "3000", "2010-06-01"),
]


def legacy_database(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE CLIENTES (CLI_ID INTEGER PRIMARY KEY AUTOINCREMENT, "
            "NOMBRE VARCHAR(80) NOT NULL UNIQUE, CIUDAD VARCHAR(40), SALDO NUMERIC(12,2), "
            "F_ALTA DATE)"
        )
        db.executemany(
            "INSERT INTO CLIENTES (NOMBRE, CIUDAD, SALDO, F_ALTA) VALUES (?, ?, ?, ?)", CLIENTES
        )
    db.close()
    return path


def wrapped(url: str, read_only: bool = False) -> str:
    return f"""
        object: old_customer
        label: Old customer
        source:
          kind: sql
          url: "{url}"
          table: CLIENTES
          key: CLI_ID
          columns: {{name: NOMBRE, city: CIUDAD, balance: SALDO, since: F_ALTA}}
          read_only: {"true" if read_only else "false"}
          system: the old billing database
        title: name
        fields:
          name: {{type: string, required: true, search: true}}
          city: {{type: string, filter: true}}
          balance: {{type: money}}
          since: date
        validations:
          - check: balance == null or balance >= 0
            message: a balance cannot be negative
            field: balance
        list:
          columns: [name, city, balance]
          sort: [name]
        """


NOTE = """
object: note
fields:
  text: {type: string, required: true}
  customer_code: integer
"""


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    return legacy_database(tmp_path / "legacy.sqlite")


def rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        found = db.execute(
            "SELECT CLI_ID, NOMBRE, CIUDAD, SALDO FROM CLIENTES ORDER BY 1"
        ).fetchall()
    db.close()
    return found


def test_reads_filters_and_writes_go_to_the_legacy_table(
    project: ProjectFactory, legacy: Path
) -> None:
    ficha = project.migrated({"old_customer": wrapped(f"sqlite:///{legacy}"), "note": NOTE})
    # no table was made for the wrapped object in Ficha's database
    assert "old_customer" not in sa.inspect(ficha.storage.engine).get_table_names()
    assert "note" in sa.inspect(ficha.storage.engine).get_table_names()

    shape = ficha.storage.table("old_customer")
    with ficha.storage.read() as conn:
        everyone = ficha.reader.list(conn, "old_customer")
        madrid = ficha.reader.list(conn, "old_customer", where=[shape.c.city == "Madrid"])
        found = ficha.reader.list(conn, "old_customer", search="sanz")
        count = ficha.reader.count(conn, "old_customer", where=[shape.c.balance > 100])
        one = ficha.reader.get(conn, "old_customer", 2)
    assert [r["name"] for r in everyone] == ["Ana Ruiz", "Luis Gil", "Marta Sanz"]
    assert [r["name"] for r in madrid] == ["Ana Ruiz", "Marta Sanz"]
    assert [r.id for r in found] == [3]
    assert count.value == 2 and count.exact
    assert one is not None and one["name"] == "Luis Gil"
    assert one["since"] == dt.date(1999, 12, 31)
    assert one["balance"] == decimal.Decimal("0")

    created = ficha.records.create(
        "old_customer", {"name": "Pablo Ortiz", "city": "Bilbao", "balance": "15.25"}
    )
    assert created.id == 4 and created["city"] == "Bilbao"
    ficha.records.update("old_customer", 4, {"city": "Vitoria"})
    ficha.records.delete("old_customer", 1)
    assert rows(legacy) == [
        (2, "Luis Gil", "Sevilla", 0),
        (3, "Marta Sanz", "Madrid", 3000),
        (4, "Pablo Ortiz", "Vitoria", 15.25),
    ]
    # the change is in the history like any other
    with ficha.storage.read() as conn:
        history = ficha.audit.history(conn, "old_customer", 4)
    assert [h.action for h in history][:2] == ["update", "create"] or len(history) == 2


def test_bad_values_and_legacy_refusals_are_clear_and_change_nothing(
    project: ProjectFactory, legacy: Path
) -> None:
    ficha = project.migrated({"old_customer": wrapped(f"sqlite:///{legacy}")})
    before = rows(legacy)
    with pytest.raises(ValidationFailed) as negative:  # a validation, evaluated on the record
        ficha.records.create("old_customer", {"name": "Neg", "balance": "-5"})
    assert negative.value.errors == {"balance": "a balance cannot be negative"}
    with pytest.raises(ValidationFailed) as missing:
        ficha.records.create("old_customer", {"city": "Lugo"})
    assert missing.value.errors == {"name": "is required"}
    with pytest.raises(ValidationFailed) as duplicate:  # the legacy UNIQUE constraint
        ficha.records.create("old_customer", {"name": "Ana Ruiz"})
    assert "the legacy system the old billing database refused the change" in str(
        duplicate.value.errors["__all__"]
    )
    assert rows(legacy) == before


def test_a_read_only_wrapper_refuses_writes(project: ProjectFactory, legacy: Path) -> None:
    ficha = project.migrated({"old_customer": wrapped(f"sqlite:///{legacy}", read_only=True)})
    with pytest.raises(ValidationFailed, match="read-only here: they live in the legacy"):
        ficha.records.update("old_customer", 1, {"city": "Toledo"})
    with pytest.raises(ValidationFailed, match="read-only"):
        ficha.records.create("old_customer", {"name": "Nuevo"})
    assert rows(legacy)[0][2] == "Madrid"


def test_a_legacy_database_that_is_down_is_named_in_the_error(
    sqlite_project: ProjectFactory, tmp_path: Path
) -> None:
    from storage.sources import LegacyUnavailable

    missing = tmp_path / "gone" / "legacy.sqlite"  # a folder that does not exist
    ficha = sqlite_project.migrated({"old_customer": wrapped(f"sqlite:///{missing}")})
    with ficha.storage.read() as conn, pytest.raises(LegacyUnavailable) as down:
        ficha.reader.list(conn, "old_customer")
    assert str(down.value).startswith(
        "the legacy system the old billing database is not reachable: "
    )
    health = ficha.services.health("legacy.old_customer")
    assert not health.ok and "not reachable" in health.detail


def test_mistakes_in_the_source_are_reported_at_their_line(
    sqlite_project: ProjectFactory,
) -> None:
    sqlite_project.write(
        {
            "old_customer": """
                object: old_customer
                source:
                  kind: sql
                  url: sqlite:///x.db
                  tabel: CLIENTES
                  columns: {nmae: NOMBRE}
                fields:
                  name: string
                  owner: {type: link, object: user}
                """,
            "note": """
                object: note
                fields:
                  about: {type: link, object: old_customer}
                """,
        }
    )
    with pytest.raises(ModelError) as model_error:
        sqlite_project.load()
    text = str(model_error.value)
    assert "objects/old_customer.yaml:7:13: the source maps unknown field 'nmae'" in text
    assert "did you mean 'name'" in text
    assert "objects/old_customer.yaml:10:3: field 'owner' is a link relation" in text
    assert "objects/note.yaml:4:3: field 'about' links to 'old_customer'" in text

    sqlite_project.write(
        {
            "old_customer": """
                object: old_customer
                source:
                  kind: sql
                  url: sqlite:///x.db
                  tabel: CLIENTES
                fields:
                  name: string
                """
        }
    )
    with pytest.raises(ModelError) as option_error:
        sqlite_project.load()
    text = str(option_error.value)
    assert "objects/old_customer.yaml:4:3: a 'sql' source needs 'table:'" in text
    assert "objects/old_customer.yaml:6:3: unknown key 'tabel' in a 'sql' source" in text
    assert "did you mean 'table'" in text


@pytest.fixture
def client(project: ProjectFactory, legacy: Path) -> Iterator[tuple[TestClient, object]]:
    ficha = project.migrated({"old_customer": wrapped(f"sqlite:///{legacy}"), "note": NOTE})
    make_user(ficha)
    app = create_app(ficha.settings, ficha=ficha)
    with TestClient(app) as test_client:
        test_client.cookies.set(COOKIE, session_cookie(ficha))
        yield test_client, ficha


def test_screens_and_api_show_and_change_the_legacy_records(
    client: tuple[TestClient, object], legacy: Path
) -> None:
    http, _ficha = client
    listing = http.get("/admin/old_customer/list")
    assert listing.status_code == 200
    assert "Marta Sanz" in listing.text and "Sevilla" in listing.text
    filtered = http.get("/admin/old_customer/list", params={"q": "ruiz"})
    assert "Ana Ruiz" in filtered.text and "Marta Sanz" not in filtered.text
    detail = http.get("/admin/old_customer/detail?pk=3")
    assert detail.status_code == 200 and "Marta Sanz" in detail.text
    assert http.get("/admin/old_customer/edit?pk=3").status_code == 200

    api = http.get("/api/v1/old_customer", params={"sort": "-balance"})
    assert api.status_code == 200, api.text
    assert [r["name"] for r in api.json()["data"]] == ["Marta Sanz", "Ana Ruiz", "Luis Gil"]
    one = http.get("/api/v1/old_customer/1")
    assert one.status_code == 200 and one.json()["city"] == "Madrid"
    made = http.post("/api/v1/old_customer", json={"name": "Eva Paz", "city": "Cádiz"})
    assert made.status_code == 201, made.text
    assert rows(legacy)[-1][1:3] == ("Eva Paz", "Cádiz")
    refused = http.post("/api/v1/old_customer", json={"name": "Neg", "balance": -1})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "balance", "detail": "a balance cannot be negative"}
    ]
