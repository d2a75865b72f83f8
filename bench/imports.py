"""Import benchmark: `ficha import` of a CSV of --rows rows (1,000,000 by default) into a
10-field object on SQLite, with every row coerced and validated by the records service
and every record audited — beside raw `executemany` of the same rows into a table of the
same layout (same indexes), in the same run. Target: 20,000 rows/s; the ratio to raw is
reported.

    python -m bench --only imports --db sqlite [--rows 1000000]

The CSV is generated once into bench/.data/imports/ (about 90 MB for a million rows);
the database is made anew for every run.
"""

from __future__ import annotations

import csv
import random
import shutil
import sqlite3
import time
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


def project(root: Path) -> Any:
    from framework.app import Ficha
    from framework.settings import Settings
    from storage.migrations import migrate

    if root.exists():
        shutil.rmtree(root)
    (root / "objects").mkdir(parents=True)
    (root / "migrations").mkdir()
    (root / "ficha.yaml").write_text(
        "name: Import benchmark\ndatabase: sqlite:///data/bench.sqlite\npacks: []\n"
    )
    (root / "objects" / "lead.yaml").write_text(LEAD)
    (root / "mapping.yaml").write_text(MAPPING)
    ficha = Ficha.load(Settings.load(root))
    migrate(ficha.storage, ficha.settings.migrations_dir)
    return ficha


def raw_executemany(ficha: Any, source: Path) -> float:
    """The floor: the same rows, read by the csv module and inserted by sqlite3's
    executemany into a copy of the table (its indexes too), nothing checked or audited."""
    import sqlalchemy as sa

    table = ficha.storage.table("lead")
    metadata = sa.MetaData()
    copy = table.to_metadata(metadata, name="lead_raw")
    for index in list(copy.indexes):  # index names must differ from the original's
        index.name = f"raw_{index.name}"
    metadata.create_all(ficha.storage.engine)
    database = ficha.storage.url.database
    columns = [
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
    sql = f"INSERT INTO lead_raw ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    stages = {s: s.lower() for s in STAGES}
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    started = time.perf_counter()
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        batch: list[tuple[Any, ...]] = []
        connection.execute("BEGIN")
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
                connection.executemany(sql, batch)
                connection.execute("COMMIT")
                connection.execute("BEGIN")
                batch = []
        if batch:
            connection.executemany(sql, batch)
        connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def run(options: Options, console: Console) -> None:
    from framework.importing import Importer, load_mapping
    from framework.records import Actor

    if "sqlite" not in options.dbs:
        console.print("[dim]imports: SQLite only (the target is for SQLite); skipped[/]")
        return
    rows = options.rows
    source = DATA / f"leads-{rows}.csv"
    if not source.exists() or options.rebuild:
        console.print(f"imports: writing {rows:,} rows to {source} …")
        make_csv(source, rows)
    ficha = project(DATA / "project")
    mapping = load_mapping(DATA / "project" / "mapping.yaml", ficha.model)
    console.print(f"imports: {rows:,} rows of a 10-field object, validated and audited …")
    load_before = load_average()
    importer = Importer(ficha, mapping, Actor(None, "bench", "cli"), batch_size=2000)
    started = time.perf_counter()
    report = importer.run(source)
    seconds = time.perf_counter() - started
    raw_seconds = raw_executemany(ficha, source)
    load_after = load_average()
    import sqlalchemy as sa

    with ficha.storage.read() as conn:
        audited = conn.execute(
            sa.select(sa.func.count()).select_from(ficha.storage.tables.system["audit"])
        ).scalar_one()
    ficha.close()
    ficha_rate = report.rows / seconds
    raw_rate = rows / raw_seconds
    table = Table(title="imports (SQLite)", title_justify="left")
    for column in ("measure", "rows", "seconds", "rows/s", "target", "result"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    passed = ficha_rate >= TARGET and report.created == rows
    table.add_row(
        "ficha import (checked, audited)",
        f"{report.rows:,}",
        f"{seconds:.1f}",
        f"{ficha_rate:,.0f}",
        f"≥ {TARGET:,}",
        "[green]pass[/]" if passed else f"[bold red]FAIL x{TARGET / max(ficha_rate, 1):.2f}[/]",
    )
    table.add_row(
        "raw executemany (sqlite3)",
        f"{rows:,}",
        f"{raw_seconds:.1f}",
        f"{raw_rate:,.0f}",
        "—",
        "floor",
    )
    console.print(table)
    console.print(
        f"created {report.created:,}, refused {report.failed:,}, audit rows {audited:,}; "
        f"ratio to raw: {raw_rate / ficha_rate:.1f}x slower ({ficha_rate / raw_rate:.0%} of raw)"
    )
    console.print(load_note(load_before, load_after))
