"""`ficha plugins`, `ficha plugin new` and `ficha pack list|add|remove`: a built-in plugin
that adds its commands through the `ficha_commands` hook, like any outside plugin."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from plugins import hookimpl
from plugins.options import project_option

SCAFFOLD = Path(__file__).parent / "scaffold"
PLUGIN_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


def _handled(fn: Any) -> Any:
    """Errors a user can fix are printed without a trace (as for every ficha command)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from cli import user_errors

        with user_errors():
            return fn(*args, **kwargs)

    return wrapper


# -- ficha plugins ---------------------------------------------------------------------------


@click.command(name="plugins")
@_handled
def plugins_command() -> None:
    """List the plugins Ficha loaded (built-in and installed) and the hooks each
    implements; plugins that failed to load are listed with the reason."""
    from rich.markup import escape
    from rich.table import Table

    from cli import console, err
    from plugins.manager import get_plugin_manager

    pm = get_plugin_manager()
    table = Table(title="Plugins", title_justify="left")
    table.add_column("plugin", style="bold")
    table.add_column("source")
    table.add_column("hooks")
    for name, plugin in pm.list_name_plugin():
        if name is None or plugin is None:  # pragma: no cover - pluggy's blocked entries
            continue
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        table.add_row(escape(name), escape(pm.source_of(name)), escape(", ".join(hooks)))
    console.print(table)
    for failure in pm.failures:
        err.print(
            f"[red]skipped[/red] [bold]{escape(failure.name)}[/bold]: {escape(failure.error)}",
            soft_wrap=True,
        )


# -- ficha plugin new --------------------------------------------------------------------------


@click.group(name="plugin")
def plugin_group() -> None:
    """Write a plugin: a Python package Ficha finds through its entry point."""


@plugin_group.command(name="new")
@click.argument("name")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to create it (default: ./NAME).",
)
@_handled
def plugin_new(name: str, folder: Path | None) -> None:
    """Create a plugin package NAME: pyproject.toml with its entry point, a module with
    one hook implementation (a rule action) and its test."""
    from cli import console

    written = scaffold_plugin(name, folder or Path(name))
    target = folder or Path(name)
    console.print(f"[green]Created[/green] {target}/: " + ", ".join(written))
    console.print(
        f"Next:\n  cd {target} && pip install -e .   # Ficha finds it through its entry point\n"
        "  ficha plugins                    # lists it with its hook\n"
        "  python -m pytest                 # runs its test"
    )


def scaffold_plugin(name: str, target: Path) -> list[str]:
    """Write the plugin package from plugins/scaffold/ into target; returns the files."""
    import importlib.util
    from string import Template

    from framework.errors import FichaError

    dist = name.strip().lower().replace("_", "-")
    if not PLUGIN_NAME_RE.match(dist):
        raise FichaError(
            f"'{name}' is not a usable plugin name: use lowercase letters, digits and "
            "dashes, starting with a letter (e.g. acme-sms)"
        )
    module = dist.replace("-", "_")
    if importlib.util.find_spec(module) is not None:
        raise FichaError(
            f"a Python module named '{module}' already exists here; choose another name "
            f"(e.g. {dist}-plugin)"
        )
    if target.exists() and any(target.iterdir()):
        raise FichaError(f"{target} is not empty; nothing was written")
    values = {"dist": dist, "module": module, "title": dist.replace("-", " ").capitalize()}
    written: list[str] = []
    for template in sorted(SCAFFOLD.rglob("*.tmpl")):
        relative = str(template.relative_to(SCAFFOLD))[: -len(".tmpl")].replace(
            "__module__", module
        )
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(Template(template.read_text(encoding="utf-8")).substitute(values))
        written.append(relative)
    return written


# -- ficha pack --------------------------------------------------------------------------------


@click.group(name="pack")
def pack_group() -> None:
    """See, add and remove the packs a project uses."""


@pack_group.command(name="list")
@project_option
@_handled
def pack_list(project: Path) -> None:
    """List the packs that can be used (built-in, installed, folders named in ficha.yaml)
    and mark those the project uses."""
    from rich.markup import escape
    from rich.table import Table

    from cli import console
    from framework.app import enabled_packs
    from framework.settings import Settings
    from modeler.keys import SYSTEM_PACK
    from plugins.manager import get_plugin_manager
    from plugins.packs import folder_pack, installed_packs, looks_like_path

    pm = get_plugin_manager()
    settings = Settings.load(project) if (project / "ficha.yaml").is_file() else None
    rows = [(p.pack, p.source) for p in installed_packs(pm) if p.pack.name != SYSTEM_PACK]
    if settings is not None:
        rows += [
            (folder_pack(entry, settings.project_dir), f"folder {entry}")
            for entry in settings.packs
            if looks_like_path(entry)
        ]
    used: dict[str, str] = {}
    if settings is not None:
        named = {_pack_name(entry, settings) for entry in settings.packs}
        for pack in enabled_packs(settings, pm):
            used[pack.name] = "yes" if pack.name in named else "required"
    table = Table(title="Packs", title_justify="left")
    for column in ("pack", "used", "version", "source", "requires", "description"):
        table.add_column(column)
    for pack, source in rows:
        table.add_row(
            f"[bold]{escape(pack.name)}[/bold]",
            used.get(pack.name, ""),
            escape(pack.version),
            escape(source),
            escape(", ".join(pack.requires)),
            escape(pack.description),
        )
    console.print(table)
    if settings is None:
        console.print(f"[dim]{project} is not a Ficha project: not showing which are used.[/dim]")


@pack_group.command(name="add")
@click.argument("pack")
@click.option("--migrate", "run_migrate", is_flag=True, help="Also apply the migration now.")
@project_option
@click.pass_context
@_handled
def pack_add(ctx: click.Context, pack: str, run_migrate: bool, project: Path) -> None:
    """Use PACK (a pack's name, or a folder path) in the project: adds it to ficha.yaml's
    packs, checks the model, then shows the migration (applied with --migrate)."""
    from cli import console
    from framework.settings import Settings

    settings = Settings.load(project)
    if pack in settings.packs:
        console.print(f"The project already uses {pack}; nothing was changed.")
        return
    _known_pack(pack, settings)
    _change_packs(ctx, settings, add=pack, allow_data_loss=False, run_migrate=run_migrate)


@pack_group.command(name="remove")
@click.argument("pack")
@click.option(
    "--allow-data-loss",
    is_flag=True,
    help="Remove it even though its tables and fields, with their data, will be deleted.",
)
@click.option("--migrate", "run_migrate", is_flag=True, help="Also apply the migration now.")
@project_option
@click.pass_context
@_handled
def pack_remove(
    ctx: click.Context, pack: str, allow_data_loss: bool, run_migrate: bool, project: Path
) -> None:
    """Stop using PACK: refused while another pack needs it, or when its data would be
    deleted without --allow-data-loss."""
    from framework.app import enabled_packs
    from framework.errors import FichaError
    from framework.settings import Settings
    from plugins.manager import get_plugin_manager

    settings = Settings.load(project)
    if pack not in settings.packs:
        raise FichaError(
            f"the project does not use '{pack}' (packs: {', '.join(settings.packs) or 'none'})"
        )
    pm = get_plugin_manager()
    name = _pack_name(pack, settings)
    needing = sorted(
        p.name for p in enabled_packs(settings, pm) if name in p.requires and p.name != name
    )
    if needing:
        raise FichaError(
            f"pack '{name}' is required by {', '.join(needing)}; remove "
            f"{'that' if len(needing) == 1 else 'those'} first"
        )
    _change_packs(
        ctx, settings, drop=pack, allow_data_loss=allow_data_loss, run_migrate=run_migrate
    )


def _pack_name(entry: str, settings: Any) -> str:
    from plugins.packs import folder_pack, looks_like_path

    return folder_pack(entry, settings.project_dir).name if looks_like_path(entry) else entry


def _known_pack(entry: str, settings: Any) -> None:
    from framework.app import available_packs
    from framework.errors import FichaError
    from modeler.problems import did_you_mean
    from plugins.manager import get_plugin_manager
    from plugins.packs import folder_pack, looks_like_path

    if looks_like_path(entry):
        folder_pack(entry, settings.project_dir)  # says what is wrong with the folder
        return
    known = available_packs(get_plugin_manager())
    if entry not in known:
        hint = did_you_mean(entry, known) or f"packs: {', '.join(sorted(known)) or 'none'}"
        raise FichaError(f"unknown pack '{entry}' ({hint}); 'ficha pack list' shows them all")


def _change_packs(
    ctx: click.Context,
    settings: Any,
    *,
    add: str | None = None,
    drop: str | None = None,
    allow_data_loss: bool,
    run_migrate: bool,
) -> None:
    """Edit ficha.yaml, load the project with it and plan the migration; put ficha.yaml
    back as it was when the model does not check or the plan is refused."""
    from cli import console, err, show_plan
    from framework.app import Ficha
    from framework.settings import Settings
    from plugins.packs import edit_pack_entries
    from storage.migrations import Options, plan

    project = settings.project_dir
    before = edit_pack_entries(project, add=add, drop=drop)
    settings_file = project / "ficha.yaml"
    what = f"Added {add} to" if add else f"Removed {drop} from"
    current = None  # no database yet: nothing to plan against
    try:
        ficha = Ficha.load(Settings.load(project))
        try:
            if ficha.storage.exists():
                current = plan(
                    ficha.storage,
                    ficha.settings.migrations_dir,
                    Options(allow_data_loss=allow_data_loss),
                )
        finally:
            ficha.close()
    except BaseException:
        settings_file.write_text(before, encoding="utf-8")
        err.print("[red]ficha.yaml was put back as it was.[/red]")
        raise
    if current is not None:
        show_plan(current)
        if current.refused or (current.destructive and not allow_data_loss):
            settings_file.write_text(before, encoding="utf-8")
            if current.destructive and not allow_data_loss:
                err.print(
                    f"[red]Nothing was changed:[/red] removing {drop} deletes the data "
                    "above; add --allow-data-loss to accept that (a backup is written first)."
                )
            else:
                err.print("[red]Nothing was changed.[/red]")
            sys.exit(1)
    console.print(f"[green]✓[/green] {what} ficha.yaml (packs)")
    if current is not None and current.empty:
        return
    if not run_migrate:
        if current is None:
            console.print("No database yet: 'ficha migrate' creates it.")
        else:
            flag = " --allow-data-loss" if current.destructive else ""
            console.print(f"Next: run 'ficha migrate{flag}' to apply the plan above.")
        return
    from cli import migrate

    ctx.invoke(
        migrate,
        project=project,
        plan_only=False,
        show_sql=False,
        undo=False,
        allow_data_loss=allow_data_loss,
        coerce=None,
        yes=True,
        message=f"pack {'add ' + add if add else 'remove ' + str(drop)}",
    )


@hookimpl
def ficha_commands(cli: click.Group) -> None:
    cli.add_command(plugins_command)
    cli.add_command(plugin_group)
    cli.add_command(pack_group)
