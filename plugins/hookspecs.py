"""Every hook a Ficha plugin can implement, grouped by the phase in which it runs.

Implement a hook with `@plugins.hookimpl` in a module registered under the entry-point
group `ficha` (see docs/plugins.md). Each hook takes few, named, stable arguments.
Ficha's own packs (verticals/core …) use exactly these hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    import click
    from starlette.routing import BaseRoute
    from starlette_admin.views import BaseView

    from framework.actions import ActionContext
    from framework.app import DemoContext, Ficha
    from framework.records import RecordEvent
    from framework.services import ServiceDef
    from modeler.fieldtypes import FieldType
    from modeler.schema import PackInfo

hookspec = pluggy.HookspecMarker("ficha")

# -- model: what the YAML may contain ------------------------------------------------------


@hookspec
def ficha_packs() -> list[PackInfo]:
    """Declare the packs this plugin provides.

    When: each time a project is loaded (and by `ficha pack list`), before its YAML is
    read.
    Arguments: none.
    Returns: a list of `modeler.schema.PackInfo`, each naming a folder whose
    `objects/*.yaml` hold the pack's objects and extensions (`extends:`), and the packs
    it `requires`. A project uses a pack when its ficha.yaml lists the pack's `name`
    under `packs:` (`ficha pack add NAME` writes it there).
    Results: all collected (not first-result). Two packs of the same name: the plugin
    registered first wins (Ficha's own, then installed plugins in entry-point order).
    """
    raise NotImplementedError


@hookspec
def ficha_field_types() -> list[FieldType]:
    """Contribute field types (`modeler.fieldtypes.FieldType`).

    When: each time a project is loaded, before any YAML is read, so objects may use the
    new types (`type: iban`).
    Arguments: none.
    Returns: a list of `FieldType`: its name, description, Python and SQL types, the
    `coerce(field, value, ctx)` function that turns raw input (a form string, a JSON
    value, a spreadsheet cell) into a checked value or raises `ValueError` with the
    reason a user reads, and the widget used in forms.
    Results: all collected (not first-result). A type name already taken (by Ficha or
    another plugin) stops the start with an error naming both sources.
    """
    raise NotImplementedError


# -- runtime: records ----------------------------------------------------------------------


@hookspec
def ficha_actions() -> dict[str, Callable[[ActionContext], Any]]:
    """Contribute actions that business rules can run: name → function.

    When: each time a project is loaded, before its rules are compiled (so `ficha check`
    refuses a rule calling an action nobody provides).
    Arguments: none.
    Returns: a dict of action name → function. A rule runs one with `- call: name`,
    `- call: {action: name, …}` or `- name: {…}`; the function gets a
    `framework.actions.ActionContext` (the record, the rule's options in
    `ctx.action.options`, the records service in `ctx.records` and the transaction's
    connection in `ctx.conn`: write through `ctx.records` with `conn=ctx.conn`).
    Raising refuses the change that fired the rule.
    Results: all merged into one dict (not first-result). An action name two plugins
    give: the plugin registered first wins (Ficha's own, then installed plugins).
    """
    raise NotImplementedError


@hookspec
def ficha_record_event(event: RecordEvent) -> None:
    """Observe a record being created, updated, deleted or restored.

    When: inside the write's transaction, after the change is written and audited and
    before the business rules react and the commit.
    Arguments: `event` (`framework.records.RecordEvent`): `event.kind`, `event.object`,
    `event.record`, `event.before` and `event.changes` (field → (old, new)) describe the
    change; `event.actor` says who and through which channel.
    Returns: nothing (ignored). Raising refuses the whole change.
    Results: every plugin is called (not first-result).
    """


@hookspec
def ficha_record_events(events: Sequence[RecordEvent]) -> None:
    """Observe all the records one write changed, in one call.

    When: where `ficha_record_event` is called, once per write instead of once per
    record, just before `ficha_record_event` for each of them: with the one event of a
    single create, update, delete or restore, and with every event of a batch (an import
    batch, a bulk API call) at once. Implement it instead of `ficha_record_event` for work
    done once per write (marking a cache stale, queueing one notice), which an import of
    a million rows would otherwise do a million times.
    Arguments: `events`, the write's `framework.records.RecordEvent`s in the order the
    changes were made; they share the write's connection (`events[0].conn`).
    Returns: nothing (ignored). Raising refuses the whole write.
    Results: every plugin is called (not first-result).
    """


@hookspec
def ficha_services(ficha: Ficha) -> list[ServiceDef]:
    """Contribute services to the service manager (`ficha.services`).

    When: once per loaded project, after the model, storage and records service are
    ready and before `ficha_startup`.
    Arguments: `ficha`, the loaded project (`framework.app.Ficha`).
    Returns: a list of `framework.services.ServiceDef` (name, implementation,
    interface — a `typing.Protocol` or abstract class the implementation is checked
    against —, version). A name already registered is an error unless the definition
    says `replace=True`; a missing method stops the start with an error naming it.
    Callers reach a service by name (`ficha.services.get("name")`).
    Results: all collected, in plugin registration order, Ficha's own first (not
    first-result).
    """
    raise NotImplementedError


# -- screens ----------------------------------------------------------------------------------


@hookspec
def ficha_routes(ficha: Ficha) -> list[BaseRoute]:
    """Add routes to the web application (an API, a public page …).

    When: each time the web application is built (again after a reload).
    Arguments: `ficha`, the loaded project.
    Returns: Starlette `Route`/`Mount` objects; they are served outside the screens'
    /admin prefix, behind the same sign-in middleware (`request.state.actor` and
    `request.state.who` say who is calling; None when nobody signed in).
    Results: all collected (not first-result), the plugin registered last first
    (pluggy's order): an installed plugin's routes come before Ficha's own.
    """
    raise NotImplementedError


@hookspec
def ficha_views(ficha: Ficha) -> list[BaseView]:
    """Add pages to the screens' menu (a report, a kanban, a dashboard …).

    When: each time the screens are built.
    Arguments: `ficha`, the loaded project.
    Returns: starlette-admin views (`CustomView`, `Link`, `DropDown` …); they appear
    after the objects' menus. A view decides itself who may see it
    (`is_accessible(request)`).
    Results: all collected (not first-result), the plugin registered last first
    (pluggy's order): an installed plugin's pages come before Ficha's own.
    """
    raise NotImplementedError


# -- lifecycle --------------------------------------------------------------------------------


@hookspec
def ficha_startup(ficha: Ficha) -> None:
    """React to a project being loaded (start a client, check a connection …).

    When: once the project is loaded (model, storage, services ready), before the web
    application or a command uses it.
    Arguments: `ficha`, the loaded project.
    Returns: nothing (ignored). Raising stops the start with the error.
    Results: every plugin is called (not first-result).
    """


@hookspec
def ficha_demo_data(context: DemoContext) -> None:
    """Fill the demo project with sample records of this plugin's packs.

    When: by `ficha demo`, after the database is migrated, once per plugin.
    Arguments: `context` (`framework.app.DemoContext`): write through
    `context.records`, check `context.packs` for the packs in use; `context.size` says
    roughly how many main records to create and `context.random` is seeded.
    Returns: nothing (ignored).
    Results: every plugin is called (not first-result).
    """


# -- CLI ----------------------------------------------------------------------------------------


@hookspec
def ficha_commands(cli: click.Group) -> None:
    """Add commands to the `ficha` command line: `cli.add_command(my_command)`.

    When: once, when the command line looks up a command it does not know or lists them
    (`ficha --help`).
    Arguments: `cli`, the `click.Group` of the `ficha` command.
    Returns: nothing (ignored).
    Results: every plugin is called (not first-result).
    """
