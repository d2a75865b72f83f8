"""Every hook a Ficha plugin can implement, grouped by the phase in which it runs.

Implement a hook with `@plugins.hookimpl` in a module registered under the entry-point
group `ficha` (see docs/plugins.md). Each hook takes few, named, stable arguments.
Ficha's own packs (verticals/core …) use exactly these hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable
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

    Called once when a project is loaded, before its YAML is read. Return a list of
    `modeler.schema.PackInfo`, each naming a folder whose `objects/*.yaml` hold the
    pack's objects and extensions. A project uses a pack when its ficha.yaml lists the
    pack's `name` under `packs:`. All results are collected.
    """
    raise NotImplementedError


@hookspec
def ficha_field_types() -> list[FieldType]:
    """Contribute field types (`modeler.fieldtypes.FieldType`).

    Called once at start, before any YAML is read, so objects may use the new types.
    A type name already taken (by Ficha or another plugin) stops the start with an error
    naming both sources. All results are collected.
    """
    raise NotImplementedError


# -- runtime: records ----------------------------------------------------------------------


@hookspec
def ficha_actions() -> dict[str, Callable[[ActionContext], Any]]:
    """Contribute actions that business rules can run: name → function.

    Called once at start. A rule runs one with `- call: name` (or `- name: {…}`); the
    function gets a `framework.actions.ActionContext` (the record, the rule's options in
    `ctx.action.options`, the records service and the transaction's connection in
    `ctx.conn`). Raising refuses the change that fired the rule. All results are merged.
    """
    raise NotImplementedError


@hookspec
def ficha_record_event(event: RecordEvent) -> None:
    """Observe a record being created, updated, deleted or restored.

    Called inside the write's transaction, after the change and before the commit:
    raising refuses the whole change. `event.kind`, `event.object`, `event.record`,
    `event.before` and `event.changes` (field → (old, new)) describe it; `event.actor`
    says who and through which channel. Return value ignored.
    """


@hookspec
def ficha_services(ficha: Ficha) -> list[ServiceDef]:
    """Contribute services to the service manager (`ficha.services`).

    Called once per loaded project, after the model, storage and records service are
    ready and before `ficha_startup`. Return a list of `framework.services.ServiceDef`
    (name, implementation, interface — a `typing.Protocol` or abstract class the
    implementation is checked against —, version). A name already registered is an error
    unless the definition says `replace=True`; a missing method stops the start with an
    error naming it. Callers reach a service by name (`ficha.services.get("name")`).
    All results are collected, in plugin registration order (Ficha's own first).
    """
    raise NotImplementedError


# -- screens ----------------------------------------------------------------------------------


@hookspec
def ficha_routes(ficha: Ficha) -> list[BaseRoute]:
    """Add routes to the web application (an API, a public page …).

    Called each time the web application is built (again after a reload), with the loaded
    project. Return Starlette `Route`/`Mount` objects; they are served outside the
    screens' /admin prefix, behind the same sign-in middleware (`request.state.actor`
    and `request.state.who` say who is calling; None when nobody signed in). All
    results are collected.
    """
    raise NotImplementedError


@hookspec
def ficha_views(ficha: Ficha) -> list[BaseView]:
    """Add pages to the screens' menu (a report, a kanban, a dashboard …).

    Called each time the screens are built. Return starlette-admin views (`CustomView`,
    `Link`, `DropDown` …); they appear after the objects' menus, in plugin order. A view
    decides itself who may see it (`is_accessible(request)`). All results are collected.
    """
    raise NotImplementedError


# -- lifecycle --------------------------------------------------------------------------------


@hookspec
def ficha_startup(ficha: Ficha) -> None:
    """Called once the project is loaded (model, storage and services ready), before
    the web application or a command uses it. Return value ignored."""


@hookspec
def ficha_demo_data(context: DemoContext) -> None:
    """Fill the demo project with sample records of this plugin's packs.

    Called by `ficha demo` after the database is migrated, once per plugin; write
    through `context.records` and check `context.packs` for the packs in use.
    `context.size` says roughly how many main records to create. Return value ignored.
    """


# -- CLI ----------------------------------------------------------------------------------------


@hookspec
def ficha_commands(cli: click.Group) -> None:
    """Add commands to the `ficha` command line: `cli.add_command(my_command)`.

    Called once when the command line starts. Return value ignored.
    """
