"""The migration templates of the test suite (tests/templates.py) copy a migration
faithfully: a project migrated for real and one copied from it have the same tables,
columns, indexes, keys, full-text structure and recorded model, on each database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storage.drift import drift
from storage.migrations import plan
from tests.conftest import ProjectFactory, _fresh_database
from tests.templates import TEMPLATES

#: a model no other test migrates, so that the first migration here is a real one
PROBE = """
object: template_probe
title: name
fields:
  name: {type: string, required: true, search: true}
  email: {type: email, unique: true, search: true}
  kind: {type: choice, values: [a, b], filter: true}
  amount: money
  owner: {type: link, object: user}
  tags: {type: multichoice, values: [x, y]}
"""


def schema(ficha: Any) -> dict[str, Any]:
    with ficha.storage.read() as conn:
        insp = sa.inspect(conn)
        found: dict[str, Any] = {}
        for table in sorted(insp.get_table_names()):
            found[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in insp.get_columns(table)
                ],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in insp.get_indexes(table)
                ),
                "keys": sorted(
                    (k["name"], tuple(k["constrained_columns"]), k["referred_table"])
                    for k in insp.get_foreign_keys(table)
                ),
                "uniques": sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in insp.get_unique_constraints(table)
                ),
            }
        meta = sa.table("ficha_meta", sa.column("key"), sa.column("value"))
        found["ficha_meta rows"] = sorted(conn.execute(sa.select(meta.c.key, meta.c.value)))
    return found


def test_a_copied_migration_is_the_migration(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    databases = [_fresh_database(request, backend, tmp_path / f"db{n}") for n in (1, 2)]
    factories = [ProjectFactory(tmp_path / f"p{n}", next(db)) for n, db in enumerate(databases, 1)]
    try:
        before = len(TEMPLATES.made)
        real = factories[0].migrated({"template_probe": PROBE})
        assert len(TEMPLATES.made) == before + 1  # kept as a template
        copied = factories[1].migrated({"template_probe": PROBE})
        assert len(TEMPLATES.made) == before + 1  # and copied, not migrated again
        assert schema(copied) == schema(real)
        assert [p.name for p in copied.settings.migrations_dir.iterdir()] == [
            p.name for p in real.settings.migrations_dir.iterdir()
        ]
        assert drift(copied.storage) == []
        assert plan(copied.storage, copied.settings.migrations_dir).empty
        made = copied.records.create("template_probe", {"name": "Ana Pérez", "email": "a@x.es"})
        with copied.storage.read() as conn:
            assert [r.id for r in copied.reader.list(conn, "template_probe", search="perez")] == [
                made.id
            ]
    finally:
        for factory in factories:
            factory.close()
        for db in databases:
            db.close()
