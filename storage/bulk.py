"""Many rows in one go: the INSERTs of the records service's batch path (imports, bulk
API calls) and of the audit rows they write, done the fastest safe way each database
allows. Values go through the columns' own SQLAlchemy bind processors, so what lands in
the table is exactly what a single `insert().values()` would have written.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


class Serialized(str):
    """A JSON column's value already serialized (the audit trail writes many at once)."""


def insert_rows(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    same: Mapping[str, Any] | None = None,
    ids: bool = False,
) -> list[int]:
    """Insert `rows` (each naming the same columns), each with the values of `same` too
    (what every row of a batch shares: its timestamps, author and version), and, with
    `ids`, return the new rows' ids in the order of `rows`."""
    if not rows:
        return []
    same = same or {}
    if conn.dialect.name == "sqlite":
        return _sqlite(conn, table, rows, same, ids)
    params = [{**row, **same} for row in rows] if same else list(rows)
    # JSON text written as it is (the driver's text goes into the JSON column), not
    # serialized again as a JSON string
    serialized = [name for name, value in params[0].items() if isinstance(value, Serialized)]
    insert = table.insert().values({name: _text(conn, table, name) for name in serialized})
    if not ids:
        conn.execute(insert, params)
        return []
    if conn.dialect.name == "postgresql":
        # ids taken from the table's sequence first, then one plain executemany (the
        # driver pipelines it): a RETURNING over many rows makes SQLAlchemy and psycopg
        # build and parse one statement of thousands of parameters per page instead
        sequence = sa.func.pg_get_serial_sequence(
            conn.dialect.identifier_preparer.format_table(table), "id"
        )
        taken = sa.select(sa.func.nextval(sequence)).select_from(
            sa.func.generate_series(1, len(params))
        )
        new_ids = sorted(int(i) for i in conn.execute(taken).scalars())
        conn.execute(insert, [{**row, "id": i} for row, i in zip(params, new_ids, strict=True)])
        return new_ids
    stmt = insert.returning(table.c.id)
    if conn.dialect.insert_executemany_returning:
        # Multi-row INSERTs: ids come from a sequence or an auto-increment, ascending in
        # VALUES order within one statement, so the sorted ids are the rows' in order.
        # (Asking SQLAlchemy to sort them costs one statement per row on some drivers.)
        return sorted(int(i) for i in conn.execute(stmt, params).scalars())
    return [int(conn.execute(stmt, [row]).scalar_one()) for row in params]


def _text(conn: Connection, table: sa.Table, name: str) -> Any:
    """A JSON column's value bound as the JSON text it already is."""
    text = sa.bindparam(name, type_=sa.Text())
    if conn.dialect.name == "postgresql":  # a text parameter is not a json value there
        return sa.cast(text, table.c[name].type)
    return sa.type_coerce(text, sa.Text())  # MariaDB's JSON is text


def _sqlite(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    same: Mapping[str, Any],
    ids: bool,
) -> list[int]:
    """The driver's own executemany with values converted once per column: SQLAlchemy's
    per-row parameter handling costs more than SQLite's insert itself. Only one
    connection writes to a SQLite file at a time, so once this transaction has inserted,
    its new rows are the highest ids, one after the other."""
    shared = list(same)
    names = [n for n in rows[0] if n not in same]  # `same` wins, as on the other databases
    dialect = conn.dialect
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in [*names, *shared])
    sql = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({quoted}) "
        f"VALUES ({', '.join('?' for _ in range(len(names) + len(shared)))})"
    )
    params: list[tuple[Any, ...]]
    if len(names) > 1:
        params = list(map(operator.itemgetter(*names), rows))
    else:  # itemgetter gives a bare value for one name, and wants at least one
        params = [tuple(row[n] for n in names) for row in rows]
    converters = [_converter(table.c[name], dialect) for name in names]
    if any(c is not None for c in converters):
        # column by column: one conversion loop per column, not one per value and row
        columns: list[Any] = list(zip(*params, strict=True))
        for i, convert in enumerate(converters):
            if convert is not None:
                columns[i] = convert(columns[i])
        params = list(zip(*columns, strict=True))
    if shared:
        tail = tuple(_bound(table.c[name], dialect, same[name]) for name in shared)
        params = [row + tail for row in params]
    conn.exec_driver_sql(sql, params)
    if not ids:
        return []
    last = int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar_one())
    return list(range(last - len(rows) + 1, last + 1))


def _bound(column: sa.Column[Any], dialect: Any, value: Any) -> Any:
    """One value as the column's bind processor gives it to the driver."""
    if value is None or isinstance(value, Serialized):
        return value
    process = column.type._cached_bind_processor(dialect)
    return process(value) if process is not None else value


def _converter(column: sa.Column[Any], dialect: Any) -> Any:
    """A column of values → the same values as the column's bind processor gives them
    to the driver; None when it gives them as they are."""
    process = column.type._cached_bind_processor(dialect)
    if process is None:
        return None
    if isinstance(column.type, sa.JSON):
        return lambda values: [
            v if v is None or isinstance(v, Serialized) else process(v) for v in values
        ]
    same = _same_as(process)
    if same is not None:
        kind, quickly = same
        return lambda values: [
            quickly(v) if type(v) is kind else None if v is None else process(v) for v in values
        ]
    return lambda values: _processed(values, process)


#: a processor's job done by a C method, where it writes exactly what the processor
#: writes (tried on sample values): SQLite's dates and booleans, whose processors are
#: plain Python and cost more per value than the insert
_QUICKER: tuple[tuple[type, Any, tuple[Any, ...]], ...] = (
    (
        dt.date,
        dt.date.isoformat,
        (dt.date(2001, 2, 3), dt.date(999, 12, 31), dt.date(2024, 10, 9)),
    ),
    (bool, int, (True, False)),
)


def _same_as(process: Any) -> tuple[type, Any] | None:
    """(kind, quicker) when `quicker` writes what `process` writes for values of `kind`
    (a few calls per batch and column: cheaper than remembering)."""
    for kind, quickly, samples in _QUICKER:
        if all(_agree(process, quickly, v) for v in samples):
            return kind, quickly
    return None


def _agree(process: Any, quickly: Any, sample: Any) -> bool:
    try:
        given = process(sample)
    except Exception:  # a processor refusing the sample only means "not the same"
        return False
    wanted = quickly(sample)
    return type(given) is type(wanted) and given == wanted


def _processed(values: Sequence[Any], process: Any) -> list[Any]:
    return [None if v is None else process(v) for v in values]
