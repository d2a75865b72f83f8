"""Migrated databases kept as templates: a test that migrates a model this worker already
migrated on the same database server gets a copy of the result instead of a second run.

Dozens of tests start from the same model (each parametrisation of a module's fixture):
planning, rendering and applying the same first revision again takes most of their
set-up (about a second, several on MariaDB, where each DDL statement commits). The first
migration of a model is real and is kept: its revision files, and the database it made —
on SQLite the file itself, elsewhere every statement it wrote, in order, with its
parameters. A copy gets the same files and, on a database of its own as before, the
same tables and rows: SQLite by the backup API, PostgreSQL and MariaDB by running the
recorded statements again (the reads the migration made to decide what to write are
not needed twice). Only a fresh project on an empty database is copied; the key is the
model's snapshot and the DDL of every table, so a different model, plugin or field type
is migrated for real.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

#: statements that only read; a migration's other statements are replayed
READS = ("SELECT", "SHOW", "DESCRIBE", "PRAGMA", "EXPLAIN")


@dataclass
class Template:
    revisions: dict[str, bytes]  # the migrations folder, file by file
    sqlite_file: Path | None = None
    #: (statement, parameters, executemany, without parameters) as the driver got them
    writes: list[tuple[str, Any, bool, bool]] = field(default_factory=list)


class Templates:
    """The templates of one test worker (one process), by model and database server."""

    def __init__(self) -> None:
        self.made: dict[str, Template] = {}
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def migrate(self, ficha: Any) -> None:
        """Bring a loaded project's database to its model: copied from a template when
        this worker migrated the same model before, migrated (and kept) otherwise."""
        from storage.migrations import migrate

        migrations_dir = ficha.settings.migrations_dir
        key = self._key(ficha) if self._fresh(ficha) else None
        if key is None:
            migrate(ficha.storage, migrations_dir)
            return
        found = self.made.get(key)
        if found is not None:
            self._copy(found, ficha)
            return
        with self._recording(ficha.storage.engine) as writes:
            migrate(ficha.storage, migrations_dir)
        revisions = {p.name: p.read_bytes() for p in migrations_dir.iterdir() if p.is_file()}
        template = Template(revisions, writes=writes)
        if ficha.storage.backend == "sqlite":
            template.writes = []
            template.sqlite_file = self._folder_path() / f"{key}.sqlite"
            self._sqlite_backup(ficha.storage.engine, template.sqlite_file, into_file=True)
        self.made[key] = template

    # -- what makes a template usable -------------------------------------------------------

    @staticmethod
    def _fresh(ficha: Any) -> bool:
        folder = ficha.settings.migrations_dir
        if folder.is_dir() and any(folder.iterdir()):
            return False
        if any(k.startswith("FICHA_TEST_") for k in os.environ):
            return False  # a test steering the migration itself (pausing, failing) runs it
        with ficha.storage.read() as conn:
            return not sa.inspect(conn).get_table_names()

    @staticmethod
    def _key(ficha: Any) -> str:
        from storage.snapshot import snapshot

        storage = ficha.storage
        dialect = storage.engine.dialect
        parts = [storage.backend, json.dumps(snapshot(storage.model), sort_keys=True, default=str)]
        parts += sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("FICHA_"))
        for table in storage.tables.metadata.sorted_tables:
            parts.append(str(sa.schema.CreateTable(table).compile(dialect=dialect)))
            parts += sorted(
                str(sa.schema.CreateIndex(index).compile(dialect=dialect))
                for index in table.indexes
            )
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    # -- recording and copying ----------------------------------------------------------------

    @staticmethod
    @contextlib.contextmanager
    def _recording(engine: sa.Engine) -> Iterator[list[tuple[str, Any, bool, bool]]]:
        writes: list[tuple[str, Any, bool, bool]] = []

        def record(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
        ) -> None:
            if not statement.lstrip().upper().startswith(READS):
                bare = not parameters and bool(getattr(context, "no_parameters", False))
                writes.append((statement, parameters, many, bare))

        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            yield writes
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)

    def _copy(self, template: Template, ficha: Any) -> None:
        folder = ficha.settings.migrations_dir
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in template.revisions.items():
            (folder / name).write_bytes(content)
        if template.sqlite_file is not None:
            self._sqlite_backup(ficha.storage.engine, template.sqlite_file, into_file=False)
            return
        raw = ficha.storage.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement, parameters, many, bare in template.writes:
                if many:
                    cursor.executemany(statement, parameters)
                elif bare:
                    cursor.execute(statement)
                else:
                    cursor.execute(statement, parameters)
            cursor.close()
            raw.commit()
        finally:
            raw.close()

    @staticmethod
    def _sqlite_backup(engine: sa.Engine, file: Path, *, into_file: bool) -> None:
        """SQLite's backup API, between the project's database and a template file (it
        copies a database in WAL mode consistently, with other connections open)."""
        raw = engine.raw_connection()
        other = sqlite3.connect(file)
        try:
            live: Any = raw.driver_connection
            if into_file:
                live.backup(other)
            else:
                other.backup(live)
        finally:
            other.close()
            raw.close()

    def _folder_path(self) -> Path:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="ficha-templates-")
        return Path(self._folder.name)


#: one set per worker process
TEMPLATES = Templates()
