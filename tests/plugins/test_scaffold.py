"""`ficha plugin new`: the package it writes installs offline, Ficha finds it through its
entry point, `ficha plugins` lists it, and its own test passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from tests.plugins.conftest import environment_with, ficha, pip_install


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.slow
def test_a_new_plugin_installs_and_its_test_passes(tmp_path: Path) -> None:
    folder = tmp_path / "acme-sms"
    code, out = run("plugin", "new", "acme-sms", "--dir", str(folder))
    assert code == 0, out
    assert "pip install -e ." in out
    assert (folder / "pyproject.toml").is_file()
    assert (
        '[project.entry-points.ficha]\nacme_sms = "acme_sms"'
        in (folder / "pyproject.toml").read_text()
    )
    assert (folder / "src" / "acme_sms" / "__init__.py").is_file()
    assert (folder / "tests" / "test_acme_sms.py").is_file()

    site = tmp_path / "site"
    pip_install(folder, site)
    env = environment_with(site)
    listed = ficha("plugins", env=env)
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if "│ acme_sms " in line]
    assert "acme-sms 0.1.0" in row and "ficha_actions" in row

    # Its test runs against the installed copy (src/ is not on the path from there).
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed" in tested.stdout


def test_a_new_plugin_with_a_bad_name_or_place_writes_nothing(tmp_path: Path) -> None:
    code, out = run("plugin", "new", "9lives", "--dir", str(tmp_path / "a"))
    assert code == 1 and "'9lives' is not a usable plugin name" in out
    code, out = run("plugin", "new", "framework", "--dir", str(tmp_path / "b"))
    assert code == 1 and "a Python module named 'framework' already exists" in out
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    code, out = run("plugin", "new", "acme-crm", "--dir", str(busy))
    assert code == 1 and "is not empty; nothing was written" in out
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
