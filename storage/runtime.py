"""What a revision file sees while it runs: the connection and its database, the step
log that lets an interrupted run resume, progress reporting and batching.

Revision files run inside Alembic (`op`); everything they execute goes through `run()`
so that `ficha migrate --plan --sql` can print it instead (Alembic's offline mode).

On SQLite and PostgreSQL the whole run is one transaction: a crash leaves the database
as it was. MariaDB commits every DDL statement by itself, so there each step (and each
batch of a data step) is committed together with a line in the step log; the next run
skips what the log says is done and redoes the step that was cut, which is written to
be safe to redo.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic import op

META = sa.table("ficha_meta", sa.column("key", sa.String), sa.column("value", sa.Text))

#: rows per batch of a data step (override with FICHA_MIGRATE_BATCH, e.g. in tests)
BATCH_ROWS = 10_000

#: TEST ONLY: "N" pauses before step N, "N.B" after batch B of step N (a test kills the
#: process there to prove an interrupted migration is never left half-done)
PAUSE_ENV = "FICHA_TEST_PAUSE_AT_STEP"

Reporter = Callable[["ProgressEvent"], None]


class StepFailed(RuntimeError):
    """A step met data it must not change (values that do not convert, duplicates under
    a new unique constraint); the message says which and what to do."""


@dataclass
class ProgressEvent:
    label: str
    done: int
    total: int
    seconds: float = 0.0
    finished: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


@dataclass
class RunContext:
    """Set by storage.migrations around a run; read by the helpers."""

    reporter: Reporter | None = None
    #: told what the admin must know as soon as it happens (where a backup was written)
    notice: Callable[[str], None] | None = None
    batch_rows: int = field(
        default_factory=lambda: int(os.environ.get("FICHA_MIGRATE_BATCH", BATCH_ROWS))
    )
    phone_region: str = "ES"
    revision: str = ""
    step: int = 0
    finished: list[ProgressEvent] = field(default_factory=list)  # for the summary
    #: MariaDB: tables created by the running step, and the index clauses held for them
    #: (storage/ddl.py adds them in one ALTER TABLE each)
    created: set[str] = field(default_factory=set)
    held_indexes: dict[str, dict[str, str]] = field(default_factory=dict)


_CONTEXT: ContextVar[RunContext | None] = ContextVar("ficha_migration_run", default=None)


def context() -> RunContext:
    found = _CONTEXT.get()
    if found is None:  # a revision run by plain Alembic, outside `ficha migrate`
        found = RunContext()
        _CONTEXT.set(found)
    return found


def using(run: RunContext) -> Any:
    return _CONTEXT.set(run)


def reset(token: Any) -> None:
    _CONTEXT.reset(token)


# -- the database at hand -------------------------------------------------------------------


def offline() -> bool:
    """True while printing SQL (--sql): nothing can be read, everything is printed."""
    return bool(op.get_context().as_sql)


def backend() -> str:
    name = op.get_context().dialect.name
    return "mariadb" if name in ("mysql", "mariadb") else name


def bind() -> sa.Connection:
    add_held_indexes()  # whatever reads or writes next sees the indexes in place
    return op.get_bind()


def run(statement: Any) -> None:
    """Execute (or, with --sql, print) one statement."""
    add_held_indexes()
    op.execute(statement)


def add_held_indexes() -> None:
    """Add the indexes held for tables the step created (storage/ddl.py: create_index),
    one ALTER TABLE per table: MariaDB commits and syncs every DDL statement by itself,
    tens of milliseconds each, and a new table of the core pack has four indexes."""
    ctx = context()
    held, ctx.held_indexes = ctx.held_indexes, {}
    for table, clauses in held.items():
        op.execute(sa.text(f"ALTER TABLE {quote(table)} {', '.join(clauses.values())}"))


def inspector() -> sa.Inspector:
    return sa.inspect(bind())


def has_table(name: str) -> bool:
    return not offline() and inspector().has_table(name)


def columns_of(table: str) -> list[str]:
    return [c["name"] for c in inspector().get_columns(table)]


def has_column(table: str, column: str) -> bool:
    return not offline() and has_table(table) and column in columns_of(table)


def quote(name: str) -> str:
    return op.get_context().dialect.identifier_preparer.quote(name)


def scalar(statement: Any) -> Any:
    return bind().execute(statement).scalar()


# -- the step log (ficha_meta) ----------------------------------------------------------------


def _has_meta() -> bool:
    return has_table("ficha_meta")


def get_meta(key: str) -> Any:
    if offline() or not _has_meta():
        return None
    row = bind().execute(sa.select(META.c.value).where(META.c.key == key)).scalar()
    return None if row is None else json.loads(row)


def set_meta(key: str, value: Any) -> None:
    text = json.dumps(value, sort_keys=True, default=str)
    run(META.delete().where(META.c.key == key))
    run(META.insert().values(key=key, value=text))


def delete_meta(prefix: str) -> None:
    if offline() or not _has_meta():
        return
    run(META.delete().where(META.c.key.like(prefix.replace("_", "\\_") + "%", escape="\\")))


def checkpoint() -> None:
    """Make what was done so far durable where DDL is not transactional (MariaDB): a
    crash after this point resumes here. Elsewhere the run stays one transaction."""
    if not offline() and backend() == "mariadb":
        bind().exec_driver_sql("COMMIT")


def step_key(revision: str, number: int, undo: bool) -> str:
    return f"{'undo' if undo else 'step'}:{revision}:{number}"


def run_steps(revision: str, steps: list[Callable[[], None]], *, undo: bool = False) -> None:
    """Run a revision's steps in order, logging each one done (see the module docstring)."""
    ctx = context()
    ctx.revision = revision
    for number, step in enumerate(steps, start=1):
        key = step_key(revision, number, undo)
        if get_meta(key) is not None:
            continue  # done by a run that was interrupted later
        ctx.step = number
        ctx.created.clear()
        pause_if_asked(f"{number}")
        description = (step.__doc__ or step.__name__).strip()
        if offline():
            run(sa.text(f"-- step {number}: {description}"))
        try:
            step()
        except BaseException:
            ctx.held_indexes.clear()  # the step runs again from its start next time
            raise
        add_held_indexes()  # before the step is logged done
        if _has_meta() and not offline():
            set_meta(key, {"description": description, "at": time.strftime("%Y-%m-%d %H:%M:%S")})
        checkpoint()
    # The run is complete: its log is not needed any more (same transaction as the
    # version update on SQLite and PostgreSQL; on MariaDB a crash here only repeats
    # this cleanup).
    delete_meta(f"{'undo' if undo else 'step'}:{revision}:")
    delete_meta(f"progress:{revision}:")


def steps_done(conn: sa.Connection, revision: str) -> list[str]:
    """Descriptions of the steps of an interrupted run (for `ficha migrate --plan`)."""
    if not sa.inspect(conn).has_table("ficha_meta"):
        return []
    rows = conn.execute(
        sa.select(META.c.key, META.c.value).where(META.c.key.like(f"step:{revision}:%"))
    ).all()
    ordered = sorted(rows, key=lambda r: int(r[0].rsplit(":", 1)[1]))
    return [json.loads(value)["description"] for _key, value in ordered]


def pause_if_asked(where: str) -> None:
    """TEST ONLY (FICHA_TEST_PAUSE_AT_STEP): stop here so that a test can kill the
    process at a known point. Never set it outside tests."""
    wanted = os.environ.get(PAUSE_ENV)
    if wanted and wanted == where:
        print(f"ficha-test: paused at step {where}", file=sys.stderr, flush=True)
        time.sleep(600)


# -- batches --------------------------------------------------------------------------------


def id_ranges(table: str, *, resume_key: str | None = None) -> Iterator[tuple[int, int]]:
    """[low, high) id ranges covering a table, BATCH_ROWS ids each. With a resume key, a
    range is skipped when a previous, interrupted run recorded it done."""
    t = sa.table(table, sa.column("id"))
    low, high = bind().execute(sa.select(sa.func.min(t.c.id), sa.func.max(t.c.id))).one()
    if low is None:
        return
    start = int(low)
    if resume_key:
        done = get_meta(resume_key)
        if done is not None:
            start = max(start, int(done))
    size = context().batch_rows
    while start <= high:
        yield start, start + size
        start += size


def count_rows(table: str) -> int:
    t = sa.table(table)
    return int(scalar(sa.select(sa.func.count()).select_from(t)) or 0)


class Progress:
    """Reports a batched job: rows done out of total, then rows per second."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.started = time.perf_counter()
        self._emit(False)

    def advance(self, rows: int) -> None:
        self.done += rows
        self._emit(False)

    def finish(self) -> ProgressEvent:
        event = self._emit(True)
        context().finished.append(event)
        return event

    def _emit(self, finished: bool) -> ProgressEvent:
        event = ProgressEvent(
            self.label, self.done, self.total, time.perf_counter() - self.started, finished
        )
        reporter = context().reporter
        if reporter is not None:
            reporter(event)
        return event


def batched(
    label: str,
    table: str,
    statement: Callable[[int, int], Any],
    *,
    resumable: bool = False,
) -> None:
    """Run `statement(low, high)` over the whole table in id ranges, with progress.

    `resumable` records each finished range in the same transaction as its update, for
    updates that must not run twice over the same rows (renaming a → b and b → c)."""
    if offline():
        run(sa.text(f"-- in batches of {context().batch_rows} ids, for every id range:"))
        run(statement(0, context().batch_rows))
        return
    ctx = context()
    key = f"progress:{ctx.revision}:{ctx.step}" if resumable else None
    progress = Progress(label, count_rows(table))
    for batch, (low, high) in enumerate(id_ranges(table, resume_key=key), start=1):
        result = bind().execute(statement(low, high))
        if key:
            set_meta(key, high)
        progress.advance(max(result.rowcount or 0, 0) if hasattr(result, "rowcount") else 0)
        checkpoint()
        pause_if_asked(f"{ctx.step}.{batch}")
    progress.finish()
