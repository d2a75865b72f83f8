"""Schema changes on big tables: what `ficha migrate` costs as the table grows.

For each database and each size (10,000 rows and --rows, 1,000,000 by default) an `item`
object is created, bulk loaded, and changed through `storage.migrations.migrate`, the
code behind `ficha migrate` (plan, revision file, apply):

  add field    a nullable field is added, five times (median shown): it must take about
               the same time at every size, since no database rewrites the table for it
  unique off   `unique: true` removed from a field: SQLite rebuilds the table (its
               progress is printed, then rows per second); the others drop a constraint
  convert      a text field of numbers becomes an integer field, converted in SQL in
               batches: rows per second

    .venv/bin/python -m bench --only migrations --rows 1000000
    .venv/bin/python -m bench.migrations --db sqlite,postgresql,mariadb --rows 1000000

MariaDB is measured when its server answers ($FICHA_BENCH_MARIADB, default
mysql+pymysql://root@127.0.0.1:3306/); the shared `--db` option of `python -m bench`
offers SQLite and PostgreSQL only, so there it is added whenever reachable.
The databases are made fresh for every run (a migration changes them) and dropped after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from bench._options import Options

DATA_DIR = Path(__file__).parent / ".data"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_MARIADB = "mysql+pymysql://root@127.0.0.1:3306/"
SMALL = 10_000
ADDS = 5

ITEM = """
object: item
fields:
  name: {{type: string, max_length: 80}}
  email: {{type: string, max_length: 120{unique}}}
  code: string
  amount: integer
  status: {{type: choice, values: [new, open, done]}}
{extra}"""


@dataclass
class Figures:
    backend: str
    rows: int
    load_s: float = 0.0
    add_ms: list[float] = field(default_factory=list)
    plan_ms: list[float] = field(default_factory=list)
    unique_ms: float = 0.0
    rebuild_rows_s: float | None = None
    convert_ms: float = 0.0
    convert_rows_s: float | None = None

    @property
    def add_median(self) -> float:
        return statistics.median(self.add_ms) if self.add_ms else float("nan")


# -- databases --------------------------------------------------------------------------------


def database_url(backend: str, rows: int, pg_admin: str, maria_admin: str) -> str:
    name = f"ficha_bench_migrations_{rows}"
    if backend == "sqlite":
        return f"sqlite:///{DATA_DIR / f'migrations-sqlite-{rows}' / 'data.sqlite'}"
    admin_url = pg_admin if backend == "postgresql" else maria_admin
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if backend == "postgresql":
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        else:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            conn.exec_driver_sql(
                f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    admin.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(backend: str, rows: int, pg_admin: str, maria_admin: str) -> None:
    shutil.rmtree(DATA_DIR / f"migrations-{backend}-{rows}", ignore_errors=True)
    if backend == "sqlite":
        return
    admin = sa.create_engine(
        pg_admin if backend == "postgresql" else maria_admin, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS ficha_bench_migrations_{rows}{force}")
    admin.dispose()


def reachable(url: str) -> bool:
    try:
        engine = sa.create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


class Project:
    """A Ficha project folder on one database, rewritten and reloaded at each change."""

    def __init__(self, backend: str, rows: int, url: str) -> None:
        self.root = DATA_DIR / f"migrations-{backend}-{rows}"
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root / "objects").mkdir(parents=True)
        (self.root / "migrations").mkdir()
        (self.root / "ficha.yaml").write_text(f"name: bench\ndatabase: '{url}'\n")
        self.ficha: Any = None

    def write(self, unique: bool = True, extra: Sequence[str] = (), code: str = "string") -> None:
        lines = "".join(f"  {line}\n" for line in extra)
        text = ITEM.format(unique=", unique: true" if unique else "", extra=lines)
        (self.root / "objects" / "item.yaml").write_text(
            text.replace("code: string", f"code: {code}")
        )

    def load(self) -> Any:
        from framework.app import Ficha
        from framework.settings import Settings

        if self.ficha is not None:
            self.ficha.close()
        self.ficha = Ficha.load(Settings.load(self.root))
        return self.ficha

    def migrate(self, reporter: Callable[[Any], None] | None = None, **options: bool) -> float:
        """Plan, write and apply the change; the milliseconds it took."""
        from storage.migrations import Options as MigrateOptions
        from storage.migrations import migrate
        from storage.runtime import RunContext

        ficha = self.load()
        started = time.perf_counter()
        migrate(
            ficha.storage,
            ficha.settings.migrations_dir,
            options=MigrateOptions(**options),
            run=RunContext(reporter=reporter),
        )
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        if self.ficha is not None:
            self.ficha.close()


def rows_of(count: int) -> Iterator[tuple[Any, ...]]:
    now = dt.datetime(2024, 1, 1)
    statuses = ("new", "open", "done")
    for i in range(1, count + 1):
        yield (
            i,
            1,
            now,
            now,
            f"Item {i}",
            f"item{i}@example.com",
            str(i % 10_000),
            i,
            statuses[i % 3],
        )


COLUMNS = ("id", "version", "created_at", "updated_at", "name", "email", "code", "amount", "status")


def bulk_load(ficha: Any, count: int) -> None:
    """Rows written straight into the table, the way a bulk import would."""
    storage = ficha.storage
    raw = storage.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if storage.backend == "postgresql":
            with cursor.copy(f"COPY item ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows_of(count):
                    copy.write_row(row)
            raw.commit()
            # Leave autovacuum nothing to do on the fresh rows: its lock would delay the
            # ALTER TABLE being measured.
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            cursor.execute("VACUUM ANALYZE item")
            raw.driver_connection.autocommit = False  # type: ignore[union-attr]
        else:
            marks = ", ".join(["?" if storage.backend == "sqlite" else "%s"] * len(COLUMNS))
            statement = f"INSERT INTO item ({', '.join(COLUMNS)}) VALUES ({marks})"
            if storage.backend == "sqlite":
                cursor.execute("BEGIN")
            batch: list[tuple[Any, ...]] = []
            for row in rows_of(count):
                batch.append(row)
                if len(batch) == 20_000:
                    cursor.executemany(statement, batch)
                    batch.clear()
            if batch:
                cursor.executemany(statement, batch)
            if storage.backend == "sqlite":
                cursor.execute("COMMIT")
        raw.commit()
    finally:
        raw.close()


# -- the measures ---------------------------------------------------------------------------


class Progress:
    """Prints the progress of a rebuild or a conversion, then its rows per second."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.finished: list[Any] = []
        self._shown = 0.0

    def __call__(self, event: Any) -> None:
        if event.finished:
            self.finished.append(event)
            self.console.print(
                f"      {event.label}: {event.done:,} rows in "
                f"{event.seconds:.1f} s, {event.rows_per_second:,.0f} rows/s"
            )
        elif event.total and time.perf_counter() - self._shown > 1.0:
            self._shown = time.perf_counter()
            self.console.print(
                f"      {event.label}: {event.done:,}/{event.total:,} rows "
                f"({100 * event.done / event.total:.0f}%)"
            )


def measure(
    backend: str, sizes: Sequence[int], urls: Sequence[str], console: Console
) -> list[Figures]:
    """Every measure on one database, for each size. The fields are added to the sizes
    in turn (small, big, small, big …) so that a busy moment of the machine weighs on
    both alike."""
    from storage.migrations import plan

    projects = [Project(backend, size, url) for size, url in zip(sizes, urls, strict=True)]
    results = [Figures(backend, size) for size in sizes]
    try:
        for project, figures in zip(projects, results, strict=True):
            project.write()
            project.migrate()
            started = time.perf_counter()
            bulk_load(project.ficha, figures.rows)
            figures.load_s = time.perf_counter() - started
            console.print(f"  [{backend}] {figures.rows:,} rows loaded in {figures.load_s:.1f} s")
        extra: list[str] = []
        for n in range(1, ADDS + 1):
            extra.append(f"note{n}: string")
            for project, figures in zip(projects, results, strict=True):
                project.write(extra=extra)
                ficha = project.load()
                started = time.perf_counter()
                plan(ficha.storage, ficha.settings.migrations_dir)
                figures.plan_ms.append((time.perf_counter() - started) * 1000)
                figures.add_ms.append(project.migrate())
        for project, figures in zip(projects, results, strict=True):
            console.print(
                f"  [{backend}] {figures.rows:,} rows, add a nullable field: "
                + ", ".join(f"{ms:.0f} ms" for ms in figures.add_ms)
            )
            progress = Progress(console)
            project.write(unique=False, extra=extra)
            console.print(f"  [{backend}] {figures.rows:,} rows, remove unique from item.email:")
            figures.unique_ms = project.migrate(progress)
            rebuilt = [e for e in progress.finished if e.label.startswith("rebuilding")]
            if rebuilt:
                figures.rebuild_rows_s = rebuilt[-1].rows_per_second
            progress = Progress(console)
            project.write(unique=False, extra=extra, code="integer")
            console.print(f"  [{backend}] {figures.rows:,} rows, convert item.code to integer:")
            figures.convert_ms = project.migrate(progress)
            converted = [e for e in progress.finished if e.label.startswith("converting")]
            if converted:
                figures.convert_rows_s = converted[-1].rows_per_second
    finally:
        for project in projects:
            project.close()
    return results


def report(results: list[Figures], console: Console) -> None:
    table = Table(title="ficha migrate on big tables", title_justify="left")
    for column in (
        "database",
        "rows",
        "add a nullable field (median of 5)",
        "plan alone",
        "unique removed",
        "SQLite rebuild",
        "string → integer",
    ):
        table.add_column(column, justify="right" if column != "database" else "left")
    for r in results:
        table.add_row(
            r.backend,
            f"{r.rows:,}",
            f"{r.add_median:.0f} ms",
            f"{statistics.median(r.plan_ms):.0f} ms" if r.plan_ms else "—",
            f"{r.unique_ms / 1000:.2f} s",
            f"{r.rebuild_rows_s:,.0f} rows/s" if r.rebuild_rows_s else "no rebuild",
            f"{r.convert_ms / 1000:.2f} s"
            + (f" ({r.convert_rows_s:,.0f} rows/s)" if r.convert_rows_s else ""),
        )
    console.print(table)
    for backend in dict.fromkeys(r.backend for r in results):
        sizes = sorted((r for r in results if r.backend == backend), key=lambda r: r.rows)
        if len(sizes) < 2:
            continue
        small, big = sizes[0], sizes[-1]
        ratio = big.add_median / small.add_median if small.add_median else float("nan")
        verdict = "[green]pass[/]" if ratio < 3 else "[bold red]FAIL[/]"
        console.print(
            f"  {backend}: adding a field takes {small.add_median:.0f} ms on "
            f"{small.rows:,} rows and {big.add_median:.0f} ms on {big.rows:,} rows "
            f"(x{ratio:.1f}, target: about the same, under x3) {verdict}"
        )


def run(options: Options, console: Console) -> None:
    """Entry point for `python -m bench --only migrations`."""
    maria = os.environ.get("FICHA_BENCH_MARIADB", DEFAULT_MARIADB)
    backends = list(options.dbs)
    if "mariadb" not in backends and reachable(maria):
        backends.append("mariadb")
    run_on(backends, options.rows, options.pg_admin_url, maria, console)


def run_on(
    backends: Sequence[str], rows: int, pg_admin: str, maria_admin: str, console: Console
) -> None:
    results = []
    sizes = sorted({SMALL, rows})
    for backend in backends:
        urls = [database_url(backend, size, pg_admin, maria_admin) for size in sizes]
        try:
            results += measure(backend, sizes, urls, console)
        finally:  # every run starts from fresh data: nothing is worth keeping
            for size in sizes:
                drop_database(backend, size, pg_admin, maria_admin)
    report(results, console)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.migrations",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", default="sqlite,postgresql,mariadb")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pg-url", default=os.environ.get("FICHA_BENCH_PG", DEFAULT_PG))
    parser.add_argument(
        "--mariadb-url", default=os.environ.get("FICHA_BENCH_MARIADB", DEFAULT_MARIADB)
    )
    args = parser.parse_args(argv)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)
    backends = [b.strip() for b in args.db.split(",") if b.strip()]
    run_on(backends, args.rows, args.pg_url, args.mariadb_url, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
