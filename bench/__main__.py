"""`python -m bench`: parse the options, print the machine, run the chosen benchmarks.

A benchmark is registered below by name; `--only NAME[,NAME]` runs some of them. The run
exits 0 when a target is missed (it reports, red and at the end) and 1 only when a
benchmark could not run at all.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.console import Console

from bench._data import DEFAULT_PG_ADMIN_URL
from bench._options import Options
from bench._report import machine_lines

BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    run: Callable[[Options, Console], None]


def _screens(options: Options, console: Console) -> None:
    from bench import screens  # imported when chosen: each benchmark loads what it needs

    screens.run(options, console)


def _migrations(options: Options, console: Console) -> None:
    from bench import migrations

    migrations.run(options, console)


def _rules_save(options: Options, console: Console) -> None:
    from bench import rules

    rules.run_save(options, console)


def _segment(options: Options, console: Console) -> None:
    from bench import rules

    rules.run_segment(options, console)


def _reports(options: Options, console: Console) -> None:
    from bench import reports

    reports.run(options, console)


def _imports(options: Options, console: Console) -> None:
    from bench import imports

    imports.run(options, console)


def _permissions(options: Options, console: Console) -> None:
    from bench import permissions

    permissions.run(options, console)


def _customer(options: Options, console: Console) -> None:
    from bench import customer

    customer.run(options, console)


#: Every benchmark, by the name `--only` takes. Add yours here.
BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "screens",
            "list, page 1000, lookups, search, sort and detail pages of a "
            "customer object, against the raw SQL each page runs",
            _screens,
        ),
        Benchmark(
            "migrations",
            "ficha migrate on 10,000 rows and --rows: adding a field (no rebuild), "
            "a SQLite rebuild with rows/s, a type conversion with rows/s",
            _migrations,
        ),
        Benchmark(
            "rules-save",
            "records.create with 10 rules, 2 validations, a formula and the audit trail, "
            "against a bare SQLAlchemy insert of the same row (target ≤ 3x)",
            _rules_save,
        ),
        Benchmark(
            "segment",
            "segments of a --rows customer object selected by expression: the SQL, one "
            "statement each, its time beside hand-written SQL",
            _segment,
        ),
        Benchmark(
            "reports",
            "a report grouped by month and a choice with 3 measures over --rows records "
            "against its raw SQL (target 1 s); a change saved in another process reaching "
            "50 open monitor pages on 2 workers (target 2 s)",
            _reports,
        ),
        Benchmark(
            "imports",
            "ficha import of --rows CSV rows into a 10-field object on SQLite, validated "
            "and audited, beside raw executemany of the same rows (target 20,000 rows/s)",
            _imports,
        ),
        Benchmark(
            "permissions",
            "a customer list page under a team record scope beside the same page for an "
            "admin over --rows records, with the SQL of each (target ≤ 1.5x admin)",
            _permissions,
        ),
        Benchmark(
            "customer",
            "the core pack's customer file: 'Who is this customer?' by phone, email, national "
            "id, card and name among --rows customers x 3 identifiers (target 20 ms), the "
            "ficha page of a customer with 1,000 interactions (target 80 ms)",
            _customer,
        ),
    )
}


def _names(text: str, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown)} (choose from {', '.join(allowed)})"
        )
    return names


def _rows(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1000:
        raise argparse.ArgumentTypeError("at least 1000 rows")
    return value


def parse(argv: Sequence[str] | None = None) -> tuple[Options, tuple[str, ...]]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="benchmarks: "
        + "; ".join(f"{b.name}: {b.description}" for b in BENCHMARKS.values()),
    )
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        type=lambda t: _names(t, list(BENCHMARKS), "benchmark"),
        help="benchmarks to run, comma-separated (default: all)",
    )
    parser.add_argument(
        "--db",
        default=",".join(BACKENDS),
        type=lambda t: _names(t, BACKENDS, "database"),
        help="databases, comma-separated (default: sqlite,postgresql)",
    )
    parser.add_argument(
        "--rows", type=_rows, default=1_000_000, help="rows of the big object (default: 1000000)"
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=30,
        help="timed requests per measure (default: 30, at least 20 for the acceptance figures)",
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed requests before each measure (default: 3)"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="reload the data even if a cached database matches"
    )
    parser.add_argument(
        "--measure",
        default="",
        type=lambda t: tuple(n.strip() for n in t.split(",") if n.strip()),
        help="only these measures (e.g. page1,search; see bench/screens.py)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print each measure's SQL with the database's plan for it",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("FICHA_BENCH_PG", DEFAULT_PG_ADMIN_URL),
        help="PostgreSQL server (any database on it; the benchmark makes "
        "its own), default $FICHA_BENCH_PG or %(default)s",
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be at least 1 and --warmup at least 0")
    options = Options(
        dbs=args.db,
        rows=args.rows,
        requests=args.requests,
        warmup=args.warmup,
        rebuild=args.rebuild,
        measures=args.measure,
        explain=args.explain,
        pg_admin_url=args.pg_url,
    )
    return options, args.only


def main(argv: Sequence[str] | None = None) -> int:
    options, names = parse(argv)
    # Piped to a file or a CI log, rich would squeeze the tables into 80 columns.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)
    for line in machine_lines():
        console.print(line)
    console.print(
        f"options: {options.rows:,} rows, {options.requests} timed requests "
        f"per measure after {options.warmup} warm-up, databases "
        f"{', '.join(options.dbs)}"
    )
    failed = False
    for name in names:
        try:
            BENCHMARKS[name].run(options, console)
        except KeyboardInterrupt:
            raise
        except Exception:
            console.print_exception(max_frames=8)
            console.print(f"[bold red]benchmark {name} could not run[/]")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
