"""Changing the model of a database that holds data, one kind of change at a time, on
SQLite, PostgreSQL and MariaDB: what the admin sees in the plan, what is refused and
why, what a rollback undoes, and that revision files replay on another database."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storage.backup import write_backup
from storage.drift import drift
from storage.manager import StorageError
from storage.migrations import MigrationRefused, Options, migrate, plan, sql
from storage.rollback import rollback, rollback_plan
from storage.runtime import ProgressEvent, RunContext
from tests.conftest import ProjectFactory

NOW = dt.datetime(2024, 1, 1)
PERSON = """
object: person
fields:
  name: {type: string, search: true}
  age: string
  status: {type: choice, values: [new, done]}
  email: string
"""


def values(ficha: Any, table: str, *columns: str) -> list[tuple[Any, ...]]:
    """Columns as the database holds them now (reflected: the model may say otherwise)."""
    with ficha.storage.read() as conn:
        t = sa.Table(table, sa.MetaData(), autoload_with=conn)
        query = sa.select(*(t.c[c] for c in columns)).order_by(t.c.id)
        return [tuple(r) for r in conn.execute(query)]


def names(ficha: Any, table: str) -> set[str]:
    with ficha.storage.read() as conn:
        insp = sa.inspect(conn)
        return {c["name"] for c in insp.get_columns(table)} | {
            str(i["name"]) for i in insp.get_indexes(table)
        }


def people(project: ProjectFactory, text: str = PERSON) -> Any:
    ficha = project.migrated({"person": text})
    for i, (name, age, status) in enumerate(
        [("Ana", "34", "new"), ("Bea", "n/a", "done"), ("Cid", "7", "new")], start=1
    ):
        ficha.records.create(
            "person", {"name": name, "age": age, "status": status, "email": f"p{i}@example.com"}
        )
    return ficha


def change(project: ProjectFactory, text: str, **options: bool) -> tuple[Any, Any]:
    project.write({"person": text})
    ficha = project.load()
    return ficha, plan(ficha.storage, ficha.settings.migrations_dir, Options(**options))


def test_a_reversible_change_is_rolled_back(project: ProjectFactory) -> None:
    ficha = people(project)
    after = (
        PERSON.replace(
            "  name: {type: string, search: true}",
            "  full_name: {type: string, search: true, renamed_from: name}",
        )
        .replace(
            "status: {type: choice, values: [new, done]}",
            "status: {type: choice, values: [open, done], renamed_values: {new: open}}",
        )
        .replace("  email: string", "  email: {type: string, index: true}\n  note: string")
        .replace("age: string", "age: {type: string, max_length: 20}")
    )
    ficha, _ = change(project, after)
    migrate(ficha.storage, ficha.settings.migrations_dir)
    assert values(ficha, "person", "full_name", "status") == [
        ("Ana", "open"),
        ("Bea", "done"),
        ("Cid", "open"),
    ]
    undo = rollback_plan(ficha.storage, ficha.settings.migrations_dir)
    assert undo.refused is None and undo.removes == []
    assert "undo: rename field person.name to full_name" in undo.steps
    done = rollback(ficha.storage, ficha.settings.migrations_dir)
    assert done.revision is not None
    assert (ficha.settings.migrations_dir / "rolled_back" / done.revision.path.name).exists()
    assert values(ficha, "person", "name", "age", "status") == [
        ("Ana", "34", "new"),
        ("Bea", "n/a", "done"),
        ("Cid", "7", "new"),
    ]
    assert not {"full_name", "note", "ix_person_email"} & names(ficha, "person")
    # The YAML still says full_name: the next plan offers the change again.
    again = plan(ficha.storage, ficha.settings.migrations_dir)
    assert "rename field person.name to full_name" in [s.description for s in again.steps]
    project.write({"person": PERSON})  # the admin puts the YAML back as it was
    ficha = project.load()
    assert plan(ficha.storage, ficha.settings.migrations_dir).empty
    with ficha.storage.read() as conn:  # search works on the restored columns
        found = ficha.reader.list(conn, "person", search="bea")
    assert [r["name"] for r in found] == ["Bea"]


def test_a_rollback_that_would_lose_data_says_so(project: ProjectFactory) -> None:
    ficha = people(project)
    ficha, _ = change(project, PERSON.replace("  email: string", "  email: string\n  note: string"))
    migrate(ficha.storage, ficha.settings.migrations_dir)
    ficha.records.update("person", 1, {"note": "keep me"})
    undo = rollback_plan(ficha.storage, ficha.settings.migrations_dir)
    assert undo.removes == ["1 value in person.note"]
    with pytest.raises(StorageError, match=r"would delete 1 value in person\.note"):
        rollback(ficha.storage, ficha.settings.migrations_dir)
    done = rollback(ficha.storage, ficha.settings.migrations_dir, allow_data_loss=True)
    assert done.backups and done.backups[0].exists()
    # Dropping data cannot be undone: the rollback refuses and points to the backup.
    ficha, _ = change(project, PERSON.replace("  email: string\n", ""))
    migrate(ficha.storage, ficha.settings.migrations_dir, options=Options(allow_data_loss=True))
    undo = rollback_plan(ficha.storage, ficha.settings.migrations_dir)
    assert undo.refused and "backup" in undo.refused


def test_a_rename_without_renamed_from_is_refused(project: ProjectFactory) -> None:
    people(project)
    ficha, found = change(
        project, PERSON.replace("  email: string", "  mail: string"), allow_data_loss=True
    )
    refused = [f"{s.refused} {s.hint}" for s in found.refused]
    assert any("renamed_from: email" in line for line in refused), refused
    with pytest.raises(MigrationRefused):
        migrate(ficha.storage, ficha.settings.migrations_dir, options=Options(allow_data_loss=True))
    assert "email" in names(ficha, "person")


def test_a_link_moves_to_another_object_matched_by_a_field(project: ProjectFactory) -> None:
    objects = {
        "person": "object: person\nfields:\n  email: string\n",
        "member": "object: member\nfields:\n  email: string\n",
        "ticket": "object: ticket\nfields:\n  title: string\n"
        "  owner: {type: link, object: person}\n",
    }
    ficha = project.migrated(objects)
    ana = ficha.records.create("person", {"email": "ana@example.com"})
    bob = ficha.records.create("person", {"email": "bob@example.com"})
    ficha.records.create("member", {"email": "zed@example.com"})
    ana_member = ficha.records.create("member", {"email": "ana@example.com"})
    ficha.records.create("ticket", {"title": "t1", "owner": ana.id})
    ficha.records.create("ticket", {"title": "t2", "owner": bob.id})
    objects["ticket"] = objects["ticket"].replace(
        "{type: link, object: person}", "{type: link, object: member, convert: {match: email}}"
    )
    project.write(objects)
    ficha = project.load()
    found = plan(ficha.storage, ficha.settings.migrations_dir)
    assert any("'bob@example.com'" not in (s.refused or "") and s.refused for s in found.steps)
    migrate(
        ficha.storage,
        ficha.settings.migrations_dir,
        options=Options(coerce_null=True, allow_data_loss=True),
    )
    assert values(ficha, "ticket", "title", "owner_id") == [("t1", ana_member.id), ("t2", None)]
    with ficha.storage.read() as conn:
        keys = sa.inspect(conn).get_foreign_keys("ticket")
    assert [k["referred_table"] for k in keys] == ["member"]


def test_an_object_renamed_takes_its_link_table_and_index_names(
    project: ProjectFactory,
) -> None:
    objects = {
        "tag": "object: tag\nfields:\n  label: {type: string, index: true}\n",
        "client": "object: client\nfields:\n  name: {type: string, unique: true}\n"
        "  tags: {type: many_to_many, object: tag}\n",
    }
    ficha = project.migrated(objects)
    vip = ficha.records.create("tag", {"label": "vip"})
    ficha.records.create("client", {"name": "Acme", "tags": [vip.id]})
    objects["client"] = objects["client"].replace(
        "object: client", "object: customer\nrenamed_from: client"
    )
    project.write({"tag": objects["tag"], "customer": objects["client"]})
    ficha = project.load()
    migrate(ficha.storage, ficha.settings.migrations_dir)
    assert ficha.records.get("customer", 1)["name"] == "Acme"
    with ficha.storage.read() as conn:
        links = ficha.reader.m2m_links(conn, "customer", "tags", [1])
    assert [(t.id, t.title) for t in links[1]] == [(vip.id, "vip")]
    with ficha.storage.read() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        indexes = {
            str(i["name"])
            for t in tables
            if not t.startswith("ficha")
            for i in sa.inspect(conn).get_indexes(t)
        }
    assert {"customer", "customer__tags"} <= tables and not {"client", "client__tags"} & tables
    assert not [n for n in indexes if "client" in n], indexes
    assert plan(ficha.storage, ficha.settings.migrations_dir).empty
    # the old name is free again (once renamed_from, which is history now, is removed)
    original = "object: client\nfields:\n  name: {type: string, unique: true}\n"
    customer = objects["client"].replace("renamed_from: client\n", "")
    project.write({"tag": objects["tag"], "customer": customer, "client": original})
    ficha = project.load()
    migrate(ficha.storage, ficha.settings.migrations_dir)
    ficha.records.create("client", {"name": "New"})


def test_plan_and_sql_change_nothing(project: ProjectFactory) -> None:
    people(project)
    after = PERSON.replace("age: string", "age: {type: integer, convert: {map: {n/a: null}}}")
    after = after.replace("  email: string", "  email: string\n  note: string")
    ficha, found = change(project, after)
    assert not found.refused
    text = sql(ficha.storage, ficha.settings.migrations_dir, found)
    assert "ALTER TABLE" in text and "note" in text and "UPDATE person" in text
    assert len(list(ficha.settings.migrations_dir.glob("*.py"))) == 1
    assert "note" not in names(ficha, "person")
    assert values(ficha, "person", "name", "age") == [("Ana", "34"), ("Bea", "n/a"), ("Cid", "7")]


def test_check_names_what_was_changed_by_hand(project: ProjectFactory) -> None:
    ficha = people(project)
    assert drift(ficha.storage) == []
    with ficha.storage.write() as conn:
        conn.execute(sa.text("ALTER TABLE person ADD COLUMN nickname VARCHAR(20)"))
        conn.execute(sa.text("CREATE TABLE legacy_stuff (id INTEGER PRIMARY KEY)"))
    assert drift(ficha.storage) == ["column person.nickname is not in the model (added by hand?)"]


def test_a_rebuild_on_sqlite_reports_progress(sqlite_project: ProjectFactory) -> None:
    ficha = sqlite_project.migrated(
        {"person": PERSON.replace("email: string", "email: {type: string, unique: true}")}
    )
    table = ficha.storage.table("person")
    with ficha.storage.write() as conn:
        conn.execute(
            table.insert(),
            [
                {
                    "id": i,
                    "email": f"p{i}@x.com",
                    "created_at": NOW,
                    "updated_at": NOW,
                    "version": 1,
                }
                for i in range(1, 2501)
            ],
        )
    sqlite_project.write({"person": PERSON.replace("  email: string\n", "")})
    ficha = sqlite_project.load()
    events: list[ProgressEvent] = []
    done, _ = migrate(
        ficha.storage,
        ficha.settings.migrations_dir,
        options=Options(allow_data_loss=True),
        run=RunContext(reporter=events.append, batch_rows=1000),
    )
    rebuilt = [e for e in events if e.label == "rebuilding person"]
    assert [e.done for e in rebuilt] == [0, 1000, 2000, 2500, 2500]
    assert rebuilt[-1].finished and rebuilt[-1].rows_per_second > 0
    with sqlite3.connect(done.backups[0]) as backup:  # the dropped values are kept there
        assert backup.execute("SELECT count(email) FROM person").fetchone() == (2500,)
    assert "email" not in names(ficha, "person")


def test_revisions_written_on_sqlite_convert_data_on_another_database(
    project: ProjectFactory, tmp_path: Path
) -> None:
    """Develop on SQLite, deploy elsewhere: renames and conversions replay on the data
    that is there, and values that do not convert there stop the run, changing nothing."""
    dev = ProjectFactory(tmp_path / "dev", f"sqlite:///{tmp_path / 'dev.sqlite'}")
    dev.migrated({"person": PERSON})
    after = PERSON.replace("age: string", "age: {type: integer, convert: {map: {n/a: null}}}")
    after = after.replace(
        "  name: {type: string, search: true}",
        "  full_name: {type: string, search: true, renamed_from: name}",
    )
    dev.migrated({"person": after})
    dev.close()
    files = sorted((tmp_path / "dev" / "migrations").glob("*.py"))
    project.write({"person": PERSON})
    shutil.copy(files[0], project.root / "migrations" / files[0].name)
    ficha = people(project)  # applies the first file, then adds people
    ficha.records.create("person", {"name": "Dan", "age": "old"})
    project.write({"person": after})
    shutil.copy(files[1], project.root / "migrations" / files[1].name)
    ficha = project.load()
    with pytest.raises(StorageError, match="'old' \\(id 4\\)"):
        migrate(ficha.storage, ficha.settings.migrations_dir)
    if ficha.storage.backend != "mariadb":
        assert "name" in names(ficha, "person")  # nothing was changed
    ficha.storage.dispose()
    ficha = project.load()
    with ficha.storage.write() as conn:
        table = sa.table("person", sa.column("id"), sa.column("age"))
        conn.execute(table.update().where(table.c.id == 4).values(age="70"))
    migrate(ficha.storage, ficha.settings.migrations_dir)
    assert values(ficha, "person", "full_name", "age") == [
        ("Ana", 34),
        ("Bea", None),
        ("Cid", 7),
        ("Dan", 70),
    ]
    assert len(list(ficha.settings.migrations_dir.glob("*.py"))) == 2


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])  # SQLite: its backup API
def test_a_backup_without_the_dump_tools_is_still_written(
    project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where pg_dump or mariadb-dump is not installed, Ficha writes its own dump."""
    ficha = people(project)
    monkeypatch.setattr("storage.backup.shutil.which", lambda name: None)
    path = write_backup(ficha.storage, ["person"], project.root / "backups", "test")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert path.suffix == ".jsonl" and len(lines) == 4
    assert json.loads(lines[0])["table"] == "person"
    header = json.loads(lines[0])["columns"]
    assert dict(zip(header, json.loads(lines[2]), strict=True))["name"] == "Bea"
