"""Alembic autogenerate, as Ficha uses it: compare the live tables with a model's tables
(only tables Ficha owns), leave out differences that mean nothing, and render one
operation as the code of a revision file, calling Ficha's helpers instead of `op.`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext

VERSION_TABLE = "ficha_alembic_version"


def include_name(owned: set[str]) -> Any:
    def include(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "table":
            return name in owned  # never touch, let alone drop, a table Ficha did not make
        # full-text and prefix indexes are managed by set_fulltext, not compared here
        return not (type_ == "index" and name and name.startswith(("ft_", "fp_")))

    return include


def compare(
    conn: sa.Connection, metadata: sa.MetaData, owned: set[str], backend: str
) -> ops.UpgradeOps:
    context = MigrationContext.configure(
        conn,
        opts={
            "target_metadata": metadata,
            "include_name": include_name(owned),
            # Types and defaults are compared through the model snapshot, where they are
            # exact; reflected types differ per database (JSON is LONGTEXT on MariaDB).
            "compare_type": False,
            "compare_server_default": False,
            "version_table": VERSION_TABLE,
        },
    )
    upgrade_ops = produce_migrations(context, metadata).upgrade_ops
    assert upgrade_ops is not None
    _partial_changes(upgrade_ops, conn, metadata, owned, backend)
    return _without_equivalents(upgrade_ops, backend, conn)


def _partial_changes(
    upgrade_ops: ops.UpgradeOps,
    conn: sa.Connection,
    metadata: sa.MetaData,
    owned: set[str],
    backend: str,
) -> None:
    """An index that became partial (`live: true`) or stopped being one: built again.

    Alembic compares an index's name, columns and uniqueness but not its WHERE, so the
    change would never reach the database. Only whether there is a condition is compared:
    Ficha writes one condition (deleted_at IS NULL), which each database reflects in its
    own spelling. MariaDB has no partial indexes."""
    if backend not in ("sqlite", "postgresql"):
        return
    insp = sa.inspect(conn)
    handled = {
        (getattr(o, "table_name", None), getattr(o, "index_name", None))
        for m in upgrade_ops.ops
        for o in (m.ops if isinstance(m, ops.ModifyTableOps) else [m])
    }
    for table in metadata.sorted_tables:
        if table.name not in owned or not insp.has_table(table.name):
            continue
        live = {str(r["name"]): r for r in insp.get_indexes(table.name) if r.get("name")}
        changed: list[Any] = []
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            found = live.get(str(index.name))
            if found is None or (table.name, index.name) in handled:
                continue
            wanted = index.dialect_kwargs.get(f"{backend}_where") is not None
            partial = (found.get("dialect_options") or {}).get(f"{backend}_where") is not None
            if wanted == partial:
                continue
            cols = [str(c) for c in found["column_names"] if c is not None]
            shape = sa.Table(table.name, sa.MetaData(), *(sa.Column(c) for c in cols))
            options = found.get("dialect_options") or {}
            where = {f"{backend}_where": options[f"{backend}_where"]} if partial else {}
            before = sa.Index(index.name, *(shape.c[c] for c in cols), **where)
            changed += [ops.DropIndexOp.from_index(before), ops.CreateIndexOp.from_index(index)]
        if changed:
            modify = next(
                (
                    m
                    for m in upgrade_ops.ops
                    if isinstance(m, ops.ModifyTableOps) and m.table_name == table.name
                ),
                None,
            )
            if modify is None:
                modify = ops.ModifyTableOps(table.name, [])
                upgrade_ops.ops.append(modify)
            modify.ops.extend(changed)


def _without_equivalents(
    upgrade_ops: ops.UpgradeOps, backend: str, conn: sa.Connection
) -> ops.UpgradeOps:
    """Drop pairs of changes that cancel out: a unique index and a unique constraint on
    the same columns mean the same (SQLite keeps added uniques as indexes), and on SQLite
    a unique constraint keeps the name it had before a rename (renaming it would mean
    rebuilding the table for nothing)."""
    for modify in upgrade_ops.ops:
        if not isinstance(modify, ops.ModifyTableOps):
            continue
        if backend == "sqlite":
            _same_sqlite_keys(conn, modify)
        removed = [o for o in modify.ops if _unique_columns(o, removed=True)]
        added = [o for o in modify.ops if _unique_columns(o, removed=False)]
        for old in removed:
            for new in added:
                same = _unique_columns(old, True) == _unique_columns(new, False)
                if same and (_name(old) == _name(new) or backend == "sqlite"):
                    modify.ops.remove(old)
                    modify.ops.remove(new)
                    added.remove(new)
                    break
    upgrade_ops.ops = [
        o for o in upgrade_ops.ops if not (isinstance(o, ops.ModifyTableOps) and not o.ops)
    ]
    return upgrade_ops


def _same_sqlite_keys(conn: sa.Connection, modify: ops.ModifyTableOps) -> None:
    """A key added with its column (ALTER TABLE ADD COLUMN … REFERENCES, which SQLite
    allows without a rebuild) is reflected without its name and ON DELETE rule: read the
    rule from SQLite itself before calling it different."""
    dropped = [
        o
        for o in modify.ops
        if isinstance(o, ops.DropConstraintOp)
        and o.constraint_type == "foreignkey"
        and not o.constraint_name
    ]
    if not dropped:
        return
    rules = {
        (row[3], row[2]): row[6]
        for row in conn.exec_driver_sql(f'PRAGMA foreign_key_list("{modify.table_name}")')
    }
    for old in dropped:
        for new in [o for o in modify.ops if isinstance(o, ops.CreateForeignKeyOp)]:
            key = (new.local_cols[0], new.referent_table)
            wanted = (new.kw.get("ondelete") or "NO ACTION").upper()
            if len(new.local_cols) == 1 and rules.get(key, "").upper() == wanted:
                modify.ops.remove(old)
                modify.ops.remove(new)
                break


def _unique_columns(op_: Any, removed: bool) -> tuple[str, ...] | None:
    if removed and isinstance(op_, ops.DropIndexOp) and op_.kw.get("unique"):
        return tuple(c.name for c in op_.to_index().columns)
    if removed and isinstance(op_, ops.DropConstraintOp) and op_.constraint_type == "unique":
        reverse = op_._reverse
        if reverse is not None:
            constraint: Any = reverse.to_constraint()
            return tuple(c.name for c in constraint.columns)
    if not removed and isinstance(op_, ops.AddConstraintOp) and op_.constraint_type == "unique":
        return tuple(c.name for c in op_.to_constraint().columns)  # type: ignore[attr-defined]
    if not removed and isinstance(op_, ops.CreateIndexOp) and op_.unique:
        return tuple(c.name for c in op_.to_index().columns)
    return None


def _name(op_: Any) -> str | None:
    return getattr(op_, "constraint_name", None) or getattr(op_, "index_name", None)


def render(op_: Any) -> tuple[str, ...]:
    """Alembic's rendering of one operation, calling Ficha's helpers instead of `op.`."""
    text = render_python_code(ops.UpgradeOps([op_]), render_as_batch=False)
    lines = [
        line[4:] if line.startswith("    ") else line
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("# ###")
    ]
    code = "\n".join(lines)
    for name, helper in _HELPERS.items():
        code = code.replace(f"op.{name}(", f"{helper}(")
    return tuple(code.splitlines())


_HELPERS = {
    "create_table": "create_table",
    "drop_table": "drop_table",
    "add_column": "add_column",
    "drop_column": "drop_column",
    "create_index": "create_index",
    "drop_index": "drop_index",
    "create_unique_constraint": "add_unique",
    "drop_constraint": "drop_constraint",
    "create_foreign_key": "add_foreign_key",
}


def touches(table: str, op_: Any, owned: set[tuple[str, str]]) -> bool:
    """The operation is about a column that a conversion handles itself."""
    columns: list[str] = []
    if isinstance(op_, ops.AddColumnOp):
        columns = [op_.column.name]
    elif isinstance(op_, ops.DropColumnOp):
        columns = [op_.column_name]
    elif isinstance(op_, ops.CreateIndexOp | ops.DropIndexOp):
        columns = [c.name for c in op_.to_index().columns]
    elif isinstance(op_, ops.CreateForeignKeyOp):
        columns = list(op_.local_cols)
    elif isinstance(op_, ops.AddConstraintOp | ops.DropConstraintOp):
        constraint = (
            op_.to_constraint()
            if isinstance(op_, ops.AddConstraintOp)
            else (op_._reverse.to_constraint() if op_._reverse else None)
        )
        columns = [c.name for c in getattr(constraint, "columns", [])]
    return any((table, c) in owned for c in columns)
