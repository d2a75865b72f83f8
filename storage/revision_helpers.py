"""Helpers that Ficha's revision files call, so that one revision file replays on any of
the three databases (the full-text structure differs per database; the revision only
says which columns are searched).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from storage.dialects import dialect_for

META = sa.table("ficha_meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def _backend() -> str:
    name = op.get_bind().dialect.name
    return "mariadb" if name in ("mysql", "mariadb") else name


def set_meta(key: str, value: Any) -> None:
    text = json.dumps(value, sort_keys=True, default=str)
    bind = op.get_bind()
    bind.execute(META.delete().where(META.c.key == key))
    bind.execute(META.insert().values(key=key, value=text))


def get_meta(key: str) -> Any:
    row = op.get_bind().execute(sa.select(META.c.value).where(META.c.key == key)).scalar()
    return None if row is None else json.loads(row)


def set_fulltext(table: str, columns: Sequence[str]) -> None:
    """(Re)build the full-text structure of `table` over `columns`; none drops it."""
    dialect = dialect_for(_backend())
    statements = (
        dialect.fulltext_ddl(table, columns) if columns else dialect.fulltext_drop_ddl(table)
    )
    for statement in statements:
        op.execute(statement)
    set_meta(f"fulltext:{table}", list(columns))


def record_model(snapshot: dict[str, Any], tables: Sequence[str] = ()) -> None:
    """Remember the model this revision brings the database to, and the tables Ficha owns
    (both compared at the next plan)."""
    set_meta("model", snapshot)
    set_meta("tables", sorted(tables))
