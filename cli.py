"""The `ficha` command line: a composition root, thin on purpose.

Every command loads the project the same way the web application does; errors the user
can fix are printed with file:line:column and a suggestion, and exit with status 1.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from framework.errors import FichaError, ModelError, SettingsError, StorageError
from modeler.keys import SYSTEM_PACK
from modeler.problems import Problem
from plugins.options import project_option

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def _version() -> str:
    try:
        return version("ficha")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+source"


def print_problems(problems: tuple[Problem, ...] | list[Problem]) -> None:
    ordered = sorted(problems, key=lambda p: (p.pos.file, p.pos.line, p.pos.column))
    for p in ordered:
        colour = "red" if p.severity == "error" else "yellow"
        label = "error" if p.severity == "error" else "warning"
        # Messages quote YAML ("packs: [core]"): escape them, or rich reads [core] as
        # markup and drops it.
        hint = f"\n    [dim]→ {escape(p.hint)}[/dim]" if p.hint else ""
        err.print(
            f"[bold]{escape(str(p.pos))}[/bold]: [{colour}]{label}[/{colour}] "
            f"{escape(p.message)} [dim]\\[{p.code}][/dim]{hint}",
            soft_wrap=True,
        )
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if errors:
        err.print(
            f"[red]{errors} error(s)[/red]"
            + (f", {warnings} warning(s)" if warnings else "")
            + "; nothing was changed."
        )


@contextlib.contextmanager
def user_errors(debug: bool = False) -> Iterator[None]:
    """Turn the errors a user can fix into messages and exit status 1, never a trace."""
    try:
        yield
    except (ModelError, SettingsError) as exc:
        print_problems(list(exc.problems))
        sys.exit(1)
    except (StorageError, FichaError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        sys.exit(1)
    except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
        raise
    except Exception as exc:
        if debug or os.environ.get("FICHA_DEBUG"):
            raise
        err.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {exc}\n"
            "[dim]This is a bug in Ficha or a plugin; run again with FICHA_DEBUG=1 "
            "to see where, and report it.[/dim]",
            soft_wrap=True,
        )
        sys.exit(2)


def handled(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with user_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _load(project: Path) -> Any:
    from framework.app import Ficha
    from framework.settings import Settings

    ficha = Ficha.load(Settings.load(project))
    # the database connections close with the command (many commands run in one test process)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(ficha.close)
    return ficha


class FichaCLI(click.Group):
    """Adds the commands plugins contribute through `ficha_commands`."""

    _plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if FichaCLI._plugins_loaded:
            return
        FichaCLI._plugins_loaded = True
        from plugins.manager import get_plugin_manager

        try:
            get_plugin_manager().hook.ficha_commands(cli=self)
        except Exception as exc:  # a broken plugin must not take the CLI down
            err.print(f"[yellow]warning:[/yellow] plugin commands not loaded: {exc}")

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._load_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command


@click.group(cls=FichaCLI, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", "-V", prog_name="ficha")
def cli() -> None:
    """Ficha: a CRM framework. Declare business objects in YAML; get tables, screens
    and an API.

    \b
    Start:   ficha init mycrm --pack core && cd mycrm
    Then:    ficha check && ficha migrate && ficha serve
    Or try:  ficha demo
    """


# -- init ----------------------------------------------------------------------------------


SETTINGS_TEMPLATE = """\
# Ficha project settings. Every key is explained in docs/admin-guide.md.
name: {name}
# SQLite by default; for PostgreSQL or MariaDB write their URL, e.g.
#   postgresql://user:password@host/dbname   mariadb://user:password@host/dbname
# (or set FICHA_DATABASE_URL, which wins over this line).
database: {database}
packs: [{packs}]
locale: es-ES          # phone numbers without +prefix are read as Spanish
timezone: Europe/Madrid
currency: EUR
"""

GITIGNORE = "data/\n"


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--pack", "packs", multiple=True, help="A pack to use, e.g. core (repeatable).")
@click.option("--name", help="The name shown in the screens (default: the folder name).")
@click.option(
    "--database", default="sqlite:///data/ficha.sqlite", show_default=True, help="Database URL."
)
@handled
def init(folder: Path, packs: tuple[str, ...], name: str | None, database: str) -> None:
    """Create a new project in FOLDER."""
    if (folder / "ficha.yaml").exists():
        raise click.ClickException(f"{folder}/ficha.yaml already exists; nothing was changed")
    _create_project(folder, packs, name, database)
    console.print(f"[green]Created[/green] {folder}/ ficha.yaml, objects/, migrations/")
    console.print(
        "Next: describe your objects in objects/*.yaml, then\n"
        f"  cd {folder} && ficha check && ficha migrate && ficha serve"
    )


def _create_project(folder: Path, packs: tuple[str, ...], name: str | None, database: str) -> None:
    from framework.app import available_packs
    from plugins.manager import get_plugin_manager

    known = available_packs(get_plugin_manager())
    for pack in packs:
        if pack not in known:
            from modeler.problems import did_you_mean

            hint = did_you_mean(pack, known) or f"installed packs: {', '.join(sorted(known))}"
            raise click.ClickException(f"unknown pack '{pack}' ({hint})")
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("objects", "migrations", "data"):
        (folder / sub).mkdir(exist_ok=True)
    (folder / "ficha.yaml").write_text(
        SETTINGS_TEMPLATE.format(
            name=name or folder.resolve().name, database=database, packs=", ".join(packs)
        )
    )
    (folder / ".gitignore").write_text(GITIGNORE)


# -- check ---------------------------------------------------------------------------------


@cli.command()
@project_option
@handled
def check(project: Path) -> None:
    """Check the project's YAML (and the database, if it exists) without changing anything.

    Prints every problem with file:line:column; exits 1 if there is an error."""
    from storage.drift import drift
    from storage.migrations import plan

    ficha = _load(project)
    if ficha.warnings:
        print_problems(ficha.warnings)
    model = ficha.model
    own = [o for o in model if o.pack != SYSTEM_PACK]
    fields = sum(len(o.fields) for o in own)
    packs = [p.name for p in model.packs if p.name != SYSTEM_PACK]
    console.print(
        f"[green]✓[/green] {len(own)} objects, {fields} fields, "
        f"packs: {', '.join(packs) or 'none'} (plus Ficha's users, teams and notifications)"
    )
    if not ficha.storage.exists():
        console.print("No database yet: 'ficha migrate' creates it.")
        return
    try:
        ficha.storage.check_connection()
    except StorageError as exc:
        err.print(f"[yellow]warning:[/yellow] {exc}")
        return
    differences = drift(ficha.storage)
    pending = plan(ficha.storage, ficha.settings.migrations_dir)
    if differences:
        console.print(
            "[yellow]warning: the database differs from what Ficha migrated it to "
            "(changed by hand?):[/yellow]"
        )
        for line in differences:
            console.print(f"  • {line}", soft_wrap=True)
    if not pending.empty:
        console.print(
            "[yellow]Run 'ficha migrate' to bring the database up to date "
            "('ficha migrate --plan' shows what it would do).[/yellow]"
        )
    elif not differences:
        console.print(f"[green]✓[/green] the database is up to date ({ficha.storage.display_url})")
    ficha.close()


# -- migrate -------------------------------------------------------------------------------


def show_plan(plan: Any) -> None:
    from rich.markup import escape as e  # values in messages may hold [brackets]

    if plan.pending:
        console.print("Revision files not yet applied to this database:")
        for line in plan.pending:
            console.print(f"  • {e(line)}", soft_wrap=True)
        if plan.resumed:
            console.print(
                f"  [yellow]an earlier run stopped after {len(plan.resumed)} step(s) of "
                f"the first one; ficha migrate finishes it[/yellow]"
            )
        for line in plan.pending_destructive:
            console.print(f"  [yellow]! deletes {e(line)}[/yellow]", soft_wrap=True)
    for step in plan.steps:
        if step.refused:
            console.print(
                f"  [red]✗ {e(step.description)}[/red]\n    {e(step.refused)}"
                + (f"\n    [dim]→ {e(step.hint)}[/dim]" if step.hint else ""),
                soft_wrap=True,
            )
            continue
        mark = "[yellow]![/yellow]" if step.destructive else "[green]+[/green]"
        if step.kind == "note":
            mark = "[yellow]•[/yellow]"
        console.print(f"  {mark} {e(step.description)}", soft_wrap=True)
        for note in step.notes:
            console.print(f"      [dim]{e(note)}[/dim]", soft_wrap=True)
        if step.destructive:
            console.print(f"      [yellow]deletes {e(step.destructive)}[/yellow]", soft_wrap=True)
    if plan.empty:
        console.print("[green]✓[/green] nothing to do: the database matches the model")


class _ProgressPrinter:
    """Shows long steps as they go (a line every few seconds, readable in a log too),
    then each one's rows per second."""

    def __init__(self) -> None:
        self.shown: dict[str, float] = {}

    def __call__(self, event: Any) -> None:
        import time

        if event.finished:
            self.shown.pop(event.label, None)
            console.print(
                f"  [green]✓[/green] {event.label}: {event.done:,} rows in "
                f"{event.seconds:.1f} s ({event.rows_per_second:,.0f} rows/s)"
            )
            return
        last = self.shown.setdefault(event.label, time.monotonic())
        if event.total and time.monotonic() - last >= 2:
            self.shown[event.label] = time.monotonic()
            console.print(
                f"    {event.label}: {event.done:,} of {event.total:,} rows "
                f"({100 * event.done // max(event.total, 1)}%)"
            )

    @staticmethod
    def notice(text: str) -> None:
        from rich.markup import escape

        console.print(f"[green]✓[/green] {escape(text)}", soft_wrap=True)


def _rollback(ficha: Any, plan_only: bool, allow_data_loss: bool) -> None:
    from rich.markup import escape as e

    from storage.rollback import rollback, rollback_plan
    from storage.runtime import RunContext

    found = rollback_plan(ficha.storage, ficha.settings.migrations_dir)
    if found.revision is not None:
        console.print(f"Roll back {found.revision.revision}: {e(found.revision.doc)}")
    for line in found.steps:
        console.print(f"  [green]-[/green] {e(line)}", soft_wrap=True)
    for line in found.removes:
        console.print(f"  [yellow]! deletes {e(line)}, entered since the migration[/yellow]")
    if found.refused:
        err.print(f"[red]cannot roll back:[/red] {e(found.refused)}", soft_wrap=True)
        if found.hint:
            err.print(f"[dim]→ {e(found.hint)}[/dim]", soft_wrap=True)
        sys.exit(1)
    if found.removes and not allow_data_loss:
        err.print(
            "[red]Nothing was changed:[/red] add --allow-data-loss to accept deleting "
            "that (a backup is written first)."
        )
        sys.exit(1)
    if plan_only:
        return
    done = rollback(
        ficha.storage,
        ficha.settings.migrations_dir,
        allow_data_loss=allow_data_loss,
        run=RunContext(reporter=_ProgressPrinter(), notice=_ProgressPrinter.notice),
    )
    assert done.revision is not None
    console.print(
        f"[green]✓ rolled back[/green] {done.revision.revision} (its file is now in "
        "migrations/rolled_back/).\n[yellow]The YAML still describes the change: put it "
        "back as it was (e.g. git checkout objects/), or the next 'ficha migrate' applies "
        "it again.[/yellow]"
    )


@cli.command()
@project_option
@click.option("--plan", "plan_only", is_flag=True, help="Show what would change; change nothing.")
@click.option(
    "--sql", "show_sql", is_flag=True, help="Also print the SQL it would run (changes nothing)."
)
@click.option(
    "--rollback",
    "undo",
    is_flag=True,
    help="Undo the last applied migration, where that is possible.",
)
@click.option(
    "--allow-data-loss",
    is_flag=True,
    help="Allow steps that delete data (a "
    "dropped field or object, values emptied); a backup is written first.",
)
@click.option(
    "--coerce",
    type=click.Choice(["null"]),
    help="'null': empty the values that do not convert to a new type, instead of refusing.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before deleting data.")
@click.option("-m", "--message", help="Describe the change (kept in the revision file).")
@handled
def migrate(
    project: Path,
    plan_only: bool,
    show_sql: bool,
    undo: bool,
    allow_data_loss: bool,
    coerce: str | None,
    yes: bool,
    message: str | None,
) -> None:
    """Bring the database up to the model: shows the plan, then applies it.

    Each applied change is kept as an Alembic revision file in migrations/. Nothing that
    deletes data happens without --allow-data-loss, and then a backup is written first."""
    from storage.migrations import MigrationRefused, Options, plan, sql
    from storage.migrations import migrate as run
    from storage.runtime import RunContext

    ficha = _load(project)
    console.print(f"Database: {ficha.storage.display_url}")
    if undo:
        _rollback(ficha, plan_only or show_sql, allow_data_loss)
        ficha.close()
        return
    options = Options(allow_data_loss=allow_data_loss, coerce_null=coerce == "null")
    current = plan(ficha.storage, ficha.settings.migrations_dir, options)
    show_plan(current)
    if current.refused:
        err.print("[red]Nothing was changed.[/red]")
        sys.exit(1)
    if current.pending_destructive and not allow_data_loss:
        err.print(
            "[red]Nothing was changed:[/red] these revision files delete data; run "
            "ficha migrate --allow-data-loss to apply them (a backup is written first)."
        )
        sys.exit(1)
    if show_sql:
        console.print(
            sql(ficha.storage, ficha.settings.migrations_dir, current),
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if plan_only or show_sql or current.empty:
        return
    if current.destructive and not yes and sys.stdin.isatty():
        click.confirm("This deletes data (a backup is written first). Continue?", abort=True)
    try:
        _, applied = run(
            ficha.storage,
            ficha.settings.migrations_dir,
            message,
            options=options,
            run=RunContext(
                reporter=_ProgressPrinter(),
                notice=_ProgressPrinter.notice,
                phone_region=ficha.settings.phone_region,
            ),
        )
    except MigrationRefused as exc:
        show_plan(exc.plan)
        from rich.markup import escape

        err.print(f"[red]Nothing was changed:[/red] {escape(str(exc))}", soft_wrap=True)
        sys.exit(1)
    console.print(f"[green]✓ applied[/green] {', '.join(applied)}")
    ficha.close()


# -- serve ---------------------------------------------------------------------------------


@cli.command()
@project_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--reload", is_flag=True, help="Pick up YAML changes without a restart.")
@handled
def serve(project: Path, host: str, port: int, reload: bool) -> None:
    """Serve the screens of the project."""
    ficha = _load(project)
    _require_migrated(ficha)
    _serve(ficha, host, port, reload)


def _require_migrated(ficha: Any) -> None:
    from storage.migrations import plan

    pending = plan(ficha.storage, ficha.settings.migrations_dir)
    if not pending.empty:
        show_plan(pending)
        raise FichaError("the database is not up to date with the model; run 'ficha migrate' first")


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _serve(ficha: Any, host: str, port: int, reload: bool, banner: str = "") -> None:
    import uvicorn

    if not _port_free(host, port):
        raise FichaError(
            f"port {port} on {host} is already in use (is another Ficha "
            f"running?); stop it, or choose another with --port"
        )
    from framework.app import create_app

    app = create_app(ficha.settings, reload=reload, ficha=ficha, scheduler=True)
    console.print(
        f"[bold green]Ficha[/bold green] serving [bold]{ficha.settings.name}[/bold] "
        f"on [link]http://{host}:{port}/[/link]"
        + (" (reloading on YAML changes)" if reload else "")
    )
    if banner:
        console.print(banner)
    uvicorn.run(app, host=host, port=port, log_level="warning")


# -- users ---------------------------------------------------------------------------------


@cli.group()
def user() -> None:
    """Add users, set passwords, disable accounts, issue API tokens."""


def _find_user(ficha: Any, username: str) -> Any:
    users = ficha.storage.table("user")
    with ficha.storage.read() as conn:
        found = ficha.reader.list(
            conn, "user", where=[sa.func.lower(users.c.username) == username.lower()], limit=1
        )
    if not found:
        raise FichaError(f"there is no user '{username}'")
    return found[0]


def _new_password(prompt: bool) -> str:
    if prompt:
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    import secrets

    return secrets.token_urlsafe(12)


@user.command(name="add")
@project_option
@click.argument("username")
@click.option("--name", help="Full name (default: the username).")
@click.option("--email")
@click.option("--role", help="A role of roles.yaml (admin when there is none).")
@click.option("--team", help="The team's name.")
@click.option(
    "--password", "ask", is_flag=True, help="Type the password instead of getting a random one."
)
@handled
def user_add(
    project: Path,
    username: str,
    name: str | None,
    email: str | None,
    role: str | None,
    team: str | None,
    ask: bool,
) -> None:
    """Create a user who must choose a new password at first sign-in."""
    from framework.records import Actor

    ficha = _load(project)
    _require_migrated(ficha)
    actor = Actor(None, "ficha user add", "cli")
    values: dict[str, Any] = {
        "username": username,
        "name": name or username,
        "email": email,
        "role": role,
    }
    if team:
        teams = ficha.storage.table("team")
        with ficha.storage.read() as conn:
            found = ficha.reader.list(conn, "team", where=[teams.c.name == team], limit=1)
        values["team"] = (
            found[0].id if found else ficha.records.create("team", {"name": team}, actor).id
        )
    created = ficha.records.create("user", values, actor)
    password = _new_password(ask)
    ficha.auth.set_password(created.id, password, must_change=True, actor=actor)
    console.print(
        f"[green]✓[/green] user [bold]{escape(username)}[/bold] created"
        + (
            ""
            if ask
            else f"; first password: [bold]{escape(password)}[/bold] "
            "(to be changed at first sign-in)"
        )
    )


@user.command(name="passwd")
@project_option
@click.argument("username")
@handled
def user_passwd(project: Path, username: str) -> None:
    """Set a new password (typed twice); the user keeps their sessions."""
    from framework.records import Actor

    ficha = _load(project)
    found = _find_user(ficha, username)
    ficha.auth.set_password(
        found.id, _new_password(True), actor=Actor(None, "ficha user passwd", "cli")
    )
    console.print(f"[green]✓[/green] password of {escape(username)} changed")


@user.command(name="disable")
@project_option
@click.argument("username")
@handled
def user_disable(project: Path, username: str) -> None:
    """Stop a user from signing in, and sign them out everywhere."""
    from framework.records import Actor

    ficha = _load(project)
    found = _find_user(ficha, username)
    actor = Actor(None, "ficha user disable", "cli")
    ficha.records.update("user", found.id, {"active": False}, actor)
    count = ficha.auth.logout_everywhere(found.id, actor)
    console.print(f"[green]✓[/green] {escape(username)} disabled; {count} session(s) ended")


@user.command(name="token")
@project_option
@click.argument("username")
@click.option("--name", "label", default="api", show_default=True, help="What it is for.")
@click.option("--role", help="Limit the token to this role.")
@click.option("--days", default=90, show_default=True, help="Days until it expires.")
@handled
def user_token(project: Path, username: str, label: str, role: str | None, days: int) -> None:
    """Issue an API token for a user (shown once; only its hash is kept)."""
    from framework.records import Actor

    ficha = _load(project)
    found = _find_user(ficha, username)
    token = ficha.auth.create_token(
        found.id, label, role=role, days=days, actor=Actor(None, "ficha user token", "cli")
    )
    console.print(f"Token for {escape(username)} ({escape(label)}, {days} days):\n{token}")


# -- personal data ---------------------------------------------------------------------------


@cli.group()
def person() -> None:
    """A person's data: export it all, or erase it (GDPR access and erasure requests)."""


@person.command(name="export")
@project_option
@click.argument("object_name", metavar="OBJECT")
@click.argument("ident", metavar="ID", type=int)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON here instead of printing it.",
)
@handled
def person_export(project: Path, object_name: str, ident: int, output: Path | None) -> None:
    """Everything held about one person, as one JSON file."""
    from framework.privacy import export_json
    from framework.records import Actor

    ficha = _load(project)
    text = export_json(ficha.records, object_name, ident)
    with ficha.storage.write() as conn:
        ficha.audit.log(
            conn,
            "personal_export",
            Actor(None, "ficha person export", "cli"),
            object_name=object_name,
            record_id=ident,
        )
    if output:
        output.write_text(text, encoding="utf-8")
        console.print(f"[green]✓[/green] written to {output}")
    else:
        click.echo(text)


@person.command(name="erase")
@project_option
@click.argument("object_name", metavar="OBJECT")
@click.argument("ident", metavar="ID", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handled
def person_erase(project: Path, object_name: str, ident: int, yes: bool) -> None:
    """Blank a person's personal fields for good (numbers and history stay)."""
    from framework.privacy import erase_person
    from framework.records import Actor

    ficha = _load(project)
    if not yes:
        click.confirm(
            f"Erase the personal data of {object_name} {ident}? This cannot be undone", abort=True
        )
    erased = erase_person(
        ficha.records, object_name, ident, Actor(None, "ficha person erase", "cli")
    )
    console.print(f"[green]✓[/green] erased: {', '.join(erased) or 'nothing personal'}")


# -- worker --------------------------------------------------------------------------------


@cli.command()
@project_option
@click.option("--interval", default=5.0, show_default=True, help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="Run what is due now, then stop.")
@handled
def worker(project: Path, interval: float, once: bool) -> None:
    """Run timed rules and jobs (as `ficha serve` does in the background). Several
    workers may run at once: each job is claimed in the database by one of them."""
    import time

    ficha = _load(project)
    _require_migrated(ficha)
    ficha.start_schedules()
    console.print(
        f"[green]Ficha worker[/green] {ficha.scheduler.worker_id} started "
        f"({len(ficha.behaviour.scheduled())} scheduled rules)"
    )
    try:
        while True:
            ran = ficha.scheduler.tick()
            if ran:
                console.print(f"ran {ran} job(s)")
            if once:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        console.print("stopped")


# -- demo ----------------------------------------------------------------------------------


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default="demo")
@click.option("--pack", "packs", multiple=True, default=("core",), show_default=True)
@click.option("--size", default=200, show_default=True, help="How many main records to make.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Create and fill the project, then stop.")
@handled
def demo(
    folder: Path, packs: tuple[str, ...], size: int, host: str, port: int, no_serve: bool
) -> None:
    """Create (once) a demo project with sample data in FOLDER and serve it."""
    from framework.app import DemoContext
    from storage.migrations import migrate as run

    if not (folder / "ficha.yaml").exists():
        _create_project(folder, packs, "Ficha demo CRM", "sqlite:///data/ficha.sqlite")
        console.print(f"[green]Created[/green] the demo project in {folder}/")
    ficha = _load(folder)
    _, applied = run(ficha.storage, ficha.settings.migrations_dir, "demo database")
    if applied:
        console.print(f"[green]✓[/green] database ready ({ficha.storage.display_url})")
    first = next((p.name for p in ficha.model.packs if p.name != SYSTEM_PACK), None)
    empty = True
    if first:
        with ficha.storage.read() as conn:
            some = next(iter(o for o in ficha.model if o.pack == first))
            empty = ficha.reader.count(conn, some.name, cap=1).value == 0
    login = _demo_login(ficha)
    if empty:
        with console.status("Filling the demo with sample records…"):
            ficha.pm.hook.ficha_demo_data(
                context=DemoContext(ficha, tuple(p.name for p in ficha.model.packs), size=size)
            )
        console.print("[green]✓[/green] sample records created")
    if no_serve:
        return
    _serve(
        ficha,
        host,
        port,
        reload=False,
        banner=f"Sign in as [bold]{login[0]}[/bold] with password [bold]{login[1]}[/bold]",
    )


DEMO_PASSWORD = "ficha-demo-2026"  # noqa: S105 - the published password of the demo


def _demo_login(ficha: Any) -> tuple[str, str]:
    """The demo's administrator (created once; the password is printed, not secret)."""
    users = ficha.storage.table("user")
    with ficha.storage.read() as conn:
        found = ficha.reader.list(conn, "user", where=[users.c.username == "admin"], limit=1)
    if not found:
        from framework.records import Actor

        admin = ficha.records.create(
            "user",
            {"username": "admin", "name": "Demo admin", "role": "admin"},
            Actor(None, "demo", "cli"),
        )
        ficha.auth.set_password(admin.id, DEMO_PASSWORD)
    return "admin", DEMO_PASSWORD


# -- objects ---------------------------------------------------------------------------------


@cli.command(name="objects")
@project_option
@handled
def list_objects(project: Path) -> None:
    """List the project's objects and their fields."""
    ficha = _load(project)
    table = Table("object", "pack", "fields", "title", box=None)
    for obj in ficha.model:
        table.add_row(
            obj.name, obj.pack, ", ".join(f"{f.name}:{f.type}" for f in obj), obj.title_field
        )
    console.print(table)


def main() -> None:
    cli(prog_name="ficha")


if __name__ == "__main__":
    main()
