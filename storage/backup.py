"""Backups written before a migration removes data, so that nothing is lost for good.

SQLite: the whole database, copied with SQLite's online backup API (consistent even
while the application runs). PostgreSQL and MariaDB: a dump of the affected tables by
their own tools (pg_dump, mariadb-dump), restorable with psql / mariadb; where the
tool is missing, a portable dump written by Ficha (JSON lines: one header line with the
columns, then one line per row).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from storage.manager import StorageError, StorageManager


def write_backup(storage: StorageManager, tables: Sequence[str], folder: Path, label: str) -> Path:
    """Back up `tables` (all of the database on SQLite) and return the file written."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = Path(storage.url.database or "database").stem
    if storage.backend == "sqlite":
        path = folder / f"{name}-{stamp}-{label}.sqlite"
        _sqlite(storage, path)
        return path
    path = folder / f"{name}-{stamp}-{label}.sql"
    try:
        if storage.backend == "postgresql":
            _pg_dump(storage, tables, path)
        else:
            _maria_dump(storage, tables, path)
        return path
    except (OSError, subprocess.CalledProcessError):
        path.unlink(missing_ok=True)
    path = path.with_suffix(".jsonl")
    _portable(storage, tables, path)
    return path


def _sqlite(storage: StorageManager, path: Path) -> None:
    source = storage.url.database
    if not source or source == ":memory:":
        raise StorageError("an in-memory SQLite database cannot be backed up")
    src, dst = sqlite3.connect(source), sqlite3.connect(path)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _pg_dump(storage: StorageManager, tables: Sequence[str], path: Path) -> None:
    tool = shutil.which("pg_dump")
    if tool is None:
        raise OSError("pg_dump not found")
    url = storage.url
    with storage.read() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
    args = [
        tool,
        "--no-owner",
        "--format=plain",
        f"--file={path}",
        f"--host={url.host or 'localhost'}",
        f"--port={url.port or 5432}",
        f"--username={url.username or 'postgres'}",
        f"--dbname={url.database}",
    ]
    args += [f'--table="{schema}"."{t}"' for t in tables]
    env = {**os.environ, "PGPASSWORD": url.password or ""} if url.password else None
    subprocess.run(args, check=True, capture_output=True, env=env, timeout=3600)  # noqa: S603


def _maria_dump(storage: StorageManager, tables: Sequence[str], path: Path) -> None:
    tool = shutil.which("mariadb-dump") or shutil.which("mysqldump")
    if tool is None:
        raise OSError("mariadb-dump not found")
    url = storage.url
    args = [
        tool,
        "--single-transaction",
        f"--result-file={path}",
        f"--host={url.host or 'localhost'}",
        f"--port={url.port or 3306}",
        f"--user={url.username or 'root'}",
        str(url.database),
        *tables,
    ]
    env = {**os.environ, "MYSQL_PWD": url.password} if url.password else None
    subprocess.run(args, check=True, capture_output=True, env=env, timeout=3600)  # noqa: S603


def _portable(storage: StorageManager, tables: Sequence[str], path: Path) -> None:
    with storage.read() as conn, path.open("w", encoding="utf-8") as out:
        for name in tables:
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            out.write(json.dumps({"table": name, "columns": list(table.c.keys())}) + "\n")
            rows = conn.execution_options(stream_results=True, yield_per=5000).execute(
                sa.select(table).order_by(*table.primary_key.columns)
            )
            for row in rows:
                out.write(json.dumps(list(row), default=str) + "\n")
