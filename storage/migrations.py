"""Plan, apply and roll back changes of the database to match the model, with Alembic.

Every applied change is an Alembic revision file in the project's `migrations/` folder:
reviewable in git and replayable on another database. `plan()` only reads; `migrate()`
writes the revision for what the plan found and applies every pending file, in one
transaction where the database has transactional DDL (SQLite, PostgreSQL) and step by
step, resumably, on MariaDB. Destructive files need `allow_data_loss` and are preceded
by a backup (storage/backup.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage import runtime
from storage.autogen import VERSION_TABLE, compare, include_name
from storage.backup import write_backup
from storage.manager import StorageError, StorageManager
from storage.planner import Planner
from storage.revisions import RevisionInfo, file_name, info, new_revision_id, render
from storage.snapshot import model_from_snapshot, snapshot
from storage.steps import Options, Step, plural
from storage.tables import build_tables

__all__ = [
    "VERSION_TABLE",
    "MigrationRefused",
    "Options",
    "Plan",
    "Step",
    "drift",
    "migrate",
    "plan",
    "rollback",
    "snapshot",
    "upgrade",
]


@dataclass
class Plan:
    pending: list[str] = field(default_factory=list)  # revision files not yet applied
    steps: list[Step] = field(default_factory=list)
    snapshot: dict[str, Any] = field(default_factory=dict)
    snapshot_changed: bool = False
    #: pending files that remove data (they need --allow-data-loss)
    pending_destructive: list[str] = field(default_factory=list)
    #: an interrupted run (MariaDB): the steps of the first pending file already done
    resumed: list[str] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)  # written while applying

    @property
    def refused(self) -> list[Step]:
        return [s for s in self.steps if s.refused]

    @property
    def destructive(self) -> list[str]:
        return [s.destructive for s in self.steps if s.destructive] + self.pending_destructive

    @property
    def empty(self) -> bool:
        return not self.pending and not self.steps and not self.snapshot_changed


class MigrationRefused(StorageError):
    def __init__(self, plan: Plan, message: str | None = None) -> None:
        self.plan = plan
        super().__init__(message or "; ".join(s.refused or "" for s in plan.refused))


# -- what the database remembers -------------------------------------------------------------


def read_meta(conn: sa.Connection, key: str) -> Any:
    if not sa.inspect(conn).has_table("ficha_meta"):
        return None
    meta = sa.table("ficha_meta", sa.column("key"), sa.column("value"))
    value = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
    return None if value is None else json.loads(value)


def owned_tables(storage: StorageManager, conn: sa.Connection) -> set[str]:
    """Tables of the model now, and tables Ficha created for an earlier model (so that an
    object removed from the YAML is seen as a drop, not silently forgotten)."""
    earlier = read_meta(conn, "tables") or []
    return storage.tables.owned_table_names() | set(earlier)


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


# -- planning ----------------------------------------------------------------------------------


def plan(storage: StorageManager, migrations_dir: Path, options: Options | None = None) -> Plan:
    """What `migrate` would do, read from the database and the model; writes nothing."""
    options = options or Options()
    result = Plan()
    pending = pending_revisions(storage, migrations_dir)
    result.pending = [f"{r.revision}: {r.doc}" for r in pending]
    if pending:
        # The database is behind its own revision files: those go first; comparing now
        # would describe their changes a second time.
        script = script_directory(migrations_dir)
        for rev in pending:
            found = info(script, rev.revision)
            result.pending_destructive += [f"{rev.revision}: {d}" for d in found.destructive]
        with storage.read() as conn:
            result.resumed = runtime.steps_done(conn, pending[0].revision)
        return result
    new_snapshot = snapshot(storage.model)
    with storage.read() as conn:
        old_snapshot = read_meta(conn, "model") or {}
        fulltext_now = {
            t: read_meta(conn, f"fulltext:{t}") or [] for t in {*new_snapshot, *old_snapshot}
        }
        planner = Planner(
            storage,
            conn,
            old_snapshot,
            new_snapshot,
            options,
            owned_tables(storage, conn),
            fulltext_now,
        )
        result.steps = planner.plan()
    result.snapshot = new_snapshot
    result.snapshot_changed = new_snapshot != old_snapshot
    return result


# -- revision files ----------------------------------------------------------------------------


def write_revision(
    plan: Plan, storage: StorageManager, migrations_dir: Path, message: str | None = None
) -> Path:
    script = script_directory(migrations_dir)
    heads = script.get_heads()
    down = heads[0] if heads else None
    number = len(list(script.walk_revisions("base", "heads"))) + 1 if heads else 1
    rev = new_revision_id(number)
    described = [s.description for s in plan.steps if s.code and s.kind != "fulltext"]
    described = described or [s.description for s in plan.steps if s.code] or ["record the model"]
    text = render(
        [s for s in plan.steps if not s.refused],
        rev=rev,
        down=down,
        message=message or "; ".join(described)[:200],
        snapshot=plan.snapshot,
        tables=sorted(storage.tables.owned_table_names()),
    )
    path = migrations_dir / file_name(rev, described[0])
    path.write_text(text, encoding="utf-8")
    return path


# -- applying ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _migration_connection(storage: StorageManager) -> Iterator[sa.Connection]:
    """One transaction for the whole run (MariaDB commits DDL anyway: see runtime.py).

    SQLite runs it with foreign keys off, as its documentation requires for rebuilding
    a table, and checks every key before committing."""
    sqlite = storage.backend == "sqlite"
    try:
        with storage.engine.connect() as conn:
            if sqlite:  # outside any transaction, where the pragma has an effect
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            try:
                with conn.begin():
                    yield conn
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            table, rowid, parent, _ = broken[0]
                            raise StorageError(
                                f"{len(broken)} record(s) would link to nothing, e.g. "
                                f"{table} id {rowid} → {parent}; nothing was changed"
                            )
            finally:
                if sqlite:
                    conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    except sa.exc.OperationalError as exc:
        raise StorageError(storage.explain(exc)) from exc


def _run(
    storage: StorageManager,
    migrations_dir: Path,
    fn: Any,
    run: runtime.RunContext,
) -> None:
    script = script_directory(migrations_dir)
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    token = runtime.using(run)
    try:
        with (
            _migration_connection(storage) as conn,
            EnvironmentContext(cfg, script, fn=fn) as env,
        ):
            env.configure(
                connection=conn,
                target_metadata=storage.tables.metadata,
                version_table=VERSION_TABLE,
                include_name=include_name(owned_tables(storage, conn)),
            )
            env.run_migrations()
    except runtime.StepFailed as exc:
        kept = (
            "the steps before it stay applied (MariaDB cannot undo them); fix this and run "
            "ficha migrate again to finish"
            if storage.backend == "mariadb"
            else "nothing was changed"
        )
        raise StorageError(f"{exc} ({kept})") from exc
    finally:
        runtime.reset(token)


def upgrade(
    storage: StorageManager,
    migrations_dir: Path,
    *,
    allow_data_loss: bool = False,
    run: runtime.RunContext | None = None,
    backup_dir: Path | None = None,
) -> tuple[list[str], list[Path]]:
    """Apply every revision file not yet applied. Returns the applied revision ids and
    the backups written first (for files that remove data)."""
    script = script_directory(migrations_dir)
    pending = [info(script, r.revision) for r in pending_revisions(storage, migrations_dir)]
    destructive = [p for p in pending if p.destructive]
    if destructive and not allow_data_loss:
        listing = "; ".join(d for p in destructive for d in p.destructive)
        raise MigrationRefused(
            Plan(pending=[p.revision for p in pending]),
            f"applying the migrations would delete data ({listing}); run ficha migrate "
            "--allow-data-loss to accept (a backup is written first)",
        )
    run = run or _default_run()
    backups: list[Path] = []
    tables = sorted({t for p in destructive for t in p.backup})
    if tables:
        folder = backup_dir or _backup_dir(migrations_dir)
        backups.append(write_backup(storage, tables, folder, f"before-{pending[0].revision}"))
        if run.notice:
            run.notice(f"backup written to {backups[-1]}")
    applied: list[str] = []

    def do_upgrade(rev: Any, context: Any) -> Any:
        steps = script._upgrade_revs("heads", rev)
        applied.extend(s.revision.revision for s in steps)
        return steps

    try:
        _run(storage, migrations_dir, do_upgrade, run)
    except StorageError as exc:
        if backups:
            raise StorageError(f"{exc}; the backup written before is {backups[-1]}") from exc
        raise
    return applied, backups


def _backup_dir(migrations_dir: Path) -> Path:
    return migrations_dir.parent / "data" / "backups"


def _default_run() -> runtime.RunContext:
    return runtime.RunContext(batch_rows=runtime.context().batch_rows)


def migrate(
    storage: StorageManager,
    migrations_dir: Path,
    message: str | None = None,
    *,
    options: Options | None = None,
    run: runtime.RunContext | None = None,
    backup_dir: Path | None = None,
) -> tuple[Plan, list[str]]:
    """Bring the database to the model: pending revision files first, then a new revision
    for what remains. Refused steps stop everything before anything is written."""
    options = options or Options()
    applied: list[str] = []
    backups: list[Path] = []
    current = plan(storage, migrations_dir, options)
    if current.pending:
        done, written = upgrade(
            storage,
            migrations_dir,
            allow_data_loss=options.allow_data_loss,
            run=run,
            backup_dir=backup_dir,
        )
        applied += done
        backups += written
        current = plan(storage, migrations_dir, options)
    if current.refused:
        raise MigrationRefused(current)
    if current.steps or current.snapshot_changed:
        path = write_revision(current, storage, migrations_dir, message)
        try:
            done, written = upgrade(
                storage,
                migrations_dir,
                allow_data_loss=options.allow_data_loss,
                run=run,
                backup_dir=backup_dir,
            )
        except BaseException:
            if not _partly_applied(storage, path):
                path.unlink(missing_ok=True)  # a revision that did not apply is not kept
            raise
        applied += done
        backups += written
    current.backups = backups
    return current, applied


def _partly_applied(storage: StorageManager, path: Path) -> bool:
    """True when an interrupted run left steps done (MariaDB): the file must stay so the
    next `ficha migrate` can finish it."""
    rev = path.name.split("_", 2)
    revision = "_".join(rev[:2])
    with storage.read() as conn:
        return bool(runtime.steps_done(conn, revision))


# -- rollback ----------------------------------------------------------------------------------


@dataclass
class Rollback:
    """What `ficha migrate --rollback` would undo, or why it cannot."""

    revision: RevisionInfo | None
    steps: list[str] = field(default_factory=list)
    refused: str | None = None
    hint: str | None = None
    removes: list[str] = field(default_factory=list)  # data entered since, deleted by it
    backups: list[Path] = field(default_factory=list)


def rollback_plan(storage: StorageManager, migrations_dir: Path) -> Rollback:
    script = script_directory(migrations_dir)
    if pending_revisions(storage, migrations_dir):
        return Rollback(
            None,
            refused="some revision files are not applied yet",
            hint="run ficha migrate first (or remove those files)",
        )
    with storage.read() as conn:
        heads = applied_revisions(conn)
        if not heads:
            return Rollback(None, refused="nothing to roll back: no migration was applied")
        found = info(script, sorted(heads)[0])
        removes = []
        for table, column in found.undo_removes:
            t = sa.table(table, *([sa.column(column)] if column else []))
            if not sa.inspect(conn).has_table(table):
                continue
            query = sa.select(sa.func.count()).select_from(t)
            if column:
                query = query.where(t.c[column].is_not(None))
            count = int(conn.execute(query).scalar() or 0)
            if count:
                where = f"{table}.{column}" if column else f"table {table}"
                removes.append(f"{plural(count, 'value')} in {where}")
    result = Rollback(found, steps=[f"undo: {s}" for s in reversed(found.steps)], removes=removes)
    if not found.written_by_ficha:
        result.refused = f"{found.revision} was written by an earlier version of Ficha"
        result.hint = "restore the database from a backup instead"
    elif found.irreversible:
        what, why = next(iter(found.irreversible.items()))
        result.refused = f"'{what}' cannot be undone: {why}"
        result.hint = (
            "restore the backup written before it, or change the YAML back and migrate forward"
        )
    return result


def rollback(
    storage: StorageManager,
    migrations_dir: Path,
    *,
    allow_data_loss: bool = False,
    run: runtime.RunContext | None = None,
    backup_dir: Path | None = None,
) -> Rollback:
    """Undo the last applied revision and move its file to migrations/rolled_back/."""
    result = rollback_plan(storage, migrations_dir)
    if result.refused or result.revision is None:
        raise StorageError(
            f"cannot roll back: {result.refused}" + (f" ({result.hint})" if result.hint else "")
        )
    if result.removes and not allow_data_loss:
        raise StorageError(
            "rolling back would delete "
            + "; ".join(result.removes)
            + " (entered since the migration); add --allow-data-loss to accept "
            "(a backup is written first)"
        )
    revision = result.revision
    if result.removes:
        tables = sorted(
            {r.split(" in ")[1].removeprefix("table ").split(".")[0] for r in result.removes}
        )
        folder = backup_dir or _backup_dir(migrations_dir)
        result.backups.append(
            write_backup(storage, tables, folder, f"before-rollback-{revision.revision}")
        )
        if run and run.notice:
            run.notice(f"backup written to {result.backups[-1]}")
    script = script_directory(migrations_dir)
    down = script.get_revision(revision.revision).down_revision

    def do_downgrade(rev: Any, context: Any) -> Any:
        return script._downgrade_revs(str(down) if down else "base", rev)

    _run(storage, migrations_dir, do_downgrade, run or _default_run())
    kept = migrations_dir / "rolled_back"
    kept.mkdir(exist_ok=True)
    shutil.move(str(revision.path), kept / revision.path.name)
    return result


# -- SQL for review ----------------------------------------------------------------------------


def sql(storage: StorageManager, migrations_dir: Path, current: Plan) -> str:
    """The SQL that `migrate` would run, as text (Alembic's offline mode): pending files
    and the revision the plan would write. Data steps show one batch of their loop."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for path in migrations_dir.glob("*.py"):
            shutil.copy(path, folder / path.name)
        if current.steps or current.snapshot_changed:
            write_revision(current, storage, folder)
        script = script_directory(folder)
        with storage.read() as conn:
            heads = sorted(applied_revisions(conn))
        start = heads[0] if heads else None
        buffer = io.StringIO()
        cfg = Config(output_buffer=buffer)
        cfg.set_main_option("script_location", str(folder))

        def do_upgrade(rev: Any, context: Any) -> Any:
            return script._upgrade_revs("heads", start or "base")

        dialect = "mysql" if storage.backend == "mariadb" else storage.backend
        with EnvironmentContext(
            cfg, script, fn=do_upgrade, as_sql=True, starting_rev=start, destination_rev="heads"
        ) as env:
            env.configure(
                dialect_name=dialect,
                as_sql=True,
                output_buffer=buffer,
                version_table=VERSION_TABLE,
                literal_binds=True,
                transactional_ddl=storage.backend != "mariadb",
            )
            env.run_migrations()
        return buffer.getvalue()


# -- drift ----------------------------------------------------------------------------------


def drift(storage: StorageManager) -> list[str]:
    """Differences between the live database and what Ficha last migrated it to: someone
    changed it by hand (for `ficha check`). Only tables Ficha owns are looked at."""
    with storage.read() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return []
        recorded = read_meta(conn, "model") or {}
        # What Ficha made: the tables of the model now if it was migrated to (exact), else
        # the tables the recorded model had (the YAML changed since: not drift).
        model = None
        if recorded != snapshot(storage.model):
            model = model_from_snapshot(recorded, storage.model.field_types)
        metadata = build_tables(model).metadata if model is not None else storage.tables.metadata
        owned = set(metadata.tables) | set(read_meta(conn, "tables") or [])
        found = compare(conn, metadata, owned, storage.backend)
        lines = [_drift_line(op_) for op_ in found.ops]
        lines += _type_drift(conn, metadata, owned)
    return [line for line in lines if line]


def _drift_line(op_: Any) -> str:
    from alembic.operations import ops

    if isinstance(op_, ops.CreateTableOp):
        return f"table {op_.table_name} is missing"
    if isinstance(op_, ops.DropTableOp):
        return f"table {op_.table_name} is not in the model"
    if isinstance(op_, ops.ModifyTableOps):
        return "; ".join(line for line in (_drift_line(o) for o in op_.ops) if line)
    table = getattr(op_, "table_name", "?")
    if isinstance(op_, ops.AddColumnOp):
        return f"column {table}.{op_.column.name} is missing"
    if isinstance(op_, ops.DropColumnOp):
        return f"column {table}.{op_.column_name} is not in the model (added by hand?)"
    if isinstance(op_, ops.CreateIndexOp):
        return f"index {op_.index_name} of {table} is missing"
    if isinstance(op_, ops.DropIndexOp):
        return f"index {op_.index_name} of {table} is not in the model"
    if isinstance(op_, ops.AddConstraintOp):
        return f"a {op_.constraint_type} constraint of {table} is missing"
    if isinstance(op_, ops.DropConstraintOp):
        return f"constraint {op_.constraint_name} of {table} is not in the model"
    if isinstance(op_, ops.AlterColumnOp):
        return f"column {table}.{op_.column_name} was altered"
    return f"{type(op_).__name__} on {table}"


_FAMILIES = {
    "INTEGER": "integer",
    "BIGINT": "integer",
    "SMALLINT": "integer",
    "TINYINT": "integer",
    "BOOLEAN": "integer",
    "NUMERIC": "number",
    "DECIMAL": "number",
    "FLOAT": "number",
    "REAL": "number",
    "DOUBLE": "number",
    "DOUBLE_PRECISION": "number",
    "VARCHAR": "text",
    "CHAR": "text",
    "TEXT": "text",
    "CLOB": "text",
    "LONGTEXT": "text",
    "JSON": "text",
    "JSONB": "text",
    "DATE": "date",
    "DATETIME": "datetime",
    "TIMESTAMP": "datetime",
}


def _type_drift(conn: sa.Connection, metadata: sa.MetaData, owned: set[str]) -> list[str]:
    """Columns whose type family changed by hand (a number column made text, a shorter
    text). Exact types differ per database, so only what matters is compared."""
    insp = sa.inspect(conn)
    lines = []
    for table in metadata.sorted_tables:
        if table.name not in owned or not insp.has_table(table.name):
            continue
        live = {c["name"]: c["type"] for c in insp.get_columns(table.name)}
        for column in table.columns:
            found = live.get(column.name)
            if found is None:
                continue
            expected = column.type.dialect_impl(conn.dialect)
            want, have = _family(expected), _family(found)
            if want and have and want != have and {want, have} != {"date", "datetime"}:
                lines.append(
                    f"column {table.name}.{column.name} is {_sql(found)}, the model "
                    f"says {_sql(expected)}"
                )
            elif (
                want == have == "text"
                and _length(found)
                and _length(expected)
                and (_length(found) != _length(expected))
            ):
                lines.append(
                    f"column {table.name}.{column.name} holds up to "
                    f"{_length(found)} characters, the model says {_length(expected)}"
                )
    return lines


def _family(type_: Any) -> str | None:
    name = type(type_).__name__.upper()
    visit = getattr(type_, "__visit_name__", "").upper()
    return _FAMILIES.get(name) or _FAMILIES.get(visit)


def _length(type_: Any) -> int | None:
    length = getattr(type_, "length", None)
    return int(length) if length else None


def _sql(type_: Any) -> str:
    return type(type_).__name__.lower()
