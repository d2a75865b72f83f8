"""The `ficha` command line as a new user meets it: init, check, migrate, typos."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli import cli
from tests.samples import SHOP


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def new_project(tmp_path: Path) -> Path:
    folder = tmp_path / "mycrm"
    code, out = run("init", str(folder))
    assert code == 0, out
    for name, text in SHOP.items():
        (folder / "objects" / f"{name}.yaml").write_text(text)
    return folder


def test_init_check_migrate(tmp_path: Path) -> None:
    folder = new_project(tmp_path)
    assert (folder / "ficha.yaml").exists() and (folder / ".gitignore").read_text() == "data/\n"
    code, out = run("check", "-p", str(folder))
    assert code == 0, out
    assert "3 objects" in out
    assert "No database yet: 'ficha migrate' creates it." in out
    assert not (folder / "data" / "ficha.sqlite").exists()  # checking writes nothing
    code, out = run("migrate", "--plan", "-p", str(folder))
    assert code == 0 and "+ create customer (9 fields)" in out
    assert not list((folder / "migrations").glob("*.py"))
    code, out = run("migrate", "-p", str(folder))
    assert code == 0 and "applied 0001_" in out, out
    code, out = run("check", "-p", str(folder))
    assert code == 0 and "the database is up to date" in out
    code, out = run("init", str(folder))
    assert code == 1 and "already exists" in out


def test_a_typo_prints_where_and_how_to_fix_and_changes_nothing(tmp_path: Path) -> None:
    folder = new_project(tmp_path)
    order = folder / "objects" / "order.yaml"
    order.write_text(
        order.read_text().replace("type: link, object: customer", "type: link, object: custmer")
    )
    for command in ("check", "migrate"):
        code, out = run(command, "-p", str(folder))
        assert code == 1
        assert (
            "objects/order.yaml:6:34: error 'order.customer' points to unknown object 'custmer'"
        ) in " ".join(out.split())
        assert "did you mean 'customer'?" in out
        assert "nothing was changed" in out
    database = folder / "data" / "ficha.sqlite"
    if database.exists():
        with sa.create_engine(f"sqlite:///{database}").connect() as conn:
            assert sa.inspect(conn).get_table_names() == []


def test_a_missing_project_says_how_to_start(tmp_path: Path) -> None:
    code, out = run("check", "-p", str(tmp_path))
    assert code == 1
    assert "no ficha.yaml" in out and "ficha init" in out


def test_an_unknown_pack_is_named(tmp_path: Path) -> None:
    code, out = run("init", str(tmp_path / "x"), "--pack", "cor")
    assert code == 1 and "unknown pack 'cor' (did you mean 'core'?)" in out


def test_the_console_script_runs(tmp_path: Path) -> None:
    ficha = Path(sys.executable).parent / "ficha"
    result = subprocess.run([str(ficha), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.startswith("ficha, version ")
    result = subprocess.run([str(ficha), "--help"], capture_output=True, text=True, check=False)
    assert all(c in result.stdout for c in ("init", "check", "migrate", "serve", "demo"))


@pytest.mark.slow
def test_demo_builds_a_filled_project(tmp_path: Path) -> None:
    code, out = run("demo", str(tmp_path / "demo"), "--size", "5", "--no-serve")
    assert code == 0, out
    assert "sample records created" in out
    code, out = run("check", "-p", str(tmp_path / "demo"))
    assert code == 0 and "the database is up to date" in out
    code, out = run("demo", str(tmp_path / "demo"), "--size", "5", "--no-serve")
    assert code == 0 and "sample records created" not in out  # filled once, kept
