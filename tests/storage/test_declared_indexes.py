"""Indexes declared for reports (`include:`, `live: true`) on SQLite, PostgreSQL and
MariaDB: what `ficha migrate` builds, and a change of `live:` alone reaching the database
(Alembic does not compare an index's condition)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from storage.drift import drift
from storage.migrations import migrate, plan
from tests.conftest import ProjectFactory

DEAL = """
object: deal
fields:
  stage: {type: choice, values: [open, won, lost]}
  amount: money
  closed: date
indexes:
  - {fields: [closed, stage], include: [amount]LIVE}
"""
NAME = "ix_deal_closed_stage_amount"


def reflected(ficha: Any) -> dict[str, Any]:
    with ficha.storage.read() as conn:
        found = {str(i["name"]): i for i in sa.inspect(conn).get_indexes("deal")}
    return found[NAME]


def partial(ficha: Any, index: dict[str, Any]) -> bool:
    return f"{ficha.storage.backend}_where" in (index.get("dialect_options") or {})


def test_an_index_for_a_report_holds_its_values_and_the_live_records(
    project: ProjectFactory,
) -> None:
    ficha = project.migrated({"deal": DEAL.replace("LIVE", ", live: true")})
    index = reflected(ficha)
    assert index["column_names"] == ["closed", "stage", "amount"]
    # MariaDB has no partial indexes: there the index holds every record
    assert partial(ficha, index) is (ficha.storage.backend != "mariadb")
    assert plan(ficha.storage, ficha.settings.migrations_dir).empty
    assert drift(ficha.storage) == []
    deal = ficha.records.create("deal", {"stage": "won", "amount": "10.00", "closed": "2025-03-01"})
    ficha.records.delete("deal", deal.id)  # a deleted record leaves a live index


def test_live_on_or_off_alone_is_migrated(project: ProjectFactory) -> None:
    ficha = project.migrated({"deal": DEAL.replace("LIVE", "")})
    assert not partial(ficha, reflected(ficha))
    for live, now in ((", live: true", True), ("", False)):
        project.write({"deal": DEAL.replace("LIVE", live)})
        ficha = project.load()
        found = plan(ficha.storage, ficha.settings.migrations_dir)
        if ficha.storage.backend == "mariadb":
            assert found.steps == []  # nothing to change there (the model is recorded)
            migrate(ficha.storage, ficha.settings.migrations_dir)
            continue
        assert [s.description for s in found.steps] == [
            f"remove index {NAME} of deal",
            "add index on deal (closed, stage, amount)",
        ]
        migrate(ficha.storage, ficha.settings.migrations_dir)
        assert partial(ficha, reflected(ficha)) is now
        assert plan(ficha.storage, ficha.settings.migrations_dir).empty
        assert drift(ficha.storage) == []
