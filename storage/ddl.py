"""Schema changes that revision files call, the same on SQLite, PostgreSQL and MariaDB.

Each function checks first whether its change is already there and then does nothing,
so that a step cut short on MariaDB (no transactional DDL) can simply run again. Each
also hides what the databases do differently: SQLite cannot drop a column that a table
constraint uses nor add a constraint without rebuilding the table (storage/rebuild.py);
MariaDB wants the foreign keys of a column dropped before the column; names that embed
a table or column name (ix_customer_email) follow a rename everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from storage.dialects import dialect_for
from storage.rebuild import rebuild_sqlite_table
from storage.runtime import (
    StepFailed,
    backend,
    bind,
    context,
    delete_meta,
    has_column,
    has_table,
    inspector,
    offline,
    quote,
    run,
)
from storage.tables import short_name


def convention(kind: str, table: str, columns: Sequence[str]) -> str:
    """The name Ficha gives an index (ix), unique (uq) or foreign key (fk) constraint."""
    return short_name(f"{kind}_{table}_{'_'.join(columns)}")


# -- tables ---------------------------------------------------------------------------------


def create_table(name: str, *columns: Any, **kw: Any) -> None:
    if has_table(name):
        return
    op.create_table(name, *columns, **kw)
    if backend() == "mariadb" and not offline():
        context().created.add(name)  # its indexes are added together (create_index)


def drop_table(name: str) -> None:
    if not offline() and not has_table(name):
        return
    drop_fulltext(name)
    if backend() == "mariadb" and not offline():
        # Other tables' keys pointing here go with it (they are dropped in this run too).
        for other in inspector().get_table_names():
            for fk in inspector().get_foreign_keys(other):
                if fk["referred_table"] == name and other != name and fk.get("name"):
                    key = quote(str(fk["name"]))
                    run(sa.text(f"ALTER TABLE {quote(other)} DROP FOREIGN KEY {key}"))
    op.drop_table(name)


def drop_fulltext(table: str) -> None:
    """Remove the full-text structure of a table (a later step builds it again)."""
    if not (backend() == "mariadb" and not offline() and not _has_index(table, _ft(table))):
        for statement in dialect_for(backend()).fulltext_drop_ddl(table):
            run(sa.text(statement))
    delete_meta(f"fulltext:{table}")


def _ft(table: str) -> str:
    from storage.dialects import fts_index_name

    return fts_index_name(table)


def rename_table(old: str, new: str) -> None:
    if not offline() and (has_table(new) or not has_table(old)):
        return  # done by an interrupted run (or nothing to rename)
    run(sa.text(f"ALTER TABLE {quote(old)} RENAME TO {quote(new)}"))
    if offline():
        return
    _rename_derived(new, lambda cols: (old, cols), lambda cols: (new, cols))
    if backend() == "postgresql":
        primary = inspector().get_pk_constraint(new).get("name")
        if primary == f"pk_{old}":
            _rename_constraint(new, primary, f"pk_{new}")
        if has_column(new, "id"):
            sequence = (
                bind()
                .execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": quote(new)})
                .scalar()
            )
            if sequence:  # it keeps the old name otherwise, and a new object could want it
                renamed = quote(short_name(f"{new}_id_seq"))
                run(sa.text(f"ALTER SEQUENCE {sequence} RENAME TO {renamed}"))


# -- columns --------------------------------------------------------------------------------


def add_column(
    table: str, column: sa.Column[Any], foreign_key: Sequence[Any] | None = None
) -> None:
    """Add a nullable column: instant on all three databases (no table rebuild).
    `foreign_key` is (name, referred table, on delete)."""
    if has_column(table, column.name):
        return
    if foreign_key and backend() == "sqlite":
        # SQLite takes a key in ADD COLUMN (not later without a rebuild).
        name, referred, ondelete = foreign_key
        spec = _column_sql(table, column)
        run(
            sa.text(
                f"ALTER TABLE {quote(table)} ADD COLUMN {spec} CONSTRAINT {quote(name)} "
                f"REFERENCES {quote(referred)} (id) ON DELETE {ondelete}"
            )
        )
        return
    op.add_column(table, column)
    if foreign_key:
        name, referred, ondelete = foreign_key
        add_foreign_key(name, table, referred, [column.name], ["id"], ondelete=ondelete)


def _column_sql(table: str, column: sa.Column[Any]) -> str:
    probe = sa.Table(table, sa.MetaData(), column._copy())
    ddl = sa.schema.CreateColumn(probe.c[column.name])
    return str(ddl.compile(dialect=op.get_context().dialect))


def drop_column(table: str, column: str) -> None:
    if not offline() and not has_column(table, column):
        return
    drop_columns(table, [column])


def drop_columns(table: str, columns: Sequence[str]) -> None:
    """Drop columns with whatever indexes and keys use them."""
    if offline():
        for column in columns:
            op.drop_column(table, column)
        return
    columns = [c for c in columns if has_column(table, c)]
    if not columns:
        return
    insp = inspector()
    if backend() == "sqlite":
        constraints: list[Any] = [
            *insp.get_foreign_keys(table),
            *insp.get_unique_constraints(table),
        ]
        constrained = {
            c
            for constraint in constraints
            for c in constraint.get("constrained_columns") or constraint.get("column_names") or []
        }
        if constrained & set(columns):
            rebuild_sqlite_table(table, drop_columns=columns)
            return
    if backend() == "mariadb":  # keys first: MariaDB will not drop an index a key uses
        for fk in insp.get_foreign_keys(table):
            if set(fk["constrained_columns"]) & set(columns) and fk.get("name"):
                key = quote(str(fk["name"]))
                run(sa.text(f"ALTER TABLE {quote(table)} DROP FOREIGN KEY {key}"))
    for index in insp.get_indexes(table):
        if set(index["column_names"]) & set(columns) and index.get("name"):
            _drop_index_sql(str(index["name"]), table)
    for column in columns:
        run(sa.text(f"ALTER TABLE {quote(table)} DROP COLUMN {quote(column)}"))


def rename_column(table: str, old: str, new: str) -> None:
    if not offline() and (has_column(table, new) or not has_column(table, old)):
        return
    run(sa.text(f"ALTER TABLE {quote(table)} RENAME COLUMN {quote(old)} TO {quote(new)}"))
    if offline():
        return

    def before(cols: Sequence[str]) -> tuple[str, Sequence[str]]:
        return table, [old if c == new else c for c in cols]

    _rename_derived(table, before, lambda cols: (table, cols))


# -- indexes and constraints ----------------------------------------------------------------


def _has_index(table: str, name: str) -> bool:
    if offline() or not has_table(table):
        return False
    insp = inspector()
    names = {i["name"] for i in insp.get_indexes(table)}
    names |= {u["name"] for u in insp.get_unique_constraints(table)}
    return name in names


def create_index(
    name: str, table_name: str, columns: Sequence[str], unique: bool = False, **kw: Any
) -> None:
    if table_name in context().created and all(isinstance(c, str) for c in columns):
        # MariaDB, a table this step created: held, to be added with the table's other
        # indexes in one statement (runtime.add_held_indexes) before anything else runs.
        # Nothing to check first: if the step is cut short, it runs again from the start
        # and finds the table there, and then its indexes are created one by one.
        held = context().held_indexes.setdefault(table_name, {})
        held.setdefault(
            name,
            f"ADD {'UNIQUE ' if unique else ''}INDEX {quote(name)} "
            f"({', '.join(quote(c) for c in columns)})",
        )
        return
    if _has_index(table_name, name):
        return
    # **kw carries postgresql_where / sqlite_where: list indexes are partial (tables.py)
    op.create_index(name, table_name, list(columns), unique=unique, **kw)


def drop_index(name: str, table_name: str, **kw: Any) -> None:
    if not offline() and not _has_index(table_name, name):
        return
    _drop_index_sql(name, table_name)


def _drop_index_sql(name: str, table: str) -> None:
    if backend() == "mariadb":
        run(sa.text(f"DROP INDEX {quote(name)} ON {quote(table)}"))
    else:
        run(sa.text(f"DROP INDEX {quote(name)}"))


def add_unique(name: str, table: str, columns: Sequence[str]) -> None:
    """A unique constraint. Refused (raises) while duplicates exist; on SQLite it is a
    unique index, which needs no table rebuild and means the same."""
    if _has_index(table, name):
        return
    if not offline():
        duplicates = find_duplicates(bind(), table, columns)
        if duplicates:
            raise StepFailed(
                f"{table} ({', '.join(columns)}) cannot be made unique: "
                + describe_duplicates(duplicates)
            )
    if backend() == "sqlite":
        op.create_index(name, table, list(columns), unique=True)
    else:
        op.create_unique_constraint(name, table, list(columns))


def drop_constraint(name: str, table_name: str, type_: str | None = None, **kw: Any) -> None:
    if type_ == "foreignkey":
        drop_foreign_key(name, table_name)
        return
    if not offline() and not _has_index(table_name, name):
        return
    if backend() == "sqlite":  # (printing SQL, the rebuild is described, not shown)
        if not offline() and name in {i["name"] for i in inspector().get_indexes(table_name)}:
            _drop_index_sql(name, table_name)
        else:
            rebuild_sqlite_table(table_name, drop_constraints=[name])
        return
    op.drop_constraint(name, table_name, type_=type_)


def add_foreign_key(
    name: str,
    source_table: str,
    referent_table: str,
    local_cols: Sequence[str],
    remote_cols: Sequence[str],
    ondelete: str | None = None,
    **kw: Any,
) -> None:
    if not offline() and any(
        fk.get("name") == name or fk["constrained_columns"] == list(local_cols)
        for fk in inspector().get_foreign_keys(source_table)
    ):
        return
    if backend() == "sqlite":
        rebuild_sqlite_table(
            source_table,
            add_foreign_keys=[
                (name, list(local_cols), referent_table, list(remote_cols), ondelete)
            ],
        )
        return
    if backend() == "mariadb" and not offline():
        # The values were checked (or are all empty): without the check MariaDB adds the
        # key in place instead of copying the whole table.
        run(sa.text("SET SESSION foreign_key_checks = 0"))
    op.create_foreign_key(
        name, source_table, referent_table, list(local_cols), list(remote_cols), ondelete=ondelete
    )
    if backend() == "mariadb" and not offline():
        run(sa.text("SET SESSION foreign_key_checks = 1"))


def drop_foreign_key(name: str, table: str) -> None:
    if offline():
        if backend() == "sqlite":
            rebuild_sqlite_table(table, drop_constraints=[name])
        else:
            op.drop_constraint(name, table, type_="foreignkey")
        return
    found = [fk for fk in inspector().get_foreign_keys(table) if fk.get("name") == name]
    if not found:
        return
    if backend() == "sqlite":
        rebuild_sqlite_table(table, drop_constraints=[name])
    else:
        op.drop_constraint(name, table, type_="foreignkey")


# -- names that follow a rename ---------------------------------------------------------------


def _rename_derived(table: str, before: Any, after: Any) -> None:
    """Rename the indexes and constraints of `table` that carry Ficha's conventional
    name for what the table or column was called before (ix_client_email →
    ix_customer_email), so that the old name is free for a new object later."""
    insp = inspector()
    for index in insp.get_indexes(table):
        if not index["column_names"] or None in index["column_names"]:
            continue  # an expression index (full-text search): not named after columns
        cols = [str(c) for c in index["column_names"]]
        name = str(index.get("name"))
        if name == convention("ix", *before(cols)):
            _rename_index(table, name, convention("ix", *after(cols)), bool(index["unique"]))
        elif name == convention("uq", *before(cols)):
            _rename_index(table, name, convention("uq", *after(cols)), True)
    for uq in insp.get_unique_constraints(table):
        cols = [str(c) for c in uq["column_names"]]
        name = str(uq.get("name"))
        if name == convention("uq", *before(cols)) and backend() == "postgresql":
            _rename_constraint(table, name, convention("uq", *after(cols)))
    for fk in insp.get_foreign_keys(table):
        cols = [str(c) for c in fk["constrained_columns"]]
        name = str(fk.get("name"))
        if name != convention("fk", *before(cols)):
            continue
        new = convention("fk", *after(cols))
        if backend() == "postgresql":
            _rename_constraint(table, name, new)
        elif backend() == "mariadb":
            # Key names are per database on MariaDB; it cannot rename one: re-create it.
            run(sa.text(f"ALTER TABLE {quote(table)} DROP FOREIGN KEY {quote(name)}"))
            ondelete = (fk.get("options") or {}).get("ondelete")
            add_foreign_key(
                new, table, fk["referred_table"], cols, fk["referred_columns"], ondelete=ondelete
            )


def _rename_constraint(table: str, old: str, new: str) -> None:
    if old != new:
        run(sa.text(f"ALTER TABLE {quote(table)} RENAME CONSTRAINT {quote(old)} TO {quote(new)}"))


def _rename_index(table: str, old: str, new: str, unique: bool) -> None:
    if old == new:
        return
    if backend() == "postgresql":
        if unique and old.startswith("uq_"):
            return  # renamed with its constraint
        run(sa.text(f"ALTER INDEX {quote(old)} RENAME TO {quote(new)}"))
    elif backend() == "mariadb":
        run(sa.text(f"ALTER TABLE {quote(table)} RENAME INDEX {quote(old)} TO {quote(new)}"))
    else:  # SQLite cannot rename an index: build it again under the new name, from its
        # own CREATE statement (which keeps a partial index's WHERE)
        sql = (
            bind()
            .execute(
                sa.text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"),
                {"n": old},
            )
            .scalar()
        )
        _drop_index_sql(old, table)
        head, rest = str(sql).split(" ON ", 1)
        kind = "CREATE UNIQUE INDEX" if head.upper().startswith("CREATE UNIQUE") else "CREATE INDEX"
        run(sa.text(f"{kind} {quote(new)} ON {rest}"))


# -- data checks shared with the plan --------------------------------------------------------


def find_duplicates(
    conn: sa.Connection, table: str, columns: Sequence[str], limit: int = 5
) -> list[tuple[tuple[Any, ...], list[int]]]:
    """Values held by more than one row (empty values never clash), with their ids."""
    t = sa.table(table, sa.column("id"), *(sa.column(c) for c in columns))
    cols = [t.c[c] for c in columns]
    groups = conn.execute(
        sa.select(*cols, sa.func.count().label("n"))
        .where(*(c.is_not(None) for c in cols))
        .group_by(*cols)
        .having(sa.func.count() > 1)
        .order_by(sa.func.count().desc())
        .limit(limit)
    ).all()
    result = []
    for row in groups:
        values = tuple(row[: len(columns)])
        ids = (
            conn.execute(
                sa.select(t.c.id)
                .where(*(c == v for c, v in zip(cols, values, strict=True)))
                .order_by(t.c.id)
                .limit(5)
            )
            .scalars()
            .all()
        )
        result.append((values, [int(i) for i in ids]))
    return result


def describe_duplicates(duplicates: list[tuple[tuple[Any, ...], list[int]]]) -> str:
    parts = []
    for values, ids in duplicates:
        shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values)
        parts.append(f"{shown} (ids {', '.join(str(i) for i in ids)})")
    return "these values are held by more than one record: " + "; ".join(parts)
