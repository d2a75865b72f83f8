"""What every benchmark prints: the machine it ran on and a table of measures against
their targets, with the raw-SQL floor beside each."""

from __future__ import annotations

import math
import os
import platform
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata

from rich.console import Console
from rich.table import Table

from bench._timing import Samples, fmt_ms


@dataclass
class Result:
    """One measure of one benchmark on one database."""

    label: str
    target_ms: float | None
    ficha: Samples = field(default_factory=Samples)
    #: CPU time of this process per request: what the Python side (and SQLite, which
    #: runs in-process) costs, much less disturbed than wall time on a busy machine
    cpu: Samples = field(default_factory=Samples)
    raw: Samples = field(default_factory=Samples)
    statements: set[int] = field(default_factory=set)
    error: str | None = None
    note: str = ""

    @property
    def passed(self) -> bool | None:
        if self.error:
            return False
        if self.target_ms is None or not len(self.ficha):
            return None
        return self.ficha.p50 <= self.target_ms

    @property
    def verdict(self) -> str:
        if self.error:
            return "[bold red]ERROR[/]"
        if self.passed is None:
            return "[dim]no target[/]"
        if self.passed:
            return "[green]pass[/]"
        return f"[bold red]FAIL x{self.ficha.p50 / (self.target_ms or 1):.1f}[/]"


def machine_lines() -> list[str]:
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    model = ""
    try:
        with open("/proc/cpuinfo") as info:
            model = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                "",
            )
    except OSError:
        pass
    memory = ""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages * size / 2**30:.0f} GiB memory"
    except (ValueError, OSError):
        pass
    versions = ", ".join(
        f"{name} {_version(name)}"
        for name in ("sqlalchemy", "starlette", "starlette-admin", "psycopg")
    )
    return [
        f"machine: {usable} usable cores of {cores}{memory}; {model or platform.machine()}",
        f"python {platform.python_version()} on {platform.system()} {platform.release()}; "
        f"SQLite {sqlite3.sqlite_version}; {versions}",
    ]


def load_note(before: float, after: float) -> str:
    """The 1-minute load average around a run, flagged when other processes competed for
    the cores (every figure is then inflated, the raw-SQL floor included)."""
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
    text = f"load average {before:.1f} before, {after:.1f} after ({cores} cores)"
    if max(before, after) > cores * 0.75:
        return (
            f"[bold yellow]{text}: the machine was busy with other work; timings are "
            "inflated, run again on a quiet machine before trusting a FAIL[/]"
        )
    return f"[dim]{text}[/]"


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def results_table(title: str, results: Sequence[Result]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("measure")
    table.add_column("Ficha p50", justify="right")
    table.add_column("Ficha p95", justify="right")
    table.add_column("Ficha CPU p50", justify="right")
    table.add_column("raw SQL p50", justify="right")
    table.add_column("raw SQL p95", justify="right")
    table.add_column("queries", justify="right")
    table.add_column("n", justify="right")
    table.add_column("target p50", justify="right")
    table.add_column("result")
    for r in results:
        target = "—" if r.target_ms is None else f"≤ {r.target_ms:g} ms"
        queries = "/".join(str(n) for n in sorted(r.statements)) or "—"
        style = "red" if r.passed is False else None
        table.add_row(
            r.label + (f" [dim]({r.note})[/]" if r.note else ""),
            fmt_ms(r.ficha.p50),
            fmt_ms(r.ficha.p95),
            fmt_ms(r.cpu.p50),
            fmt_ms(r.raw.p50),
            fmt_ms(r.raw.p95),
            queries,
            str(len(r.ficha)),
            target,
            r.verdict,
            style=style,
        )
    return table


def print_failures(console: Console, title: str, results: Sequence[Result]) -> None:
    failed = [r for r in results if r.passed is False]
    if not failed:
        if any(r.passed for r in results):
            console.print(f"[green]{title}: every target met.[/]")
        return
    console.print(f"[bold red]{title}: {len(failed)} target(s) missed:[/]")
    for r in failed:
        if r.error:
            console.print(f"  [red]✗ {r.label}: {r.error}[/]")
            continue
        floor = r.raw.p50
        share = (
            ""
            if math.isnan(floor) or not r.ficha.p50
            else (f"; the SQL alone takes {fmt_ms(floor)} ({floor / r.ficha.p50:.0%} of it)")
        )
        console.print(
            f"  [red]✗ {r.label}: p50 {fmt_ms(r.ficha.p50)} > {r.target_ms:g} ms{share}[/]"
        )
