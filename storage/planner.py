"""The plan: the difference between the live database and the model, as ordered steps in
plain words, each with the code its revision file runs and the code that undoes it.

Two comparisons feed it. Alembic autogenerate compares the live tables with the model's
tables *with pending renames undone* (so a rename does not look like a drop plus an
add); the model snapshot recorded at the last migration tells renames, type changes,
choice codes and required fields apart (storage/evolution.py). Data the plan depends on
is checked now, on the live rows: values that do not convert, duplicates under a new
unique constraint, records that a new required field would leave empty.

This module plans the structure (tables, columns, renames, indexes and keys);
plan_conversions.py the type changes, plan_data.py the data of fields that stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops

from modeler.fieldtypes import LINK, MANY_TO_MANY
from storage.autogen import compare, render, touches
from storage.ddl import describe_duplicates, find_duplicates
from storage.evolution import find_renames, name_map, undo_renames
from storage.manager import StorageManager
from storage.plan_conversions import ConversionPlanning
from storage.plan_data import DataPlanning
from storage.sources import native_model
from storage.steps import (
    ADD_COLUMNS,
    ADD_KEYS,
    CREATE_TABLES,
    DROP_COLUMNS,
    DROP_KEYS,
    DROP_TABLES,
    RENAME_COLUMNS,
    RENAME_TABLES,
    Options,
    Step,
    call,
    old_column,
    plural,
    refuse,
)
from storage.tables import build_tables


class Planner(ConversionPlanning, DataPlanning):
    def __init__(
        self,
        storage: StorageManager,
        conn: sa.Connection,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        options: Options,
        owned: set[str],
        fulltext_now: Mapping[str, list[str]],
    ) -> None:
        self.storage = storage
        self.model = native_model(storage.model)  # wrapped objects have no table
        self.target = storage.tables
        self.conn = conn
        self.old = old
        self.new = new
        self.options = options
        self.backend = storage.backend
        self.fulltext_now = fulltext_now
        self.renames = find_renames(self.model, old)
        undone = undo_renames(self.model, self.renames)
        self.compared = build_tables(undone) if self.renames else self.target
        self.names = name_map(self.model, undone, self.renames)
        self.owned = owned | set(self.compared.metadata.tables)
        self.ops = compare(conn, self.compared.metadata, self.owned, self.backend)
        self.steps = []

    # -- entry point ----------------------------------------------------------------------

    def plan(self) -> list[Step]:
        for clash in self.renames.clashes:
            self.steps.append(
                Step(clash, "rename", refused=clash, hint="remove renamed_from, or one of the two")
            )
        conversions = self._conversions()
        owned_cols = {
            (c.live_table, col)
            for c in conversions
            for col in (c.live_column, c.compare_column)
            if col
        }
        owned_tables = {c.params["link_table"] for c in conversions if c.how == "single_pair"}
        self._renames()
        self._operations(owned_cols, owned_tables)
        for c in conversions:
            self._convert(c)
        self._field_data(conversions)
        self._fulltext()
        self._refuse_guessed_renames()
        return sorted(self.steps, key=lambda s: (s.phase, s.order))

    # -- renames ----------------------------------------------------------------------------

    def _renames(self) -> None:
        for old, new in self.names.tables.items():
            if old == new:
                continue
            what = "object" if new in self.model else "link table"
            self.add(
                Step(
                    f"rename {what} {old} to {new}",
                    "rename_table",
                    phase=RENAME_TABLES,
                    code=call("rename_table", old, new),
                    undo=call("rename_table", new, old),
                )
            )
        for (obj, old_name), new_name in self.renames.fields.items():
            spec = self._old_spec(obj, old_name)
            f = self.model[obj].fields[new_name]
            if spec.get("kind") == MANY_TO_MANY or f.kind == MANY_TO_MANY:
                if spec.get("kind") != f.kind:
                    self.add(
                        Step(
                            f"rename {obj}.{old_name} to {new_name}",
                            "rename",
                            refused="a many_to_many cannot be renamed and changed at once",
                            hint="rename it in one migration, change it in the next",
                        )
                    )
                continue  # its link table is renamed with the tables
            old_col = old_column(spec, old_name)
            new_col = f"{new_name}_id" if spec.get("kind") == LINK else new_name
            self.add(
                Step(
                    f"rename field {obj}.{old_name} to {new_name}",
                    "rename_column",
                    phase=RENAME_COLUMNS,
                    code=call("rename_column", obj, old_col, new_col),
                    undo=call("rename_column", obj, new_col, old_col),
                    subject=(self.renames.old_object(obj), old_col),
                )
            )

    # -- what autogenerate found --------------------------------------------------------------

    def _operations(self, owned_cols: set[tuple[str, str]], owned_tables: set[str]) -> None:
        created = {o.table_name for o in self.ops.ops if isinstance(o, ops.CreateTableOp)}
        dropped = {o.table_name for o in self.ops.ops if isinstance(o, ops.DropTableOp)}
        for op_ in self.ops.ops:
            if isinstance(op_, ops.CreateTableOp):
                self._create_table(op_)
            elif isinstance(op_, ops.DropTableOp):
                if op_.table_name not in owned_tables:
                    self._drop_table(op_)
            elif getattr(op_, "table_name", None) in dropped:
                continue  # its indexes and keys go with it
            elif isinstance(op_, ops.ModifyTableOps):
                for sub in op_.ops:
                    if not touches(op_.table_name, sub, owned_cols):
                        self._table_op(op_.table_name, sub, op_.table_name in created)
            elif isinstance(op_, ops.CreateIndexOp | ops.DropIndexOp):
                table = op_.table_name or ""
                if not touches(table, op_, owned_cols):
                    self._table_op(table, op_, table in created)
            else:
                self.add(
                    Step(
                        f"{type(op_).__name__} on {getattr(op_, 'table_name', '?')}",
                        "other",
                        refused="this kind of change is not supported",
                    )
                )

    def _create_table(self, op_: ops.CreateTableOp) -> None:
        name = self.names.table(op_.table_name)
        table = self.target.metadata.tables[name]
        create = ops.CreateTableOp.from_table(table)
        code = render(create)
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            code += render(ops.CreateIndexOp.from_index(index))
        if name in self.model:
            words = f"create {name} ({len(self.model[name].fields)} fields)"
        elif name.startswith("ficha_"):
            words = f"create Ficha's table {name}"
        else:
            words = f"create the link table {name}"
        order = [t.name for t in self.target.metadata.sorted_tables].index(name)
        self.add(
            Step(
                words,
                "create_table",
                phase=CREATE_TABLES,
                code=code,
                undo=call("drop_table", name),
                subject=(op_.table_name,),
                order=order,
                undo_removes=(name, None),
            )
        )
        for fk in sorted(table.foreign_key_constraints, key=lambda c: str(c.name)):
            if fk.use_alter:  # a cycle of links: the key comes once both tables exist
                self._deferred_key(name, fk)

    def _deferred_key(self, table: str, fk: sa.ForeignKeyConstraint) -> None:
        local = [c.name for c in fk.columns]
        referred = fk.elements[0].column.table.name
        self.add(
            Step(
                f"link {table}.{', '.join(local)} to {referred} (once both tables exist)",
                "add_foreign_key",
                phase=ADD_KEYS,
                code=call(
                    "add_foreign_key",
                    fk.name,
                    table,
                    referred,
                    local,
                    [e.column.name for e in fk.elements],
                    ondelete=fk.ondelete,
                ),
            )
        )

    def _drop_table(self, op_: ops.DropTableOp) -> None:
        name = op_.table_name
        rows = self._count(name)
        words = f"drop table {name}" + (f" and its {plural(rows, 'record')}" if rows else "")
        step = Step(
            words,
            "drop_table",
            phase=DROP_TABLES,
            code=call("drop_table", name),
            destructive=f"the table {name} ({plural(rows, 'record')})",
            backup=(name,),
            irreversible=f"the records of {name} were deleted (they are in the backup "
            "taken before)",
            subject=(name,),
            order=self._drop_order(name),
        )
        if not self.options.allow_data_loss:
            step = refuse(
                step,
                f"'{name}' is no longer in the YAML but its table holds {plural(rows, 'record')}",
                "put the object's YAML back, or run "
                "ficha migrate --allow-data-loss to delete it (a backup is "
                "written first)",
            )
        self.add(step)

    def _table_op(self, table: str, op_: Any, new_table: bool) -> None:
        target_table = self.names.table(table)
        if isinstance(op_, ops.AddColumnOp):
            self._add_column(table, op_.column.name)
        elif isinstance(op_, ops.DropColumnOp):
            self._drop_column(table, op_.column_name, op_)
        elif new_table and isinstance(op_, ops.CreateIndexOp):
            return  # created with its table
        elif isinstance(op_, ops.CreateIndexOp):
            index = self._target_index(target_table, op_.to_index())
            what = "unique index" if op_.unique else "index"
            listed = ", ".join(c.name for c in index.columns)
            self.add(
                Step(
                    f"add {what} on {target_table} ({listed})",
                    "add_index",
                    phase=ADD_KEYS,
                    code=render(ops.CreateIndexOp.from_index(index)),
                    undo=call("drop_index", index.name, table_name=target_table),
                    **self._unique_check(table, op_.unique, op_.to_index().columns),
                )
            )
        elif isinstance(op_, ops.DropIndexOp):
            self.add(
                Step(
                    f"remove index {op_.index_name} of {table}",
                    "drop_index",
                    phase=DROP_KEYS,
                    code=render(op_),
                    undo=render(op_.reverse()),
                )
            )
        elif isinstance(op_, ops.AddConstraintOp) and op_.constraint_type == "unique":
            constraint: Any = op_.to_constraint()
            target = self._target_unique(target_table, constraint)
            cols = [c.name for c in target.columns]
            self.add(
                Step(
                    f"make {target_table} ({', '.join(cols)}) unique",
                    "add_unique",
                    phase=ADD_KEYS,
                    code=call("add_unique", target.name, target_table, cols),
                    undo=call("drop_constraint", target.name, target_table, type_="unique"),
                    **self._unique_check(table, True, constraint.columns),
                )
            )
        elif isinstance(op_, ops.DropConstraintOp):
            what = {"unique": "unique constraint", "foreignkey": "link key"}.get(
                op_.constraint_type or "", "constraint"
            )
            self.add(
                Step(
                    f"remove {what} {op_.constraint_name} of {table}",
                    "drop_constraint",
                    phase=DROP_KEYS,
                    code=render(op_),
                    undo=render(op_.reverse()),
                )
            )
        elif isinstance(op_, ops.CreateForeignKeyOp):
            if self._adds_column(table, op_.local_cols):
                return  # the key comes with its new column
            fk = op_.to_constraint()
            code = call(
                "add_foreign_key",
                fk.name,
                target_table,
                self.names.table(op_.referent_table),
                [self.names.column(table, c) for c in op_.local_cols],
                list(op_.remote_cols),
                ondelete=fk.ondelete,
            )
            self.add(
                Step(
                    f"add the link key {fk.name} of {target_table}",
                    "add_foreign_key",
                    phase=ADD_KEYS,
                    code=code,
                    undo=call("drop_constraint", fk.name, target_table, type_="foreignkey"),
                )
            )
        else:
            self.add(
                Step(
                    f"{type(op_).__name__} on {table}",
                    "alter_column",
                    refused=f"{table} was changed outside Ficha in a way it cannot "
                    "undo by itself (e.g. a column made NOT NULL by hand)",
                    hint="undo the manual change, or ask a developer",
                )
            )

    def _adds_column(self, table: str, columns: list[str]) -> bool:
        added = {
            o.column.name
            for m in self.ops.ops
            if isinstance(m, ops.ModifyTableOps) and m.table_name == table
            for o in m.ops
            if isinstance(o, ops.AddColumnOp)
        }
        return set(columns) <= added

    def _add_column(self, table: str, column: str) -> None:
        target_table = self.names.table(table)
        col = self.target.metadata.tables[target_table].c[column]
        code = list(
            render(ops.AddColumnOp.from_column_and_tablename(None, target_table, col._copy()))
        )
        fk = next(iter(col.foreign_keys), None)
        if fk is not None:
            constraint = fk.constraint
            assert constraint is not None
            code[-1] = code[-1][:-1] + (
                f", foreign_key=({constraint.name!r}, {fk.column.table.name!r}, "
                f"{fk.ondelete or 'NO ACTION'!r}))"
            )
        for index in sorted(col.table.indexes, key=lambda i: str(i.name)):
            if [c.name for c in index.columns] == [column]:
                code += render(ops.CreateIndexOp.from_index(index))
        self.add(
            Step(
                f"add field {target_table}.{_field_of(column, col)}",
                "add_column",
                phase=ADD_COLUMNS,
                code=tuple(code),
                undo=call("drop_column", target_table, column),
                subject=(table, column),
                undo_removes=(target_table, column),
            )
        )

    def _drop_column(self, table: str, column: str, op_: ops.DropColumnOp) -> None:
        filled = self._count(table, column)
        words = f"drop field {table}.{column}" + (
            f" and its {plural(filled, 'value')}" if filled else ""
        )
        step = Step(
            words,
            "drop_column",
            phase=DROP_COLUMNS,
            code=call("drop_column", table, column),
            destructive=f"the values of {table}.{column} ({plural(filled, 'record')})",
            backup=(table,),
            irreversible=f"the values of {table}.{column} were deleted (they are in "
            "the backup taken before)",
            subject=(table, column),
        )
        if not self.options.allow_data_loss:
            step = refuse(
                step,
                f"'{table}.{column}' is no longer in the YAML but "
                f"{plural(filled, 'record')} {'has' if filled == 1 else 'have'} a value in it",
                f"put the field back, or if '{column}' was renamed, write "
                f"'renamed_from: {column}' under its new name; to delete it, "
                "run ficha migrate --allow-data-loss (a backup is written first)",
            )
        self.add(step)

    def _target_index(self, table: str, index: sa.Index) -> sa.Index:
        cols = [
            self.names.column(index.table.name if index.table is not None else table, c)
            for c in (col.name for col in index.columns)
        ]
        for candidate in self.target.metadata.tables[table].indexes:
            if [c.name for c in candidate.columns] == cols and candidate.unique == index.unique:
                return candidate
        return index

    def _target_unique(self, table: str, constraint: Any) -> Any:
        cols = [self.names.column(constraint.table.name, c.name) for c in constraint.columns]
        for candidate in self.target.metadata.tables[table].constraints:
            if (
                isinstance(candidate, sa.UniqueConstraint)
                and [c.name for c in candidate.columns] == cols
            ):
                return candidate
        return constraint

    def _unique_check(self, live_table: str, unique: bool, columns: Any) -> dict[str, Any]:
        """A unique constraint is refused while duplicates exist: list them."""
        if not unique or not self._has_table(live_table):
            return {}
        names = [c if isinstance(c, str) else c.name for c in columns]
        duplicates = find_duplicates(self.conn, live_table, names)
        if not duplicates:
            return {}
        return {
            "refused": f"{live_table} ({', '.join(names)}) cannot be made unique: "
            + describe_duplicates(duplicates),
            "hint": "change or empty the duplicated values first, then migrate again",
        }

    # -- renames that were not declared -------------------------------------------------------

    def _refuse_guessed_renames(self) -> None:
        """A field dropped and another of the same type added to the same object look like
        a rename: refuse that even with --allow-data-loss and point to renamed_from (a
        rename is declared, never guessed)."""
        added = [s for s in self.steps if s.kind == "add_column" and len(s.subject) == 2]
        for i, step in enumerate(self.steps):
            if step.kind != "drop_column" or len(step.subject) != 2:
                continue
            table, column = step.subject
            old_type = self._type_ofold_column(table, column)
            for new in added:
                if new.subject[0] != table:
                    continue
                new_name = new.description.rsplit(".", 1)[1]
                obj = self.names.table(table)
                if (
                    obj in self.model
                    and new_name in self.model[obj].fields
                    and (old_type not in (None, self.model[obj].fields[new_name].type))
                ):
                    continue
                self.steps[i] = refuse(
                    step,
                    f"{table}.{column} is removed and {obj}.{new_name} is added: is "
                    f"'{new_name}' '{column}' renamed?",
                    f"if so, write 'renamed_from: {column}' under {new_name} (the values are "
                    f"kept); if not, remove {column} in one migration and add {new_name} in "
                    "the next",
                )
                break

    def _type_ofold_column(self, table: str, column: str) -> str | None:
        for name, spec in self.old.get(table, {}).get("fields", {}).items():
            if old_column(spec, name) == column:
                return spec.get("type")
        return None

    def _drop_order(self, table: str) -> int:
        """Tables that link to others are dropped before them."""
        dropped = {o.table_name for o in self.ops.ops if isinstance(o, ops.DropTableOp)}
        depth = 0
        frontier = {table}
        insp = sa.inspect(self.conn)
        while frontier and depth < len(dropped):
            referrers = {
                other
                for other in dropped
                for fk in insp.get_foreign_keys(other)
                if fk["referred_table"] in frontier and other not in frontier
            }
            if not referrers:
                break
            depth += 1
            frontier = referrers
        return -depth


def _field_of(column: str, col: sa.Column[Any]) -> str:
    return column[:-3] if col.foreign_keys and column.endswith("_id") else column
