"""Business rules on the write path, and segments selected by expression (issue 4).

rules-save   An object of 12 fields with 10 active rules that all fire on save (most
             check their condition and do nothing; two `set` a field on a share of the
             records; a few notify, email or create a task on a rare record), 2
             validations and a stored formula; the audit trail is always on. N records
             are created one by one through `ficha.records.create`, each its own
             transaction, and beside each one, in the same run, interleaved:
               - the same records.create on twin objects with no rules (validations and
                 formula kept), and with no behaviour at all: what the rules alone cost;
               - a bare SQLAlchemy Core insert of the very row Ficha stored, into a twin
                 table with the same columns and indexes, one transaction each
                 (`with engine.begin(): conn.execute(table.insert().values(...))`).
             Target: the p50 of a save with rules ≤ 3x the p50 of the bare insert.

segment      A `customer` object of --rows rows (1,000,000 by default; the generated rows
             of the screens benchmark) with a has_many `orders` (2.7 orders a customer on
             average) and a link to `agent`. A few realistic segment expressions are
             compiled (Expression.compile → .where(storage)) and their ids selected the
             way scheduled rules select theirs (live records, ordered by id). For each:
             the SQL (literal binds), the number of statements (exactly ONE is the
             target), the rows, the time (expression text → ids) beside the same SQL
             replayed on the driver and a hand-written SQL of the same segment; and a
             check that the Python predicate of the same expression agrees on a sample.

    .venv/bin/python -m bench --only rules-save
    .venv/bin/python -m bench --only segment --rows 1000000
    .venv/bin/python -m bench.rules --db sqlite,postgresql,mariadb --only rules-save,segment

MariaDB joins a run with the default databases when its server answers
($FICHA_BENCH_MARIADB, default mysql+pymysql://root@127.0.0.1:3306/); `python -m
bench.rules --db …` names the databases explicitly. rules-save makes fresh databases and
drops them after; segment loads once and caches like the screens benchmark
(bench/.data/segment-<db>-<rows>/, databases ficha_bench_segment[_<rows>]).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import random
import shutil
import sqlite3
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from bench import _data, _words
from bench._options import Options
from bench._report import load_average, load_note
from bench._timing import Samples, cpu_ms, fmt_ms, now_ms, percentile

DATA_DIR = _data.DATA_DIR
DEFAULT_MARIADB = "mysql+pymysql://root@127.0.0.1:3306/"
#: records created per variant by rules-save (python -m bench.rules --records N)
SAVE_RECORDS = 2000
#: rules-save target: a save with its rules and audit ≤ this x a bare insert of the row
SAVE_RATIO = 3.0


# -- databases shared by both benchmarks ------------------------------------------------------


def mariadb_admin_url() -> str:
    return os.environ.get("FICHA_BENCH_MARIADB", DEFAULT_MARIADB)


def reachable(url: str) -> bool:
    try:
        engine = sa.create_engine(url)
        try:
            with engine.connect():
                return True
        finally:
            engine.dispose()
    except sa.exc.OperationalError:
        return False


def backends(options: Options) -> list[str]:
    """The databases asked for; MariaDB joins a run with the default ones when it answers
    (the shared `--db` option of `python -m bench` offers SQLite and PostgreSQL only)."""
    chosen = list(options.dbs)
    if set(chosen) == {"sqlite", "postgresql"} and reachable(mariadb_admin_url()):
        chosen.append("mariadb")
    return chosen


def admin_url(backend: str, options: Options) -> str:
    return options.pg_admin_url if backend == "postgresql" else mariadb_admin_url()


def server_database(backend: str, name: str, admin: str, *, drop: bool) -> str:
    """The URL of database `name` on the server of `admin`, made if missing (dropped and
    made again with `drop`)."""
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                if drop:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).scalar()
                if not exists:
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            else:
                if drop:
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
                conn.exec_driver_sql(
                    f"CREATE DATABASE IF NOT EXISTS `{name}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
    finally:
        engine.dispose()
    return sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)


def drop_server_database(backend: str, name: str, admin: str) -> None:
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        engine.dispose()


def write_project(root: Path, url: str, objects: dict[str, str]) -> None:
    (root / "objects").mkdir(parents=True, exist_ok=True)
    (root / "migrations").mkdir(exist_ok=True)
    (root / "ficha.yaml").write_text(
        f"name: Ficha benchmark\ndatabase: '{url}'\npacks: []\nlocale: es-ES\n"
    )
    for name, text in objects.items():
        (root / "objects" / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip())


def server_version(storage: Any) -> str:
    if storage.backend == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with storage.read() as conn:
        version = str(conn.exec_driver_sql("SELECT version()").scalar())
    if storage.backend == "postgresql":
        return f"PostgreSQL {version.split()[1] if version.startswith('PostgreSQL') else version}"
    return f"MariaDB {version.split('-')[0]}"


class StatementCounter:
    """Every statement an engine sends to its driver while installed, transaction control
    (BEGIN, COMMIT, ROLLBACK, savepoints) left out."""

    CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []

    def _on(self, conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(self.CONTROL):
            self.statements.append((statement, parameters))

    def __enter__(self) -> StatementCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._on)

    def take(self) -> list[tuple[str, Any]]:
        taken, self.statements = self.statements, []
        return taken


class RawConnection:
    """A plain DBAPI connection (sqlite3, psycopg, pymysql) in autocommit: no pool, no
    SQLAlchemy, no Ficha."""

    def __init__(self, storage: Any) -> None:
        self.backend: str = storage.backend
        url: sa.URL = storage.url
        if self.backend == "sqlite":
            conn = sqlite3.connect(url.database or "", isolation_level=None)
            conn.execute("PRAGMA cache_size=-65536")  # as storage.manager's connections
            self.conn: Any = conn
        elif self.backend == "postgresql":
            import psycopg

            plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.conn = psycopg.connect(plain, autocommit=True)
        else:
            import pymysql

            self.conn = pymysql.connect(
                host=url.host or "127.0.0.1",
                port=url.port or 3306,
                user=url.username or "root",
                password=url.password or "",
                database=url.database,
                charset="utf8mb4",
                autocommit=True,
            )
            with self.conn.cursor() as cursor:  # as storage.manager's engine
                cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")

    def rows(self, sql: str, params: Any = None) -> tuple[float, list[tuple[Any, ...]]]:
        """Milliseconds to run and fetch, and the rows."""
        cursor = self.conn.cursor()
        try:
            started = now_ms()
            if params:
                cursor.execute(sql, params)
            else:
                cursor.execute(sql)
            rows = list(cursor.fetchall())
            return now_ms() - started, rows
        finally:
            cursor.close()

    def explain(self, sql: str, params: Any = None) -> str:
        prefix = {
            "sqlite": "EXPLAIN QUERY PLAN ",
            "postgresql": "EXPLAIN (ANALYZE, BUFFERS) ",
            "mariadb": "EXPLAIN ",
        }[self.backend]
        _, rows = self.rows(prefix + sql, params)
        if self.backend == "sqlite":
            return "\n".join(str(r[-1]) for r in rows)
        if self.backend == "postgresql":
            return "\n".join(str(r[0]) for r in rows)
        return "\n".join(" | ".join("" if v is None else str(v) for v in r) for r in rows)

    def close(self) -> None:
        self.conn.close()


# == rules-save ===============================================================================

LEAD_FIELDS = """
title: name
fields:
  name: {type: string, required: true, max_length: 120}
  email: {type: email}
  phone: {type: phone}
  source: {type: choice, values: [web, referral, event, partner, cold_call], filter: true}
  segment:
    type: choice
    values: [consumer, smb, mid, ent]
    default: consumer
    filter: true
  status:
    type: choice
    values: [new, contacted, qualified, lost]
    default: new
    filter: true
  city: {type: string, max_length: 80}
  budget: {type: money, min: 0}
  probability: {type: percent}
  expected: {type: money%(formula)s}
  priority: {type: choice, values: [low, normal, high], default: normal}
  owner: {type: link, object: user, on_delete: set_null}
"""

LEAD_VALIDATIONS = """
validations:
  - check: probability is null or probability <= 100
    message: A probability cannot be above 100%
    field: probability
  - check: email is not null or phone is not null
    message: A lead needs an email or a phone to be reached
"""

#: ten rules, all on save; most test their condition and do nothing: two `set` a field
#: (on about 13% and 12% of the records), a few notify, email or create a task (rarely)
LEAD_RULES = """
rules:
  - name: big budget is high priority
    on: save
    if: 'budget >= 50000 and priority != "high"'
    do:
      - set: {priority: high}
  - name: probability from status
    on: save
    if: 'probability is null and status in ("contacted", "qualified")'
    do:
      - set: {probability: 20}
  - name: enterprise budget
    on: save
    if: 'budget >= 250000 and segment in ("consumer", "smb")'
    do:
      - notify: {to: =owner, message: 'Check the segment of {name}: {budget} EUR'}
  - name: lost big deal
    on: save
    if: 'status == "lost" and budget >= 100000'
    do:
      - notify: {to: =owner, message: 'Lost {name} ({budget} EUR)'}
  - name: call a qualified big lead
    on: save
    if: 'status == "qualified" and expected >= 50000'
    do:
      - create:
          object: task
          values: {subject: '="Call " + name', lead: =id, assigned_to: =owner, due: =now() + 1d}
  - name: partner lead
    on: save
    if: 'source == "partner" and segment == "ent"'
    do:
      - email: {to: partners@example.com, subject: 'Partner lead {name}', body: 'Budget {budget}'}
  - name: unassigned
    on: save
    if: owner is null
    do:
      - assign: {field: owner, team: Sales}
  - name: foreign phone
    on: save
    if: 'phone is not null and not starts_with(phone, "+34") and segment != "consumer"'
    do:
      - notify: {to: =owner, message: 'International lead {name}: {phone}'}
  - name: vip in a capital
    on: save
    if: 'city in ("Madrid", "Barcelona") and segment == "ent" and budget >= 500000'
    do:
      - notify: {to: =owner, message: 'VIP lead {name} in {city}'}
  - name: test lead
    on: save
    if: 'source == "web" and lower(name) like "%test%"'
    do:
      - email: {to: ops@example.com, subject: 'Test lead {name} to remove'}
"""

TASK_YAML = """
object: task
title: subject
fields:
  subject: {type: string, required: true, max_length: 200}
  lead: {type: link, object: lead, on_delete: cascade}
  assigned_to: {type: link, object: user, on_delete: set_null}
  due: datetime
"""

FORMULA = ", formula: budget * probability / 100"


def lead_yaml(name: str, *, formula: bool, validations: bool, rules: bool) -> str:
    text = f"object: {name}\n" + textwrap.dedent(LEAD_FIELDS).lstrip() % {
        "formula": FORMULA if formula else ""
    }
    if validations:
        text += textwrap.dedent(LEAD_VALIDATIONS).lstrip()
    if rules:
        text += textwrap.dedent(LEAD_RULES).lstrip()
    return text


@dataclass(frozen=True)
class Variant:
    key: str
    object: str | None  # None: the bare insert
    label: str


VARIANTS = (
    Variant("rules", "lead", "records.create: 10 rules, 2 validations, formula, audit"),
    Variant("checked", "lead_checked", "records.create: no rules (validations, formula, audit)"),
    Variant("plain", "lead_plain", "records.create: audit only"),
    Variant("bare", None, "bare Core insert of the same row"),
)
BARE_OBJECT = "lead_bare"  # a twin table (same columns and indexes) Ficha never writes to


def save_objects() -> dict[str, str]:
    return {
        "lead": lead_yaml("lead", formula=True, validations=True, rules=True),
        "lead_checked": lead_yaml("lead_checked", formula=True, validations=True, rules=False),
        "lead_plain": lead_yaml("lead_plain", formula=False, validations=False, rules=False),
        BARE_OBJECT: lead_yaml(BARE_OBJECT, formula=False, validations=False, rules=False),
        "task": TASK_YAML,
    }


def lead_values(count: int, owners: Sequence[int], seed: int = _data.SEED) -> list[dict[str, Any]]:
    """What a web form or an import hands to records.create, seeded."""
    rnd = random.Random(seed)
    cities = [c for c, _ in _words.CITIES]
    weights = [w for _, w in _words.CITIES]
    leads = []
    for i in range(count):
        first, last = rnd.choice(_words.FIRST_NAMES), rnd.choice(_words.SURNAMES)
        email = (
            _data.customer_email(i, first, last, rnd.choice(_words.EMAIL_DOMAINS))
            if rnd.random() < 0.9
            else None
        )
        phone = _data.customer_phone(i + 7) if rnd.random() < 0.8 or email is None else None
        budget = (
            None
            if rnd.random() < 0.1
            else Decimal(round(rnd.lognormvariate(9.5, 1.2), 2)).quantize(Decimal("0.01"))
        )
        leads.append(
            {
                "name": f"{first} {last} {rnd.choice(_words.SURNAMES)}",
                "email": email,
                "phone": phone,
                "source": rnd.choices(
                    ("web", "referral", "event", "partner", "cold_call"), (40, 20, 15, 10, 15)
                )[0],
                "segment": rnd.choices(("consumer", "smb", "mid", "ent"), (40, 35, 15, 10))[0],
                "status": rnd.choices(("new", "contacted", "qualified"), (70, 20, 10))[0],
                "city": rnd.choices(cities, weights)[0],
                "budget": budget,
                "probability": None if rnd.random() < 0.4 else 10 * rnd.randrange(1, 10),
                "priority": rnd.choice(("low", "normal", "normal")),
                "owner": rnd.choice(owners),
            }
        )
    return leads


@dataclass
class SaveMeasure:
    variant: Variant
    wall: Samples = field(default_factory=Samples)
    cpu: Samples = field(default_factory=Samples)
    statements: list[int] = field(default_factory=list)


@dataclass
class SaveRun:
    backend: str
    server: str
    records: int
    measures: dict[str, SaveMeasure]
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    load_before: float = 0.0
    load_after: float = 0.0

    def ratio(self, key: str) -> float:
        bare = self.measures["bare"].wall.p50
        return self.measures[key].wall.p50 / bare if bare else math.nan

    @property
    def passed(self) -> bool:
        return not self.problems and self.ratio("rules") <= SAVE_RATIO


def save_database(backend: str, options: Options) -> tuple[Path, str]:
    root = DATA_DIR / f"rules-save-{backend}"
    shutil.rmtree(root, ignore_errors=True)
    if backend == "sqlite":
        return root, "sqlite:///data/bench.sqlite"
    return root, server_database(
        backend, "ficha_bench_rules", admin_url(backend, options), drop=True
    )


def drop_save_database(backend: str, options: Options) -> None:
    shutil.rmtree(DATA_DIR / f"rules-save-{backend}", ignore_errors=True)
    if backend != "sqlite":
        drop_server_database(backend, "ficha_bench_rules", admin_url(backend, options))


def measure_saves(
    ficha: Any, records: int, warmup: int, progress: Callable[[int], None]
) -> SaveRun:
    from framework.records import Actor

    storage = ficha.storage
    rec = ficha.records
    team = rec.create("team", {"name": "Sales"})
    boss = rec.create("user", {"username": "berta", "name": "Berta Boss", "role": "manager"})
    owners = [
        rec.create(
            "user",
            {
                "username": f"sales{i}",
                "name": f"Sales Rep {i}",
                "team": team.id,
                "manager": boss.id,
                "role": "sales",
            },
        ).id
        for i in range(1, 6)
    ]
    actor = Actor(owners[0], "Sales Rep 1", "api", role="sales", team="Sales")
    values = lead_values(warmup + records, owners)
    lead = storage.table("lead")
    bare = storage.table(BARE_OBJECT)
    run = SaveRun(
        storage.backend,
        server_version(storage),
        records,
        {v.key: SaveMeasure(v) for v in VARIANTS},
    )
    ficha_variants = [v for v in VARIANTS if v.object is not None]
    bare_variant = next(v for v in VARIANTS if v.object is None)

    def stored_row(ident: int) -> dict[str, Any]:
        with storage.read() as conn:
            row = conn.execute(sa.select(lead).where(lead.c.id == ident)).one()._asdict()
        row.pop("id")
        return row

    run.load_before = load_average()
    with StatementCounter(storage.engine) as counter:
        for i, value in enumerate(values):
            timed = i >= warmup
            # the order alternates, so a slow moment of the machine weighs on all alike;
            # the bare insert writes the row the `lead` save just stored
            order = ficha_variants if i % 2 == 0 else list(reversed(ficha_variants))
            lead_id = 0
            for variant in order:
                counter.take()
                cpu, started = cpu_ms(), now_ms()
                record = rec.create(str(variant.object), value, actor)
                elapsed, cpu = now_ms() - started, cpu_ms() - cpu
                if variant.key == "rules":
                    lead_id = int(record["id"])
                if timed:
                    m = run.measures[variant.key]
                    m.wall.add(elapsed)
                    m.cpu.add(cpu)
                    m.statements.append(len(counter.take()))
                if variant.key == "rules":
                    row = stored_row(lead_id)
                    counter.take()
                    cpu, started = cpu_ms(), now_ms()
                    with storage.engine.begin() as conn:
                        conn.execute(bare.insert().values(**row))
                    elapsed, cpu = now_ms() - started, cpu_ms() - cpu
                    if timed:
                        m = run.measures[bare_variant.key]
                        m.wall.add(elapsed)
                        m.cpu.add(cpu)
                        m.statements.append(len(counter.take()))
            if timed and (i - warmup) % 100 == 0:
                progress(i - warmup)
    run.load_after = load_average()
    check_saves(ficha, run, warmup + records)
    return run


def check_saves(ficha: Any, run: SaveRun, total: int) -> None:
    """The saves did what was declared: every row is there, each save was audited, the
    rules ran (their `set`s are visible, their other actions wrote their records)."""
    storage = ficha.storage
    audit = storage.tables.system["audit"]
    lead = storage.table("lead")
    checked = storage.table("lead_checked")
    with storage.read() as conn:

        def count(table: sa.Table, *where: Any) -> int:
            stmt = sa.select(sa.func.count()).select_from(table)
            return int(conn.execute(stmt.where(*where) if where else stmt).scalar() or 0)

        for variant in VARIANTS:
            name = variant.object or BARE_OBJECT
            rows = count(storage.table(name))
            if rows != total:
                run.problems.append(f"{name} holds {rows} rows, {total} expected")
            created = count(audit, audit.c.object == name, audit.c.action == "created")
            expected = 0 if variant.object is None else total
            if created != expected:
                run.problems.append(f"{created} audit rows for created {name}, {expected} expected")
        by_rules = count(
            audit, audit.c.object == "lead", audit.c.action == "updated", audit.c.channel == "rule"
        )
        high = count(lead, lead.c.budget >= 50000, lead.c.priority != "high")
        if high:
            run.problems.append(f"{high} leads of 50,000 or more are not high priority")
        unset = count(
            lead, lead.c.probability.is_(None), lead.c.status.in_(("contacted", "qualified"))
        )
        if unset:
            run.problems.append(f"{unset} contacted leads kept no probability")
        if count(checked, checked.c.budget >= 50000, checked.c.priority != "high") == 0:
            run.problems.append("lead_checked ran the rules of lead")
        notified = count(storage.table("notification"))
        mailed = count(storage.table("email_message"))
        tasks = count(storage.table("task"))
        audit_rows = count(audit, audit.c.object == "lead")
    run.checks.append(
        f"{total:,} leads saved ({total - run.records} warm-up): a rule's `set` changed "
        f"{by_rules:,} of them (one update each, audited, and the 10 rules checked again); "
        f"the other actions wrote {notified} notifications, {mailed} emails, {tasks} tasks; "
        f"{audit_rows:,} audit rows for lead"
    )


def _subset(m: SaveMeasure, keep: Callable[[int], bool]) -> SaveMeasure:
    part = SaveMeasure(m.variant)
    for wall, cpu, statements in zip(m.wall.values, m.cpu.values, m.statements, strict=True):
        if keep(statements):
            part.wall.add(wall)
            part.cpu.add(cpu)
            part.statements.append(statements)
    return part


def save_table(run: SaveRun) -> Table:
    table = Table(
        title=f"{run.backend}: saving one record, {run.records:,} records one by one "
        "(each its own transaction), interleaved",
        title_justify="left",
        caption="CPU: this process's CPU time (on SQLite it includes the SQL, on the "
        "servers it leaves their work out); x bare: p50 / the bare insert's p50",
        caption_justify="left",
    )
    table.add_column("measure", min_width=28)
    for column in ("p50", "p95", "CPU p50", "stmts p50 (max)", "n", "x bare", "CPU x bare"):
        table.add_column(column, justify="right")
    table.add_column("target", justify="right")
    table.add_column("result")
    bare = run.measures["bare"]
    rows: list[tuple[str, SaveMeasure, bool]] = []
    for key, m in run.measures.items():
        rows.append((key, m, False))
        if key == "rules" and m.statements:
            fewest = min(m.statements)
            rows.append(("quiet", _subset(m, lambda n, f=fewest: n <= f), True))
            rows.append(("fired", _subset(m, lambda n, f=fewest: n > f), True))
    for key, m, sub in rows:
        ratio = m.wall.p50 / bare.wall.p50 if bare.wall.p50 else math.nan
        cpu_ratio = m.cpu.p50 / bare.cpu.p50 if bare.cpu.p50 else math.nan
        label = m.variant.label
        target, verdict = "—", "[dim]context[/]"
        if key == "rules":
            target = f"≤ {SAVE_RATIO:g}x"
            if run.problems:
                verdict = "[bold red]ERROR[/]"
            elif ratio <= SAVE_RATIO:
                verdict = "[green]pass[/]"
            else:
                verdict = f"[bold red]FAIL x{ratio / SAVE_RATIO:.1f}[/]"
        elif key == "quiet":
            label, verdict = "  [dim]… no rule action ran[/]", ""
        elif key == "fired":
            label, verdict = "  [dim]… a rule action ran[/]", ""
        statements = (
            f"{percentile(m.statements, 50):g} ({max(m.statements)})" if m.statements else "—"
        )
        table.add_row(
            label,
            fmt_ms(m.wall.p50),
            fmt_ms(m.wall.p95),
            fmt_ms(m.cpu.p50),
            statements,
            f"{len(m.wall):,}",
            f"{ratio:.2f}x",
            f"{cpu_ratio:.2f}x",
            target if not sub else "",
            verdict,
            style="red" if key == "rules" and not run.passed else ("dim" if sub else None),
        )
    return table


def run_save(options: Options, console: Console, records: int = SAVE_RECORDS) -> None:
    """The `rules-save` benchmark: one table per database, then a summary."""
    from storage.migrations import migrate

    runs: list[SaveRun] = []
    for backend in backends(options):
        console.rule(f"[bold]rules-save on {backend}")
        root, url = save_database(backend, options)
        ficha = None
        try:
            write_project(root, url, save_objects())
            ficha = _data.load_ficha(root)
            migrate(ficha.storage, ficha.settings.migrations_dir, "rules benchmark")
            with console.status("saving …") as status:
                run = measure_saves(
                    ficha,
                    records,
                    max(options.warmup, 20),
                    lambda done: status.update(f"saving: {done:,}/{records:,} records …"),
                )
            runs.append(run)
            console.print(run.server, highlight=False)
            console.print(save_table(run))
            for line in run.checks:
                console.print(f"[dim]{escape(line)}[/]", highlight=False)
            for line in run.problems:
                console.print(f"[bold red]✗ {escape(line)}[/]", highlight=False)
            console.print(load_note(run.load_before, run.load_after))
        finally:
            if ficha is not None:
                ficha.close()
            drop_save_database(backend, options)
    for run in runs:
        rules, plain, bare = (run.measures[k].wall.p50 for k in ("rules", "plain", "bare"))
        checked = run.measures["checked"].wall.p50
        verdict = "[green]pass[/]" if run.passed else "[bold red]FAIL[/]"
        console.print(
            f"  {run.backend}: a save with 10 rules and the audit trail takes {fmt_ms(rules)} "
            f"p50, {run.ratio('rules'):.2f}x a bare insert of the row ({fmt_ms(bare)}; "
            f"target ≤ {SAVE_RATIO:g}x) {verdict}; the rules alone add "
            f"{fmt_ms(rules - checked)}, validations and formula {fmt_ms(checked - plain)}",
            highlight=False,
        )


# == segment ==================================================================================

ORDER_YAML = """
object: order
label: Order
title: number
fields:
  number: {type: string, max_length: 20}
  customer: {type: link, object: customer, required: true, on_delete: cascade}
  status:
    type: choice
    values: {open: Open, shipped: Shipped, invoiced: Invoiced, cancelled: Cancelled}
    default: open
    filter: true
  amount: {type: money, min: 0}
  ordered_on: date
list:
  columns: [number, customer, status, amount, ordered_on]
  sort: [ordered_on]
"""

#: the screens benchmark's customer, with its orders
CUSTOMER_YAML = _data.CUSTOMER_YAML.replace(
    "  notes: text\n", "  notes: text\n  orders: {type: has_many, object: order}\n"
)
SEGMENT_OBJECTS = {"agent": _data.AGENT_YAML, "customer": CUSTOMER_YAML, "order": ORDER_YAML}
ORDER_COLUMNS = (
    "id",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "deleted_at",
    "number",
    "customer_id",
    "status",
    "amount",
    "ordered_on",
)
#: bump when the generated orders change shape, so cached databases are rebuilt
ORDER_GENERATOR_VERSION = 1
#: the last day of the generated data: what today() means in the segments, so that they
#: select the same rows whatever day the benchmark runs
DATA_TODAY = dt.date(2025, 11, 1)


def segment_spec() -> str:
    text = json.dumps(
        [SEGMENT_OBJECTS, _data.GENERATOR_VERSION, ORDER_GENERATOR_VERSION, _data.SEED],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def order_rows(customers: int, batch: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
    """Batches of order rows in ORDER_COLUMNS order: 0 to 6 orders a customer (2.7 on
    average), a quarter of them open, dated over the five years before DATA_TODAY."""
    rnd = random.Random(_data.SEED + 1)
    statuses = ("open", "shipped", "invoiced", "cancelled")
    status_weights = (25, 20, 45, 10)
    per_customer = (0, 1, 2, 3, 4, 5, 6)
    per_weights = (12, 15, 20, 20, 15, 10, 8)
    first_day = DATA_TODAY.toordinal() - 5 * 365
    ident = 0
    rows: list[tuple[Any, ...]] = []
    for customer in range(1, customers + 1):
        for _ in range(rnd.choices(per_customer, per_weights)[0]):
            ident += 1
            ordered = dt.date.fromordinal(first_day + rnd.randrange(5 * 365))
            created = dt.datetime.combine(ordered, dt.time(9 + rnd.randrange(10), 0))
            rows.append(
                (
                    ident,
                    1,
                    created,
                    created,
                    None,
                    None,
                    created if rnd.random() < 0.005 else None,
                    f"SO-{ident:08d}",
                    customer,
                    rnd.choices(statuses, status_weights)[0],
                    Decimal(rnd.randrange(500, 2_000_000)) / 100,
                    ordered,
                )
            )
            if len(rows) >= batch:
                yield rows
                rows = []
    if rows:
        yield rows


def segment_database_name(rows: int) -> str:
    return "ficha_bench_segment" if rows == 1_000_000 else f"ficha_bench_segment_{rows}"


@dataclass
class SegmentDatabase:
    backend: str
    rows: int
    orders: int
    ficha: Any
    load_seconds: float
    loaded_at: str
    reused: bool

    @property
    def storage(self) -> Any:
        return self.ficha.storage


def _count(storage: Any, name: str) -> int | None:
    try:
        with storage.read() as conn:
            table = storage.table(name)
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
    except Exception:  # no table, no database: nothing cached
        return None


def prepare_segment(
    backend: str,
    rows: int,
    options: Options,
    log: Callable[[str], None],
) -> SegmentDatabase:
    """The segment project on `backend`: reused while the cached database holds what would
    be loaded (framework changes reach it through `ficha migrate`), else loaded."""
    from storage.migrations import migrate

    root = DATA_DIR / f"segment-{backend}-{rows}"
    name = segment_database_name(rows)
    marker_path = root / "bench.json"
    try:
        marker = dict(json.loads(marker_path.read_text()))
    except (OSError, ValueError):
        marker = {}
    if not options.rebuild and marker.get("spec") == segment_spec() and marker.get("rows") == rows:
        url = (
            "sqlite:///data/bench.sqlite"
            if backend == "sqlite"
            else server_database(backend, name, admin_url(backend, options), drop=False)
        )
        write_project(root, url, SEGMENT_OBJECTS)
        ficha = _data.load_ficha(root)
        if _count(ficha.storage, "customer") == rows and _count(
            ficha.storage, "order"
        ) == marker.get("orders"):
            try:
                _, applied = migrate(ficha.storage, ficha.settings.migrations_dir)
            except Exception as exc:
                log(f"  [{backend}] the cached database no longer migrates ({exc}); reloading")
            else:
                if applied:
                    log(f"  [{backend}] new migrations applied to the cache: {', '.join(applied)}")
                    analyze_segment(ficha.storage)
                return SegmentDatabase(
                    backend,
                    rows,
                    int(marker["orders"]),
                    ficha,
                    float(marker.get("load_seconds", 0.0)),
                    str(marker.get("loaded_at", "")),
                    reused=True,
                )
        ficha.close()
    return load_segment(backend, rows, options, log)


def load_segment(
    backend: str, rows: int, options: Options, log: Callable[[str], None]
) -> SegmentDatabase:
    from storage.migrations import migrate

    root = DATA_DIR / f"segment-{backend}-{rows}"
    shutil.rmtree(root, ignore_errors=True)
    url = (
        "sqlite:///data/bench.sqlite"
        if backend == "sqlite"
        else server_database(
            backend, segment_database_name(rows), admin_url(backend, options), drop=True
        )
    )
    write_project(root, url, SEGMENT_OBJECTS)
    ficha = _data.load_ficha(root)
    storage = ficha.storage
    log(f"  [{backend}] loading {rows:,} customers and their orders into {storage.display_url} …")
    started = now_ms()
    migrate(storage, ficha.settings.migrations_dir, "segment benchmark schema")
    with _bulk_load_indexes(storage):
        with storage.write() as conn:
            conn.execute(storage.table("agent").insert(), _data.agent_rows())
        if backend == "postgresql":
            _data._copy_customers_pg(storage, rows, log)
        else:
            _data._insert_customers(storage, rows, log)
        log(f"  [{backend}] customers written in {(now_ms() - started) / 1000:.0f} s; orders …")
        orders = _insert_orders(storage, rows, log)
    log(f"  [{backend}] rows written in {(now_ms() - started) / 1000:.0f} s, indexes rebuilt")
    analyze_segment(storage)
    seconds = (now_ms() - started) / 1000
    if _count(storage, "customer") != rows or _count(storage, "order") != orders:
        raise RuntimeError("the segment data did not load completely")
    loaded_at = dt.datetime.now().isoformat(timespec="seconds")
    (root / "bench.json").write_text(
        json.dumps(
            {
                "spec": segment_spec(),
                "rows": rows,
                "orders": orders,
                "load_seconds": round(seconds, 1),
                "loaded_at": loaded_at,
            },
            indent=2,
        )
    )
    log(f"  [{backend}] loaded in {seconds:.0f} s")
    return SegmentDatabase(backend, rows, orders, ficha, seconds, loaded_at, reused=False)


@contextlib.contextmanager
def _bulk_load_indexes(storage: Any) -> Iterator[None]:
    """The secondary indexes (and customer's full-text structure) dropped for the bulk
    load and built once after it, as a bulk import does. MariaDB keeps the indexes its
    foreign keys need, so there only the full-text index is dropped."""
    if storage.backend == "mariadb":
        with storage.write() as conn:
            for statement in storage.dialect.fulltext_drop_ddl("customer"):
                conn.exec_driver_sql(statement)
        yield
        with storage.write() as conn:
            for statement in _data._fulltext_ddl(storage):
                conn.exec_driver_sql(statement)
        return
    indexes = [ix for ix in storage.table("order").indexes if not ix.unique]
    with _data._without_secondary_indexes(storage):
        with storage.write() as conn:
            for index in indexes:
                index.drop(conn, checkfirst=True)
        yield
        with storage.write() as conn:
            if storage.backend == "postgresql":
                conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
            for index in indexes:
                index.create(conn)


def _insert_orders(storage: Any, customers: int, log: Callable[[str], None]) -> int:
    """Written on the driver: COPY on PostgreSQL, batched executemany elsewhere."""
    quote = "`" if storage.backend == "mariadb" else '"'
    table = f"{quote}{storage.table('order').name}{quote}"
    columns = ", ".join(f"{quote}{c}{quote}" for c in ORDER_COLUMNS)
    raw = storage.engine.raw_connection()
    done = 0
    try:
        driver = raw.driver_connection
        cursor = driver.cursor()
        if storage.backend == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for batch in order_rows(customers):
                    for row in batch:
                        copy.write_row(row)
                    done += len(batch)
                    if done % 500_000 < len(batch):
                        log(f"    {done:,} orders")
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
            driver.commit()
        else:
            mark = "?" if storage.backend == "sqlite" else "%s"
            statement = (
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join([mark] * len(ORDER_COLUMNS))})"
            )
            if storage.backend == "sqlite":
                cursor.execute("BEGIN")
            for batch in order_rows(customers):
                if storage.backend == "sqlite":
                    batch = [_sqlite_row(row) for row in batch]
                cursor.executemany(statement, batch)
                done += len(batch)
                if done % 500_000 < len(batch):
                    log(f"    {done:,} orders")
            if storage.backend == "sqlite":
                cursor.execute("COMMIT")
            else:
                driver.commit()
        cursor.close()
    finally:
        raw.close()
    return done


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values as SQLAlchemy stores them in SQLite: money as REAL, dates as ISO text."""
    return tuple(
        float(v)
        if isinstance(v, Decimal)
        else v.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, dt.datetime)
        else v.isoformat()
        if isinstance(v, dt.date)
        else v
        for v in row
    )


def analyze_segment(storage: Any) -> None:
    """Fresh planner statistics, as a database in service has."""
    tables = ("agent", "customer", "order")
    if storage.backend == "postgresql":
        with storage.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            for name in tables:
                c.exec_driver_sql(f'VACUUM (ANALYZE) "{name}"')
    elif storage.backend == "mariadb":
        with storage.write() as conn:
            for name in tables:
                conn.exec_driver_sql(f"ANALYZE TABLE `{name}`").all()
    else:
        _data.analyze(storage)


@dataclass(frozen=True)
class Segment:
    key: str
    text: str
    #: the same segment as a developer would write it; {q} quotes names (" or `), {t:…}
    #: is today() minus that many days
    raw: str
    note: str = ""


SEGMENTS = (
    Segment(
        "filters",
        'segment == "smb" and credit_limit > 5000 and city in ("Madrid", "Sevilla")',
        "SELECT id FROM customer WHERE deleted_at IS NULL AND segment = 'smb' "
        "AND credit_limit > 5000 AND city IN ('Madrid', 'Sevilla') ORDER BY id",
    ),
    Segment(
        "count_orders",
        'count(orders where status == "open") >= 2',
        "SELECT id FROM customer WHERE deleted_at IS NULL AND id IN ("
        "SELECT customer_id FROM {q}order{q} WHERE deleted_at IS NULL AND status = 'open' "
        "GROUP BY customer_id HAVING count(*) >= 2) ORDER BY id",
        "an aggregate over the has_many",
    ),
    Segment(
        "recent",
        "since > today() - 365d",
        "SELECT id FROM customer WHERE deleted_at IS NULL AND since > '{t:365}' ORDER BY id",
        "a date condition",
    ),
    Segment(
        "win_back",
        'status == "active" and not has(orders, ordered_on > today() - 180d)',
        "SELECT c.id FROM customer c WHERE c.deleted_at IS NULL AND c.status = 'active' "
        "AND NOT EXISTS (SELECT 1 FROM {q}order{q} o WHERE o.customer_id = c.id "
        "AND o.deleted_at IS NULL AND o.ordered_on > '{t:180}') ORDER BY c.id",
        "active, no order for 6 months",
    ),
    Segment(
        "agent_team",
        'agent.team == "north" and segment in ("mid", "ent")',
        "SELECT c.id FROM customer c JOIN agent a ON a.id = c.agent_id "
        "AND a.deleted_at IS NULL WHERE c.deleted_at IS NULL AND a.team = 'north' "
        "AND c.segment IN ('mid', 'ent') ORDER BY c.id",
        "through a link",
    ),
)


def raw_sql(segment: Segment, backend: str, today: dt.date) -> str:
    import re

    sql = segment.raw.replace("{q}", "`" if backend == "mariadb" else '"')
    return re.sub(
        r"\{t:(\d+)\}", lambda m: (today - dt.timedelta(days=int(m.group(1)))).isoformat(), sql
    )


def literal_sql(stmt: Any, engine: sa.Engine) -> str:
    """The statement with its values written in (for reading; it runs with binds)."""
    try:
        return str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    except Exception:  # a value the dialect cannot write literally: show the binds
        compiled = stmt.compile(dialect=engine.dialect)
        return f"{compiled}\n-- {compiled.params}"


@dataclass
class SegmentResult:
    segment: Segment
    sql: str = ""
    rows: int = 0
    statements: set[int] = field(default_factory=set)
    ficha: Samples = field(default_factory=Samples)
    replay: Samples = field(default_factory=Samples)
    raw: Samples = field(default_factory=Samples)
    raw_rows: int = 0
    agreed: str = ""
    captured: tuple[str, Any] | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.statements == {1}


def segment_statement(ficha: Any, text: str, context: Any) -> Any:
    """Expression text → the select of the ids of the live records it selects: the
    statement RuleEngine.run_scheduled runs for a scheduled rule's segment."""
    from framework.expressions import Expression

    storage = ficha.storage
    condition = Expression.compile(text, ficha.model, "customer")
    table = storage.table("customer")
    return (
        sa.select(table.c.id)
        .where(table.c.deleted_at.is_(None))
        .where(condition.where(storage, context=context))
        .order_by(table.c.id)
    )


def select_segment(ficha: Any, text: str, context: Any) -> list[int]:
    """What is timed: compile the expression, build the statement, fetch the ids."""
    stmt = segment_statement(ficha, text, context)
    with ficha.storage.read() as conn:
        return [int(i) for i in conn.execute(stmt).scalars()]


def predicate_agrees(
    ficha: Any, text: str, context: Any, selected: Sequence[int], rnd: random.Random
) -> str:
    """The Python predicate of the same expression (what a rule evaluates for one record)
    on a sample of records, in and out of the segment: it must agree with the SQL."""
    from framework.expressions import Expression
    from framework.expressions.evaluate import plain
    from framework.expressions.resolver import SqlAggregateResolver

    storage = ficha.storage
    condition = Expression.compile(text, ficha.model, "customer")
    table = storage.table("customer")
    chosen = set(selected)
    with storage.read() as conn:
        top = int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0)
        sample = rnd.sample(list(selected), min(40, len(selected))) + rnd.sample(
            range(1, top + 1), min(top, 60)
        )
        resolver = SqlAggregateResolver(storage, conn)
        checked = disagree = 0
        for ident in sample:
            record = ficha.reader.get(conn, "customer", ident)
            if record is None:
                continue  # deleted: in no segment
            values = {k: plain(v) for k, v in record.items()}
            checked += 1
            if condition.test(values, resolver, context) != (ident in chosen):
                disagree += 1
    if disagree:
        return f"[bold red]{disagree} of {checked} disagree[/]"
    return f"{checked}/{checked}"


def measure_segment(
    ficha: Any, raw: RawConnection, segment: Segment, runs: int, warmup: int, context: Any
) -> SegmentResult:
    storage = ficha.storage
    result = SegmentResult(segment)
    stmt = segment_statement(ficha, segment.text, context)
    result.sql = literal_sql(stmt, storage.engine)
    hand = raw_sql(segment, storage.backend, context.today)
    ids: list[int] = []
    with StatementCounter(storage.engine) as counter:
        for i in range(warmup + runs):
            counter.take()
            started = now_ms()
            ids = select_segment(ficha, segment.text, context)
            elapsed = now_ms() - started
            statements = counter.take()
            if i >= warmup:
                result.ficha.add(elapsed)
                result.statements.add(len(statements))
            if len(statements) == 1:
                result.captured = statements[0]
    result.rows = len(ids)
    if result.captured is not None:
        sql, params = result.captured
        for i in range(warmup + runs):
            ms, rows = raw.rows(sql, params)
            if i >= warmup:
                result.replay.add(ms)
        if len(rows) != result.rows:
            result.error = f"Ficha's SQL replayed gave {len(rows)} rows, not {result.rows}"
    for i in range(warmup + runs):
        ms, rows = raw.rows(hand)
        if i >= warmup:
            result.raw.add(ms)
    result.raw_rows = len(rows)
    if result.raw_rows != result.rows and result.error is None:
        result.error = (
            f"the hand-written SQL selects {result.raw_rows:,} rows, the expression {result.rows:,}"
        )
    if result.statements != {1} and result.error is None:
        result.error = f"{'/'.join(map(str, sorted(result.statements)))} statements, not one"
    result.agreed = predicate_agrees(
        ficha, segment.text, context, ids, random.Random(f"{_data.SEED}-{segment.key}")
    )
    return result


def segment_table(title: str, results: Sequence[SegmentResult]) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        caption="Ficha: expression text → compiled → ids fetched through SQLAlchemy; "
        "same SQL raw: the statement Ficha sent, replayed on the driver; hand SQL raw: the "
        "hand-written SQL on the driver; vs hand: Ficha p50 / hand p50; predicate: the "
        "expression evaluated in Python for sampled records agrees with the SQL",
        caption_justify="left",
    )
    table.add_column("segment", min_width=30)
    for column in (
        "rows",
        "stmts",
        "Ficha p50",
        "same SQL raw p50",
        "hand SQL raw p50",
        "vs hand",
        "predicate",
    ):
        table.add_column(column, justify="right")
    table.add_column("result")
    for r in results:
        if r.error:
            verdict = "[bold red]ERROR[/]"
        elif r.passed:
            verdict = "[green]pass[/]"
        else:
            verdict = "[bold red]FAIL[/]"
        ratio = r.ficha.p50 / r.raw.p50 if len(r.raw) and r.raw.p50 else math.nan
        table.add_row(
            escape(r.segment.text) + (f" [dim]({r.segment.note})[/]" if r.segment.note else ""),
            f"{r.rows:,}",
            "/".join(str(n) for n in sorted(r.statements)) or "—",
            fmt_ms(r.ficha.p50),
            fmt_ms(r.replay.p50),
            fmt_ms(r.raw.p50),
            f"{ratio:.2f}x",
            r.agreed,
            verdict,
            style="red" if not r.passed else None,
        )
    return table


def run_segment(options: Options, console: Console) -> None:
    """The `segment` benchmark: one table per database, each segment's SQL below it."""
    from framework.expressions import Context

    runs = max(5, min(options.requests, 10))
    warmup = 1 if options.warmup else 0
    context = Context(now=dt.datetime.combine(DATA_TODAY, dt.time(12, 0)))
    for backend in backends(options):
        console.rule(f"[bold]segment on {backend}")
        db = prepare_segment(
            backend, options.rows, options, lambda text: console.print(escape(text))
        )
        raw = RawConnection(db.storage)
        try:
            loaded = f"loaded in {db.load_seconds:.0f} s" + (
                f", cached since {db.loaded_at}" if db.reused else ""
            )
            console.print(
                f"{server_version(db.storage)}: customer {db.rows:,} rows, order "
                f"{db.orders:,} rows, agent {_data.AGENTS} rows; {loaded}; today() is "
                f"{DATA_TODAY}, the last day of the generated data; p50 of {runs} runs "
                f"after {warmup} warm-up",
                highlight=False,
            )
            segments = [s for s in SEGMENTS if not options.measures or s.key in options.measures]
            load_before = load_average()
            results = []
            with console.status("selecting …") as status:
                for segment in segments:
                    status.update(f"selecting {segment.text} …")
                    results.append(measure_segment(db.ficha, raw, segment, runs, warmup, context))
            console.print(
                segment_table(
                    f"{backend}: selecting a segment of customer ({db.rows:,} rows) by "
                    "expression, ids of the live records in id order",
                    results,
                )
            )
            console.print(load_note(load_before, load_average()))
            for r in results:
                if r.error:
                    console.print(f"[bold red]✗ {escape(r.segment.text)}: {escape(r.error)}[/]")
            for r in results:
                console.rule(
                    f"{escape(r.segment.text)}: {r.rows:,} rows, "
                    f"{'/'.join(map(str, sorted(r.statements)))} statement(s), "
                    f"Ficha p50 {fmt_ms(r.ficha.p50)}",
                    style="dim",
                )
                console.print(Syntax(r.sql, "sql", word_wrap=True))
                console.print("[dim]hand-written:[/]")
                console.print(
                    Syntax(raw_sql(r.segment, backend, context.today), "sql", word_wrap=True)
                )
                if options.explain and r.captured is not None:
                    try:
                        console.print(raw.explain(*r.captured), highlight=False)
                    except Exception as exc:  # a plan that cannot be shown is not fatal
                        console.print(f"[red]no plan: {escape(str(exc))}[/]")
        finally:
            raw.close()
            db.ficha.close()


# == python -m bench.rules ====================================================================


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rules",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", default="rules-save,segment")
    parser.add_argument("--db", default="sqlite,postgresql,mariadb")
    parser.add_argument("--rows", type=int, default=1_000_000, help="customers for segment")
    parser.add_argument("--records", type=int, default=SAVE_RECORDS, help="saves per variant")
    parser.add_argument("--requests", type=int, default=10, help="timed runs of a segment")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--measure", default="", help="segment keys: filters,count_orders,…")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--pg-url", default=os.environ.get("FICHA_BENCH_PG", _data.DEFAULT_PG_ADMIN_URL)
    )
    args = parser.parse_args(argv)
    options = Options(
        dbs=tuple(d.strip() for d in args.db.split(",") if d.strip()),
        rows=args.rows,
        requests=args.requests,
        warmup=args.warmup,
        rebuild=args.rebuild,
        measures=tuple(m.strip() for m in args.measure.split(",") if m.strip()),
        explain=args.explain,
        pg_admin_url=args.pg_url,
    )
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)
    for name in (n.strip() for n in args.only.split(",") if n.strip()):
        if name == "rules-save":
            run_save(options, console, args.records)
        elif name == "segment":
            run_segment(options, console)
        else:
            parser.error(f"unknown benchmark {name} (rules-save, segment)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
