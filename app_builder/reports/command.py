"""`ficha report NAME [--param k=v] [--format table|csv|xlsx]`: a report from the command
line, with full rights (the command line acts for the administrator). `--index` prints
the index that keeps the report fast on a big table instead (framework/reports/indexes.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from plugins.options import project_option


@click.command(name="report")
@click.argument("name", required=False)
@project_option
@click.option(
    "--param", "params", multiple=True, metavar="NAME=VALUE", help="A parameter (repeatable)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "xlsx"]),
    default="table",
    show_default=True,
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file."
)
@click.option(
    "--index",
    "advice",
    is_flag=True,
    help="Print the index to declare for this report to stay fast on a big table.",
)
def report(
    name: str | None,
    project: Path,
    params: tuple[str, ...],
    fmt: str,
    output: Path | None,
    advice: bool,
) -> None:
    """Run the report NAME (a file of reports/); without NAME, list the reports."""
    from cli import _load, console, user_errors

    with user_errors():
        _run(_load(project), name, params, fmt, output, console, advice)


def _run(
    ficha: Any,
    name: str | None,
    params: tuple[str, ...],
    fmt: str,
    output: Path | None,
    console: Any,
    advice: bool = False,
) -> None:
    from rich.markup import escape
    from rich.table import Table

    from framework.errors import FichaError
    from framework.records import Actor
    from framework.reports import catalog_of, run_report
    from framework.reports.export import table, to_csv, to_xlsx
    from modeler.problems import did_you_mean

    reports = catalog_of(ficha).reports
    if not name:
        for report in reports.values():
            console.print(f"{report.name}  [dim]{escape(report.spec.label)}[/dim]")
        if not reports:
            console.print("This project has no reports (reports/*.yaml).")
        return
    found = reports.get(name)
    if found is None:
        hint = did_you_mean(name, reports) or f"reports: {', '.join(reports) or 'none'}"
        raise FichaError(f"there is no report '{name}' ({hint})")
    if advice:
        _advise(ficha, found, console)
        return
    given: dict[str, str] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise FichaError(f"write parameters as NAME=VALUE, not '{item}'")
        given[key.strip()] = value
    who = ficha.permissions.who(Actor(None, "ficha report", "cli"))
    result = run_report(ficha, who, found, given)
    if fmt == "xlsx":
        target = output or Path(f"{name}.xlsx")
        target.write_bytes(to_xlsx(result))
        console.print(f"[green]✓[/green] written {target}")
        return
    if fmt == "csv":
        text = to_csv(result)
        if output is not None:
            output.write_text(text, encoding="utf-8")
            console.print(f"[green]✓[/green] written {output}")
        else:
            sys.stdout.write(text)
        return
    shown = table(result)
    grid = Table(title=found.spec.label, box=None)
    for i, header in enumerate(shown.headers):
        grid.add_column(escape(header), justify="right" if i >= len(found.rows) else "left")
    for row in shown.rows:
        grid.add_row(*[escape(c.text) for c in row])
    console.print(grid)
    if result.truncated:
        console.print("[yellow]Only the first groups are shown: narrow it with --param.[/yellow]")


def _advise(ficha: Any, report: Any, console: Any) -> None:
    from rich.markup import escape

    from framework.reports.indexes import advise

    found = advise(report, ficha.model)
    if found is None:
        console.print(
            f"{report.name} follows a link or groups by a computed value: no index of "
            f"{report.source} can hold what it reads."
        )
        return
    if found.served_by is not None:
        declared = found.served_by
        console.print(
            f"[green]✓[/green] {report.name} is served by the index declared at "
            f"{declared.pos} ({', '.join(declared.columns)}, live records)."
        )
        return
    console.print(
        f"For {report.name} to stay fast on a big table, declare in {found.file}:\n\n"
        f"{escape(found.yaml)}\n\nthen run ficha migrate. The index holds what the report "
        "groups by and reads, for the live records only; it costs a little on every save."
    )
