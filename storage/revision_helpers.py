"""Helpers that Ficha's revision files call, so that one revision file replays on any of
the three databases: the file says what changes (rename this, convert that with this
mapping), the helpers look at `op.get_bind().dialect` when they run and do it the way
that database needs.

Every helper can run twice without harm (see storage/runtime.py: an interrupted run on
MariaDB is resumed step by step). Data steps run in id batches with progress.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from storage.conversions import (
    column_type,
    describe_examples,
    failing,
    mapping_key,
    new_value,
    python_converter,
    sql_conversion,
)
from storage.ddl import (  # noqa: F401  (the names revision files import from here)
    add_column,
    add_foreign_key,
    add_unique,
    create_index,
    create_table,
    drop_column,
    drop_columns,
    drop_constraint,
    drop_fulltext,
    drop_index,
    drop_table,
    rename_column,
    rename_table,
)
from storage.dialects import dialect_for
from storage.runtime import (  # noqa: F401
    Progress,
    StepFailed,
    backend,
    batched,
    bind,
    checkpoint,
    context,
    count_rows,
    delete_meta,
    get_meta,
    has_column,
    has_table,
    id_ranges,
    offline,
    pause_if_asked,
    run,
    run_steps,
    set_meta,
)
from storage.tables import short_name


class ConversionFailed(StepFailed):
    """Values that do not convert, met while applying (the plan checked an earlier state
    of the data, or the revision came from another database)."""


# -- what the database remembers ------------------------------------------------------------


def set_fulltext(table: str, columns: Sequence[str]) -> None:
    """(Re)build the full-text structure of `table` over `columns`; none drops it."""
    if not columns:
        drop_fulltext(table)
        return
    for statement in dialect_for(backend()).fulltext_ddl(table, columns):
        run(sa.text(statement))
    set_meta(f"fulltext:{table}", list(columns))


def record_model(snapshot: dict[str, Any], tables: Sequence[str] = ()) -> None:
    """Remember the model this revision brings the database to, and the tables Ficha owns
    (both compared at the next plan)."""
    if offline():  # printing SQL: the model itself would only be noise
        run(sa.text("-- record the model this revision brings the database to"))
        return
    set_meta("model", snapshot)
    set_meta("tables", sorted(tables))


def restore_model(revision: str) -> None:
    """After undoing `revision`: remember the model of the revision before it."""
    from alembic import op

    script = op.get_context().script
    assert script is not None
    down = script.get_revision(revision).down_revision
    if not down:
        delete_meta("model")
        return
    module = script.get_revision(str(down)).module
    set_meta("model", module.MODEL)
    if getattr(module, "TABLES", None) is not None:
        set_meta("tables", sorted(module.TABLES))


def irreversible(description: str, reason: str) -> None:
    raise RuntimeError(f"'{description}' cannot be undone: {reason}")


# -- values -----------------------------------------------------------------------------------


def backfill(
    table: str, column: str, value: Any, *, type_: str, params: Mapping[str, Any] | None = None
) -> None:
    """Give `value` to every record where `column` is empty (a new required field)."""
    params = dict(params or {})
    typed = column_type(type_, params)
    t = sa.table(table, sa.column("id"), sa.column(column, typed))
    v = new_value(type_, params, value)

    def update(low: int, high: int) -> Any:
        return (
            t.update()
            .where(t.c.id >= low, t.c.id < high, t.c[column].is_(None))
            .values({column: sa.literal(v, typed)})
        )

    batched(f"filling {table}.{column}", table, update)


def change_values(
    table: str, column: str, mapping: Mapping[str, str | None], *, multi: bool = False
) -> None:
    """Rename (or, mapped to None, empty) choice codes in the data."""
    if not mapping:
        return
    if multi:
        _change_list_values(table, column, mapping)
        return
    t = sa.table(table, sa.column("id"), sa.column(column, sa.String))
    col = t.c[column]
    new = sa.case(*[(col == old, sa.literal(value)) for old, value in mapping.items()], else_=col)

    def update(low: int, high: int) -> Any:
        return (
            t.update()
            .where(t.c.id >= low, t.c.id < high, col.in_(list(mapping)))
            .values({column: new})
        )

    # Not safe to run twice over the same rows (a → b, b → c): resumable by range.
    batched(f"changing values of {table}.{column}", table, update, resumable=True)


def _change_list_values(table: str, column: str, mapping: Mapping[str, str | None]) -> None:
    t = sa.table(table, sa.column("id"), sa.column(column, sa.JSON))

    def remap(values: list[Any]) -> list[Any] | None:
        result: list[Any] = []
        for code in values:
            code = mapping.get(code, code) if code in mapping else code
            if code is not None and code not in result:
                result.append(code)
        return result or None

    _stream(f"changing values of {table}.{column}", table, t, column, column, remap, resumable=True)


def _stream(
    label: str,
    table: str,
    t: Any,
    source: str,
    target: str,
    convert: Any,
    *,
    resumable: bool = False,
) -> None:
    """Convert a column in Python, batch by batch: read (id, value), write the new value
    where it differs. For what SQL cannot do the same way on every database."""
    if offline():
        run(sa.text(f"-- {label}: converted in Python, {context().batch_rows} rows at a time"))
        return
    ctx = context()
    key = f"progress:{ctx.revision}:{ctx.step}" if resumable else None
    progress = Progress(label, count_rows(table))
    for low, high in id_ranges(table, resume_key=key):
        rows = (
            bind().execute(sa.select(t.c.id, t.c[source]).where(t.c.id >= low, t.c.id < high)).all()
        )
        changes = []
        for ident, value in rows:
            if value is None:
                continue
            try:
                converted = convert(value)
            except ValueError:
                converted = None
            if source != target or converted != value:
                changes.append({"ident": ident, "value": converted})
        if changes:
            bind().execute(
                t.update()
                .where(t.c.id == sa.bindparam("ident"))
                .values({target: sa.bindparam("value", type_=t.c[target].type)}),
                changes,
            )
        if key:
            set_meta(key, high)
        progress.advance(len(rows))
        checkpoint()
    progress.finish()


# -- type conversions -------------------------------------------------------------------------


def convert_column(
    table: str,
    column: str,
    *,
    how: str,
    to: str,
    params: Mapping[str, Any],
    new_name: str | None = None,
    mapping: Mapping[str, Any] | None = None,
    coerce_null: bool = False,
    foreign_key: Sequence[Any] | None = None,
    indexes: Sequence[Sequence[Any]] = (),
) -> None:
    """Convert the values of `column` to the type `to`, into a new column that then takes
    the old one's place (named `new_name`: a link keeps its key in <name>_id).

    Values in `mapping` (old value as text → new value) take the mapped value; values
    that do not convert stop the run unless `coerce_null` (they are emptied)."""
    params = dict(params)
    final = new_name or column
    if how == "pairs":
        _copy_pairs(table, column, params)
        drop_columns(table, [column])
        return
    tmp = short_name(f"{final}__new")
    typed = column_type(to, params)
    marker = f"progress:{context().revision}:{context().step}:filled"
    if offline() or get_meta(marker) is None:
        if not has_column(table, tmp):
            add_column(
                table,
                sa.Column(tmp, typed, nullable=True),
                foreign_key=_tmp_key(foreign_key, tmp) if backend() == "sqlite" else None,
            )
        _fill(table, column, tmp, how, to, typed, params, mapping or {})
        _check_converted(table, column, tmp, how, to, params, mapping or {}, coerce_null)
        if not offline():
            set_meta(marker, True)
            checkpoint()
    # From here the new values are safe in `tmp`: swap the columns.
    if offline() or has_column(table, tmp):
        if how == "single_pair":
            drop_table(params["link_table"])
        else:
            drop_columns(table, [column])
        rename_column(table, tmp, final)
    if foreign_key and backend() != "sqlite":
        name, referred, ondelete = foreign_key
        add_foreign_key(name, table, referred, [final], ["id"], ondelete=ondelete)
    for name, cols, unique, *where in indexes:
        if unique:
            add_unique(name, table, cols)
        elif where:  # a partial index (where the database has them: storage/tables.py)
            condition = sa.text(where[0])
            create_index(name, table, cols, sqlite_where=condition, postgresql_where=condition)
        else:
            create_index(name, table, cols)


def _tmp_key(foreign_key: Sequence[Any] | None, tmp: str) -> tuple[str, str, str] | None:
    if not foreign_key:
        return None
    name, referred, ondelete = foreign_key
    return (name, referred, ondelete)


def _fill(
    table: str,
    column: str,
    tmp: str,
    how: str,
    to: str,
    typed: Any,
    params: Mapping[str, Any],
    mapping: Mapping[str, Any],
) -> None:
    label = f"converting {table}.{column} to {to}"
    if how == "python":
        t = sa.table(table, sa.column("id"), sa.column(column), sa.column(tmp, typed))
        convert = python_converter(to, params, context().phone_region)
        mapped = {k: new_value(to, params, v) for k, v in mapping.items()}

        def with_map(value: Any) -> Any:
            key = str(value).strip()
            return mapped[key] if key in mapped else convert(value)

        _stream(label, table, t, column, tmp, with_map)
        return
    t = sa.table(table, sa.column("id"), sa.column(column), sa.column(tmp, typed))
    conv = sql_conversion(backend(), how, t.c[column], params, t.c.id)
    whens = [
        (
            mapping_key(backend(), t.c[column], params["source"]) == key,
            sa.literal(new_value(to, params, value), typed) if value is not None else sa.null(),
        )
        for key, value in mapping.items()
    ]
    value = sa.case(*whens, (sa.and_(sa.not_(conv.blank), conv.ok), conv.value), else_=sa.null())

    def update(low: int, high: int) -> Any:
        return t.update().where(t.c.id >= low, t.c.id < high).values({tmp: value})

    batched(label, table, update)


def _check_converted(
    table: str,
    column: str,
    tmp: str,
    how: str,
    to: str,
    params: Mapping[str, Any],
    mapping: Mapping[str, Any],
    coerce_null: bool,
) -> None:
    if offline():
        return
    t = sa.table(table, sa.column("id"), sa.column(column), sa.column(tmp))
    where = failing(backend(), how, t, column, params, list(mapping), filled=tmp)
    count = bind().execute(sa.select(sa.func.count()).select_from(t).where(where)).scalar()
    if count and not coerce_null:
        examples = (
            bind()
            .execute(sa.select(t.c.id, t.c[column]).where(where).order_by(t.c.id).limit(5))
            .all()
        )
        raise ConversionFailed(
            f"{count} value(s) of {table}.{column} do not convert to {to}, e.g. "
            f"{describe_examples([(r[0], r[1]) for r in examples])}; add them to "
            "convert: {map: …} in the YAML, or run ficha migrate --coerce null to empty them"
        )


def _copy_pairs(table: str, column: str, params: Mapping[str, Any]) -> None:
    """A link becomes a many_to_many: each record's link becomes its one pair."""
    if not offline() and not has_column(table, column):
        return
    t = sa.table(table, sa.column("id"), sa.column(column))
    link = sa.table(params["link_table"], sa.column(params["this"]), sa.column(params["other"]))
    exists = sa.exists().where(
        link.c[params["this"]] == t.c.id, link.c[params["other"]] == t.c[column]
    )

    def insert(low: int, high: int) -> Any:
        rows = sa.select(t.c.id, t.c[column]).where(
            t.c.id >= low, t.c.id < high, t.c[column].is_not(None), sa.not_(exists)
        )
        return link.insert().from_select([params["this"], params["other"]], rows)

    batched(f"copying {table}.{column} into {params['link_table']}", table, insert)
