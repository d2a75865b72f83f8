"""Rebuilding a SQLite table: what SQLite needs to drop a column that a table constraint
uses, or to add or drop a foreign key or unique constraint.

SQLite's documented procedure: create the new table, copy the rows, drop the old table,
rename the new one, and create its indexes and triggers again. The copy runs in id
batches and reports its progress and rows per second. It must run with foreign keys
off (set by `ficha migrate` before its transaction): with them on, dropping the old
table would fire ON DELETE CASCADE on every row that links to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from storage.runtime import Progress, StepFailed, bind, count_rows, id_ranges, offline, quote, run
from storage.tables import short_name

ForeignKeySpec = tuple[str, list[str], str, list[str], str | None]


def rebuild_sqlite_table(
    table: str,
    *,
    drop_columns: Sequence[str] = (),
    drop_constraints: Sequence[str] = (),
    add_foreign_keys: Sequence[ForeignKeySpec] = (),
) -> None:
    if offline():
        run(sa.text(f"-- rebuild table {table} (copied in batches into a new table)"))
        return
    conn = bind()
    if conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise StepFailed(
            f"rebuilding {table} needs foreign keys off; run this revision with "
            "'ficha migrate', which does that"
        )
    md = sa.MetaData()
    old = sa.Table(table, md, autoload_with=conn)
    tmp = short_name(f"_ficha_rebuild_{table}")
    dropped = set(drop_columns)
    columns = [c._copy() for c in old.columns if c.name not in dropped]
    constraints: list[Any] = [
        sa.PrimaryKeyConstraint(
            *[c.name for c in old.primary_key.columns],
            name=str(old.primary_key.name) if old.primary_key.name else None,
        )
    ]
    for fk in old.foreign_key_constraints:
        local = [c.name for c in fk.columns]
        if fk.name in drop_constraints or dropped & set(local):
            continue
        constraints.append(
            sa.ForeignKeyConstraint(
                local,
                [f"{e.column.table.name}.{e.column.name}" for e in fk.elements],
                name=fk.name,
                ondelete=fk.ondelete,
            )
        )
    for name, local, referred, remote, ondelete in add_foreign_keys:
        if referred not in md.tables:
            sa.Table(referred, md, autoload_with=conn)
        constraints.append(
            sa.ForeignKeyConstraint(
                local, [f"{referred}.{c}" for c in remote], name=name, ondelete=ondelete
            )
        )
    for constraint in old.constraints:
        if isinstance(constraint, sa.UniqueConstraint) and not isinstance(
            constraint, sa.PrimaryKeyConstraint
        ):
            cols = [c.name for c in constraint.columns]
            if constraint.name not in drop_constraints and not dropped & set(cols):
                constraints.append(sa.UniqueConstraint(*cols, name=constraint.name))
        elif isinstance(constraint, sa.CheckConstraint):
            constraints.append(sa.CheckConstraint(constraint.sqltext, name=constraint.name))
    new = sa.Table(tmp, md, *columns, *constraints)
    kept_sql = _indexes_and_triggers(conn, table, dropped, set(drop_constraints))
    run(sa.text(f"DROP TABLE IF EXISTS {quote(tmp)}"))
    run(sa.schema.CreateTable(new))
    names = ", ".join(quote(c.name) for c in columns)

    def copy(low: int, high: int) -> Any:
        return sa.text(
            f"INSERT INTO {quote(tmp)} ({names}) SELECT {names} FROM {quote(table)} "
            "WHERE id >= :low AND id < :high"
        ).bindparams(low=low, high=high)

    # The progress covers the whole rebuild (copy, swap, indexes): its rows per second
    # is what the admin waits for, not the copy alone.
    progress = Progress(f"rebuilding {table}", count_rows(table))
    for low, high in id_ranges(table):
        progress.advance(max(conn.execute(copy(low, high)).rowcount or 0, 0))
    run(sa.text(f"DROP TABLE {quote(table)}"))
    run(sa.text(f"ALTER TABLE {quote(tmp)} RENAME TO {quote(table)}"))
    for statement in kept_sql:
        run(sa.text(statement))
    progress.finish()


def _indexes_and_triggers(
    conn: sa.Connection, table: str, dropped: set[str], drop_names: set[str]
) -> list[str]:
    """The CREATE statements to run again after the rebuild (those still valid)."""
    insp = sa.inspect(conn)
    columns_of = {i["name"]: set(i["column_names"]) for i in insp.get_indexes(table)}
    rows = conn.execute(
        sa.text(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = :t "
            "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
        ),
        {"t": table},
    ).all()
    kept = []
    for kind, name, sql in rows:
        if kind == "index" and (name in drop_names or columns_of.get(name, set()) & dropped):
            continue
        kept.append(str(sql))
    return kept
