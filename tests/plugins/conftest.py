"""Plugins as a developer ships them: an installed distribution whose entry point (group
`ficha`) names a module, found by `importlib.metadata` like any pip-installed package."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest


def write_distribution(
    site: Path,
    dist: str,
    entry_points: dict[str, str],
    modules: dict[str, str],
    version: str = "1.0",
) -> None:
    """What pip leaves in site-packages: the modules, and NAME-VERSION.dist-info with the
    metadata and entry_points.txt that `importlib.metadata.entry_points()` reads."""
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[ficha]\n{lines}")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path standing for site-packages; the modules imported from it are
    forgotten afterwards so the next test starts clean."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    before = set(sys.modules)
    yield folder
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        if module is not None and str(getattr(module, "__file__", "") or "").startswith(
            str(folder)
        ):
            del sys.modules[name]


def pip_install(source: Path, target: Path) -> None:
    """pip-install a package folder into target, offline: no index, no build isolation
    (setuptools and wheel come from Ficha's own environment), no dependencies (Ficha is
    already there)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def environment_with(site: Path, **extra: str) -> dict[str, str]:
    """This interpreter's environment plus the folder a plugin was installed into: a
    subprocess started with it sees the plugin's entry point."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FICHA_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["COLUMNS"] = "200"  # rich tables on one line each, for reading the output
    env.update(extra)
    return env


def ficha(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the `ficha` command line of this environment in a subprocess."""
    return subprocess.run(
        [sys.executable, "-c", "from cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=300,
    )
