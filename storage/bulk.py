"""Many rows in one go: the INSERTs of the records service's batch path (imports, bulk
API calls) and of the audit rows they write, done the fastest safe way each database
allows. Values go through the columns' own SQLAlchemy bind processors, so what lands in
the table is exactly what a single `insert().values()` would have written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


class Serialized(str):
    """A JSON column's value already serialized (the audit trail writes many at once)."""


def _deserialized(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    import json

    return [
        {k: json.loads(v) if isinstance(v, Serialized) else v for k, v in row.items()}
        for row in rows
    ]


def insert_rows(
    conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], *, ids: bool = False
) -> list[int]:
    """Insert `rows` (each naming the same columns) and, with `ids`, return the new
    rows' ids in the order of `rows`."""
    if not rows:
        return []
    if conn.dialect.name == "sqlite":
        return _sqlite(conn, table, rows, ids)
    if any(isinstance(v, Serialized) for row in rows for v in row.values()):
        rows = _deserialized(rows)
    if not ids:
        conn.execute(table.insert(), list(rows))
        return []
    stmt = table.insert().returning(table.c.id)
    if conn.dialect.insert_executemany_returning:
        # Multi-row INSERTs: ids come from a sequence or an auto-increment, ascending in
        # VALUES order within one statement, so the sorted ids are the rows' in order.
        # (Asking SQLAlchemy to sort them costs one statement per row on some drivers.)
        return sorted(int(i) for i in conn.execute(stmt, list(rows)).scalars())
    return [int(conn.execute(stmt, [dict(row)]).scalar_one()) for row in rows]


def _sqlite(
    conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], ids: bool
) -> list[int]:
    """The driver's own executemany with values converted once per column: SQLAlchemy's
    per-row parameter handling costs more than SQLite's insert itself. Only one
    connection writes to a SQLite file at a time, so once this transaction has inserted,
    its new rows are the highest ids, one after the other."""
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    processors = [c.type._cached_bind_processor(conn.dialect) for c in columns]
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(n) for n in names)
    sql = (
        f"INSERT INTO {conn.dialect.identifier_preparer.format_table(table)} ({quoted}) "
        f"VALUES ({', '.join('?' for _ in names)})"
    )
    # column by column: one conversion loop per column, not one per value and row
    columns_values: list[list[Any]] = []
    for name, column, process in zip(names, columns, processors, strict=True):
        values = [row[name] for row in rows]
        if isinstance(column.type, sa.JSON):
            values = [
                v if isinstance(v, Serialized) or v is None else process(v) if process else v
                for v in values
            ]
        elif process is not None:
            values = _processed(values, process)
        columns_values.append(values)
    params = list(zip(*columns_values, strict=True))
    conn.exec_driver_sql(sql, params)
    if not ids:
        return []
    last = int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar_one())
    return list(range(last - len(rows) + 1, last + 1))


def _processed(values: list[Any], process: Any) -> list[Any]:
    """Each value converted, a repeated one (the batch's timestamps) only once."""
    result: list[Any] = []
    last: Any = None
    done: Any = None
    for value in values:
        if value is None:
            result.append(None)
        elif value is last:
            result.append(done)
        else:
            last, done = value, process(value)
            result.append(done)
    return result
