"""The benchmark project and its data: a Ficha project under bench/.data/ with a
`customer` object of N rows (and a small `agent` object it links to), on SQLite or
PostgreSQL, loaded once and reused while it still holds what this module would load.

Loading bypasses the records service on purpose: a million `records.create` calls would
take an hour and measure the write path, not the screens. The rows are written straight
into the tables Ficha built (SQLAlchemy Core on SQLite, COPY on PostgreSQL), with the
secondary indexes and the full-text structure rebuilt once at the end, as a bulk import
into a database would do. The full-text DDL comes from storage's own dialect, so the
structures are exactly the ones `ficha migrate` makes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import random
import shutil
import textwrap
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import _words
from bench._timing import now_ms

DATA_DIR = Path(__file__).parent / ".data"
SEED = 20261124
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
AGENTS = 40
#: bump when the generated rows change shape, so cached databases are rebuilt
GENERATOR_VERSION = 1

AGENT_YAML = """
object: agent
label: Agent
title: name
icon: fa fa-headset
fields:
  name: {type: string, required: true, max_length: 80, search: true}
  email: {type: email, unique: true}
  team:
    type: choice
    values: {north: North, south: South, east: East, west: West}
    filter: true
list:
  columns: [name, email, team]
  sort: [name]
"""

# Declared as the tutorial and the core pack declare their customers: a searchable
# name, identifiers flagged unique/index, filters on the choices, sorted by name.
CUSTOMER_YAML = """
object: customer
label: Customer
title: name
icon: fa fa-user
fields:
  name: {type: string, required: true, max_length: 120, search: true}
  email: {type: email, unique: true}
  phone: {type: phone, index: true}
  segment:
    type: choice
    values: {consumer: Consumer, smb: Small business, mid: Mid-market, ent: Enterprise}
    default: consumer
    filter: true
  status:
    type: choice
    values: {lead: Lead, active: Active, dormant: Dormant, churned: Churned}
    default: lead
    filter: true
  city: {type: string, max_length: 80, filter: true}
  agent: {type: link, object: agent, on_delete: set_null}
  credit_limit: {type: money, min: 0}
  since: date
  active: {type: boolean, default: true}
  notes: text
list:
  columns: [name, email, phone, segment, status, city, agent, credit_limit, since]
  sort: [name]
form:
  - section: Identity
    fields: [name, email, phone, city]
  - section: Business
    fields: [segment, status, agent, credit_limit, since, active]
  - tab: Notes
    fields: [notes]
"""

OBJECTS = {"agent": AGENT_YAML, "customer": CUSTOMER_YAML}
CUSTOMER_COLUMNS = (
    "id",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "deleted_at",
    "name",
    "email",
    "phone",
    "segment",
    "status",
    "city",
    "agent_id",
    "credit_limit",
    "since",
    "active",
    "notes",
)


@dataclass(frozen=True)
class DataSet:
    """The generated agents and customers under one set of declarations, cached apart
    from the others: a benchmark that declares more (an index) gets its own project
    folder and PostgreSQL database, so that it never rebuilds another's."""

    name: str = ""  # "" is the screens benchmark's
    objects: Mapping[str, str] = field(default_factory=lambda: OBJECTS)

    def project_dir(self, backend: str, rows: int) -> Path:
        prefix = f"{self.name}-" if self.name else ""
        return DATA_DIR / f"{prefix}{backend}-{rows}"

    def pg_database(self, rows: int) -> str:
        base = f"ficha_bench_{self.name}" if self.name else "ficha_bench"
        return base if rows == 1_000_000 else f"{base}_{rows}"

    def spec_hash(self) -> str:
        text = json.dumps([dict(self.objects), GENERATOR_VERSION, SEED], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


SCREENS = DataSet()


def spec_hash() -> str:
    return SCREENS.spec_hash()


# -- generated rows ------------------------------------------------------------------------


def ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if c.isalnum() and c.isascii()).lower()


def customer_email(ident: int, first: str, surname: str, domain: str) -> str:
    return f"{ascii_word(first)}.{ascii_word(surname)}{ident}@{domain}"


def customer_phone(ident: int) -> str:
    """A Spanish mobile in E.164, unique per id (7919 is prime to 10**8)."""
    return f"+34{600_000_000 + (ident * 7_919) % 100_000_000}"


def agent_rows() -> list[dict[str, Any]]:
    rnd = random.Random(SEED - 1)
    now = dt.datetime(2024, 1, 8, 9, 0, 0)
    teams = ("north", "south", "east", "west")
    rows = []
    for i in range(1, AGENTS + 1):
        first, last = rnd.choice(_words.FIRST_NAMES), rnd.choice(_words.SURNAMES)
        rows.append(
            {
                "id": i,
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "name": f"{first} {last}",
                "email": f"{ascii_word(first)}.{ascii_word(last)}.{i}@agents.example",
                "team": teams[i % 4],
            }
        )
    return rows


def customer_rows(count: int, batch: int = 20_000) -> Iterator[list[tuple[Any, ...]]]:
    """Batches of customer rows, in CUSTOMER_COLUMNS order, the same for a given seed."""
    rnd = random.Random(SEED)
    cities = [c for c, _ in _words.CITIES]
    city_weights = [w for _, w in _words.CITIES]
    today = dt.date(2025, 11, 1)
    first_day = dt.date(2005, 1, 1).toordinal()
    span = today.toordinal() - first_day
    segments = ("consumer", "consumer", "consumer", "smb", "smb", "mid", "ent")
    statuses = ("lead", "active", "active", "active", "dormant", "churned")
    rows: list[tuple[Any, ...]] = []
    for ident in range(1, count + 1):
        first = rnd.choice(_words.FIRST_NAMES)
        last1 = rnd.choice(_words.SURNAMES)
        last2 = rnd.choice(_words.SURNAMES)
        if rnd.random() < 0.1:
            name = f"{last1} {rnd.choice(_words.COMPANY_WORDS)} {rnd.choice(_words.COMPANY_FORMS)}"
            segment = rnd.choice(("smb", "smb", "mid", "ent"))
        else:
            name = f"{first} {last1} {last2}"
            segment = rnd.choice(segments)
        since = dt.date.fromordinal(first_day + rnd.randrange(span))
        created = dt.datetime.combine(
            since, dt.time(8 + rnd.randrange(11), rnd.randrange(60), rnd.randrange(60))
        )
        updated = created + dt.timedelta(days=rnd.randrange(400))
        deleted = updated if rnd.random() < 0.01 else None  # some records were deleted
        rows.append(
            (
                ident,
                1 + rnd.randrange(4),
                created,
                updated,
                None,
                None,
                deleted,
                name,
                customer_email(ident, first, last1, rnd.choice(_words.EMAIL_DOMAINS)),
                customer_phone(ident),
                segment,
                rnd.choice(statuses),
                rnd.choices(cities, city_weights)[0],
                None if rnd.random() < 0.05 else 1 + rnd.randrange(AGENTS),
                Decimal(rnd.randrange(0, 5_000_000)) / 100,
                since,
                rnd.random() < 0.85,
                rnd.choice(_words.NOTES) if rnd.random() < 0.3 else None,
            )
        )
        if len(rows) >= batch:
            yield rows
            rows = []
    if rows:
        yield rows


# -- the project on disk and its database ----------------------------------------------------


@dataclass
class BenchDatabase:
    """A loaded benchmark project on one database."""

    backend: str
    rows: int
    project_dir: Path
    ficha: Any  # framework.app.Ficha (imported lazily: loading Ficha is not free)
    load_seconds: float
    loaded_at: str
    reused: bool

    @property
    def storage(self) -> Any:
        return self.ficha.storage

    def close(self) -> None:
        self.ficha.close()


def project_dir(backend: str, rows: int) -> Path:
    return SCREENS.project_dir(backend, rows)


def pg_database_name(rows: int) -> str:
    return SCREENS.pg_database(rows)


def database_url(backend: str, rows: int, pg_admin_url: str, dataset: DataSet = SCREENS) -> str:
    if backend == "sqlite":
        return "sqlite:///data/bench.sqlite"
    url = sa.engine.make_url(pg_admin_url).set(database=dataset.pg_database(rows))
    return url.render_as_string(hide_password=False)


def write_project(root: Path, url: str, dataset: DataSet = SCREENS) -> None:
    (root / "objects").mkdir(parents=True, exist_ok=True)
    (root / "migrations").mkdir(exist_ok=True)
    (root / "ficha.yaml").write_text(
        f"name: Ficha benchmark\ndatabase: '{url}'\npacks: []\nlocale: es-ES\n"
    )
    for name, text in dataset.objects.items():
        (root / "objects" / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip())


def load_ficha(root: Path) -> Any:
    from framework.app import Ficha
    from framework.settings import Settings

    # An empty environment: FICHA_DATABASE_URL must not send the benchmark elsewhere.
    return Ficha.load(Settings.load(root, environ={"FICHA_SECRET_KEY": "bench-only"}))


def _marker(root: Path) -> dict[str, Any]:
    path = root / "bench.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _live_rows(storage: Any) -> int | None:
    try:
        with storage.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(storage.table("customer"))
                ).scalar()
                or 0
            )
    except Exception:  # no table, no database: the cache is not there
        return None


def prepare(
    backend: str,
    rows: int,
    *,
    rebuild: bool = False,
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL,
    log: Callable[[str], None] = print,
    dataset: DataSet = SCREENS,
) -> BenchDatabase:
    """The benchmark project on `backend` with `rows` customers: reused when the cached
    database holds exactly what would be loaded, else built from scratch."""
    from storage.migrations import migrate

    root = dataset.project_dir(backend, rows)
    url = database_url(backend, rows, pg_admin_url, dataset)
    marker = _marker(root)
    if not rebuild and marker.get("spec") == dataset.spec_hash() and marker.get("rows") == rows:
        if backend == "postgresql":
            _ensure_pg_database(pg_admin_url, dataset.pg_database(rows), drop=False)
        write_project(root, url, dataset)
        ficha = load_ficha(root)
        if _live_rows(ficha.storage) == rows:
            # Framework changes since the load (a new index, say) reach the cached
            # database the way they reach a user's: through `ficha migrate`.
            try:
                _, applied = migrate(ficha.storage, ficha.settings.migrations_dir)
            except Exception as exc:
                log(f"  [{backend}] cached database no longer migrates ({exc}); rebuilding")
                ficha.close()
            else:
                if applied:
                    log(
                        f"  [{backend}] applied new migrations to the cached database: "
                        f"{', '.join(applied)}"
                    )
                if marker.get("fulltext") != fulltext_signature(ficha.storage):
                    # storage builds its full-text structure differently now: a query
                    # written for the new one would not use the old one
                    log(f"  [{backend}] the full-text DDL changed; rebuilding the index")
                    with ficha.storage.write() as conn:
                        for statement in _fulltext_ddl(ficha.storage):
                            conn.exec_driver_sql(statement)
                    marker["fulltext"] = fulltext_signature(ficha.storage)
                    (root / "bench.json").write_text(json.dumps(marker, indent=2))
                    applied = applied or ["full-text"]
                if applied:
                    analyze(ficha.storage)
                return BenchDatabase(
                    backend,
                    rows,
                    root,
                    ficha,
                    float(marker.get("load_seconds", 0.0)),
                    str(marker.get("loaded_at", "")),
                    reused=True,
                )
        else:
            ficha.close()
    return _build(backend, rows, root, url, pg_admin_url, log, dataset)


def _build(
    backend: str,
    rows: int,
    root: Path,
    url: str,
    pg_admin_url: str,
    log: Callable[[str], None],
    dataset: DataSet,
) -> BenchDatabase:
    from storage.migrations import migrate

    if root.exists():
        shutil.rmtree(root)
    if backend == "postgresql":
        _ensure_pg_database(pg_admin_url, dataset.pg_database(rows), drop=True)
    write_project(root, url, dataset)
    ficha = load_ficha(root)
    log(f"  [{backend}] loading {rows:,} customers into {ficha.storage.display_url} …")
    started = now_ms()
    migrate(ficha.storage, ficha.settings.migrations_dir, "benchmark schema")
    storage = ficha.storage
    with _without_secondary_indexes(storage):
        with storage.write() as conn:
            conn.execute(storage.table("agent").insert(), agent_rows())
        if backend == "postgresql":
            _copy_customers_pg(storage, rows, log)
        else:
            _insert_customers(storage, rows, log)
    log(
        f"  [{backend}] rows written in {(now_ms() - started) / 1000:.1f} s; "
        "indexes and full-text rebuilt; analyzing …"
    )
    analyze(storage)
    seconds = (now_ms() - started) / 1000
    loaded = _live_rows(storage)
    if loaded != rows:
        raise RuntimeError(f"loaded {loaded} customers instead of {rows}")
    loaded_at = dt.datetime.now().isoformat(timespec="seconds")
    (root / "bench.json").write_text(
        json.dumps(
            {
                "spec": dataset.spec_hash(),
                "rows": rows,
                "load_seconds": round(seconds, 1),
                "loaded_at": loaded_at,
                "fulltext": fulltext_signature(storage),
            },
            indent=2,
        )
    )
    log(f"  [{backend}] loaded in {seconds:.1f} s")
    return BenchDatabase(backend, rows, root, ficha, seconds, loaded_at, reused=False)


def _ensure_pg_database(admin_url: str, name: str, *, drop: bool) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if drop:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()


def _fulltext_ddl(storage: Any) -> list[str]:
    return list(storage.dialect.fulltext_ddl("customer", search_columns(storage, "customer")))


def fulltext_signature(storage: Any) -> str:
    return hashlib.sha256("\n".join(_fulltext_ddl(storage)).encode()).hexdigest()[:16]


def search_columns(storage: Any, object_name: str) -> list[str]:
    from storage.tables import column_name

    obj = storage.model[object_name]
    return [
        column_name(obj.fields[n])
        for n in obj.search_fields
        if n in obj.fields and obj.fields[n].kind == "column"
    ]


@contextlib.contextmanager
def _without_secondary_indexes(storage: Any) -> Iterator[None]:
    """Drops the non-unique indexes and the full-text structure of `customer` for the
    bulk load and builds them again afterwards (one sorted build each instead of a
    million random inserts into each)."""
    table: sa.Table = storage.table("customer")
    indexes = [ix for ix in table.indexes if not ix.unique]
    dialect = storage.dialect
    with storage.write() as conn:
        for statement in dialect.fulltext_drop_ddl(table.name):
            conn.exec_driver_sql(statement)
        for index in indexes:
            index.drop(conn, checkfirst=True)
    yield
    with storage.write() as conn:
        if storage.backend == "postgresql":
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
        for index in indexes:
            index.create(conn)
        for statement in _fulltext_ddl(storage):
            conn.exec_driver_sql(statement)


def _insert_customers(storage: Any, rows: int, log: Callable[[str], None]) -> None:
    table = storage.table("customer")
    done = 0
    for batch in customer_rows(rows, batch=50_000):
        with storage.write() as conn:
            conn.execute(
                table.insert(), [dict(zip(CUSTOMER_COLUMNS, row, strict=True)) for row in batch]
            )
        done += len(batch)
        if done % 200_000 == 0:
            log(f"    {done:,} rows")


def _copy_customers_pg(storage: Any, rows: int, log: Callable[[str], None]) -> None:
    columns = ", ".join(f'"{c}"' for c in CUSTOMER_COLUMNS)
    raw = storage.engine.raw_connection()
    try:
        driver = raw.driver_connection
        with driver.cursor() as cur:
            done = 0
            with cur.copy(f'COPY "customer" ({columns}) FROM STDIN') as copy:
                for batch in customer_rows(rows):
                    for row in batch:
                        copy.write_row(row)
                    done += len(batch)
                    if done % 200_000 == 0:
                        log(f"    {done:,} rows")
            for table in ("agent", "customer"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f'(SELECT max(id) FROM "{table}"))'
                )
        driver.commit()
    finally:
        raw.close()


def analyze(storage: Any) -> None:
    """Fresh planner statistics (and, on PostgreSQL, a vacuumed visibility map), as a
    database in service has from autovacuum or a nightly ANALYZE."""
    if storage.backend == "postgresql":
        with storage.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql('VACUUM (ANALYZE) "customer"')
            c.exec_driver_sql('VACUUM (ANALYZE) "agent"')
        return
    raw = storage.engine.raw_connection()
    try:  # the driver connection is in autocommit (see storage.manager): no BEGIN here
        raw.driver_connection.execute("ANALYZE")
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def table_rows(storage: Any) -> dict[str, int]:
    with storage.read() as conn:
        return {
            name: int(
                conn.execute(sa.select(sa.func.count()).select_from(storage.table(name))).scalar()
                or 0
            )
            for name in ("customer", "agent")
        }
