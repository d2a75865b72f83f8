"""The records service's batch path (`write_many`, what imports and bulk API calls use)
against the single-record path, on SQLite, PostgreSQL and MariaDB: the same rows are
refused for the same reasons, the same values are kept, and the audit trail written a
batch at a time reads as single writes' does — in a record's history, in a person's data
export and after an erasure."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framework.batch import BatchWriter
from framework.errors import ValidationFailed
from framework.importing import Importer, mapping_from_dict
from framework.privacy import ERASED, erase_person, export_person
from framework.records import Actor
from plugins import hookimpl
from tests.conftest import ProjectFactory

FIELDS = """
label: Item
title: code
fields:
  code: {type: string, required: true, unique: true, max_length: 8}
  name: string
  note: text
  qty: {type: integer, min: 0, max: 1000}
  price: {type: money, min: 0}
  rate: {type: decimal, scale: 3, precision: 6}
  share: percent
  since: {type: date, min: "2000-01-01"}
  active: {type: boolean, default: true}
  stage: {type: choice, values: {new: New, open: Open, won: Won}}
  email: {type: email, personal: true}
  ref: {type: string, pattern: "[A-Z]{2}-[0-9]+"}
"""
#: two objects alike: one written a row at a time, the other in one batch
TWINS = {"item": "object: item\n" + FIELDS, "twin": "object: twin\n" + FIELDS}

ROWS: list[dict[str, Any]] = [
    {"code": "A1", "qty": "3", "price": "10.5", "since": "2024-02-29", "stage": "Open"},
    {"code": " A2 ", "name": " padded ", "qty": "1,000", "price": "1.005", "active": "no"},
    {"code": "A3", "rate": "123.4567", "share": "12.5%", "since": "29/02/2024", "stage": "won"},
    {"code": "A4", "qty": "-1"},  # below the minimum
    {"code": "A5", "qty": "1001", "price": "-0.01"},  # two fields refused at once
    {"code": "A6", "qty": "3.5"},  # not a whole number
    {"code": "A7", "rate": "1234.5"},  # more digits than the precision
    {"code": "A8", "since": "1999-12-31"},  # before the minimum
    {"code": "A9", "since": "2024-13-01"},  # not a date
    {"code": "TOO-LONG-CODE"},
    {"code": "B1", "name": "x" * 256},  # a string past 255 characters
    {"code": "B2", "note": "line one\r\nline two " + "y" * 300},  # a text may be long
    {"code": "B3", "stage": "closed"},
    {"code": "B4", "active": "maybe"},
    {"code": "B5", "email": "ANA@Example.com", "ref": "AB-12"},
    {"code": "B6", "email": "not an email"},
    {"code": "B7", "ref": "ab-12"},
    {"code": "", "qty": "2"},  # the required code is blank
    {"qty": "2"},  # and missing
    {"code": "B8", "colour": "red"},  # no such field
    {
        "code": "B9",
        "qty": 7,
        "price": 12,
        "rate": 1.25,
        "active": True,
        "since": dt.date(2020, 1, 1),
    },
    {"code": "C1", "qty": "", "price": "  ", "since": None, "stage": ""},  # blanks are empty
    {"code": "C2", "qty": "١٢"},  # digits of another script
    {"code": "C3", "price": "999999999999999.995"},
    {"code": "C4", "share": "0.12345", "rate": "-0.0005"},
    {"code": "C5", "since": "20240101", "qty": "+5"},
]


def single_writes(ficha: Any, rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Each row created on its own: what it was refused for ({} when it was saved)."""
    refusals = []
    for row in rows:
        try:
            ficha.records.create("twin", row)
            refusals.append({})
        except ValidationFailed as exc:
            refusals.append(dict(exc.errors))
    return refusals


def stored(ficha: Any, name: str) -> list[dict[str, Any]]:
    kept = ("id", "created_at", "updated_at", "created_by", "updated_by")
    with ficha.storage.read() as conn:
        records = ficha.reader.list(conn, name, limit=0, sort=())
    return [{k: v for k, v in r.items() if k not in kept} for r in records]


def histories(ficha: Any, name: str) -> list[list[tuple[str, str, dict[str, Any]]]]:
    with ficha.storage.read() as conn:
        ids = [r["id"] for r in ficha.reader.list(conn, name, limit=0, sort=())]
        return [
            [(e.action, e.actor_name, dict(e.changes)) for e in ficha.audit.history(conn, name, i)]
            for i in ids
        ]


#: the same rows, each naming every field (as an import's rows do): read a column at a time
NAMES = dict.fromkeys(n for row in ROWS for n in row if n != "colour")
SAME_FIELDS = [{n: row.get(n) for n in NAMES} for row in ROWS]


@pytest.mark.parametrize("rows", [ROWS, SAME_FIELDS], ids=["mixed", "same_fields"])
def test_a_batch_refuses_and_keeps_what_single_writes_do(
    project: ProjectFactory, rows: list[dict[str, Any]]
) -> None:
    ficha = project.migrated(TWINS)
    expected = single_writes(ficha, rows)
    assert sum(1 for e in expected if not e) >= 10, expected  # the sample saves many rows
    results = ficha.records.write_many("item", rows)
    assert [dict(r.errors) for r in results] == expected
    assert [r.action for r in results] == ["failed" if e else "created" for e in expected]
    assert stored(ficha, "item") == stored(ficha, "twin")
    assert histories(ficha, "item") == histories(ficha, "twin")
    item = {r["code"]: r for r in stored(ficha, "item")}
    assert item["A2"]["qty"] == 1000 and item["A2"]["price"] == Decimal("1.01")
    assert item["A3"]["share"] == Decimal("12.5000") and item["A3"]["since"] == dt.date(2024, 2, 29)
    assert item["A1"]["active"] is (True if rows is ROWS else None)  # a default, or left empty


def test_a_batch_upserts_by_key_and_a_second_run_changes_nothing(project: ProjectFactory) -> None:
    ficha = project.migrated(TWINS)
    rows = [{"code": f"K{i}", "qty": str(i), "stage": "New"} for i in range(1, 8)]
    first = ficha.records.write_many("item", rows, key=["code"])
    assert [r.action for r in first] == ["created"] * 7
    rows[2] = {**rows[2], "qty": "30"}
    rows[4] = {**rows[4], "qty": "-5"}  # refused, and the record keeps its value
    again = ficha.records.write_many("item", rows, key=["code"])
    assert [r.action for r in again] == ["unchanged"] * 2 + ["updated", "unchanged", "failed"] + [
        "unchanged"
    ] * 2
    assert again[4].errors == {"qty": "must be at least 0"}
    assert [r.id for r in again[:4]] == [r.id for r in first[:4]]
    third = ficha.records.write_many("item", rows[:4], key=["code"])
    assert [r.action for r in third] == ["unchanged"] * 4
    with ficha.storage.read() as conn:
        history = ficha.audit.history(conn, "item", int(first[2].id or 0))
    assert [(e.action, e.version) for e in history] == [("updated", 2), ("created", 1)]
    assert history[0].changes == {"qty": (3, 30)}
    # a key of two fields, one a date
    pairs = [{"code": f"P{i}", "name": "pair", "since": f"2024-01-0{i}"} for i in (1, 2)]
    made = ficha.records.write_many("twin", pairs, key=["name", "since"])
    pairs[1] = {**pairs[1], "code": "P2B"}
    found = ficha.records.write_many("twin", pairs, key=["name", "since"])
    assert [(r.action, r.id) for r in found] == [("unchanged", made[0].id), ("updated", made[1].id)]


def test_a_batch_of_empty_rows_creates_records_with_their_defaults(
    project: ProjectFactory,
) -> None:
    ficha = project.migrated({"note": "object: note\nfields:\n  text: string\n"})
    empty = ficha.records.write_many("note", [{}, {}])
    mixed = ficha.records.write_many("note", [{}, {"text": ""}])
    assert [r.action for r in empty + mixed] == ["created"] * 4
    assert stored(ficha, "note") == [
        {"text": None, "version": 1, "deleted_at": None} for _ in range(4)
    ]


PAIRS = {
    "crew": "object: crew\ntitle: name\nfields:\n  name: string\n",
    "member": """
        object: member
        fields:
          name: string
          team: {type: link, object: crew}
        unique:
          - [name, team]
        """,
    "mate": """
        object: mate
        label: Member
        fields:
          name: string
          team: {type: link, object: crew}
        unique:
          - [name, team]
        """,
}


def test_a_unique_combination_is_refused_as_single_writes_refuse_it(
    project: ProjectFactory,
) -> None:
    ficha = project.migrated(PAIRS)
    north, south = (ficha.records.create("crew", {"name": n}).id for n in ("North", "South"))
    for name in ("member", "mate"):
        ficha.records.create(name, {"name": "Ana", "team": north})
    rows = [
        {"name": "Ana", "team": north},  # taken
        {"name": "Ana", "team": south},  # another team: fine
        {"name": "Ana"},  # no team: an empty part never clashes
        {"name": "Bea", "team": str(north)},
    ]
    expected = []
    for row in rows:
        try:
            ficha.records.create("mate", row)
            expected.append({})
        except ValidationFailed as exc:
            expected.append(dict(exc.errors))
    assert expected[0] == {
        "name": "member #1 already has this name and team; "
        "the name and team together must be unique"
    }
    results = ficha.records.write_many("member", rows)
    assert [dict(r.errors) for r in results] == expected
    again = ficha.records.write_many("member", [{"name": "Cid", "team": south}] * 2)
    assert again[1].errors == {
        "name": "the same name and team as row 1 of this batch; "
        "the name and team together must be unique"
    }
    by_key = ficha.records.write_many(
        "member",
        [{"name": "Bea", "team": north}, {"name": "Ana", "team": south}],
        key=["name", "team"],
    )
    assert [r.action for r in by_key] == ["unchanged", "unchanged"]  # itself is no clash


def test_a_key_used_by_a_deleted_record_or_twice_is_refused(project: ProjectFactory) -> None:
    ficha = project.migrated(TWINS)
    gone = ficha.records.create("item", {"code": "GONE"})
    ficha.records.delete("item", gone["id"])
    rows = [{"code": "GONE"}, {"code": "NEW"}, {"code": "NEW"}, {"code": "Z9"}]
    results = ficha.records.write_many("item", rows, key=["code"])
    assert [r.action for r in results] == ["failed", "created", "failed", "created"]
    assert results[0].errors == {
        "code": f"'GONE' is already used by item #{gone['id']} (a deleted record: restore it "
        "or change its value)"
    }
    assert results[2].errors == {"__all__": "the same code as row 2 of this batch"}
    plain = ficha.records.write_many("item", [{"code": "Z9"}, {"code": "Y1"}, {"code": "Y1"}])
    assert plain[0].errors == {"code": f"'Z9' is already used by item #{results[3].id}"}
    assert plain[2].errors == {"code": "'Y1' is also in row 2 of this batch"}


def test_an_imported_persons_history_is_exported_and_erased(project: ProjectFactory) -> None:
    ficha = project.migrated(TWINS)
    source = project.root / "items.csv"
    source.write_text("Code,Mail,Qty\nP1,ana@example.com,2\nP2,luis@example.com,4\n")
    mapping = mapping_from_dict(
        {"object": "item", "key": ["code"], "columns": {"Code": "code", "Mail": "email"}},
        ficha.model,
    )
    report = Importer(ficha, mapping, Actor(None, "importer", "import")).run(Path(source))
    assert (report.created, report.failed) == (2, 0), report.errors
    with ficha.storage.read() as conn:
        table = ficha.storage.table("item")
        [ana] = ficha.reader.list(conn, "item", where=[table.c.code == "P1"], limit=0)
    exported = export_person(ficha.records, "item", ana["id"])
    [created] = exported["history"]
    assert (created["action"], created["by"], created["channel"]) == (
        "created",
        "importer",
        "import",
    )
    assert created["changes"]["email"] == (None, "ana@example.com")
    assert created["changes"]["code"] == (None, "P1")
    erase_person(ficha.records, "item", ana["id"], Actor(None, "dpo", "screen"))
    with ficha.storage.read() as conn:
        history = ficha.audit.history(conn, "item", ana["id"])
    assert [e.action for e in history] == ["erased", "created"]
    assert history[1].changes["email"] == (ERASED, ERASED)
    assert history[1].changes["code"] == (None, "P1")


def test_a_csv_and_the_same_workbook_import_alike(project: ProjectFactory) -> None:
    """A CSV's text cells take a shorter way from cell to value than a workbook's: both
    give the same records (blanks, padding, defaults, constants, short rows)."""
    from openpyxl import Workbook

    ficha = project.migrated(TWINS)
    rows = [
        ["Code", "Name", "Qty", "Stage"],
        ["A1", " Ana ", "3", "Open"],
        ["A2", "", "4", ""],
        ["A3"],
        ["A4", "  ", "", " won "],
        ["A5", "Luis", "x", "New"],
    ]
    csv_file = project.root / "items.csv"
    csv_file.write_text("\n".join(",".join(r) for r in rows) + "\n")
    book = Workbook()
    for r in rows:
        book.active.append(r)
    book.save(project.root / "items.xlsx")
    for name, source in (("item", csv_file), ("twin", project.root / "items.xlsx")):
        mapping = mapping_from_dict(
            {
                "object": name,
                "key": ["code"],
                "constants": {"note": "imported"},
                "columns": {
                    "Code": "code",
                    "Name": {"field": "name", "default": "unnamed"},
                    "Qty": "qty",
                    "Stage": "stage",
                },
            },
            ficha.model,
        )
        report = Importer(ficha, mapping).run(source)
        assert (report.created, report.failed) == (4, 1), report.errors
        assert [(e.row, e.field) for e in report.errors] == [(6, "qty")]
    assert stored(ficha, "item") == stored(ficha, "twin")
    item = {r["code"]: r for r in stored(ficha, "item")}
    assert (item["A1"]["name"], item["A2"]["name"], item["A3"]["name"]) == (
        "Ana",
        "unnamed",
        "unnamed",
    )
    assert (item["A3"]["qty"], item["A4"]["stage"], item["A4"]["note"]) == (None, "won", "imported")


def test_each_audit_row_of_a_batch_names_its_record(project: ProjectFactory) -> None:
    ficha = project.migrated(TWINS)
    results = ficha.records.write_many("item", [{"code": f"R{i}"} for i in range(1200)])
    audit = ficha.storage.tables.system["audit"]
    with ficha.storage.read() as conn:
        rows = conn.execute(
            sa.select(audit.c.record_id, audit.c.action, audit.c.version, audit.c.changes)
            .where(audit.c.object == "item")
            .order_by(audit.c.id)
        ).all()
    assert [r.record_id for r in rows] == [r.id for r in results]
    assert {(r.action, r.version) for r in rows} == {("created", 1)}
    assert [r.changes["code"] for r in rows] == [[None, f"R{i}"] for i in range(1200)]


class Watcher:
    """A plugin observing writes both ways."""

    def __init__(self) -> None:
        self.writes: list[list[tuple[str, str]]] = []
        self.events: list[str] = []

    @hookimpl
    def ficha_record_events(self, events: Any) -> None:
        self.writes.append([(e.kind, e.record["code"]) for e in events])

    @hookimpl
    def ficha_record_event(self, event: Any) -> None:
        self.events.append(event.record["code"])


def test_plugins_hear_of_a_batch_once_and_of_each_record(project: ProjectFactory) -> None:
    ficha = project.migrated(TWINS)
    watcher = Watcher()
    ficha.pm.register(watcher)
    ficha.records.write_many("item", [{"code": "W1"}, {"code": "W2"}, {"qty": "1"}])
    one = ficha.records.create("item", {"code": "W3"})
    ficha.records.update("item", one["id"], {"qty": "2"})
    assert watcher.writes == [
        [("created", "W1"), ("created", "W2")],
        [("created", "W3")],
        [("updated", "W3")],
    ]
    assert watcher.events == ["W1", "W2", "W3", "W3"]


# -- the batch's conversions against the single path's, for any cell ------------------------

CELLS = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"\s?[+-]?[0-9]{1,18}([.,][0-9]{0,6})?%?\s?", fullmatch=True),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}", fullmatch=True),
    st.sampled_from(["new", "New", "NEW", " won", "Open ", "", " ", "\t"]),
    st.sampled_from(["yes", "No", "TRUE", "Sí", "SÍ", "sI", "On", " y", "X", "0", "2", "nope"]),
)


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("batch")
    factory = ProjectFactory(root / "proj", f"sqlite:///{root / 'items.sqlite'}")
    yield factory.load() if factory.write(TWINS) else None
    factory.close()


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["code", "qty", "price", "rate", "share", "since", "stage", "active"]),
    cell=CELLS,
)
def test_each_cell_is_read_as_a_single_write_reads_it(items: Any, name: str, cell: str) -> None:
    service = items.records
    f = items.model["item"].fields[name]
    try:
        value = service._coerce(f, cell)
        single: Any = ("value", value)
        message = None if value is None else service._constraint_error(f, value)
        if message:
            single = ("refused", message)
    except ValueError as exc:
        single = ("refused", str(exc))
    plan = BatchWriter(service, items.model["item"], Actor()).plans[name]
    try:
        batch: Any = ("value", plan.convert(cell))
    except ValueError as exc:
        batch = ("refused", str(exc))
    assert batch == single
    if single[0] == "value" and single[1] is not None:
        assert type(batch[1]) is type(single[1]) and str(batch[1]) == str(single[1])


def test_the_audit_text_of_a_batch_is_what_json_writes() -> None:
    from framework.audit import _default, dumps
    from storage.queries import LinkRef

    changes = {
        "name": (None, "Ana “la” López\n\\"),
        "qty": (1, 2),
        "rate": (0.1, float("inf")),
        "price": (Decimal("1.50"), Decimal("-0.00")),
        "since": (dt.date(999, 1, 2), dt.datetime(2024, 2, 29, 23, 59, 1)),
        "active": (True, False),
        "tags": ([], ["vip", "x"]),
        "owner": (LinkRef(3, "Ana", "user"), None),
    }
    written = json.JSONEncoder(default=_default, separators=(", ", ": ")).encode(changes)
    assert dumps(changes) == written
    assert json.loads(written)["owner"] == [3, None]
    with pytest.raises(TypeError, match="cannot store object in the audit trail"):
        dumps({"x": (None, object())})


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["code", "qty", "price", "rate", "share", "since", "stage", "active"]),
    cells=st.lists(st.one_of(CELLS, st.none(), st.integers(-5, 2000)), max_size=8),
)
def test_a_column_of_cells_is_read_as_each_cell_is(items: Any, name: str, cells: list[Any]) -> None:
    plan = BatchWriter(items.records, items.model["item"], Actor()).plans[name]
    expected_values: list[Any] = []
    expected_refusals: dict[int, str] = {}
    for i, cell in enumerate(cells):
        try:
            expected_values.append(plan.convert(cell))
        except ValueError as exc:
            expected_refusals[i] = str(exc)
            expected_values.append("refused")
    values, refused = plan.column(cells)
    assert refused == expected_refusals
    read = [("refused" if i in refused else v) for i, v in enumerate(values)]
    assert [(type(v), str(v)) for v in read] == [(type(v), str(v)) for v in expected_values]
