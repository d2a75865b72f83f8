"""The customer file of the core pack (issue 6), on SQLite and PostgreSQL: "Who is this
customer?" among a million customers with three identifiers each, and the ficha page of a
customer with a long history.

A project with the core pack holds `--rows` accounts (people and companies, each with a
checked tax id) and three identifiers per account (customer card, phone, email: 3 million
rows for a million), plus, for a few customers spread over the table, the history a busy
customer has: 1,000 interactions, 50 opportunities, 20 tickets, contacts with their
phones and emails, contracts, equipment, activities and alerts. Rows are written straight
into the tables `ficha migrate` made (Core inserts on SQLite, COPY on PostgreSQL), with
the big tables' secondary indexes and full-text structure built once at the end, and
cached in bench/.data/customer-<db>-<rows>/ and the databases ficha_bench_customer[_<rows>].

Each measure requests the real web app in-process, as a signed-in agent (httpx over ASGI:
the sign-in middleware, routing, starlette-admin, the page, its reads, the template),
checks the answer is the customer asked for, and replays the SQL the request ran straight
on the driver: the raw-SQL floor, in the same run.

Targets: identification ≤ 20 ms p50 (each kind of identifier, and a name); the ficha page
≤ 80 ms p50 for a customer with 1,000 interactions, 50 opportunities and 20 tickets.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import json
import random
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape

from bench import _data, _words
from bench._report import Result
from bench._sql import Capture, RawRunner
from bench._timing import cpu_ms, now_ms
from bench.screens import PageMismatch, _server_version, fold, measure_pages

if TYPE_CHECKING:
    from bench._options import Options

#: bump when the generated rows change shape, so cached databases are rebuilt
GENERATOR_VERSION = 2
SEED = 20261125
#: customers with a long history, spread over the table
BUSY = 12
INTERACTIONS, OPPORTUNITIES, TICKETS = 1000, 50, 20
PASSWORD = "bench-only-password"  # a throwaway user of a local benchmark
SYSTEM = ("id", "version", "created_at", "updated_at", "created_by", "updated_by", "deleted_at")
#: the big tables: their secondary indexes are built after the load
BIG_TABLES = ("account", "identifier")
BATCH = 50_000


def project_dir(backend: str, rows: int) -> Path:
    return _data.DATA_DIR / f"customer-{backend}-{rows}"


def pg_database_name(rows: int) -> str:
    return "ficha_bench_customer" if rows == 1_000_000 else f"ficha_bench_customer_{rows}"


def database_url(backend: str, rows: int, pg_admin_url: str) -> str:
    if backend == "sqlite":
        return "sqlite:///data/bench.sqlite"
    url = sa.engine.make_url(pg_admin_url).set(database=pg_database_name(rows))
    return url.render_as_string(hide_password=False)


def spec_hash() -> str:
    return hashlib.sha256(json.dumps([GENERATOR_VERSION, SEED, BUSY]).encode()).hexdigest()[:16]


def write_project(root: Path, url: str) -> None:
    (root / "migrations").mkdir(parents=True, exist_ok=True)
    (root / "ficha.yaml").write_text(
        f"name: Ficha customer benchmark\ndatabase: '{url}'\npacks: [core]\nlocale: es-ES\n"
    )


# -- generated rows --------------------------------------------------------------------------


def tax_id(ident: int, person: bool) -> str:
    from modeler.national_ids import spanish_company_nif, spanish_dni

    number = 10_000_000 + ident
    return spanish_dni(number) if person else spanish_company_nif(number)


def card(ident: int) -> str:
    """A customer card number as stored (the identification search reads it as typed,
    with or without spaces)."""
    return f"4000{ident:012d}"


def phone(ident: int) -> str:
    return _data.customer_phone(ident)


def email(ident: int, name: str) -> str:
    words = name.split()
    return f"{_data.ascii_word(words[0])}.{_data.ascii_word(words[-1])}{ident}@example.com"


def busy_ids(rows: int) -> list[int]:
    step = rows // BUSY
    return [step * k + step // 2 for k in range(BUSY)]


def _stamp(rnd: random.Random) -> dt.datetime:
    return dt.datetime(2020, 1, 1) + dt.timedelta(minutes=rnd.randrange(6 * 365 * 24 * 60))


def account_rows(count: int) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Batches of (accounts, identifiers), the same for a given seed."""
    rnd = random.Random(SEED)
    cities = [c for c, _ in _words.CITIES]
    weights = [w for _, w in _words.CITIES]
    accounts: list[tuple[Any, ...]] = []
    identifiers: list[tuple[Any, ...]] = []
    next_identifier = 1
    for ident in range(1, count + 1):
        person = rnd.random() < 0.7
        first, last1, last2 = (
            rnd.choice(_words.FIRST_NAMES),
            rnd.choice(_words.SURNAMES),
            rnd.choice(_words.SURNAMES),
        )
        if person:
            name, segment = f"{first} {last1} {last2}", "consumer"
        else:
            name = f"{last1} {rnd.choice(_words.COMPANY_WORDS)} {rnd.choice(_words.COMPANY_FORMS)}"
            segment = rnd.choice(("smb", "smb", "mid", "enterprise"))
        created = _stamp(rnd)
        mail = email(ident, name)
        accounts.append(
            (
                ident,
                1,
                created,
                created,
                None,
                None,
                None,
                name,
                "person" if person else "company",
                tax_id(ident, person),
                segment,
                rnd.choice(("platinum", "gold", "silver", "bronze", None)),
                rnd.choices(cities, weights)[0],
                "España",
                created.date(),
                True,
                # the main phone: a person's mobile, a company's switchboard
                phone(ident) if person else f"+3491{ident:07d}",
                mail,
            )
        )
        for kind, value, column in (
            ("card", card(ident), "code"),
            ("phone", phone(ident), "phone"),
            ("email", mail, "email"),
        ):
            identifiers.append(
                (
                    next_identifier,
                    1,
                    created,
                    created,
                    None,
                    None,
                    None,
                    ident,
                    kind,
                    value if column == "code" else None,
                    value if column == "phone" else None,
                    value if column == "email" else None,
                    value,
                    True,
                )
            )
            next_identifier += 1
        if len(accounts) >= BATCH:
            yield accounts, identifiers
            accounts, identifiers = [], []
    if accounts:
        yield accounts, identifiers


ACCOUNT_COLUMNS = (
    *SYSTEM,
    "name",
    "kind",
    "tax_id",
    "segment",
    "value_tier",
    "city",
    "country",
    "customer_since",
    "active",
    "phone",
    "email",
)
IDENTIFIER_COLUMNS = (
    *SYSTEM,
    "account_id",
    "kind",
    "code",
    "phone",
    "email",
    "value",
    "active",
)


@dataclass
class Rows:
    """Rows of one table, in `columns` order, ids given by the generator."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    next_id: int = 1

    def add(self, created: dt.datetime, **values: Any) -> int:
        ident = self.next_id
        self.next_id += 1
        row = {"id": ident, "version": 1, "created_at": created, "updated_at": created}
        row.update(values)
        self.rows.append(tuple(row.get(c) for c in self.columns))
        return ident


def history_rows(rows: int, agents: list[int]) -> dict[str, Rows]:
    """The long history of the busy customers: contacts, their phones and emails,
    contracts, assets, opportunities, tickets, interactions, activities and alerts."""
    rnd = random.Random(SEED + 1)
    tables: dict[str, Rows] = {
        "product": Rows((*SYSTEM, "code", "name", "kind", "family", "price", "billing", "active")),
        "contact": Rows((*SYSTEM, "full_name", "account_id", "job_title", "email", "phone")),
        "contact_phone": Rows((*SYSTEM, "contact_id", "kind", "number", "primary", "opt_out")),
        "contact_email": Rows((*SYSTEM, "contact_id", "kind", "address", "primary", "opt_out")),
        "contract": Rows(
            (
                *SYSTEM,
                "account_id",
                "product_id",
                "status",
                "start_date",
                "quantity",
                "price",
                "billing",
                "annual_amount",
            )
        ),
        "asset": Rows(
            (*SYSTEM, "serial_number", "account_id", "product_id", "status", "warranty_end")
        ),
        "opportunity": Rows(
            (
                *SYSTEM,
                "name",
                "account_id",
                "owner_id",
                "product_id",
                "stage",
                "amount",
                "probability",
                "weighted_amount",
                "expected_close",
                "source",
            )
        ),
        "ticket": Rows(
            (
                *SYSTEM,
                "subject",
                "account_id",
                "channel",
                "category",
                "priority",
                "status",
                "assigned_to_id",
                "opened_at",
                "response_due",
                "resolution_due",
                "response_breached",
                "resolution_breached",
                "escalated",
            )
        ),
        "interaction": Rows(
            (
                *SYSTEM,
                "account_id",
                "contact_id",
                "channel",
                "direction",
                "occurred_at",
                "duration_seconds",
                "subject",
                "summary",
                "outcome",
                "agent_id",
            )
        ),
        "activity": Rows(
            (*SYSTEM, "subject", "kind", "account_id", "assigned_to_id", "due", "done")
        ),
        "alert": Rows((*SYSTEM, "title", "message", "level", "account_id", "segment", "active")),
    }
    start = dt.datetime(2024, 1, 1, 8, 0)
    products = [
        tables["product"].add(
            start,
            code=f"P-{k:03d}",
            name=f"Product {k}",
            kind="service",
            family="subscription",
            price=Decimal("29.90"),
            billing="monthly",
            active=True,
        )
        for k in range(20)
    ]
    tables["alert"].add(
        start, title="Offer fibre to small businesses", level="info", segment='segment == "smb"'
    )
    stages = ("prospecting", "qualification", "rfp_received", "proposal", "negotiation")
    channels = ("phone", "email", "chat", "web", "whatsapp", "visit")
    for account in busy_ids(rows):
        contacts = []
        for k in range(3):
            contact = tables["contact"].add(
                start, full_name=f"Contact {k} of {account}", account_id=account
            )
            contacts.append(contact)
            tables["contact_phone"].add(
                start,
                contact_id=contact,
                kind="mobile",
                number=f"+3471{account % 10_000_000:07d}{k}",
                primary=True,
                opt_out=False,
            )
            tables["contact_email"].add(
                start,
                contact_id=contact,
                kind="work",
                address=f"contact{k}.{account}@example.com",
                primary=True,
                opt_out=False,
            )
        for k in range(5):
            tables["contract"].add(
                start,
                account_id=account,
                product_id=products[k],
                status="active",
                start_date=start.date(),
                quantity=1,
                price=Decimal("29.90"),
                billing="monthly",
                annual_amount=Decimal("358.80"),
            )
        for k in range(3):
            tables["asset"].add(
                start,
                serial_number=f"SN-{account}-{k}",
                account_id=account,
                product_id=products[k],
                status="active",
                warranty_end=dt.date(2027, 1, 1),
            )
        for k in range(OPPORTUNITIES):
            stage = stages[k % len(stages)] if k % 3 else rnd.choice(("won", "lost"))
            amount = Decimal(rnd.randrange(10, 900) * 100)
            tables["opportunity"].add(
                start,
                name=f"Deal {k} of {account}",
                account_id=account,
                owner_id=rnd.choice(agents),
                product_id=rnd.choice(products),
                stage=stage,
                amount=amount,
                probability=Decimal(40),
                weighted_amount=amount * Decimal("0.4"),
                expected_close=dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randrange(365)),
                source="existing",
            )
        for k in range(TICKETS):
            opened = start + dt.timedelta(days=rnd.randrange(700))
            tables["ticket"].add(
                opened,
                subject=f"Ticket {k} of {account}",
                account_id=account,
                channel="phone",
                category="fault",
                priority=rnd.choice(("low", "normal", "high", "urgent")),
                status=rnd.choice(("new", "open", "waiting_customer", "resolved", "closed")),
                assigned_to_id=rnd.choice(agents),
                opened_at=opened,
                response_due=opened + dt.timedelta(hours=4),
                resolution_due=opened + dt.timedelta(days=2),
                response_breached=False,
                resolution_breached=False,
                escalated=False,
            )
        for k in range(INTERACTIONS):
            at = start + dt.timedelta(minutes=rnd.randrange(700 * 24 * 60))
            tables["interaction"].add(
                at,
                account_id=account,
                contact_id=rnd.choice(contacts),
                channel=rnd.choice(channels),
                direction=rnd.choice(("inbound", "outbound")),
                occurred_at=at,
                duration_seconds=rnd.randrange(30, 1200),
                subject=f"Contact {k} about {rnd.choice(_words.NOTES)[:60]}",
                outcome="resolved",
                agent_id=rnd.choice(agents),
            )
        for k in range(12):
            tables["activity"].add(
                start,
                subject=f"Follow up {k} with {account}",
                kind=rnd.choice(("call", "visit", "meeting", "task")),
                account_id=account,
                assigned_to_id=rnd.choice(agents),
                due=dt.datetime(2026, 1, 1) + dt.timedelta(hours=rnd.randrange(24 * 365)),
                done=k < 4,
            )
        tables["alert"].add(
            start, title=f"Pays late ({account})", level="warning", account_id=account
        )
    return tables


# -- loading ---------------------------------------------------------------------------------


@dataclass
class CustomerDatabase:
    backend: str
    rows: int
    ficha: Any
    load_seconds: float
    loaded_at: str
    reused: bool

    @property
    def storage(self) -> Any:
        return self.ficha.storage

    def close(self) -> None:
        self.ficha.close()


def prepare(
    backend: str,
    rows: int,
    *,
    rebuild: bool = False,
    pg_admin_url: str = _data.DEFAULT_PG_ADMIN_URL,
    log: Callable[[str], None] = print,
) -> CustomerDatabase:
    """The benchmark project, reused when the cached database holds what would be loaded
    (the pack's later changes reach it through `ficha migrate`), else built."""
    from storage.migrations import migrate

    root = project_dir(backend, rows)
    url = database_url(backend, rows, pg_admin_url)
    marker = _marker(root)
    if not rebuild and marker.get("spec") == spec_hash() and marker.get("rows") == rows:
        if backend == "postgresql":
            _data._ensure_pg_database(pg_admin_url, pg_database_name(rows), drop=False)
        write_project(root, url)
        ficha = _data.load_ficha(root)
        if _count(ficha.storage, "account") == rows:
            try:
                _, applied = migrate(ficha.storage, ficha.settings.migrations_dir)
            except Exception as exc:
                log(f"  [{backend}] cached database no longer migrates ({exc}); rebuilding")
                ficha.close()
            else:
                if applied:
                    log(f"  [{backend}] applied new migrations: {', '.join(applied)}")
                    analyze(ficha.storage)
                return CustomerDatabase(
                    backend,
                    rows,
                    ficha,
                    float(marker.get("load_seconds", 0.0)),
                    str(marker.get("loaded_at", "")),
                    reused=True,
                )
        else:
            ficha.close()
    return _build(backend, rows, root, url, pg_admin_url, log)


def _marker(root: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((root / "bench.json").read_text()))
    except (OSError, ValueError):
        return {}


def _count(storage: Any, name: str) -> int | None:
    try:
        with storage.read() as conn:
            table = storage.table(name)
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
    except Exception:  # no table, no database: nothing cached
        return None


def _build(
    backend: str, rows: int, root: Path, url: str, pg_admin_url: str, log: Callable[[str], None]
) -> CustomerDatabase:
    from storage.migrations import migrate

    if root.exists():
        shutil.rmtree(root)
    if backend == "postgresql":
        _data._ensure_pg_database(pg_admin_url, pg_database_name(rows), drop=True)
    write_project(root, url)
    ficha = _data.load_ficha(root)
    storage = ficha.storage
    log(f"  [{backend}] loading {rows:,} accounts x 3 identifiers into {storage.display_url} …")
    started = now_ms()
    migrate(storage, ficha.settings.migrations_dir, "benchmark schema")
    agents = _agents(ficha)
    with _without_secondary_indexes(storage, BIG_TABLES):
        done = 0
        for accounts, identifiers in account_rows(rows):
            _bulk(storage, "account", ACCOUNT_COLUMNS, accounts)
            _bulk(storage, "identifier", IDENTIFIER_COLUMNS, identifiers)
            done += len(accounts)
            if done % 200_000 == 0:
                log(f"    {done:,} accounts")
        for name, table_rows in history_rows(rows, agents).items():
            _bulk(storage, name, table_rows.columns, table_rows.rows)
    if backend == "postgresql":
        _reset_sequences(storage)
    log(f"  [{backend}] rows written in {(now_ms() - started) / 1000:.1f} s; analyzing …")
    analyze(storage)
    seconds = (now_ms() - started) / 1000
    loaded_at = dt.datetime.now().isoformat(timespec="seconds")
    (root / "bench.json").write_text(
        json.dumps(
            {"spec": spec_hash(), "rows": rows, "load_seconds": round(seconds, 1)}
            | {"loaded_at": loaded_at},
            indent=2,
        )
    )
    log(f"  [{backend}] loaded in {seconds:.1f} s")
    return CustomerDatabase(backend, rows, ficha, seconds, loaded_at, reused=False)


def _agents(ficha: Any) -> list[int]:
    """The agent who signs in, and colleagues who own deals, through the records service."""
    ids = []
    for k in range(8):
        user = ficha.records.create(
            "user",
            {"username": f"agent{k}", "name": f"Agent {k}", "role": "admin", "active": True},
        )
        ids.append(user.id)
    ficha.auth.set_password(ids[0], PASSWORD)
    return ids


def _bulk(storage: Any, name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if storage.backend == "postgresql":
        names = ", ".join(f'"{c}"' for c in columns)
        raw = storage.engine.raw_connection()
        try:
            driver = raw.driver_connection
            with driver.cursor() as cur, cur.copy(f'COPY "{name}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
            driver.commit()
        finally:
            raw.close()
        return
    # SQLite: the driver's executemany, each value converted by its column type's own bind
    # processor, so it is stored exactly as Ficha stores it
    table = storage.table(name)
    dialect = storage.engine.dialect
    convert = [table.c[c].type.bind_processor(dialect) for c in columns]
    values = [
        tuple(v if f is None or v is None else f(v) for f, v in zip(convert, row, strict=True))
        for row in rows
    ]
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    raw = storage.engine.raw_connection()
    try:
        driver = raw.driver_connection
        driver.execute("BEGIN")
        driver.executemany(f'INSERT INTO "{name}" ({names}) VALUES ({marks})', values)
        driver.execute("COMMIT")
    finally:
        raw.close()


def _reset_sequences(storage: Any) -> None:
    with storage.write() as conn:
        for name in ("account", "identifier", *history_rows_tables()):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                f'(SELECT coalesce(max(id), 1) FROM "{name}"))'
            )


def history_rows_tables() -> tuple[str, ...]:
    return (
        "product",
        "contact",
        "contact_phone",
        "contact_email",
        "contract",
        "asset",
        "opportunity",
        "ticket",
        "interaction",
        "activity",
        "alert",
    )


@contextlib.contextmanager
def _without_secondary_indexes(storage: Any, names: Iterable[str]) -> Iterator[None]:
    """The big tables' non-unique indexes and full-text structures, dropped for the load
    and built once afterwards (as bench/_data.py does for the screens' customers)."""
    tables = [storage.table(n) for n in names]
    dropped = {t.name: [ix for ix in t.indexes if not ix.unique] for t in tables}
    with storage.write() as conn:
        for table in tables:
            for statement in storage.dialect.fulltext_drop_ddl(table.name):
                conn.exec_driver_sql(statement)
            for index in dropped[table.name]:
                index.drop(conn, checkfirst=True)
    yield
    with storage.write() as conn:
        if storage.backend == "postgresql":
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
        for table in tables:
            for index in dropped[table.name]:
                index.create(conn)
            columns = _data.search_columns(storage, table.name)
            if columns:
                for statement in storage.dialect.fulltext_ddl(table.name, columns):
                    conn.exec_driver_sql(statement)


def analyze(storage: Any) -> None:
    if storage.backend == "postgresql":
        with storage.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM (ANALYZE)")
        return
    raw = storage.engine.raw_connection()
    try:
        raw.driver_connection.execute("ANALYZE")
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


# -- what to ask -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    url: str
    account: int
    name: str
    #: a redirect to this customer's file (identification), else a page showing `expect`
    redirect: bool = True
    expect: tuple[str, ...] = ()


@dataclass
class Measure:
    key: str
    label: str
    target_ms: float | None
    probes: list[Probe]
    note: str = ""


def _picked(storage: Any, rnd: random.Random, count: int) -> list[tuple[int, str, str, str]]:
    """`count` accounts at random: id, name, tax id, email (people: a name is theirs)."""
    table = storage.table("account")
    ident = storage.table("identifier")
    with storage.read() as conn:
        top = int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0)
        wanted = rnd.sample(range(1, top + 1), min(top, count * 2))
        rows = conn.execute(
            sa.select(table.c.id, table.c.name, table.c.tax_id, ident.c.value)
            .join(ident, ident.c.account_id == table.c.id)
            .where(table.c.id.in_(wanted), ident.c.kind == "email", table.c.kind == "person")
        ).all()
    found = {r.id: (r.id, r.name, r.tax_id, r.value) for r in rows}
    return [found[i] for i in wanted if i in found][:count]


def spaced_phone(e164: str) -> str:
    digits = e164.removeprefix("+34")
    return f"{digits[:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}"


def build_measures(db: CustomerDatabase, n: int, rnd: random.Random) -> list[Measure]:
    picked = _picked(db.storage, rnd, n * 5)
    groups = [picked[k * n : (k + 1) * n] for k in range(5)]

    def url(q: str) -> str:
        return "/admin/ficha?" + urlencode({"q": q})

    busy = busy_ids(db.rows)
    with db.storage.read() as conn:
        table = db.storage.table("account")
        names = dict(
            conn.execute(sa.select(table.c.id, table.c.name).where(table.c.id.in_(busy))).all()
        )
    return [
        Measure(
            "phone",
            "identify: phone",
            20,
            [Probe(url(spaced_phone(phone(a))), a, nm) for a, nm, _, _ in groups[0]],
            note="typed 612 34 56 78",
        ),
        Measure(
            "email",
            "identify: email",
            20,
            [Probe(url(m.upper()), a, nm) for a, nm, _, m in groups[1]],
            note="typed in capitals",
        ),
        Measure(
            "national_id",
            "identify: national id",
            20,
            [Probe(url(f"{t[:-1]}-{t[-1].lower()}"), a, nm) for a, nm, t, _ in groups[2]],
            note="typed 12345678-z",
        ),
        Measure(
            "card",
            "identify: card",
            20,
            [Probe(url(" ".join(re.findall("....", card(a)))), a, nm) for a, nm, _, _ in groups[3]],
            note="typed 4000 0001 2345 6789",
        ),
        Measure(
            "name",
            "identify: name",
            20,
            [Probe(url(nm), a, nm, redirect=False, expect=(nm,)) for a, nm, _, _ in groups[4]],
            note="full name: a list of candidates",
        ),
        Measure(
            "ficha",
            "ficha page",
            80,
            [
                Probe(
                    f"/admin/ficha/{busy[k % len(busy)]}",
                    busy[k % len(busy)],
                    names[busy[k % len(busy)]],
                    redirect=False,
                    expect=(names[busy[k % len(busy)]], f"{INTERACTIONS} in all"),
                )
                for k in range(n)
            ],
            note=f"{INTERACTIONS:,} interactions, {OPPORTUNITIES} deals, {TICKETS} tickets",
        ),
    ]


def check(probe: Probe, response: httpx.Response) -> None:
    if probe.redirect:
        where = response.headers.get("location", "")
        if response.status_code != 303 or not where.endswith(f"/admin/ficha/{probe.account}"):
            raise PageMismatch(
                f"GET {probe.url} answered {response.status_code} {where!r}, not the file of "
                f"customer {probe.account}"
            )
        return
    location = response.headers.get("location", "")
    if response.status_code == 303 and location.endswith(f"/admin/ficha/{probe.account}"):
        return  # a name only one customer has: its file at once
    if response.status_code != 200:
        raise PageMismatch(f"GET {probe.url} answered {response.status_code}")
    page = html.unescape(response.text)
    for text in probe.expect:
        if text not in page:
            raise PageMismatch(f"GET {probe.url}: the page does not show {text!r}")
    if not probe.url.startswith("/admin/ficha/"):
        # a name many customers share: up to 20 candidates, each bearing the name typed
        found = re.findall(r'href="[^"]*/admin/ficha/(\d+)"[^>]*>\s*<strong>([^<]*)</strong>', page)
        words = set(fold(probe.name).split())
        if not found or any(not words & set(fold(name).split()) for _, name in found):
            raise PageMismatch(f"GET {probe.url}: a candidate bears none of the words typed")


# -- running ---------------------------------------------------------------------------------


async def _run_all(
    db: CustomerDatabase,
    raw: RawRunner,
    measures: Sequence[Measure],
    warmup: int,
    progress: Callable[[str], None],
) -> tuple[list[Result], Any]:
    from app_builder.security import COOKIE
    from bench.screens import Session
    from framework.app import create_app

    app = create_app(db.ficha.settings, ficha=db.ficha)
    token = db.ficha.auth.login("agent0", PASSWORD, ip="127.0.0.1").token
    transport = httpx.ASGITransport(app=app)
    results = []
    with Capture(db.storage.engine) as capture:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", cookies={COOKIE: str(token)}
        ) as client:
            session = Session(client, capture, raw)
            for measure in measures:
                progress(measure.label)
                results.append(await _measure(session, measure, warmup))
    return results, session


async def _measure(session: Any, measure: Measure, warmup: int) -> Result:
    result = Result(measure.label, measure.target_ms, note=measure.note)
    try:
        for k, probe in enumerate(measure.probes):
            session.capture.take()
            cpu, started = cpu_ms(), now_ms()
            response = await session.client.get(probe.url)
            elapsed, cpu = now_ms() - started, cpu_ms() - cpu
            statements = session.capture.take()
            replayed = session.raw.run(statements)
            check(probe, response)
            if k < warmup:
                continue
            result.ficha.add(elapsed)
            result.cpu.add(cpu)
            result.raw.add(replayed.ms)
            result.statements.add(len(statements))
            session.statements[measure.key] = statements
    except PageMismatch as exc:
        result.error = str(exc)
    return result


def run(options: Options, console: Console) -> None:
    """The `customer` benchmark: every database asked for, one table each."""
    for backend in options.dbs:
        console.rule(f"[bold]customer file on {backend}")
        db = prepare(
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


def _run_backend(db: CustomerDatabase, options: Options, console: Console) -> None:
    loaded = f"loaded in {db.load_seconds:.0f} s" + (
        f", cached since {db.loaded_at}" if db.reused else ""
    )
    counts = {n: _count(db.storage, n) or 0 for n in ("account", "identifier", "interaction")}
    console.print(
        f"{_server_version(db.storage)}: "
        + ", ".join(f"{n} {c:,} rows" for n, c in counts.items())
        + f"; {loaded}",
        highlight=False,
    )
    rnd = random.Random(f"{SEED}-{db.backend}")
    measures = build_measures(db, options.requests + options.warmup, rnd)
    if options.measures:
        measures = [m for m in measures if m.key in options.measures]
    title = f"{db.backend}: customer file, {counts['account']:,} customers"
    measure_pages(console, db, measures, options, _run_all, title)
