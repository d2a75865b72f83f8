"""Changing the model from the command line, as an admin does it: the YAML keys that say
how data follows a change are checked with file:line:column; `ficha migrate` shows the
plan in plain words, the SQL on request, refuses what would lose data, backs up, rolls
back; `ficha check` names what was changed by hand."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli import cli

PERSON = """
object: person
fields:
  name: string
  age: string
  status: {type: choice, values: [new, done]}
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "crm"
    code, out = run("init", str(folder))
    assert code == 0, out
    write(folder, PERSON)
    code, out = run("migrate", "-p", str(folder))
    assert code == 0, out
    engine = sa.create_engine(f"sqlite:///{folder / 'data' / 'ficha.sqlite'}")
    with engine.begin() as conn:
        for i, (name, age) in enumerate([("Ana", "34"), ("Bea", "twelve"), ("Cid", "n/a")], 1):
            conn.execute(
                sa.text(
                    "INSERT INTO person (id, name, age, status, created_at, updated_at, version) "
                    "VALUES (:i, :n, :a, 'new', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1)"
                ),
                {"i": i, "n": name, "a": age},
            )
    engine.dispose()
    return folder


def write(folder: Path, text: str) -> None:
    (folder / "objects" / "person.yaml").write_text(textwrap.dedent(text))


def test_a_type_change_shows_what_does_not_convert_and_how_to_proceed(folder: Path) -> None:
    write(folder, PERSON.replace("age: string", "age: integer"))
    code, out = run("migrate", "--plan", "-p", str(folder))
    assert code == 1
    assert (
        "2 value(s) of person.age do not convert to integer, e.g. 'twelve' (id 2), "
        "'n/a' (id 3)" in out
    )
    assert "convert: {map: {twelve: <new value>}}" in out and "--coerce null" in out
    write(
        folder, PERSON.replace("age: string", "age: {type: integer, convert: {map: {twelve: 12}}}")
    )
    code, out = run("migrate", "--coerce", "null", "-p", str(folder))
    assert code == 1 and "--allow-data-loss" in out
    code, out = run("migrate", "--sql", "--coerce", "null", "--allow-data-loss", "-p", str(folder))
    assert code == 0 and "UPDATE person SET" in out and "-- step 1:" in out
    code, out = run("migrate", "--coerce", "null", "--allow-data-loss", "-p", str(folder))
    assert code == 0, out
    assert "backup written to" in out and "converting person.age to integer: 3 rows" in out
    assert len(list((folder / "data" / "backups").glob("*.sqlite"))) == 1
    code, out = run("migrate", "--rollback", "-p", str(folder))
    assert code == 1 and "cannot roll back" in out and "backup" in out


def test_rollback_from_the_command_line(folder: Path) -> None:
    write(
        folder, PERSON.replace("  name: string", "  full_name: {type: string, renamed_from: name}")
    )
    code, out = run("migrate", "-p", str(folder))
    assert code == 0, out
    code, out = run("migrate", "--rollback", "--plan", "-p", str(folder))
    assert code == 0 and "undo: rename field person.name to full_name" in out
    code, out = run("migrate", "--rollback", "-p", str(folder))
    assert code == 0 and "rolled back" in out and "The YAML still describes the change" in out
    assert list((folder / "migrations" / "rolled_back").glob("*.py"))
    write(folder, PERSON)
    code, out = run("check", "-p", str(folder))
    assert code == 0 and "the database is up to date" in out


def test_check_warns_about_changes_made_by_hand(folder: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{folder / 'data' / 'ficha.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE person ADD COLUMN nickname VARCHAR(10)"))
    engine.dispose()
    _, out = run("check", "-p", str(folder))
    assert "differs from what Ficha migrated it to" in out
    assert "column person.nickname is not in the model (added by hand?)" in out


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("  name: {type: string, renamed_from: name}", "'name' is renamed from itself [M060]"),
        (
            "  name: string\n  nick: {type: string, renamed_from: name}",
            "'person.nick' is renamed from 'name', which is still a field of person [M064]",
        ),
        (
            "  status: {type: choice, values: [new, done], renamed_values: {old: dne}}",
            "'old' is renamed to 'dne', which is not one of the values of 'status' [M061]\n"
            "    → did you mean 'done'?",
        ),
        (
            "  name: {type: string, renamed_values: {a: b}}",
            "renamed_values does not apply to a string field [M061]",
        ),
        (
            "  age: {type: integer, convert: {mapp: {x: 1}}}",
            "unknown key 'mapp' in convert of 'age' [M062]\n    → did you mean 'map'?",
        ),
        (
            "  age: {type: integer, backfill: lots}",
            "backfill of 'age' does not fit its type: 'lots' is not a whole number [M063]",
        ),
    ],
)
def test_the_keys_of_a_change_are_checked(folder: Path, yaml: str, message: str) -> None:
    lines = PERSON.splitlines()
    field = yaml.strip().split(":")[0]
    kept = [line for line in lines if not line.strip().startswith(f"{field}:")]
    write(folder, "\n".join(kept) + "\n" + yaml + "\n")
    result = CliRunner().invoke(cli, ["check", "-p", str(folder)])
    assert result.exit_code == 1
    assert message in result.output, result.output
    assert "objects/person.yaml:" in result.output


def test_values_in_brackets_are_shown_as_they_are(folder: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{folder / 'data' / 'ficha.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE person SET age = '[n/a]' WHERE id = 3"))
    engine.dispose()
    write(folder, PERSON.replace("age: string", "age: integer"))
    code, out = run("migrate", "--plan", "-p", str(folder))
    assert code == 1 and "'[n/a]' (id 3)" in out
