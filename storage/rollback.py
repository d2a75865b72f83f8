"""`ficha migrate --rollback`: undo the last applied revision where that is possible,
and say why where it is not (data that was deleted, values that were emptied).

The undo steps are in the revision file itself (`downgrade()`); what they would delete
(values entered since the migration) needs allow_data_loss and is backed up first.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from storage import runtime
from storage.backup import write_backup
from storage.manager import StorageError, StorageManager
from storage.migrations import (
    applied_revisions,
    backup_dir_of,
    default_run,
    pending_revisions,
    run_revisions,
    script_directory,
)
from storage.revisions import RevisionInfo, info
from storage.steps import plural


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
        folder = backup_dir or backup_dir_of(migrations_dir)
        result.backups.append(
            write_backup(storage, tables, folder, f"before-rollback-{revision.revision}")
        )
        if run and run.notice:
            run.notice(f"backup written to {result.backups[-1]}")
    script = script_directory(migrations_dir)
    down = script.get_revision(revision.revision).down_revision

    def do_downgrade(rev: Any, context: Any) -> Any:
        return script._downgrade_revs(str(down) if down else "base", rev)

    run_revisions(storage, migrations_dir, do_downgrade, run or default_run())
    kept = migrations_dir / "rolled_back"
    kept.mkdir(exist_ok=True)
    shutil.move(str(revision.path), kept / revision.path.name)
    return result
