"""A migration killed in the middle never leaves the database half-changed and stuck.

`ficha migrate` runs in a subprocess that pauses at a known point of a data step (the
test-only FICHA_TEST_PAUSE_AT_STEP hook, see storage/runtime.py) and is killed there
with SIGKILL. Afterwards the database is either exactly as before (SQLite, PostgreSQL:
one transaction) or part-way through a logged run (MariaDB), and in both cases the next
`ficha migrate` completes it, with every value as the change declared.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storage.migrations import plan
from tests.conftest import ProjectFactory

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ROWS = 3_000

BEFORE = """
object: person
fields:
  name: string
  age: string
  status: {type: choice, values: [a, b, c]}
"""
AFTER = """
object: person
fields:
  full_name: {type: string, renamed_from: name}
  age: integer
  status: {type: choice, values: [b, c, x], renamed_values: {a: x}}
  note: string
"""


def ficha(project_dir: Path, *args: str, pause: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "FICHA_MIGRATE_BATCH": "500"}
    env.pop("FICHA_TEST_PAUSE_AT_STEP", None)
    if pause:
        env["FICHA_TEST_PAUSE_AT_STEP"] = pause  # test only: stop there so we can kill
    return subprocess.Popen(
        [sys.executable, "-c", "from cli import main; main()", *args, "-p", str(project_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_pause(process: subprocess.Popen[str], timeout: float = 120) -> None:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if "ficha-test: paused at step" in line:
            return
        if not line and process.poll() is not None:
            break
    out = process.stdout.read() if process.stdout else ""
    raise AssertionError(f"the migration did not reach the pause point:\n{out}")


def rows(project: ProjectFactory) -> dict[str, list[tuple[Any, ...]]]:
    """Every column of every row, read raw (as the database holds them)."""
    loaded = project.load()
    with loaded.storage.read() as conn:
        table = sa.Table("person", sa.MetaData(), autoload_with=conn)
        found = {
            "columns": [tuple(sorted(table.c.keys()))],
            "rows": [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.id))],
        }
    loaded.close()
    return found


def status(i: int) -> str:
    return "abc"[i % 3]


@pytest.mark.parametrize("pause", ["3.2", "4.2"], ids=["in-a-conversion", "in-a-value-rename"])
def test_a_killed_migration_is_finished_by_the_next_one(
    project: ProjectFactory, pause: str
) -> None:
    project.write({"person": BEFORE})
    loaded = project.migrated()
    now = dt.datetime(2024, 1, 1)
    with loaded.storage.write() as conn:
        conn.execute(
            loaded.storage.table("person").insert(),
            [
                {
                    "id": i,
                    "name": f"P{i}",
                    "age": str(i % 90),
                    "status": status(i),
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                for i in range(1, ROWS + 1)
            ],
        )
    before = rows(project)
    project.write({"person": AFTER})
    changed = project.load()
    steps = [s.description for s in plan(changed.storage, changed.settings.migrations_dir).steps]
    assert steps[2].startswith("change person.age") and steps[3].startswith("change values")

    process = ficha(project.root, "migrate", "--yes", pause=pause)
    try:
        wait_for_pause(process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)  # reaps it and closes its pipes

    current = project.load()
    state = plan(current.storage, current.settings.migrations_dir)
    assert len(state.pending) == 1, "the revision file is kept for the next run"
    if current.storage.backend == "mariadb":
        assert len(state.resumed) == int(pause.split(".")[0]) - 1  # steps done before
    else:
        assert state.resumed == []
        assert rows(project) == before, "one transaction: nothing changed"

    process = ficha(project.root, "migrate", "--yes")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, out + err
    after = project.load()
    assert plan(after.storage, after.settings.migrations_dir).empty
    table = after.storage.table("person")
    with after.storage.read() as conn:
        found = conn.execute(
            sa.select(
                table.c.id, table.c.full_name, table.c.age, table.c.status, table.c.note
            ).order_by(table.c.id)
        ).all()
    renamed = {"a": "x"}
    assert [tuple(r) for r in found] == [
        (i, f"P{i}", i % 90, renamed.get(status(i), status(i)), None) for i in range(1, ROWS + 1)
    ]
