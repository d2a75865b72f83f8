"""The raw-SQL floor: the exact statements a screen ran, captured from SQLAlchemy as they
reached the driver, then replayed straight on the DBAPI (sqlite3, psycopg) on a plain
connection, with no pool, no SQLAlchemy and no Ficha. What a screen costs above this
floor is what Ficha, starlette-admin and the templates add."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from bench._timing import now_ms

#: Only reads are replayed; transaction control and pragmas are the driver's business.
READS = ("SELECT", "WITH")


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    params: Any


@dataclass
class Capture:
    """Collects the reads an engine sends to its driver while the block runs."""

    engine: sa.Engine
    statements: list[Statement] = field(default_factory=list)
    #: other statements to keep: the reports' PRAGMAs, part of what their SQL costs
    also: tuple[str, ...] = ()

    def _on(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if statement.lstrip()[:6].upper().startswith(READS + self.also):
            self.statements.append(Statement(statement, parameters))

    def __enter__(self) -> Capture:
        sa.event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._on)

    def take(self) -> list[Statement]:
        taken, self.statements = self.statements, []
        return taken


@dataclass
class Replayed:
    ms: float
    #: each statement's rows as dicts of column name → value
    results: list[list[dict[str, Any]]]


class RawRunner:
    """One DBAPI connection to the benchmark database, in autocommit."""

    def __init__(self, storage: Any) -> None:
        self.backend: str = storage.backend
        url: sa.URL = storage.url
        if self.backend == "sqlite":
            conn = sqlite3.connect(
                url.database or "", isolation_level=None, check_same_thread=False
            )
            # the same cache as Ficha's connections (storage.manager._sqlite_pragmas)
            conn.execute("PRAGMA cache_size=-65536")
            self.conn: Any = conn
        elif self.backend == "postgresql":
            import psycopg

            plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.conn = psycopg.connect(plain, autocommit=True)
        else:
            raise ValueError(f"no raw runner for {self.backend}")

    def run(self, statements: Sequence[Statement]) -> Replayed:
        fetched: list[tuple[list[str], list[Any]]] = []
        cursor = self.conn.cursor()
        try:
            started = now_ms()
            for st in statements:
                cursor.execute(st.sql, st.params)
                rows = cursor.fetchall()
                fetched.append(([d[0] for d in cursor.description or ()], rows))
            elapsed = now_ms() - started
        finally:
            cursor.close()
        results = [[dict(zip(names, row, strict=True)) for row in rows] for names, rows in fetched]
        return Replayed(elapsed, results)

    def scalar(self, sql: str) -> Any:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql)
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else row[0]

    def explain(self, statement: Statement) -> str:
        """The plan the database chooses for a captured statement (run for real on
        PostgreSQL, so the plan shows actual times)."""
        prefix = (
            "EXPLAIN QUERY PLAN " if self.backend == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
        )
        cursor = self.conn.cursor()
        try:
            cursor.execute(prefix + statement.sql, statement.params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if self.backend == "sqlite":
            return "\n".join(f"{'  ' * _depth(rows, r)}{r[-1]}" for r in rows)
        return "\n".join(str(r[0]) for r in rows)

    def close(self) -> None:
        self.conn.close()


def _depth(rows: list[Any], row: Any) -> int:
    """How deep a row of EXPLAIN QUERY PLAN sits (its parent chain)."""
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent in parents:
        depth, parent = depth + 1, parents[parent]
    return depth
