"""StorageManager: owns the engine, connections and transactions, and everything that
depends on which database runs. Nothing above storage/ knows the dialect.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from modeler.schema import Model
from storage.dialects import Dialect, dialect_for
from storage.tables import Tables, build_tables

SQLITE, POSTGRESQL, MARIADB = "sqlite", "postgresql", "mariadb"


class StorageError(Exception):
    """The database cannot be reached or refused an operation; the message says why."""


def normalize_url(url: str | URL, base_dir: Path | None = None) -> URL:
    """Accept the URLs users write (postgresql://, mariadb://, a relative sqlite path) and
    choose the drivers Ficha ships with."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.get_driver_name() in ("", "psycopg2", "psycopg"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend in ("mysql", "mariadb"):
        parsed = parsed.set(drivername="mysql+pymysql")
        query = dict(parsed.query)
        query.setdefault("charset", "utf8mb4")
        parsed = parsed.set(query=query)
    elif backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.is_absolute() and base_dir is not None:
            path = (base_dir / path).resolve()
        parsed = parsed.set(database=str(path))
    return parsed


def backend_name(url: URL) -> str:
    backend = url.get_backend_name()
    return MARIADB if backend in ("mysql", "mariadb") else backend


def create_engine(url: URL, echo: bool = False) -> Engine:
    backend = backend_name(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if backend == SQLITE:
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # Screens run queries in a thread pool: one connection may serve several threads.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif backend == POSTGRESQL:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    elif backend == MARIADB:
        kwargs.update(
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=True,
            pool_recycle=3600,
            isolation_level="READ COMMITTED",
        )
    engine = sa.create_engine(url, **kwargs)
    if backend == SQLITE:
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite opens transactions lazily and not for DDL; take over BEGIN ourselves so
        # every write (DDL included) is one transaction, as on PostgreSQL.
        sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver; see "begin" above
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MB
    cursor.close()
    # SQLite's own lower()/upper() only know ASCII; expressions must fold "Á" like Python
    # and the other databases do.
    dbapi_connection.create_function("lower", 1, _fold(str.lower), deterministic=True)
    dbapi_connection.create_function("upper", 1, _fold(str.upper), deterministic=True)


def _fold(method: Any) -> Any:
    def fold(value: Any) -> Any:
        return method(value) if isinstance(value, str) else value

    return fold


class StorageManager:
    """One database for one model. Create it, use `read()` / `write()`, `dispose()` it."""

    def __init__(
        self, url: str | URL, model: Model, *, base_dir: Path | None = None, echo: bool = False
    ) -> None:
        self.url = normalize_url(url, base_dir)
        self.backend = backend_name(self.url)
        self.model = model
        self.engine = create_engine(self.url, echo=echo)
        self.tables: Tables = build_tables(model)
        self.dialect: Dialect = dialect_for(self.backend)
        self._local = threading.local()
        # Statements built once per model and reused (building one costs more than
        # running it): reads of one record, inserts. Keyed by what they depend on.
        self.statements: dict[Any, Any] = {}
        #: wrapped object → its RecordSource (storage/sources.py); set when services start
        self.external: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"StorageManager({self.url.render_as_string(hide_password=True)})"

    @property
    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise StorageError(self.explain(exc)) from exc

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (no transaction kept open after the block)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise StorageError(self.explain(exc)) from exc

    def explain(self, exc: Exception) -> str:
        text = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return f"the database at {self.display_url} refused the operation: {text}"

    def exists(self) -> bool:
        """False for a SQLite file not created yet (checking must not create it)."""
        if self.backend != SQLITE or not self.url.database or self.url.database == ":memory:":
            return True
        return Path(self.url.database).exists()

    def check_connection(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as exc:
            raise StorageError(
                f"cannot reach the database at {self.display_url}: "
                f"{str(exc.orig).strip().splitlines()[0]}"
            ) from exc

    def table(self, object_name: str) -> sa.Table:
        return self.tables[object_name]

    def mapped_class(self, object_name: str) -> type:
        """The ORM class of an object, for plugins that prefer `session.get(cls, id)`."""
        return self.tables.classes[object_name]

    def dispose(self) -> None:
        self.engine.dispose()
