"""The vocabulary of a migration plan: the steps, their order, and what the admin allowed.

A step says in plain words what changes, carries the code its revision file runs and the
code that undoes it, and whatever the admin must know first: that it deletes data
(`destructive`, needs --allow-data-loss and a backup), that a rollback cannot undo it
(`irreversible`), or that it is refused, why, and how to proceed (`refused`, `hint`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from modeler.fieldtypes import LINK

if TYPE_CHECKING:
    from modeler.schema import Model
    from storage.evolution import NameMap, Renames
    from storage.manager import StorageManager
    from storage.tables import Tables

#: the order steps run in: data leaves before the names change, new structure comes
#: before the data that fills it, indexes and keys come last (over converted values)
(PAUSE, DROP_KEYS, DROP_COLUMNS, DROP_TABLES, RENAME_TABLES, RENAME_COLUMNS, CREATE_TABLES,
 ADD_COLUMNS, CONVERT, DATA, ADD_KEYS, FULLTEXT) = range(12)  # fmt: skip


@dataclass(frozen=True)
class Options:
    """What the admin allowed on the command line."""

    allow_data_loss: bool = False
    coerce_null: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    """One change, in plain words. A refused step says why and how to proceed."""

    description: str
    kind: str
    refused: str | None = None
    hint: str | None = None
    phase: int = 0
    code: tuple[str, ...] = ()  # what the revision file's step runs
    undo: tuple[str, ...] = ()  # what undoes it (empty: nothing to undo)
    irreversible: str | None = None  # why a rollback cannot undo it
    destructive: str | None = None  # the data it removes (needs --allow-data-loss)
    backup: tuple[str, ...] = ()  # tables to back up before it runs
    notes: tuple[str, ...] = ()  # counts and examples shown under the step
    subject: tuple[str, ...] = ()  # (live table, column) the step is about
    order: int = 0  # position within its phase
    undo_removes: tuple[str, str | None] | None = None  # what a rollback deletes


def plural(count: int, word: str) -> str:
    """'1 record', '3,333 records': counts as a person writes them."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def refuse(step: Step, why: str, hint: str) -> Step:
    return dataclasses.replace(step, refused=why, hint=hint)


def call(name: str, *args: Any, **kwargs: Any) -> tuple[str, ...]:
    """A helper call as revision-file code, one argument per line when it is long."""
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    line = f"{name}({', '.join(parts)})"
    if len(line) <= 92:
        return (line,)
    return (f"{name}(", *(f"    {p}," for p in parts), ")")


def old_column(spec: Mapping[str, Any], name: str) -> str:
    """The column a field of the snapshot had (a link keeps its key in <name>_id)."""
    return str(spec.get("column") or (f"{name}_id" if spec.get("kind") == LINK else name))


def has_table(conn: sa.Connection, table: str) -> bool:
    return sa.inspect(conn).has_table(table)


def count(conn: sa.Connection, table: str, column: str | None = None, empty: bool = False) -> int:
    """Rows of a live table; with a column, those with a value (or, `empty`, without)."""
    if not has_table(conn, table):
        return 0
    t = sa.table(table, *([sa.column(column)] if column else []))
    query = sa.select(sa.func.count()).select_from(t)
    if column:
        query = query.where(t.c[column].is_(None) if empty else t.c[column].is_not(None))
    return int(conn.execute(query).scalar() or 0)


class PlanState:
    """What every part of the planner reads; set by storage.planner.Planner."""

    storage: StorageManager
    model: Model
    target: Tables
    compared: Tables
    conn: sa.Connection
    old: Mapping[str, Any]
    new: Mapping[str, Any]
    options: Options
    backend: str
    fulltext_now: Mapping[str, list[str]]
    renames: Renames
    names: NameMap
    steps: list[Step]

    def add(self, step: Step) -> None:
        self.steps.append(step)

    def _has_table(self, table: str) -> bool:
        return has_table(self.conn, table)

    def _count(self, table: str, column: str | None = None, empty: bool = False) -> int:
        return count(self.conn, table, column, empty)

    def _old_spec(self, obj: str, old_field: str) -> Mapping[str, Any]:
        return self.old[self.renames.old_object(obj)]["fields"][old_field]
