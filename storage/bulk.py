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


def insert_rows(
    conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], *, ids: bool = False
) -> list[int]:
    """Insert `rows` (each naming the same columns) and, with `ids`, return the new
    rows' ids in the order of `rows`."""
    if not rows:
        return []
    if conn.dialect.name == "sqlite":
        return _sqlite(conn, table, rows, ids)
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
    plain = [i for i, p in enumerate(processors) if p is None]
    if len(plain) == len(names):
        params = [tuple(row[n] for n in names) for row in rows]
    else:
        pairs = list(zip(names, processors, strict=True))
        params = [
            tuple(
                None if (value := row[n]) is None else (p(value) if p is not None else value)
                for n, p in pairs
            )
            for row in rows
        ]
    conn.exec_driver_sql(sql, params)
    if not ids:
        return []
    last = int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar_one())
    return list(range(last - len(rows) + 1, last + 1))
