"""Drift: differences between the live database and what Ficha last migrated it to,
for `ficha check` (someone changed a table by hand). Only tables Ficha owns are looked at.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.operations import ops

from storage.autogen import VERSION_TABLE, compare
from storage.manager import StorageManager
from storage.migrations import read_meta
from storage.snapshot import model_from_snapshot, snapshot
from storage.tables import build_tables


def drift(storage: StorageManager) -> list[str]:
    """Differences between the live database and what Ficha last migrated it to: someone
    changed it by hand (for `ficha check`). Only tables Ficha owns are looked at."""
    with storage.read() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return []
        recorded = read_meta(conn, "model") or {}
        # What Ficha made: the tables of the model now if it was migrated to (exact), else
        # the tables the recorded model had (the YAML changed since: not drift).
        model = None
        if recorded != snapshot(storage.model):
            model = model_from_snapshot(recorded, storage.model.field_types)
        metadata = build_tables(model).metadata if model is not None else storage.tables.metadata
        owned = set(metadata.tables) | set(read_meta(conn, "tables") or [])
        found = compare(conn, metadata, owned, storage.backend)
        lines = [_drift_line(op_) for op_ in found.ops]
        lines += _type_drift(conn, metadata, owned)
    return [line for line in lines if line]


def _drift_line(op_: Any) -> str:
    if isinstance(op_, ops.CreateTableOp):
        return f"table {op_.table_name} is missing"
    if isinstance(op_, ops.DropTableOp):
        return f"table {op_.table_name} is not in the model"
    if isinstance(op_, ops.ModifyTableOps):
        return "; ".join(line for line in (_drift_line(o) for o in op_.ops) if line)
    table = getattr(op_, "table_name", "?")
    if isinstance(op_, ops.AddColumnOp):
        return f"column {table}.{op_.column.name} is missing"
    if isinstance(op_, ops.DropColumnOp):
        return f"column {table}.{op_.column_name} is not in the model (added by hand?)"
    if isinstance(op_, ops.CreateIndexOp):
        return f"index {op_.index_name} of {table} is missing"
    if isinstance(op_, ops.DropIndexOp):
        return f"index {op_.index_name} of {table} is not in the model"
    if isinstance(op_, ops.AddConstraintOp):
        return f"a {op_.constraint_type} constraint of {table} is missing"
    if isinstance(op_, ops.DropConstraintOp):
        return f"constraint {op_.constraint_name} of {table} is not in the model"
    if isinstance(op_, ops.AlterColumnOp):
        return f"column {table}.{op_.column_name} was altered"
    return f"{type(op_).__name__} on {table}"


_FAMILIES = {
    "INTEGER": "integer",
    "BIGINT": "integer",
    "SMALLINT": "integer",
    "TINYINT": "integer",
    "BOOLEAN": "integer",
    "NUMERIC": "number",
    "DECIMAL": "number",
    "FLOAT": "number",
    "REAL": "number",
    "DOUBLE": "number",
    "DOUBLE_PRECISION": "number",
    "VARCHAR": "text",
    "CHAR": "text",
    "TEXT": "text",
    "CLOB": "text",
    "LONGTEXT": "text",
    "JSON": "text",
    "JSONB": "text",
    "DATE": "date",
    "DATETIME": "datetime",
    "TIMESTAMP": "datetime",
}


def _type_drift(conn: sa.Connection, metadata: sa.MetaData, owned: set[str]) -> list[str]:
    """Columns whose type family changed by hand (a number column made text, a shorter
    text). Exact types differ per database, so only what matters is compared."""
    insp = sa.inspect(conn)
    lines = []
    for table in metadata.sorted_tables:
        if table.name not in owned or not insp.has_table(table.name):
            continue
        live = {c["name"]: c["type"] for c in insp.get_columns(table.name)}
        for column in table.columns:
            found = live.get(column.name)
            if found is None:
                continue
            expected = column.type.dialect_impl(conn.dialect)
            want, have = _family(expected), _family(found)
            if want and have and want != have and {want, have} != {"date", "datetime"}:
                lines.append(
                    f"column {table.name}.{column.name} is {_sql(found)}, the model "
                    f"says {_sql(expected)}"
                )
            elif (
                want == have == "text"
                and _length(found)
                and _length(expected)
                and (_length(found) != _length(expected))
            ):
                lines.append(
                    f"column {table.name}.{column.name} holds up to "
                    f"{_length(found)} characters, the model says {_length(expected)}"
                )
    return lines


def _family(type_: Any) -> str | None:
    name = type(type_).__name__.upper()
    visit = getattr(type_, "__visit_name__", "").upper()
    return _FAMILIES.get(name) or _FAMILIES.get(visit)


def _length(type_: Any) -> int | None:
    length = getattr(type_, "length", None)
    return int(length) if length else None


def _sql(type_: Any) -> str:
    return type(type_).__name__.lower()
