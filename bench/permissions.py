"""A list page under a `team` record scope beside the same page for an administrator, on
the screens benchmark's `customer` object of --rows rows (issue 5: ≤ 1.5x, same run).

The cached project of bench/_data.py is reused as it is; this benchmark only adds what a
team scope needs and the cache lacks: 40 users in 8 teams of 5 (a manager each), the
customers' `created_by` set to one of them (a customer has no `owner` field, so `team`
covers the records created by the team: see framework/permissions.py), and a second
project folder over the same database whose roles.yaml gives the `agent` role
`customer: {read: team}`. The screens benchmark's folder keeps no roles.yaml, so its
pages stay anonymous administrator pages.

Each request is the real web app in-process (httpx over ASGI) with a signed session
cookie, admin and team lead interleaved, checked (status 200, the rows fetched are the
rows shown, and for the team lead every fetched row is one of the team's), and its SQL
replayed on the driver: the raw-SQL floor of each page in the same run.
"""

from __future__ import annotations

import asyncio
import html
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax

from bench import _data
from bench._report import Result, load_average, load_note, print_failures, results_table
from bench._sql import Capture, RawRunner, Statement
from bench._timing import cpu_ms, now_ms

if TYPE_CHECKING:
    from bench._options import Options

TEAMS = 8
PER_TEAM = 5
PASSWORD = "bench permissions only"
LIST = "/admin/customer/list"
TARGET_RATIO = 1.5
ROLES_YAML = """
roles:
  agent:
    label: Agent
    objects:
      customer: {read: team, create: yes, update: team, export: team}
      agent: {read: all}
"""


class PageMismatch(Exception):
    """The page answered is not the one asked for: the measure would be meaningless."""


@dataclass
class Page:
    key: str
    label: str
    url: str


PAGES = (
    Page("page1", "list page 1", LIST),
    Page("page40", "list page 40", f"{LIST}?{urlencode({'page': 40})}"),
    Page("sort_city", "sort by city", f"{LIST}?{urlencode({'sort': 'city__asc'})}"),
    Page("filter", "filter segment=smb", f"{LIST}?{urlencode({'filter': 'segment__eq=smb'})}"),
    Page("search", "search 'garcia'", f"{LIST}?{urlencode({'q': 'garcia'})}"),
)


# -- the users, their teams and whose customers are whose ----------------------------------


def ensure_owners(ficha: Any, log: Any) -> dict[str, Any]:
    """Users bench_1..bench_40 in 8 teams (bench_1, _6, … manage theirs), each customer
    created by one of them; done once per cached database."""
    storage = ficha.storage
    users = storage.table("user")
    customers = storage.table("customer")
    with storage.read() as conn:
        existing = conn.execute(
            sa.select(users.c.id, users.c.username).where(users.c.username.like("bench\\_%", "\\"))
        ).all()
    if len(existing) < TEAMS * PER_TEAM:
        log(f"  [{storage.backend}] adding {TEAMS * PER_TEAM} users in {TEAMS} teams …")
        admin = ficha.records.create(
            "user", {"username": "bench_admin", "name": "Bench admin", "role": "admin"}
        )
        ficha.auth.set_password(admin.id, PASSWORD)
        for t in range(TEAMS):
            team = ficha.records.create("team", {"name": f"Bench team {t + 1}"})
            lead = None
            for m in range(PER_TEAM):
                n = t * PER_TEAM + m + 1
                user = ficha.records.create(
                    "user",
                    {
                        "username": f"bench_{n}",
                        "name": f"Bench agent {n}",
                        "role": "agent",
                        "team": team.id,
                        "manager": lead,
                    },
                )
                ficha.auth.set_password(user.id, PASSWORD)
                lead = lead or user.id
            ficha.records.update("team", team.id, {"manager": lead})
        with storage.read() as conn:
            existing = conn.execute(
                sa.select(users.c.id, users.c.username).where(
                    users.c.username.like("bench\\_%", "\\")
                )
            ).all()
    ids = {r.username: r.id for r in existing}
    owners = [ids[f"bench_{n}"] for n in range(1, TEAMS * PER_TEAM + 1)]
    with storage.read() as conn:
        unowned = conn.execute(
            sa.select(sa.func.count()).where(
                sa.or_(customers.c.created_by.is_(None), customers.c.created_by.not_in(owners))
            )
        ).scalar()
    if unowned:
        log(f"  [{storage.backend}] giving {unowned:,} customers an owner …")
        started = now_ms()
        case = sa.case(
            *[(customers.c.id % len(owners) == i, owner) for i, owner in enumerate(owners)]
        )
        with storage.write() as conn:
            conn.execute(sa.update(customers).values(created_by=case))
        _data.analyze(storage)
        log(f"  [{storage.backend}] owners set in {(now_ms() - started) / 1000:.1f} s")
    _owner_index(storage, log)
    team1 = frozenset(owners[:PER_TEAM])
    return {"owners": owners, "team1": team1, "lead": "bench_1"}


OWNER_INDEX = "ix_customer_created_by_id"


def _owner_index(storage: Any, log: Any) -> None:
    """The index Ficha gives every link, hence every `owner` field (storage/tables.py
    _list_indexes: the column and id, live rows only): the customer here has no `owner`
    field, so a team's records are those its members created, and the benchmark gives
    `created_by` the same index an owner link would have. Without it the numbers would
    flatter: a planner cannot pick an index that is not there."""
    customers = storage.table("customer")
    inspector = sa.inspect(storage.engine)
    if OWNER_INDEX in {ix["name"] for ix in inspector.get_indexes("customer")}:
        return
    log(f"  [{storage.backend}] indexing created_by as an owner link is indexed …")
    live = customers.c.deleted_at.is_(None)
    index = sa.Index(
        OWNER_INDEX,
        customers.c.created_by,
        customers.c.id,
        sqlite_where=live,
        postgresql_where=live,
    )
    with storage.write() as conn:
        index.create(conn)
    _data.analyze(storage)


def roles_project(db: _data.BenchDatabase) -> Path:
    """A second project folder over the same database, with roles.yaml."""
    root = db.project_dir.parent / f"permissions-{db.backend}-{db.rows}"
    url = db.ficha.settings.database_url
    if db.backend == "sqlite":
        url = f"sqlite:///{(db.project_dir / 'data' / 'bench.sqlite').resolve()}"
    _data.write_project(root, url)
    (root / "roles.yaml").write_text(textwrap.dedent(ROLES_YAML).lstrip())
    return root


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Seen:
    statements: dict[str, list[Statement]] = field(default_factory=dict)


def _fetched(results: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    for rows in results:
        if rows and "email" in rows[0] and "segment" in rows[0]:  # the customers
            return rows
    return []


async def _one(
    client: httpx.AsyncClient,
    capture: Capture,
    raw: RawRunner,
    url: str,
    team: frozenset[int] | None,
    by_email: Any,
) -> tuple[float, float, float, list[Statement]]:
    capture.take()
    cpu, started = cpu_ms(), now_ms()
    response = await client.get(url)
    elapsed, cpu = now_ms() - started, cpu_ms() - cpu
    statements = capture.take()
    replayed = raw.run(statements)
    if response.status_code != 200:
        raise PageMismatch(f"GET {url} answered {response.status_code}: {response.text[:200]!r}")
    page = html.unescape(response.text)
    rows = _fetched(replayed.results)
    if not rows:
        raise PageMismatch(f"GET {url}: no rows fetched")
    for row in rows:
        if row["email"] not in page:
            raise PageMismatch(f"GET {url}: fetched row {row['email']!r} not shown")
    if team is not None:
        outside = [r["email"] for r in rows if by_email(r["email"]) not in team]
        if outside:
            raise PageMismatch(f"GET {url}: {outside[0]} is not the team's")
    return elapsed, cpu, replayed.ms, statements


async def _measure(
    ficha: Any, raw: RawRunner, options: Options, team: frozenset[int], status: Any
) -> tuple[list[Result], dict[str, list[Statement]]]:
    from app_builder.security import COOKIE
    from framework.app import create_app

    storage = ficha.storage
    customers = storage.table("customer")

    def owner_of(email: str) -> int | None:
        with storage.read() as conn:
            return conn.execute(
                sa.select(customers.c.created_by).where(customers.c.email == email)
            ).scalar()

    app = create_app(ficha.settings, ficha=ficha)
    cookies = {
        who: ficha.auth.login(who, PASSWORD, ip="127.0.0.1").token
        for who in ("bench_admin", "bench_1")
    }
    results: list[Result] = []
    seen: dict[str, list[Statement]] = {}
    transport = httpx.ASGITransport(app=app)
    with Capture(storage.engine) as capture:
        clients = {
            who: httpx.AsyncClient(
                transport=transport, base_url="http://bench", cookies={COOKIE: cookie}
            )
            for who, cookie in cookies.items()
        }
        try:
            for page in PAGES:
                if options.measures and page.key not in options.measures:
                    continue
                status.update(f"measuring {page.label} …")
                admin = Result(f"{page.label}: admin", None)
                scoped = Result(f"{page.label}: team scope", None)
                try:
                    for i in range(options.warmup + options.requests):
                        # interleaved, so both see the same machine and the same caches
                        for who, result, scope in (
                            ("bench_admin", admin, None),
                            ("bench_1", scoped, team),
                        ):
                            ms, cpu, raw_ms, statements = await _one(
                                clients[who], capture, raw, page.url, scope, owner_of
                            )
                            if i >= options.warmup:
                                result.ficha.add(ms)
                                result.cpu.add(cpu)
                                result.raw.add(raw_ms)
                                result.statements.add(len(statements))
                                seen[f"{page.key}/{who}"] = statements
                except PageMismatch as exc:
                    scoped.error = str(exc)
                if not scoped.error and len(admin.ficha):
                    scoped.target_ms = admin.ficha.p50 * TARGET_RATIO
                    scoped.note = f"{scoped.ficha.p50 / admin.ficha.p50:.2f}x admin"
                results += [admin, scoped]
        finally:
            for client in clients.values():
                await client.aclose()
    return results, seen


def run(options: Options, console: Console) -> None:
    from framework.app import Ficha
    from framework.settings import Settings

    for backend in options.dbs:
        console.rule(f"[bold]permissions on {backend}")

        def log(text: str) -> None:
            console.print(escape(text), highlight=False)

        db = _data.prepare(
            backend,
            options.rows,
            rebuild=options.rebuild,
            pg_admin_url=options.pg_admin_url,
            log=log,
        )
        try:
            who = ensure_owners(db.ficha, log)
            root = roles_project(db)
        finally:
            db.close()
        ficha = Ficha.load(Settings.load(root, environ={"FICHA_SECRET_KEY": "bench-only"}))
        raw = RawRunner(ficha.storage)
        try:
            load_before = load_average()
            with console.status("measuring …") as status:
                results, seen = asyncio.run(_measure(ficha, raw, options, who["team1"], status))
            title = (
                f"{backend}: customer list, {options.rows:,} rows, admin vs team scope "
                f"(team of {PER_TEAM} users owning {len(who['team1']) / len(who['owners']):.1%}"
                f" of the rows); target: team ≤ {TARGET_RATIO}x admin p50"
            )
            console.print(results_table(title, results))
            console.print(load_note(load_before, load_average()))
            print_failures(console, backend, results)
            for key, statements in seen.items():
                if not key.startswith("page1/") and not options.explain:
                    continue
                console.rule(f"{key}: {len(statements)} statement(s)", style="dim")
                for st in statements:
                    console.print(Syntax(st.sql, "sql", word_wrap=True))
                    console.print(f"[dim]params: {json.dumps(st.params, default=str)}[/]")
                    if options.explain:
                        try:
                            console.print(raw.explain(st), highlight=False)
                        except Exception as exc:  # a plan that cannot be shown is not fatal
                            console.print(f"[red]no plan: {exc}[/]")
        finally:
            raw.close()
            ficha.close()
