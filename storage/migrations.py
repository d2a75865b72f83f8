"""Plan, apply and roll back changes of the database to match the model, with Alembic.

Every applied change is an Alembic revision file in the project's `migrations/` folder:
reviewable in git and replayable on another database. `plan()` only reads; `migrate()`
writes the revision for what the plan found and applies every pending file, in one
transaction where the database has transactional DDL (SQLite, PostgreSQL) and step by
step, resumably, on MariaDB. Destructive files need `allow_data_loss` and are preceded
by a backup (storage/backup.py). Rolling back is in storage/rollback.py, drift (changes
made by hand) in storage/drift.py.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
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
from storage.autogen import VERSION_TABLE, include_name
from storage.backup import write_backup
from storage.manager import StorageError, StorageManager
from storage.planner import Planner
from storage.revisions import file_name, info, new_revision_id, render
from storage.snapshot import snapshot
from storage.steps import Options, Step

__all__ = [
    "VERSION_TABLE",
    "MigrationRefused",
    "Options",
    "Plan",
    "Step",
    "migrate",
    "plan",
    "snapshot",
    "sql",
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
    return _script_directory(str(migrations_dir), _listing(migrations_dir))


def _listing(folder: Path) -> tuple[tuple[str, int, int, int], ...]:
    """What Alembic would read in the folder: a file added, removed or rewritten (its
    inode, size or modification time) makes a new one."""
    found = []
    for entry in os.scandir(folder):
        if entry.is_file():
            stat = entry.stat()
            found.append((entry.name, stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


@functools.lru_cache(maxsize=32)
def _script_directory(
    folder: str, listing: tuple[tuple[str, int, int, int], ...]
) -> ScriptDirectory:
    """Alembic's view of a migrations folder, kept while the folder is unchanged: it
    imports every revision file to map them, and a plan or a migrate asks several times
    (a project with 20 revisions imported 1,400 files over 20 migrations)."""
    return ScriptDirectory(folder, version_locations=[folder])


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
        for table, columns in fulltext_now.items():
            # a structure built by an earlier version lacks the prefix index: rebuilt
            if columns and not storage.dialect.fulltext_complete(conn, table):
                fulltext_now[table] = []
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


def run_revisions(
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
    run = run or default_run()
    backups: list[Path] = []
    tables = sorted({t for p in destructive for t in p.backup})
    if tables:
        folder = backup_dir or backup_dir_of(migrations_dir)
        backups.append(write_backup(storage, tables, folder, f"before-{pending[0].revision}"))
        if run.notice:
            run.notice(f"backup written to {backups[-1]}")
    applied: list[str] = []

    def do_upgrade(rev: Any, context: Any) -> Any:
        steps = script._upgrade_revs("heads", rev)
        applied.extend(s.revision.revision for s in steps)
        return steps

    try:
        run_revisions(storage, migrations_dir, do_upgrade, run)
    except StorageError as exc:
        if backups:
            raise StorageError(f"{exc}; the backup written before is {backups[-1]}") from exc
        raise
    return applied, backups


def backup_dir_of(migrations_dir: Path) -> Path:
    return migrations_dir.parent / "data" / "backups"


def default_run() -> runtime.RunContext:
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
