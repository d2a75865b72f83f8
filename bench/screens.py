"""The generated screens on an object of a million rows, on SQLite and PostgreSQL.

Each measure requests the real web app in-process (the Starlette app that `ficha serve`
runs, through httpx's ASGI transport: routing, starlette-admin, Ficha's views, the
Reader, the templates), checks the page is the one asked for, and replays the SQL that
request ran straight on the driver: the raw-SQL floor, measured in the same run.

Targets (on the project's 2-core machines): list page 1 and detail ≤ 30 ms p50, exact
lookup ≤ 20 ms, free-text search ≤ 100 ms, page 1000 ≤ 50 ms.
"""

from __future__ import annotations

import asyncio
import html
import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax

from bench import _data
from bench._report import Result, load_average, load_note, print_failures, results_table
from bench._sql import Capture, RawRunner, Replayed, Statement
from bench._timing import cpu_ms, now_ms

if TYPE_CHECKING:
    from bench._options import Options

PAGE_SIZE = 25
LIST = "/admin/customer/list"
DETAIL = "/admin/customer/detail"


class PageMismatch(Exception):
    """The page answered is not the one asked for: the measure would be meaningless."""


@dataclass(frozen=True)
class Probe:
    """One request of a measure and what its answer must show."""

    url: str
    expect: tuple[str, ...] = ()  # texts the page must contain
    rows: int | None = None  # rows the list query must return
    words: tuple[str, ...] = ()  # every row's name must have a token starting with each


@dataclass
class Measure:
    key: str
    label: str
    target_ms: float | None
    probes: list[Probe]
    note: str = ""


@dataclass(frozen=True)
class Customer:
    id: int
    name: str
    email: str
    phone: str


# -- what to ask ---------------------------------------------------------------------------


def sample_customers(storage: Any, count: int, rnd: random.Random) -> list[Customer]:
    """`count` live customers picked at random across the whole table."""
    table = storage.table("customer")
    with storage.read() as conn:
        top = int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0)
        wanted = rnd.sample(range(1, top + 1), min(top, count * 2))
        rows = conn.execute(
            sa.select(table.c.id, table.c.name, table.c.email, table.c.phone).where(
                table.c.id.in_(wanted), table.c.deleted_at.is_(None)
            )
        ).all()
    by_id = {r.id: Customer(r.id, r.name, r.email, r.phone) for r in rows}
    picked = [by_id[i] for i in wanted if i in by_id][:count]
    if len(picked) < count:
        raise RuntimeError(f"found only {len(picked)} live customers to ask for")
    return picked


def fold(text: str) -> str:
    """Lowercase without accents: how the full-text search compares words."""
    return "".join(
        c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c)
    )


def _search_term(customer: Customer, i: int) -> tuple[str, ...]:
    """A word or two a user would type to find this kind of customer: a surname, a first
    name, or both (so the same few thousand rows match that match in real life)."""
    tokens = [t for t in customer.name.lower().split() if len(t) > 2]
    if i % 3 == 0 or len(tokens) < 2:
        return (tokens[-1],)
    if i % 3 == 1:
        return (tokens[0],)
    return (tokens[0], tokens[1])


def national_phone(e164: str) -> str:
    """+34600123456 as a Spanish agent types it: 600 123 456."""
    digits = e164.removeprefix("+34")
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def build_measures(db: _data.BenchDatabase, n: int, rnd: random.Random) -> list[Measure]:
    customers = sample_customers(db.storage, n * 2, rnd)
    live = _live_customers(db.storage)
    last_page = max(1, live // PAGE_SIZE)
    deep = min(1000, max(1, last_page - 1))
    page_rows = min(PAGE_SIZE, live)

    def url(base: str, **params: Any) -> str:
        return f"{base}?{urlencode(params)}" if params else base

    pool = iter(customers)
    lookups = [next(pool) for _ in range(n)]
    details = [next(pool) for _ in range(n)]
    return [
        Measure("page1", "list page 1", 30, [Probe(LIST, rows=page_rows) for _ in range(n)]),
        Measure(
            "page1000",
            f"list page {deep}",
            50,
            [Probe(url(LIST, page=deep), rows=PAGE_SIZE) for _ in range(n)],
        ),
        Measure(
            "lookup_email",
            "exact lookup: email",
            20,
            [Probe(url(LIST, q=c.email), expect=(c.email,), rows=1) for c in lookups],
        ),
        Measure(
            "lookup_phone",
            "exact lookup: phone",
            20,
            [
                Probe(url(LIST, q=national_phone(c.phone)), expect=(c.email,), rows=1)
                for c in reversed(lookups)
            ],
            note="typed 600 123 456",
        ),
        Measure(
            "search",
            "free-text search",
            100,
            [
                Probe(url(LIST, q=" ".join(words)), words=words)
                for words in (_search_term(c, i) for i, c in enumerate(customers[:n]))
            ],
        ),
        Measure(
            "sort_indexed",
            "sort by city (indexed)",
            None,
            [
                Probe(url(LIST, sort=f"city__{'desc' if i % 2 else 'asc'}"), rows=page_rows)
                for i in range(n)
            ],
        ),
        Measure(
            "sort_plain",
            "sort by since (no index)",
            None,
            [
                Probe(url(LIST, sort=f"since__{'asc' if i % 2 else 'desc'}"), rows=page_rows)
                for i in range(n)
            ],
        ),
        Measure(
            "detail",
            "detail page",
            30,
            [Probe(url(DETAIL, pk=c.id), expect=(c.email, c.name), rows=None) for c in details],
        ),
    ]


def _live_customers(storage: Any) -> int:
    table = storage.table("customer")
    with storage.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.deleted_at.is_(None))
            ).scalar()
            or 0
        )


# -- checking an answer ---------------------------------------------------------------------


def _list_rows(replayed: Replayed) -> list[dict[str, Any]] | None:
    """The rows of the statement that fetched the records (the one returning customers'
    emails and segments: the signed-in user's row has an email too)."""
    for rows in replayed.results:
        if rows and "email" in rows[0] and "segment" in rows[0]:
            return rows
    for rows in replayed.results:  # an empty page: the record query returned nothing
        if not rows:
            return rows
    return None


def check(probe: Probe, response: httpx.Response, replayed: Replayed) -> None:
    if response.status_code != 200:
        raise PageMismatch(
            f"GET {probe.url} answered {response.status_code}: {response.text[:300]!r}"
        )
    page = html.unescape(response.text)
    for text in probe.expect:
        if text not in page:
            raise PageMismatch(f"GET {probe.url}: the page does not show {text!r}")
    rows = _list_rows(replayed)
    if probe.rows is not None:
        got = -1 if rows is None else len(rows)
        if got != probe.rows:
            raise PageMismatch(f"GET {probe.url}: {got} rows fetched, {probe.rows} expected")
    for row in rows or ():
        if row["email"] not in page:
            raise PageMismatch(f"GET {probe.url}: fetched row {row['email']!r} not shown")
    if probe.words:
        if not rows:
            raise PageMismatch(f"GET {probe.url}: the search found nothing")
        for row in rows:
            tokens = fold(row["name"]).replace("-", " ").split()
            for word in probe.words:
                if not any(t.startswith(fold(word)) for t in tokens):
                    raise PageMismatch(
                        f"GET {probe.url}: row {row['name']!r} does not contain {word!r}"
                    )


# -- running ------------------------------------------------------------------------------------


@dataclass
class Session:
    client: httpx.AsyncClient
    capture: Capture
    raw: RawRunner
    statements: dict[str, list[Statement]] = field(default_factory=dict)


@dataclass
class Answer:
    ms: float
    cpu_ms: float
    replayed: Replayed
    statements: list[Statement]


async def _request(session: Session, probe: Probe) -> Answer:
    session.capture.take()
    cpu, started = cpu_ms(), now_ms()
    response = await session.client.get(probe.url)
    elapsed, cpu = now_ms() - started, cpu_ms() - cpu
    statements = session.capture.take()
    replayed = session.raw.run(statements)
    check(probe, response, replayed)
    return Answer(elapsed, cpu, replayed, statements)


async def run_measure(session: Session, measure: Measure, warmup: int) -> Result:
    """The first `warmup` probes are asked untimed (with inputs of their own, so no timed
    request finds its own rows already cached), then every other one is timed."""
    result = Result(measure.label, measure.target_ms, note=measure.note)
    try:
        for probe in measure.probes[:warmup]:
            await _request(session, probe)
        for probe in measure.probes[warmup:]:
            answer = await _request(session, probe)
            result.ficha.add(answer.ms)
            result.cpu.add(answer.cpu_ms)
            result.raw.add(answer.replayed.ms)
            result.statements.add(len(answer.statements))
            session.statements[measure.key] = answer.statements  # the last, for --explain
    except PageMismatch as exc:
        result.error = str(exc)
    return result


ADMIN, ADMIN_PASSWORD = "bench_screens", "bench screens only"  # a local benchmark's user


def signed_in_admin(ficha: Any) -> str:
    """A session of an administrator (created once per cached database): every page
    needs a signed-in user, and an admin's pages carry no record-scope condition."""
    users = ficha.storage.table("user")
    with ficha.storage.read() as conn:
        ident = conn.execute(sa.select(users.c.id).where(users.c.username == ADMIN)).scalar()
    if ident is None:
        ident = ficha.records.create(
            "user", {"username": ADMIN, "name": "Bench screens", "role": "admin"}
        ).id
        ficha.auth.set_password(ident, ADMIN_PASSWORD)
    return str(ficha.auth.login(ADMIN, ADMIN_PASSWORD, ip="127.0.0.1").token)


async def _run_all(
    db: _data.BenchDatabase,
    raw: RawRunner,
    measures: Sequence[Measure],
    warmup: int,
    progress: Callable[[str], None],
) -> tuple[list[Result], Session]:
    from app_builder.security import COOKIE
    from framework.app import create_app

    app = create_app(db.ficha.settings, ficha=db.ficha)
    transport = httpx.ASGITransport(app=app)
    results = []
    cookies = {COOKIE: signed_in_admin(db.ficha)}
    with Capture(db.storage.engine) as capture:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", cookies=cookies
        ) as client:
            session = Session(client, capture, raw)
            for measure in measures:
                progress(measure.label)
                results.append(await run_measure(session, measure, warmup))
    return results, session


def run(options: Options, console: Console) -> None:
    """The `screens` benchmark: every database asked for, one table each."""
    for backend in options.dbs:
        console.rule(f"[bold]screens on {backend}")
        db = _data.prepare(
            backend,
            options.rows,
            rebuild=options.rebuild,
            pg_admin_url=options.pg_admin_url,
            log=lambda text: console.print(escape(text), highlight=False),
        )
        try:
            _run_backend(db, options, console)
        finally:
            db.close()


def _run_backend(db: _data.BenchDatabase, options: Options, console: Console) -> None:
    counts = _data.table_rows(db.storage)
    live = _live_customers(db.storage)
    loaded = f"loaded in {db.load_seconds:.0f} s" + (
        f", cached since {db.loaded_at}" if db.reused else ""
    )
    server = _server_version(db.storage)
    console.print(
        f"{server}: customer {counts['customer']:,} rows ({live:,} live), "
        f"agent {counts['agent']:,} rows; {loaded}",
        highlight=False,
    )
    rnd = random.Random(f"{_data.SEED}-{db.backend}")
    measures = build_measures(db, options.requests + options.warmup, rnd)
    if options.measures:
        measures = [m for m in measures if m.key in options.measures]
    title = f"{db.backend}: customer screens, {counts['customer']:,} rows"
    measure_pages(console, db, measures, options, _run_all, title)


def measure_pages(
    console: Console, db: Any, measures: Any, options: Options, run_all: Any, title: str
) -> None:
    """Run the measures through `run_all` (the signed-in web app beside the raw SQL),
    then print their table, the machine's load, the missed targets and, with --explain,
    each page's SQL and plans. Shared by the screens and customer-file benchmarks."""
    load_before = load_average()
    raw = RawRunner(db.storage)
    try:
        with console.status("measuring …") as status:
            results, session = asyncio.run(
                run_all(
                    db,
                    raw,
                    measures,
                    options.warmup,
                    lambda label: status.update(f"measuring {label} …"),
                )
            )
        console.print(results_table(title, results))
        console.print(load_note(load_before, load_average()))
        print_failures(console, db.backend, results)
        if options.explain:
            _explain(console, session, measures, results)
    finally:
        raw.close()


def _server_version(storage: Any) -> str:
    if storage.backend == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    with storage.read() as conn:
        version = str(conn.exec_driver_sql("SHOW server_version").scalar())
    return f"PostgreSQL {version.split()[0]}"


def _explain(
    console: Console, session: Session, measures: Sequence[Measure], results: Sequence[Result]
) -> None:
    for measure, result in zip(measures, results, strict=True):
        statements = session.statements.get(measure.key, [])
        console.rule(
            f"{measure.label}: {len(statements)} statement(s), raw p50 {result.raw.p50:.1f} ms",
            style="dim",
        )
        for st in statements:
            console.print(Syntax(st.sql, "sql", word_wrap=True))
            console.print(f"[dim]params: {st.params!r}[/]", highlight=False)
            try:
                console.print(session.raw.explain(st), highlight=False)
            except Exception as exc:  # a plan that cannot be shown is reported, not fatal
                console.print(f"[red]no plan: {exc}[/]")
