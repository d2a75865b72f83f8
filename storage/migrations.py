"""Plan and apply changes of the database to match the model, through Alembic.

Every applied change is an Alembic revision file in the project's `migrations/` folder:
reviewable in git and replayable on another database. The plan compares two things: the
live database against the model's tables (Alembic autogenerate, scoped to the tables
Ficha owns) and the model recorded at the last migration against the model now (for
what a database cannot tell: renames, type changes).
"""

from __future__ import annotations

import datetime as dt
import json
import pprint
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.config import Config
from alembic.operations import ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from modeler.fieldtypes import COLUMN
from modeler.schema import Model
from storage.dialects import fts_index_name, fts_table_name
from storage.manager import StorageError, StorageManager
from storage.tables import column_name

VERSION_TABLE = "ficha_alembic_version"


@dataclass(frozen=True, slots=True)
class Step:
    """One change, in plain words. A refused step says why and how to proceed."""

    description: str
    kind: str
    refused: str | None = None
    hint: str | None = None


@dataclass
class Plan:
    pending: list[str] = field(default_factory=list)  # revision files not yet applied
    steps: list[Step] = field(default_factory=list)
    upgrade_ops: ops.UpgradeOps | None = None
    fulltext: dict[str, list[str]] = field(default_factory=dict)
    snapshot: dict[str, Any] = field(default_factory=dict)
    snapshot_changed: bool = False

    @property
    def refused(self) -> list[Step]:
        return [s for s in self.steps if s.refused]

    @property
    def empty(self) -> bool:
        return not self.pending and not self.steps and not self.snapshot_changed


class MigrationRefused(StorageError):
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        super().__init__("; ".join(s.refused or "" for s in plan.refused))


# -- the model as the database should remember it ---------------------------------------


def snapshot(model: Model) -> dict[str, Any]:
    """What the next plan needs to know about this model: objects, fields and types."""
    return {
        obj.name: {
            "fields": {
                f.name: {
                    "type": f.type,
                    "kind": f.kind,
                    "target": f.target,
                    "values": [v.code for v in f.values],
                }
                for f in obj.fields.values()
            },
            "search": list(_search_columns(model, obj.name)),
        }
        for obj in model
    }


def _search_columns(model: Model, name: str) -> list[str]:
    obj = model[name]
    return [
        column_name(obj.fields[n])
        for n in obj.search_fields
        if n in obj.fields and obj.fields[n].kind == COLUMN
    ]


# -- planning ----------------------------------------------------------------------------


def _include_name(owned: set[str]) -> Any:
    def include(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "table":
            return name in owned  # never touch, let alone drop, a table Ficha did not make
        # full-text indexes are managed by set_fulltext, not compared here
        return not (type_ == "index" and name and name.startswith("ft_"))

    return include


def owned_tables(storage: StorageManager, conn: sa.Connection) -> set[str]:
    """Tables of the model now, and tables Ficha created for an earlier model (so that an
    object removed from the YAML is seen as a drop, not silently forgotten)."""
    earlier = read_meta(conn, "tables") or []
    return storage.tables.owned_table_names() | set(earlier)


def _migration_context(storage: StorageManager, conn: sa.Connection) -> MigrationContext:
    return MigrationContext.configure(
        conn,
        opts={
            "target_metadata": storage.tables.metadata,
            "include_name": _include_name(owned_tables(storage, conn)),
            # Type and default changes are read from the model snapshot, where they are
            # exact; reflected types differ per database (JSON is LONGTEXT on MariaDB).
            "compare_type": False,
            "compare_server_default": False,
            "render_as_batch": storage.backend == "sqlite",
            "version_table": VERSION_TABLE,
        },
    )


def read_meta(conn: sa.Connection, key: str) -> Any:
    if not sa.inspect(conn).has_table("ficha_meta"):
        return None
    meta = sa.table("ficha_meta", sa.column("key"), sa.column("value"))
    value = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
    return None if value is None else json.loads(value)


def script_directory(migrations_dir: Path) -> ScriptDirectory:
    migrations_dir.mkdir(parents=True, exist_ok=True)
    return ScriptDirectory(str(migrations_dir), version_locations=[str(migrations_dir)])


def applied_revisions(conn: sa.Connection) -> set[str]:
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return set()
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return set(context.get_current_heads())


def pending_revisions(storage: StorageManager, migrations_dir: Path) -> list[Any]:
    script = script_directory(migrations_dir)
    with storage.read() as conn:
        heads = applied_revisions(conn)
    applied: set[str] = set()
    for head in heads:
        applied.update(r.revision for r in script.iterate_revisions(head, "base"))
    revisions = list(script.walk_revisions("base", "heads"))
    return [r for r in reversed(revisions) if r.revision not in applied]


def plan(storage: StorageManager, migrations_dir: Path) -> Plan:
    result = Plan()
    pending = pending_revisions(storage, migrations_dir)
    result.pending = [f"{r.revision}: {r.doc}" for r in pending]
    if pending:
        # The database is behind its own revision files: those go first; comparing now
        # would describe their changes a second time.
        return result
    new_snapshot = snapshot(storage.model)
    with storage.read() as conn:
        old_snapshot = read_meta(conn, "model") or {}
        script = produce_migrations(_migration_context(storage, conn), storage.tables.metadata)
        fulltext_now = {t: read_meta(conn, f"fulltext:{t}") or [] for t in new_snapshot}
    result.snapshot = new_snapshot
    result.snapshot_changed = new_snapshot != old_snapshot
    result.steps.extend(_model_steps(storage.model, old_snapshot))
    assert script.upgrade_ops is not None
    upgrade_ops = script.upgrade_ops
    result.steps.extend(_describe(upgrade_ops, storage, old_snapshot))
    for name, spec in new_snapshot.items():
        wanted = spec["search"]
        if wanted != fulltext_now.get(name, []):
            result.fulltext[name] = wanted
            result.steps.append(
                Step(
                    f"full-text search on {name}: {', '.join(wanted)}"
                    if wanted
                    else f"remove the full-text search of {name}",
                    "fulltext",
                )
            )
    result.upgrade_ops = upgrade_ops
    return result


def _model_steps(model: Model, old: dict[str, Any]) -> Iterator[Step]:
    """What the model says changed that a database diff cannot see or would get wrong."""
    for obj in model:
        if obj.renamed_from:
            yield Step(
                f"rename object {obj.renamed_from} to {obj.name}",
                "rename",
                refused="renaming an object is not supported by this version",
                hint=f"keep the name '{obj.renamed_from}' for now",
            )
        before = old.get(obj.name, {}).get("fields", {})
        for f in obj.fields.values():
            if f.name in before and before[f.name]["type"] != f.type:
                yield Step(
                    f"change {obj.name}.{f.name} from {before[f.name]['type']} to {f.type}",
                    "change_type",
                    refused=f"changing the type of {obj.name}.{f.name} is not supported by "
                    "this version",
                    hint=f"put back 'type: {before[f.name]['type']}', or add a new field "
                    "and copy the values",
                )


def _describe(
    upgrade_ops: ops.UpgradeOps, storage: StorageManager, old: dict[str, Any]
) -> Iterator[Step]:
    model = storage.model
    created = {o.table_name for o in upgrade_ops.ops if isinstance(o, ops.CreateTableOp)}
    for op_ in upgrade_ops.ops:
        if getattr(op_, "table_name", None) in created and isinstance(
            op_, ops.CreateIndexOp | ops.ModifyTableOps
        ):
            continue  # the indexes of a new table are part of creating it
        if isinstance(op_, ops.CreateTableOp):
            name = op_.table_name
            if name in model:
                count = len(list(model[name].fields.values()))
                yield Step(f"create {name} ({count} fields)", "create_table")
            elif name.startswith("ficha_"):
                yield Step(f"create Ficha's table {name}", "create_table")
            else:
                yield Step(f"create the link table {name}", "create_table")
        elif isinstance(op_, ops.DropTableOp):
            yield Step(
                f"drop table {op_.table_name}",
                "drop_table",
                refused=f"'{op_.table_name}' is no longer in the YAML but its table "
                "still holds data; removing objects is not supported by this version",
                hint="put the object's YAML back",
            )
        elif isinstance(op_, ops.ModifyTableOps):
            for sub in op_.ops:
                yield from _describe_table_op(op_.table_name, sub, model)
        elif isinstance(op_, ops.CreateIndexOp | ops.DropIndexOp):
            yield from _describe_table_op(op_.table_name or "", op_, model)
        else:
            yield Step(
                f"{type(op_).__name__} on {getattr(op_, 'table_name', '?')}",
                "other",
                refused="this kind of change is not supported by this version",
            )


def _describe_table_op(table: str, op_: Any, model: Model) -> Iterator[Step]:
    if isinstance(op_, ops.AddColumnOp):
        yield Step(f"add field {table}.{op_.column.name}", "add_column")
    elif isinstance(op_, ops.DropColumnOp):
        yield Step(
            f"drop field {table}.{op_.column_name}",
            "drop_column",
            refused=f"'{table}.{op_.column_name}' is no longer in the YAML but its "
            "column still holds data; removing or renaming fields is not supported "
            "by this version",
            hint="put the field back in the YAML",
        )
    elif isinstance(op_, ops.CreateIndexOp):
        what = "unique index" if op_.unique else "index"
        cols = ", ".join(str(c) for c in op_.columns)
        yield Step(f"add {what} on {table} ({cols})", "add_index")
    elif isinstance(op_, ops.DropIndexOp):
        yield Step(f"remove index {op_.index_name} of {table}", "drop_index")
    elif isinstance(op_, ops.AddConstraintOp):
        yield Step(f"add a {op_.constraint_type} constraint on {table}", "add_constraint")
    elif isinstance(op_, ops.DropConstraintOp):
        yield Step(f"remove constraint {op_.constraint_name} of {table}", "drop_constraint")
    elif isinstance(op_, ops.AlterColumnOp):
        yield Step(
            f"alter {table}.{op_.column_name}",
            "alter_column",
            refused=f"altering {table}.{op_.column_name} is not supported by this version",
        )
    else:
        yield Step(
            f"{type(op_).__name__} on {table}",
            "other",
            refused="this kind of change is not supported by this version",
        )


# -- revision files ----------------------------------------------------------------------

_TEMPLATE = '''"""{message}

Written by `ficha migrate` on {date}. Review it like code; it replays on any database.

Revision ID: {rev}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401  (rendered inside JSONB types)
from sqlalchemy.dialects import postgresql  # noqa: F401  (JSON columns use JSONB there)

from storage.revision_helpers import record_model, set_fulltext  # noqa: F401

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None

MODEL = {model}


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def _indent(code: str) -> str:
    lines = [
        line for line in code.splitlines() if line.strip() and not line.strip().startswith("# ###")
    ]
    return "\n".join(lines) if lines else "    pass"


def write_revision(
    plan: Plan, storage: StorageManager, migrations_dir: Path, message: str | None = None
) -> Path:
    script = script_directory(migrations_dir)
    heads = script.get_heads()
    down = heads[0] if heads else None
    number = len(list(script.walk_revisions("base", "heads"))) + 1 if heads else 1
    rev = f"{number:04d}_{secrets.token_hex(3)}"
    steps = [s.description for s in plan.steps] or ["record the model"]
    message = message or "; ".join(steps)[:200]
    batch = storage.backend == "sqlite"
    upgrade_ops = plan.upgrade_ops or ops.UpgradeOps([])
    up = render_python_code(upgrade_ops, render_as_batch=batch)
    down_code = render_python_code(upgrade_ops.reverse(), render_as_batch=batch)
    up_lines = [_indent(up)]
    for table, columns in plan.fulltext.items():
        up_lines.append(f"    set_fulltext({table!r}, {columns!r})")
    up_lines.append(f"    record_model(MODEL, {sorted(storage.tables.owned_table_names())!r})")
    down_lines = [f"    set_fulltext({t!r}, [])" for t in plan.fulltext] + [_indent(down_code)]
    text = _TEMPLATE.format(
        message=message.replace('"""', "'''"),
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        rev=rev,
        down=down,
        model=pprint.pformat(plan.snapshot, indent=4, width=96, sort_dicts=True),
        upgrade="\n".join(line for line in up_lines if line.strip() != "pass") or "    pass",
        downgrade="\n".join(down_lines),
    )
    slug = re.sub(r"[^a-z0-9]+", "_", steps[0].lower()).strip("_")[:40]
    path = migrations_dir / f"{rev}_{slug}.py"
    path.write_text(text, encoding="utf-8")
    return path


# -- applying ----------------------------------------------------------------------------


def upgrade(storage: StorageManager, migrations_dir: Path) -> list[str]:
    """Apply every revision file not yet applied, in one transaction where the database
    has transactional DDL (SQLite, PostgreSQL). Returns the applied revision ids."""
    script = script_directory(migrations_dir)
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    applied: list[str] = []

    def do_upgrade(rev: Any, context: Any) -> Any:
        steps = script._upgrade_revs("heads", rev)
        applied.extend(s.revision.revision for s in steps)
        return steps

    with (
        storage.write() as conn,
        EnvironmentContext(cfg, script, fn=do_upgrade, destination_rev="heads") as env,
    ):
        env.configure(
            connection=conn,
            target_metadata=storage.tables.metadata,
            version_table=VERSION_TABLE,
            render_as_batch=storage.backend == "sqlite",
            include_name=_include_name(owned_tables(storage, conn)),
        )
        env.run_migrations()
    return applied


def migrate(
    storage: StorageManager, migrations_dir: Path, message: str | None = None
) -> tuple[Plan, list[str]]:
    """Bring the database to the model: pending revision files first, then a new revision
    for what remains. Refused steps stop everything before anything is written."""
    applied: list[str] = []
    current = plan(storage, migrations_dir)
    if current.pending:
        applied += upgrade(storage, migrations_dir)
        current = plan(storage, migrations_dir)
    if current.refused:
        raise MigrationRefused(current)
    if current.steps or current.snapshot_changed:
        path = write_revision(current, storage, migrations_dir, message)
        try:
            applied += upgrade(storage, migrations_dir)
        except Exception:
            path.unlink(missing_ok=True)  # a revision that did not apply is not kept
            raise
    return current, applied


def drift(storage: StorageManager) -> list[str]:
    """Differences between the live database and the model (for `ficha check`)."""
    with storage.read() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return []
        script = produce_migrations(_migration_context(storage, conn), storage.tables.metadata)
    assert script.upgrade_ops is not None
    return [s.description for s in _describe(script.upgrade_ops, storage, {})]


def fulltext_objects(storage: StorageManager) -> dict[str, str]:
    """Object → the name of its full-text structure (for diagnostics)."""
    return {
        o.name: (fts_table_name(o.name) if storage.backend == "sqlite" else fts_index_name(o.name))
        for o in storage.model
    }
