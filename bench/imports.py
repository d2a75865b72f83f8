"""Import benchmark: `ficha import` of a CSV of --rows rows (1,000,000 by default) into a
10-field object, with every row coerced and validated by the records service and every
record audited — beside raw `executemany` of the same rows into a table of the same
layout (same indexes), in the same run, on each database asked for (SQLite and
PostgreSQL). Target: 20,000 rows/s on SQLite; the ratio to raw is reported.

    python -m bench --only imports --db sqlite,postgresql [--rows 1000000]

The CSV is generated once into bench/.data/imports/ (about 90 MB for a million rows);
the database is made anew for every run (on PostgreSQL: `ficha_bench_imports`, created
and dropped by this benchmark). Beside the wall-clock seconds the table shows the CPU
seconds of this process, which a busy machine inflates much less (on SQLite they hold
the database's work too; on PostgreSQL the server's is not in them).
"""

from __future__ import annotations

import csv
import random
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench._options import Options
from bench._report import load_average, load_note

TARGET = 20_000  # rows per second
DATA = Path(__file__).parent / ".data" / "imports"

LEAD = """\
object: lead
label: Lead
title: name
fields:
  code: {type: string, required: true, unique: true, max_length: 20}
  name: {type: string, required: true, max_length: 120}
  city: {type: string, max_length: 80, filter: true}
  employees: {type: integer, min: 0}
  visits: {type: integer, min: 0}
  revenue: {type: money, min: 0}
  score: {type: decimal, scale: 2, min: 0, max: 100}
  since: date
  active: {type: boolean, default: true}
  stage: {type: choice, values: {new: New, open: Open, won: Won, lost: Lost}, filter: true}
list:
  columns: [code, name, city, stage]
"""
MAPPING = """\
object: lead
key: [code]
columns:
  Code: code
  Name: name
  City: city
  Employees: employees
  Visits: visits
  Revenue: revenue
  Score: score
  Since: since
  Active: active
  Stage: stage
"""
HEADER = [
    "Code",
    "Name",
    "City",
    "Employees",
    "Visits",
    "Revenue",
    "Score",
    "Since",
    "Active",
    "Stage",
]
CITIES = ["Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Zaragoza", "Málaga", "Vigo"]
STAGES = ["New", "Open", "Won", "Lost"]


def make_csv(path: Path, rows: int) -> None:
    rng = random.Random(7)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow(
                [
                    f"L{i:08d}",
                    f"Lead {i} {rng.choice(CITIES)}",
                    rng.choice(CITIES),
                    rng.randrange(1, 5000),
                    rng.randrange(0, 40),
                    f"{rng.randrange(0, 10_000_000) / 100:.2f}",
                    f"{rng.randrange(0, 10000) / 100:.2f}",
                    _day(rng),
                    rng.choice(["yes", "no"]),
                    rng.choice(STAGES),
                ]
            )
    tmp.replace(path)


def _day(rng: random.Random) -> str:
    return f"20{rng.randrange(10, 26)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"


PG_DATABASE = "ficha_bench_imports"
COLUMNS = [
    "code",
    "name",
    "city",
    "employees",
    "visits",
    "revenue",
    "score",
    "since",
    "active",
    "stage",
    "version",
    "created_at",
    "updated_at",
]


@dataclass
class Figures:
    """One database's run: Ficha's import and the raw floor, wall and CPU seconds."""

    backend: str
    rows: int
    created: int
    refused: int
    audited: int
    seconds: float
    cpu: float
    raw_seconds: float
    raw_cpu: float


def project(root: Path, url: str = "sqlite:///data/bench.sqlite") -> Any:
    from framework.app import Ficha
    from framework.settings import Settings
    from storage.migrations import migrate

    if root.exists():
        shutil.rmtree(root)
    (root / "objects").mkdir(parents=True)
    (root / "migrations").mkdir()
    (root / "ficha.yaml").write_text(f"name: Import benchmark\ndatabase: '{url}'\npacks: []\n")
    (root / "objects" / "lead.yaml").write_text(LEAD)
    (root / "mapping.yaml").write_text(MAPPING)
    ficha = Ficha.load(Settings.load(root))
    migrate(ficha.storage, ficha.settings.migrations_dir)
    return ficha


def _raw_rows(source: Path) -> Iterator[list[tuple[Any, ...]]]:
    """The CSV's rows as the floor inserts them, 2,000 at a time: read by the csv module,
    numbers and flags converted, nothing checked."""
    stages = {s: s.lower() for s in STAGES}
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        batch: list[tuple[Any, ...]] = []
        for r in reader:
            batch.append(
                (
                    r[0],
                    r[1],
                    r[2],
                    int(r[3]),
                    int(r[4]),
                    r[5],
                    r[6],
                    r[7],
                    r[8] == "yes",
                    stages[r[9]],
                    1,
                    now,
                    now,
                )
            )
            if len(batch) == 2000:
                yield batch
                batch = []
        if batch:
            yield batch


def raw_executemany(ficha: Any, source: Path) -> tuple[float, float]:
    """The floor: the same rows inserted by the driver's own executemany (sqlite3's,
    psycopg's) into a copy of the table (its indexes too), a transaction per 2,000
    rows, nothing checked or audited. Returns (wall, CPU) seconds."""
    import sqlalchemy as sa

    table = ficha.storage.table("lead")
    metadata = sa.MetaData()
    copy = table.to_metadata(metadata, name="lead_raw")
    # index and constraint names must differ from the original's (PostgreSQL keeps them
    # in one namespace with the tables)
    for item in [*copy.indexes, *copy.constraints]:
        if isinstance(item.name, str):
            item.name = f"raw_{item.name}"
    metadata.create_all(ficha.storage.engine)
    if ficha.storage.backend == "sqlite":
        connection: Any = sqlite3.connect(ficha.storage.url.database, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        sql = (
            f"INSERT INTO lead_raw ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        )

        def write(batch: list[tuple[Any, ...]]) -> None:
            connection.execute("BEGIN")
            connection.executemany(sql, batch)
            connection.execute("COMMIT")
    else:
        connection = ficha.storage.engine.raw_connection()
        cursor = connection.cursor()
        marks = ", ".join(["%s"] * len(COLUMNS))
        sql = f"INSERT INTO lead_raw ({', '.join(COLUMNS)}) VALUES ({marks})"

        def write(batch: list[tuple[Any, ...]]) -> None:
            cursor.executemany(sql, batch)
            connection.commit()

    started, cpu = time.perf_counter(), time.process_time()
    for batch in _raw_rows(source):
        write(batch)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    connection.close()
    return seconds, cpu


def _database(backend: str, options: Options) -> str:
    if backend == "sqlite":
        return "sqlite:///data/bench.sqlite"
    import sqlalchemy as sa

    admin = sa.create_engine(options.pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{PG_DATABASE}"')
    finally:
        admin.dispose()
    url = sa.engine.make_url(options.pg_admin_url).set(database=PG_DATABASE)
    return url.render_as_string(hide_password=False)


def _drop_database(backend: str, options: Options) -> None:
    if backend == "sqlite":
        return
    import sqlalchemy as sa

    admin = sa.create_engine(options.pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
    finally:
        admin.dispose()


def measure(backend: str, source: Path, options: Options) -> Figures:
    import sqlalchemy as sa

    from framework.importing import Importer, load_mapping
    from framework.records import Actor

    root = DATA / f"project-{backend}"
    ficha = project(root, _database(backend, options))
    try:
        mapping = load_mapping(root / "mapping.yaml", ficha.model)
        importer = Importer(ficha, mapping, Actor(None, "bench", "cli"), batch_size=2000)
        started, cpu = time.perf_counter(), time.process_time()
        report = importer.run(source)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        raw_seconds, raw_cpu = raw_executemany(ficha, source)
        with ficha.storage.read() as conn:
            audited = conn.execute(
                sa.select(sa.func.count()).select_from(ficha.storage.tables.system["audit"])
            ).scalar_one()
    finally:
        ficha.close()
        _drop_database(backend, options)
    return Figures(
        backend,
        report.rows,
        report.created,
        report.failed,
        audited,
        seconds,
        cpu,
        raw_seconds,
        raw_cpu,
    )


def run(options: Options, console: Console) -> None:
    backends = [b for b in ("sqlite", "postgresql") if b in options.dbs]
    if not backends:
        console.print("[dim]imports: SQLite and PostgreSQL only; skipped[/]")
        return
    rows = options.rows
    source = DATA / f"leads-{rows}.csv"
    if not source.exists() or options.rebuild:
        console.print(f"imports: writing {rows:,} rows to {source} …")
        make_csv(source, rows)
    load_before = load_average()
    figures = []
    for backend in backends:
        console.print(
            f"imports: {rows:,} rows of a 10-field object into {backend}, validated and audited …"
        )
        figures.append(measure(backend, source, options))
    load_after = load_average()
    table = Table(title="imports", title_justify="left")
    for column in ("measure", "rows", "seconds", "CPU s", "rows/s", "target", "result"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for f in figures:
        rate = f.rows / f.seconds
        if f.backend == "sqlite":
            passed = rate >= TARGET and f.created == rows
            target = f"≥ {TARGET:,}"
            verdict = (
                "[green]pass[/]" if passed else f"[bold red]FAIL x{TARGET / max(rate, 1):.2f}[/]"
            )
        else:
            target, verdict = "—", "[dim]no target[/]"
        table.add_row(
            f"ficha import, {f.backend} (checked, audited)",
            f"{f.rows:,}",
            f"{f.seconds:.1f}",
            f"{f.cpu:.1f}",
            f"{rate:,.0f}",
            target,
            verdict,
        )
        table.add_row(
            f"raw executemany, {f.backend}",
            f"{rows:,}",
            f"{f.raw_seconds:.1f}",
            f"{f.raw_cpu:.1f}",
            f"{rows / f.raw_seconds:,.0f}",
            "—",
            "floor",
        )
    console.print(table)
    for f in figures:
        rate, raw_rate = f.rows / f.seconds, rows / f.raw_seconds
        console.print(
            f"{f.backend}: created {f.created:,}, refused {f.refused:,}, audit rows {f.audited:,}; "
            f"ratio to raw: {raw_rate / rate:.1f}x slower ({rate / raw_rate:.0%} of raw); "
            f"{f.rows / f.cpu:,.0f} rows per CPU second"
        )
    console.print(load_note(load_before, load_after))
