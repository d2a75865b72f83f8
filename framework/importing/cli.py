"""`ficha import` and `ficha export`: spreadsheets in and out from the command line, a
built-in plugin (it adds its commands through the `ficha_commands` hook)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from plugins import hookimpl
from plugins.options import project_option


@click.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--object", "object_name", help="The object to import into (else the mapping's).")
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The mapping YAML (columns → fields, key, links, children).",
)
@click.option(
    "--dry-run", is_flag=True, help="Do everything, save nothing, report what would happen."
)
@click.option(
    "--mode",
    type=click.Choice(["good_rows", "all_or_nothing"]),
    help="Save the good rows and report the bad ones (default), or all or nothing.",
)
@click.option(
    "--errors",
    "error_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the refused rows and why (default: FILE.errors.csv).",
)
@click.option("--batch", "batch_size", default=2000, show_default=True, help="Rows per batch.")
@project_option
def import_command(
    file: Path,
    object_name: str | None,
    mapping_file: Path | None,
    dry_run: bool,
    mode: str | None,
    error_file: Path | None,
    batch_size: int,
    project: Path,
) -> None:
    """Import a CSV or XLSX FILE: rows are checked and saved through the records service,
    refused rows are written with their reason to an error file."""
    from cli import user_errors

    with user_errors():
        _import(file, object_name, mapping_file, dry_run, mode, error_file, batch_size, project)


def _import(
    file: Path,
    object_name: str | None,
    mapping_file: Path | None,
    dry_run: bool,
    mode: str | None,
    error_file: Path | None,
    batch_size: int,
    project: Path,
) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from cli import _load, _require_migrated
    from framework.errors import FichaError
    from framework.importing.engine import Importer
    from framework.importing.mapping import load_mapping, mapping_from_dict
    from framework.importing.sources import SourceError, open_sheet
    from framework.records import Actor

    console = Console(highlight=False)
    ficha = _load(project)
    _require_migrated(ficha)
    if mapping_file is not None:
        mapping = load_mapping(mapping_file, ficha.model, Path.cwd())
        if object_name and object_name != mapping.object:
            raise FichaError(
                f"the mapping imports into {mapping.object}, not {object_name}; "
                "leave out --object or use another mapping"
            )
    elif object_name:
        try:
            sheet = open_sheet(file)
        except SourceError as exc:
            raise FichaError(str(exc)) from exc
        sheet.close()
        mapping = mapping_from_dict(
            {"object": object_name, "columns": same_names(ficha.model[object_name], sheet.headers)},
            ficha.model,
        )
    else:
        raise FichaError("say what to import into: --object NAME or --mapping FILE.yaml")
    target = error_file or file.with_name(file.name + ".errors.csv")
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeRemainingColumn(),
        console=console,
        transient=not sys.stdout.isatty(),
        disable=not sys.stdout.isatty(),
    ) as bar:
        task = bar.add_task(f"Importing {file.name}", total=1.0, rows="0")

        def progress(p: Any) -> None:
            bar.update(task, completed=p.done, rows=f"{p.rows:,}")

        importer = Importer(
            ficha,
            mapping,
            Actor(None, "ficha import", "cli"),
            dry_run=dry_run,
            mode=mode,
            batch_size=batch_size,
            error_file=target,
            progress=progress,
        )
        try:
            report = importer.run(file)
        except SourceError as exc:
            raise FichaError(str(exc)) from exc
        bar.update(task, completed=1.0)
    mark = "[green]✓[/green]" if report.ok else "[yellow]![/yellow]"
    console.print(f"{mark} {escape(report.summary())}", soft_wrap=True)
    for name, count in report.children.items():
        console.print(f"  {count:,} {escape(name)} records written", soft_wrap=True)
    console.print(
        f"  {report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s)", soft_wrap=True
    )
    for error in report.errors[:10]:
        console.print(f"  [yellow]{escape(str(error))}[/yellow]", soft_wrap=True)
    if report.failed > 10:
        console.print(f"  … and {report.failed - 10:,} more refused rows")
    if report.error_file:
        console.print(f"  Refused rows and why: {escape(report.error_file)}", soft_wrap=True)
    ficha.close()
    if report.failed and (report.rolled_back or not report.rows - report.failed):
        sys.exit(1)


def same_names(obj: Any, headers: list[str]) -> dict[str, str]:
    """Without a mapping, a column goes to the field of the same name or label."""
    by_name = {}
    for f in obj.fields.values():
        if f.kind == "has_many" or f.type == "autonumber":
            continue
        by_name[f.name.lower()] = f.name
        by_name[f.label.lower()] = f.name
    return {h: by_name[h.strip().lower()] for h in headers if h.strip().lower() in by_name}


@click.command(name="export")
@click.argument("object_name")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write: .csv or .xlsx.",
)
@click.option("--where", "where", help="A filter expression, e.g. 'segment == \"smb\"'.")
@click.option("--sort", "sort", help="Fields to sort by, e.g. -amount,name.")
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Name the columns as this import mapping does (a round trip).",
)
@project_option
def export_command(
    object_name: str,
    output: Path,
    where: str | None,
    sort: str | None,
    mapping_file: Path | None,
    project: Path,
) -> None:
    """Export the records of an object to CSV or XLSX (streamed, any size)."""
    from cli import user_errors

    with user_errors():
        from rich.console import Console

        from cli import _load
        from framework.exporting import Export, parse_sort, write_file
        from framework.importing.mapping import load_mapping
        from framework.records import Actor

        ficha = _load(project)
        mapping = load_mapping(mapping_file, ficha.model, Path.cwd()) if mapping_file else None
        export = Export(
            ficha,
            object_name,
            Actor(None, "ficha export", "cli"),
            where=where,
            sort=parse_sort(sort),
            mapping=mapping,
        )
        count = write_file(export, output)
        Console(highlight=False).print(f"[green]✓[/green] {count:,} records written to {output}")
        ficha.close()


@hookimpl
def ficha_commands(cli: click.Group) -> None:
    cli.add_command(import_command)
    cli.add_command(export_command)
