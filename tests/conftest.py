"""Shared fixtures: a fresh database on each server, and small projects built inline.

Each test session creates its own database on PostgreSQL and on MariaDB
(`ficha_test_<random>`) and drops it at the end; each test then gets its own schema
(PostgreSQL) or database (MariaDB) inside it, so no test sees another's tables. A server
that cannot be reached fails the run in CI and skips outside CI, saying how to start it.
"""

from __future__ import annotations

import os
import secrets
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import argon2
import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get(
    "FICHA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MARIA_ADMIN_URL = os.environ.get("FICHA_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/")
BACKENDS = ("sqlite", "postgresql", "mariadb")
HOW_TO_START = {
    "postgresql": "start it with: pg_ctlcluster --skip-systemctl-redirect "
    "$(ls /etc/postgresql) main start",
    "mariadb": "start it with: start-stop-daemon --start --oknodo --background "
    "--exec /usr/sbin/mariadbd",
}
IN_CI = bool(os.environ.get("CI"))


def unavailable(what: str, why: str) -> None:
    message = f"{what} is not reachable ({why}); {HOW_TO_START.get(what, '')}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _server(admin_url: str, backend: str) -> Iterator[tuple[sa.Engine, str]]:
    name = f"ficha_test_{secrets.token_hex(4)}"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as exc:
        unavailable(backend, str(exc.orig).strip().splitlines()[0])
        return
    try:
        yield admin, name
    finally:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[tuple[sa.Engine, str]]:
    yield from _server(PG_ADMIN_URL, "postgresql")


@pytest.fixture(scope="session")
def maria_server() -> Iterator[tuple[sa.Engine, str]]:
    yield from _server(MARIA_ADMIN_URL, "mariadb")


def _fresh_database(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    if backend == "postgresql":
        admin, dbname = request.getfixturevalue("pg_server")
        schema = f"t_{secrets.token_hex(5)}"
        base = sa.engine.make_url(PG_ADMIN_URL).set(database=dbname)
        engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False
            )
        finally:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            engine.dispose()
        return
    admin, _ = request.getfixturevalue("maria_server")
    name = f"ficha_t_{secrets.token_hex(5)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    try:
        yield (
            sa.engine.make_url(MARIA_ADMIN_URL)
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked slow run first, in their order: `make test` splits the list between
    the workers (--dist worksteal) and lets an idle worker take the end of another's
    share, so a test of a minute must not be the last one started."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def any_database(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database on each of SQLite, PostgreSQL and MariaDB in turn."""
    yield from _fresh_database(request, backend, tmp_path / "db")


# -- projects built inline ------------------------------------------------------------------


class ProjectFactory:
    """Writes a project folder from YAML strings and loads it."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.database_url = database_url
        self.opened: list[Any] = []

    def write(
        self, objects: dict[str, str], packs: tuple[str, ...] = (), settings: str = ""
    ) -> Path:
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        (self.root / "migrations").mkdir(exist_ok=True)
        (self.root / "ficha.yaml").write_text(
            f"name: Test CRM\ndatabase: '{self.database_url}'\n"
            f"packs: [{', '.join(packs)}]\n{settings}"
        )
        existing = {p.name for p in (self.root / "objects").glob("*.yaml")}
        for name in existing - {f"{n}.yaml" for n in objects}:
            (self.root / "objects" / name).unlink()
        for name, text in objects.items():
            (self.root / "objects" / f"{name}.yaml").write_text(textwrap.dedent(text))
        return self.root

    def load(self) -> Any:
        from framework.app import Ficha
        from framework.settings import Settings

        ficha = Ficha.load(Settings.load(self.root))
        self.opened.append(ficha)
        return ficha

    def migrated(self, objects: dict[str, str] | None = None, packs: tuple[str, ...] = ()) -> Any:
        """Write (if given), load and migrate: a project ready for records. A model this
        worker migrated before is copied from its first migration (tests/templates.py)."""
        from tests.templates import TEMPLATES

        if objects is not None:
            self.write(objects, packs)
        ficha = self.load()
        TEMPLATES.migrate(ficha)
        return ficha

    def close(self) -> None:
        for ficha in self.opened:
            ficha.close()


@pytest.fixture
def project(tmp_path: Path, any_database: str) -> Iterator[ProjectFactory]:
    """A project on each backend in turn."""
    factory = ProjectFactory(tmp_path / "proj", any_database)
    yield factory
    factory.close()


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Iterator[ProjectFactory]:
    """A project on SQLite only (for behaviour that does not depend on the database)."""
    factory = ProjectFactory(tmp_path / "proj", f"sqlite:///{tmp_path / 'proj.sqlite'}")
    yield factory
    factory.close()


class QueryCounter:
    """Counts the SQL statements an engine runs inside a `with` block."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _on(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "ROLLBACK", "COMMIT", "PRAGMA")):
            self.statements.append(statement)

    def __enter__(self) -> QueryCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._on)

    @property
    def count(self) -> int:
        """Statements run for the page itself (the sign-in lookup of every request, one
        query on ficha_session, is not the page's)."""
        return len([s for s in self.statements if "ficha_session" not in s])


@pytest.fixture
def count_queries() -> Callable[[sa.Engine], QueryCounter]:
    return QueryCounter


# -- signing in ------------------------------------------------------------------------------

PASSWORD = "correct horse battery staple"


class RememberingHasher(argon2.PasswordHasher):
    """argon2id with the product's parameters, remembering what it already computed.

    The suite creates and signs in over a thousand users, nearly all with PASSWORD, and
    each real hash or check costs about 0.2 s of CPU (64 MiB, 3 passes: by design). So
    PASSWORD is hashed once per worker (a real digest, with its own salt) and a check of
    a (digest, password) pair, a pure function, is computed once. Any other password is
    hashed for real, and a check never seen before runs argon2 for real."""

    _digest: str | None = None
    _checked: dict[tuple[str, str], bool | Exception] = {}  # one per worker, as _digest

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        if password != PASSWORD or salt is not None:
            return super().hash(password, salt=salt)
        if RememberingHasher._digest is None:
            RememberingHasher._digest = super().hash(password)
        return RememberingHasher._digest

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        key = (str(hash), str(password))
        if key not in self._checked:
            try:
                self._checked[key] = super().verify(hash, password)
            except argon2.exceptions.VerificationError as exc:  # mismatches too
                self._checked[key] = exc
        found = self._checked[key]
        if isinstance(found, Exception):
            raise type(found)(*found.args)
        return found


@pytest.fixture(scope="session", autouse=True)
def remembered_passwords() -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setattr("framework.auth.PasswordHasher", RememberingHasher)
    yield
    patch.undo()


def make_user(
    ficha: Any,
    username: str = "admin",
    *,
    role: str | None = "admin",
    name: str | None = None,
    **values: Any,
) -> Any:
    """A user who can sign in with PASSWORD."""
    user = ficha.records.create(
        "user",
        {"username": username, "name": name or username.capitalize(), "role": role, **values},
    )
    ficha.auth.set_password(user.id, PASSWORD)
    return user


def session_cookie(ficha: Any, username: str = "admin") -> str:
    """A signed session cookie for a user, as if they had signed in."""
    return str(ficha.auth.login(username, PASSWORD, ip="127.0.0.1").token)
