"""Safe schema evolution, end to end: twenty successive changes of the model of a populated
database (10,000 records per object) on SQLite, PostgreSQL and MariaDB.

After every migration each row of each object is compared with what the test expects:
the values as they were, changed only as the change declared (a rename keeps them, a
conversion converts them, a mapping maps them, --coerce null empties what does not
convert). The expectations are computed here in plain Python, independently of the SQL
that converts the data.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import phonenumbers
import pytest
import sqlalchemy as sa

from storage.migrations import MigrationRefused, Options, migrate, plan
from tests.conftest import ProjectFactory

pytestmark = pytest.mark.slow

ROWS = 10_000
CITIES = [f"City {n}" for n in range(50)]
Rows = dict[int, dict[str, Any]]


# -- the data loaded before the first change --------------------------------------------------


def account_row(i: int) -> dict[str, Any]:
    return {
        "name": f"Account {i}",
        "code": f"C{i:05d}",
        "employees": (
            "n/a"
            if i % 97 == 0
            else "twelve"
            if i % 101 == 0
            else ""
            if i % 13 == 0
            else f" {i % 500} "
            if i % 7 == 0
            else str(i % 500)
        ),
        "revenue": None if i % 11 == 0 else i * 10,
        "founded": (
            None
            if i % 17 == 0
            else "2023-02-30"
            if i % 89 == 0
            else f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1950 + i % 70}"
            if i % 3 == 0
            else f"{1950 + i % 70}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        ),
        "sector": ["Retail", "retail", "BANKING", "Industry", "other", None][i % 6],
        "notes": None if i % 9 == 0 else "x" * 60 if i % 50 == 0 else f"note {i}",
        "size": ["s", "m", "l", None][i % 4],
        "legacy": f"L{i}",
        "city": "Atlantis" if i % 211 == 0 else CITIES[i % len(CITIES)],
    }


def contact_row(i: int) -> dict[str, Any]:
    return {
        "full_name": f"Person {i}",
        "email": "dup@example.com" if i % 1000 == 0 else f"p{i}@example.com",
        "phone": (
            f"6{i:08d}"
            if i % 3 == 0
            else f"+34 6{i:08d}"
            if i % 3 == 1
            else ("bad" if i % 300 == 2 else None)
        ),
        "status": ["new", "open", "closed"][i % 3],
        "account_id": None if i % 10 == 0 else (i * 7) % ROWS + 1,
    }


ACCOUNT = {
    "name": "{type: string, required: true, search: true}",
    "code": "{type: string, max_length: 20}",
    "employees": "string",
    "revenue": "integer",
    "founded": "string",
    "sector": "string",
    "notes": "text",
    "size": "{type: choice, values: [s, m, l]}",
    "legacy": "string",
    "city": "string",
}
CONTACT = {
    "full_name": "{type: string, required: true, search: true}",
    "email": "string",
    "phone": "string",
    "status": "{type: choice, values: [new, open, closed], filter: true}",
    "account": "{type: link, object: account}",
}


def yaml(name: str, fields: dict[str, str], head: str = "") -> str:
    lines = "".join(f"  {k}: {v}\n" for k, v in fields.items())
    return f"object: {name}\n{head}fields:\n{lines}"


class Scenario:
    """The project, the model as YAML field lines, and the rows the test expects."""

    def __init__(self, project: ProjectFactory) -> None:
        self.project = project
        self.objects: dict[str, tuple[dict[str, str], str]] = {
            "account": (dict(ACCOUNT), ""),
            "contact": (dict(CONTACT), ""),
        }
        self.expected: dict[str, Rows] = {}
        self.links: set[tuple[int, int]] | None = None
        self.ficha: Any = None
        self.step = 0

    def write(self) -> None:
        self.project.write(
            {name: yaml(name, fields, head) for name, (fields, head) in self.objects.items()}
        )

    def fields(self, obj: str) -> dict[str, str]:
        return self.objects[obj][0]

    def plan(self, **options: bool) -> Any:
        self.write()
        self.ficha = self.project.load()
        return plan(self.ficha.storage, self.ficha.settings.migrations_dir, Options(**options))

    def refused(self, text: str, **options: bool) -> None:
        current = self.plan(**options)
        found = [f"{s.refused} {s.hint}" for s in current.refused]
        assert any(text in line for line in found), (text, found)

    def migrate(self, what: str, expect: Callable[[], None] | None = None, **options: bool) -> Any:
        self.step += 1
        self.write()
        self.ficha = self.project.load()
        try:
            done, applied = migrate(
                self.ficha.storage, self.ficha.settings.migrations_dir, options=Options(**options)
            )
        except MigrationRefused as exc:
            raise AssertionError(f"change {self.step} ({what}) was refused: {exc}") from exc
        assert applied, f"change {self.step} ({what}) applied nothing"
        again = plan(self.ficha.storage, self.ficha.settings.migrations_dir)
        assert again.empty, (what, [s.description for s in again.steps])
        if expect is not None:
            expect()  # what the change declared
        self.compare(what)
        return done

    # -- the comparison ------------------------------------------------------------------------

    def compare(self, what: str) -> None:
        storage = self.ficha.storage
        with storage.read() as conn:
            for obj, expected in self.expected.items():
                table = storage.table(obj)
                columns = sorted({c for row in expected.values() for c in row})
                rows = conn.execute(
                    sa.select(table.c.id, *(table.c[c] for c in columns)).order_by(table.c.id)
                ).all()
                assert len(rows) == len(expected), (what, obj, len(rows))
                wanted_of = operator.itemgetter(*columns)
                for row in rows:
                    want = expected[row[0]]
                    if len(columns) > 1 and tuple(row[1:]) == wanted_of(want):
                        continue  # equal values are the same (same() only widens equality)
                    for column, value in zip(columns, row[1:], strict=True):
                        assert same(value, want[column]), (
                            f"after change {self.step} ({what}): {obj} id {row[0]} "
                            f"{column} is {value!r}, expected {want[column]!r}"
                        )
            if self.links is not None:
                link = storage.tables.links[("contact", "account")]
                pairs = {
                    tuple(r) for r in conn.execute(sa.select(link.c.source_id, link.c.target_id))
                }
                assert pairs == self.links, what

    def change(
        self, obj: str, column: str, convert: Callable[[Any], Any], new_column: str | None = None
    ) -> None:
        for row in self.expected[obj].values():
            value = row.pop(column)
            row[new_column or column] = convert(value)

    def add(self, obj: str, column: str, value: Any) -> None:
        for row in self.expected[obj].values():
            row[column] = value

    def drop(self, obj: str, column: str) -> None:
        for row in self.expected[obj].values():
            del row[column]

    def rename_object(self, old: str, new: str) -> None:
        self.expected[new] = self.expected.pop(old)
        self.objects[new] = self.objects.pop(old)


def same(found: Any, wanted: Any) -> bool:
    if isinstance(wanted, Decimal) and found is not None:
        return Decimal(str(found)) == wanted
    if isinstance(wanted, list) and isinstance(found, str):  # JSON text read raw
        import json

        return json.loads(found) == wanted
    return bool(found == wanted)


# -- what each change declares, in plain Python ----------------------------------------------


def same_value(value: Any) -> Any:
    return value


def as_integer(value: Any) -> int | None:
    text = (value or "").strip()
    if text == "twelve":
        return 12  # convert: {map: {twelve: 12}}
    return int(text) if re.fullmatch(r"[+-]?\d{1,18}", text) else None  # n/a: --coerce null


def as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if value == "2023-02-30":
        return dt.date(2023, 2, 28)  # convert: {map: {'2023-02-30': 2023-02-28}}
    if re.fullmatch(r"\d{2}/\d{2}/\d{4}", value):
        day, month, year = value.split("/")
        return dt.date(int(year), int(month), int(day))
    return dt.date.fromisoformat(value)


def as_sector(value: Any) -> str | None:
    return {"retail": "retail", "banking": "banking", "industry": "industry"}.get(
        (value or "").lower()
    )  # 'other' → convert: {map: {other: null}}


def as_phone(value: Any) -> str | None:
    if value in (None, "bad"):
        return None  # 'bad' → --coerce null
    number = phonenumbers.parse(value, "ES")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# -- the scenario ------------------------------------------------------------------------------


def load(s: Scenario) -> None:
    s.write()
    s.ficha = s.project.migrated()
    storage = s.ficha.storage
    now = dt.datetime(2024, 1, 1)
    system = {"created_at": now, "updated_at": now, "version": 1}
    accounts = {i: account_row(i) for i in range(1, ROWS + 1)}
    contacts = {i: contact_row(i) for i in range(1, ROWS + 1)}
    with storage.write() as conn:
        conn.execute(
            storage.table("account").insert(),
            [{"id": i, **row, **system} for i, row in accounts.items()],
        )
        conn.execute(
            storage.table("contact").insert(),
            [{"id": i, **row, **system} for i, row in contacts.items()],
        )
    s.expected = {"account": accounts, "contact": contacts}
    s.compare("loading")


def test_twenty_changes_keep_every_value(project: ProjectFactory) -> None:
    s = Scenario(project)
    load(s)
    account, contact = s.fields("account"), s.fields("contact")

    # 1. a nullable field: existing records stay empty
    account["website"] = "string"
    s.migrate("add a nullable field", lambda: s.add("account", "website", None))

    # 2. a required field with a default: existing records get the default
    account["active"] = "{type: boolean, required: true, default: true}"
    s.migrate("add a required field with a default", lambda: s.add("account", "active", True))

    # 3. a required field without a default is refused, saying how to give one
    contact["source"] = "{type: string, required: true}"
    s.refused("give it 'default: <value>'")
    contact["source"] = "{type: string, required: true, backfill: import}"
    s.migrate("add a required field with a backfill", lambda: s.add("contact", "source", "import"))

    # 4. a field renamed: the values follow
    del contact["full_name"]
    contact["name"] = "{type: string, required: true, search: true, renamed_from: full_name}"
    s.migrate("rename a field", lambda: s.change("contact", "full_name", same_value, "name"))

    # 5. an object renamed: its records, and the links to them, follow
    s.objects["account"] = (account, "renamed_from: account\n")
    s.rename_object("account", "company")
    contact["account"] = "{type: link, object: company}"
    s.migrate("rename an object")
    with s.ficha.storage.read() as conn:
        assert not sa.inspect(conn).has_table("account")

    # 6. text to integer: refused with examples, then a mapping and --coerce null
    company = s.fields("company")
    company["employees"] = "integer"
    s.refused("'n/a' (id 97)")
    company["employees"] = "{type: integer, convert: {map: {twelve: 12}}}"
    s.refused("--allow-data-loss", coerce_null=True)
    s.migrate(
        "text to integer",
        lambda: s.change("company", "employees", as_integer),
        coerce_null=True,
        allow_data_loss=True,
    )

    # 7. integer to money
    company["revenue"] = "money"
    s.migrate(
        "integer to money",
        lambda: s.change("company", "revenue", lambda v: None if v is None else Decimal(v)),
    )

    # 8. text to date: ISO and day-first dates convert; an impossible date is mapped
    company["founded"] = "{type: date, convert: {map: {'2023-02-30': '2023-02-28'}}}"
    s.migrate("text to date", lambda: s.change("company", "founded", as_date))

    # 9. text to choice: codes and labels, in any case; the rest mapped to empty
    company["sector"] = (
        "{type: choice, values: {retail: Retail, banking: Banking, industry: Industry}, "
        "convert: {map: {other: null}}}"
    )
    s.migrate("text to choice", lambda: s.change("company", "sector", as_sector))

    # 10. text to a string of 40 characters: the longer values are emptied on request
    company["notes"] = "{type: string, max_length: 40}"
    s.refused("do not convert")
    s.migrate(
        "text to string(40)",
        lambda: s.change("company", "notes", lambda v: v if v is None or len(v) <= 40 else None),
        coerce_null=True,
        allow_data_loss=True,
    )

    # 11. choice codes renamed (data updated) and removed (refused until mapped)
    contact["status"] = (
        "{type: choice, values: [open, done], renamed_values: {closed: done}, filter: true}"
    )
    s.refused("'new' (3,333 records)")
    contact["status"] = (
        "{type: choice, values: [open, done], renamed_values: {closed: done}, "
        "convert: {map: {new: open}}, filter: true}"
    )
    s.migrate(
        "rename and remove choice codes",
        lambda: s.change(
            "contact", "status", lambda v: {"new": "open", "closed": "done"}.get(v, v)
        ),
    )

    # 12. a single choice becomes a multichoice (its codes renamed at the same time)
    company["size"] = (
        "{type: multichoice, values: [small, medium, large], "
        "renamed_values: {s: small, m: medium, l: large}}"
    )
    names = {"s": "small", "m": "medium", "l": "large"}
    s.migrate(
        "choice to multichoice",
        lambda: s.change("company", "size", lambda v: None if v is None else [names[v]]),
    )

    # 13. a unique constraint: refused while duplicates exist, and they are listed
    contact["email"] = "{type: string, unique: true}"
    s.refused("'dup@example.com' (ids 1000, 2000, 3000")
    table = s.ficha.storage.table("contact")
    with s.ficha.storage.write() as conn:
        for i in range(1000, ROWS + 1, 1000):
            conn.execute(table.update().where(table.c.id == i).values(email=f"p{i}@example.com"))
            s.expected["contact"][i]["email"] = f"p{i}@example.com"
    s.migrate("add a unique constraint")
    with s.ficha.storage.write() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(table.update().where(table.c.id == 1).values(email="p2@example.com"))

    # 14. index changes: one added, one removed
    company["code"] = "{type: string, max_length: 20, index: true}"
    contact["status"] = contact["status"].replace("filter: true", "filter: false")
    s.migrate("index changes")
    with s.ficha.storage.read() as conn:
        indexed = {
            (t, column)
            for t in ("company", "contact")
            for i in sa.inspect(conn).get_indexes(t)
            for column in i["column_names"]
        }
    assert ("company", "code") in indexed and ("contact", "status") not in indexed

    # 15. a text becomes a link to another object, matched by the city's name
    s.objects["city"] = ({"name": "{type: string, required: true}"}, "")
    s.migrate("add an object")
    now = dt.datetime(2024, 1, 1)
    with s.ficha.storage.write() as conn:
        conn.execute(
            s.ficha.storage.table("city").insert(),
            [
                {"id": n + 1, "name": name, "created_at": now, "updated_at": now, "version": 1}
                for n, name in enumerate(CITIES)
            ],
        )
    s.expected["city"] = {n + 1: {"name": name} for n, name in enumerate(CITIES)}
    company["city"] = "{type: link, object: city, convert: {match: name, map: {Atlantis: null}}}"
    s.migrate(
        "text to link",
        lambda: s.change(
            "company", "city", lambda v: None if v == "Atlantis" else CITIES.index(v) + 1, "city_id"
        ),
    )

    # 16. a link becomes a many_to_many, keeping each link as a pair
    contact["account"] = "{type: many_to_many, object: company}"

    def pairs() -> None:
        found = {(i, row.pop("account_id")) for i, row in s.expected["contact"].items()}
        s.links = {(a, b) for a, b in found if b is not None}

    s.migrate("link to many_to_many", pairs)

    # 17. a field dropped: refused without --allow-data-loss, then backed up and dropped
    del company["legacy"]
    s.refused("--allow-data-loss")
    done = s.migrate("drop a field", lambda: s.drop("company", "legacy"), allow_data_loss=True)
    assert done.backups and all(p.exists() for p in done.backups)
    if done.backups[0].suffix == ".sql":  # a dump of the table (pg_dump, mariadb-dump)
        dump = done.backups[0].read_text(encoding="utf-8", errors="replace")
        assert "company" in dump and "L9999" in dump

    # 18. text to phone: normalised in Python, in batches; the one bad number emptied
    contact["phone"] = "phone"
    s.refused("'bad' (id 2)")
    s.migrate(
        "text to phone",
        lambda: s.change("contact", "phone", as_phone),
        coerce_null=True,
        allow_data_loss=True,
    )

    # 19. an object removed, with its records: refused, then backed up and dropped
    s.objects["memo"] = ({"body": "text"}, "")
    s.migrate("add another object")
    s.ficha.records.create("memo", {"body": "to be deleted"})
    del s.objects["memo"]
    s.refused("--allow-data-loss")
    done = s.migrate("drop an object", allow_data_loss=True)
    assert done.backups
    with s.ficha.storage.read() as conn:
        assert not sa.inspect(conn).has_table("memo")

    # 20. a field of the renamed object renamed too, after everything else
    del company["website"]
    company["homepage"] = "{type: string, renamed_from: website}"
    s.migrate(
        "rename another field", lambda: s.change("company", "website", same_value, "homepage")
    )
    assert s.step >= 15
