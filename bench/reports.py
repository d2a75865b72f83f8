"""Reports and monitors (issue 9).

grouped: a report grouped by month and a choice field with three measures (count, sum,
  average) over the --rows customers of the screens benchmark, whose YAML also declares
  the index the report needs (REPORT_INDEX: its groups and measure, live records only),
  as an admin would for a report over a million records. Beside it, in the same run: the
  SQL Ficha sent, replayed on the driver (the raw floor), and the naive single GROUP BY
  of the same figures (a reference: what one statement without Ficha's two stages costs
  on that database). Target: 1 s.
monitor: 50 monitor pages open (server-sent event streams) on two web worker processes
  serving the same project; another process saves a record; the time from its commit to
  each page receiving the new figures. Target: 2 s for the slowest page.

    .venv/bin/python -m bench --only reports --db sqlite,postgresql --rows 1000000
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console

from bench._data import CUSTOMER_YAML, DATA_DIR, OBJECTS, SCREENS, DataSet, prepare
from bench._options import Options
from bench._report import Result, load_average, load_note, print_failures, results_table
from bench._sql import Capture, RawRunner, Statement
from bench._timing import cpu_ms, now_ms

GROUPED = """
label: Customers by month and segment
source: customer
rows:
  - {field: since, by: month}
  - segment
measures:
  customers: count
  credit: {sum: credit_limit}
  mean_credit: {avg: credit_limit}
"""
#: what `ficha report grouped --index` suggests for GROUPED (docs/reports.md, section 5)
REPORT_INDEX = """indexes:
  - {fields: [since, segment], include: [credit_limit], live: true}
"""
#: the screens benchmark's data under its customer with the report's index, cached apart
#: (bench/.data/reports-<db>-<rows>/, databases ficha_bench_reports[_<rows>])
REPORTS_DATA = DataSet("reports", {**OBJECTS, "customer": CUSTOMER_YAML + REPORT_INDEX})
#: the same figures in one GROUP BY, written by hand: the reference line
NAIVE = {
    "sqlite": (
        "SELECT substr(since, 1, 7) AS m, segment, count(*), sum(credit_limit), "
        "avg(credit_limit) FROM customer WHERE deleted_at IS NULL "
        "GROUP BY m, segment ORDER BY m, segment"
    ),
    "postgresql": (
        "SELECT date_trunc('month', since) AS m, segment, count(*), sum(credit_limit), "
        "avg(credit_limit) FROM customer WHERE deleted_at IS NULL "
        "GROUP BY m, segment ORDER BY m, segment"
    ),
}
VIEWERS = 50
CHANGES = 5
REDIS = os.environ.get("FICHA_BENCH_REDIS", "redis://127.0.0.1:6379/14")


def _report(ficha: Any) -> Any:
    from framework.reports.compile import compile_report
    from framework.reports.load import load_reports

    folder = DATA_DIR / "reports" / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "grouped.yaml").write_text(textwrap.dedent(GROUPED))
    problems: list[Any] = []
    specs = load_reports([(folder, "bench")], DATA_DIR, problems)
    report = compile_report(specs[0], ficha.model, problems)
    if report is None:
        raise RuntimeError("; ".join(str(p) for p in problems))
    return report


def _mismatch(found: Any, naive: list[Any]) -> str | None:
    """Why Ficha's figures are not those of the naive GROUP BY, or None: the same groups
    in the same order, the same counts, sums and means to the cent."""
    if len(found.groups) != len(naive):
        return f"{len(found.groups)} groups, but the naive GROUP BY gives {len(naive)}"
    for group, row in zip(found.groups, naive, strict=True):
        values = group.values
        if group.keys[1] != row[1] or values["customers"] != row[2]:
            return f"group {group.labels}: {values['customers']} customers, naive {tuple(row)}"
        for name, expected in (("credit", row[3]), ("mean_credit", row[4])):
            if not math.isclose(float(values[name]), float(expected), rel_tol=1e-9):
                return f"group {group.labels}: {name} {values[name]}, naive {expected}"
    return None


def grouped(options: Options, console: Console) -> None:
    results: list[Result] = []
    explained: list[tuple[str, str, str]] = []
    before = load_average()
    for backend in options.dbs:
        if backend not in NAIVE:
            continue
        # the report's own data, with its index; on SQLite also the screens benchmark's
        # (the same rows without that index: what a project that did not declare it gets)
        datasets = [(REPORTS_DATA, "")]
        if backend == "sqlite":
            datasets.append((SCREENS, " without its index"))
        for dataset, variant in datasets:
            db = prepare(
                backend,
                options.rows,
                rebuild=options.rebuild,
                pg_admin_url=options.pg_admin_url,
                dataset=dataset,
            )
            try:
                found, explain = _measure(db, variant, options)
            finally:
                db.close()
            results += found
            if options.explain:
                explained.append(explain)
    _show(console, "Reports: a grouped report against the raw SQL", results, before)
    for label, sql, plan in explained:
        console.print(f"[bold]{label}[/]: the SQL Ficha sent\n{sql}\n[bold]plan[/]\n{plan}")


def _measure(db: Any, variant: str, options: Options) -> tuple[list[Result], tuple[str, ...]]:
    """Ficha's report, the replay of what it sent, and the naive GROUP BY, interleaved so
    that other work on the machine weighs on all three alike."""
    from framework.reports.query import ReportQuery

    backend, ficha = db.backend, db.ficha
    report = _report(ficha)
    query = ReportQuery(ficha.storage)
    label = f"{backend}: grouped report, month x segment, 3 measures{variant}"
    # without the index the report is a reference too (what a project that did not
    # declare it gets): the target is the report as documented, with its index
    result = Result(label, None if variant else 1000.0)
    naive = Result(f"{backend}: the naive single GROUP BY{variant} (reference, raw SQL)", None)
    raw = RawRunner(ficha.storage)
    sent: list[Statement] = []
    try:
        # the PRAGMAs Ficha sends around a sort are part of what its SQL costs
        with Capture(ficha.storage.engine, also=("PRAGMA",)) as capture:
            for i in range(options.warmup + options.requests):
                capture.take()
                cpu, started = cpu_ms(), now_ms()
                found = query.run(report, {})
                took, cpu = now_ms() - started, cpu_ms() - cpu
                sent = capture.take()
                replayed = raw.run(sent)
                reference = raw.run([Statement(NAIVE[backend], ())])
                if i < options.warmup:
                    continue
                result.ficha.add(took)
                result.cpu.add(cpu)
                result.raw.add(replayed.ms)
                naive.raw.add(reference.ms)
        selects = [st for st in sent if not st.sql.upper().startswith("PRAGMA")]
        result.statements.add(len(selects))
        naive.statements.add(1)
        result.error = _mismatch(found, raw.conn.execute(NAIVE[backend]).fetchall())
        shape = "two stages" if selects[0].sql.count("GROUP BY") > 1 else "one GROUP BY"
        result.note = f"{len(found.groups)} groups of {options.rows:,} rows, {shape}"
        explain = (label, selects[0].sql, raw.explain(selects[0]) if options.explain else "")
    finally:
        raw.close()
    return [result, naive], explain


# -- monitor latency ------------------------------------------------------------------------


SERVER = """
import sys, uvicorn
from framework.app import Ficha, create_app
from framework.settings import Settings
ficha = Ficha.load(Settings.load(sys.argv[1]))
uvicorn.run(create_app(ficha.settings, ficha=ficha), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Viewer(threading.Thread):
    def __init__(self, url: str, cookie: str) -> None:
        super().__init__(daemon=True)
        self.url, self.cookie = url, cookie
        self.received: list[tuple[float, Any]] = []

    def run(self) -> None:
        import httpx

        from app_builder.security import COOKIE

        try:
            with httpx.Client(timeout=httpx.Timeout(10, read=60)) as web:
                web.cookies.set(COOKIE, self.cookie)
                with web.stream("GET", self.url) as response:
                    for line in response.iter_lines():
                        if line.startswith("data: "):
                            tiles = json.loads(line[6:])["tiles"]
                            self.received.append((time.time(), tiles["abandoned"]["value"]))
                        if len(self.received) > CHANGES:
                            return
        except Exception as exc:  # reported as a missing update
            self.received.append((time.time(), f"error: {exc}"))


def monitor(options: Options, console: Console) -> None:
    from framework.records import Actor
    from storage.migrations import migrate
    from tests.conftest import ProjectFactory, make_user, session_cookie
    from tests.reports import calls

    root = DATA_DIR / "monitor"
    factory = ProjectFactory(root, f"sqlite:///{root / 'monitor.sqlite'}")
    if (root / "monitor.sqlite").exists():
        (root / "monitor.sqlite").unlink()
    factory.write(calls.copy_example(root))
    os.environ["FICHA_REDIS_URL"] = REDIS
    ficha = factory.load()
    migrate(ficha.storage, ficha.settings.migrations_dir)
    calls.load(ficha, 2000)
    make_user(ficha)
    cookie = session_cookie(ficha)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    ports = [_free_port(), _free_port()]
    servers = [
        subprocess.Popen([sys.executable, "-c", SERVER, str(root), str(p)], env=env) for p in ports
    ]
    result = Result(f"sqlite: {VIEWERS} monitor pages on 2 workers, change saved elsewhere", 2000.0)
    try:
        for port in ports:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
        viewers = [
            _Viewer(f"http://127.0.0.1:{ports[i % 2]}/monitors/call_centre_live/events", cookie)
            for i in range(VIEWERS)
        ]
        for viewer in viewers:
            viewer.start()
        deadline = time.time() + 30
        while time.time() < deadline and not all(v.received for v in viewers):
            time.sleep(0.05)
        table = ficha.storage.table("call")
        with ficha.storage.read() as conn:
            ids = [
                r.id
                for r in conn.execute(
                    sa.select(table.c.id).where(table.c.outcome == "AGENT").limit(CHANGES)
                )
            ]
        for n, ident in enumerate(ids, start=1):
            ficha.records.update("call", ident, {"outcome": "HANG"}, Actor(None, "bench", "cli"))
            committed = time.time()
            wait_until = committed + 5
            while time.time() < wait_until and not all(len(v.received) > n for v in viewers):
                time.sleep(0.005)
            late = [v for v in viewers if len(v.received) <= n]
            if late:
                seen = {str(v.received[-1][1]) if v.received else "nothing" for v in late}
                result.error = (
                    f"{len(late)} of {VIEWERS} pages did not get change {n} within 5 s "
                    f"(last received: {', '.join(sorted(seen))[:200]})"
                )
                break
            slowest = max(v.received[n][0] for v in viewers) - committed
            result.ficha.add(slowest * 1000)
            time.sleep(0.5)
        result.note = f"slowest of {VIEWERS} pages per change, {CHANGES} changes, via Redis"
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        factory.close()
    _show(console, "Monitors: from a commit in another process to every open page", [result])


def _show(console: Console, title: str, results: list[Result], before: float | None = None) -> None:
    console.print(results_table(title, results))
    after = load_average()
    console.print(load_note(after if before is None else before, after))
    print_failures(console, title, results)


def run(options: Options, console: Console) -> None:
    if not options.measures or "grouped" in options.measures:
        grouped(options, console)
    if not options.measures or "monitor" in options.measures:
        monitor(options, console)
