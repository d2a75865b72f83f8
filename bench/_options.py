"""What a benchmark run was asked for (parsed by bench/__main__.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bench._data import DEFAULT_PG_ADMIN_URL


@dataclass(frozen=True)
class Options:
    dbs: tuple[str, ...] = ("sqlite", "postgresql")
    rows: int = 1_000_000
    requests: int = 30
    warmup: int = 3
    rebuild: bool = False
    #: measure keys to run (empty: all); each benchmark documents its own keys
    measures: tuple[str, ...] = ()
    explain: bool = False
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL
