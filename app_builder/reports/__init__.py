"""Reports, dashboards and monitors in the screens, the `ficha report` command, and the
live updates of monitors — a built-in plugin, registered like any other.

Hook implementations only; the pages are in pages.py, live updates in live.py, the
command in command.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app_builder.reports.changes import note_change
from plugins import hookimpl

if TYPE_CHECKING:
    from collections.abc import Sequence

    import click
    from starlette.routing import BaseRoute
    from starlette_admin.views import BaseView

    from framework.app import Ficha
    from framework.records import RecordEvent


@hookimpl
def ficha_startup(ficha: Ficha) -> None:
    from app_builder.reports.live import install_change_feed
    from framework.reports import catalog_of

    catalog = catalog_of(ficha)  # a problem in reports/ stops the load, like objects/
    if catalog.monitors:
        install_change_feed(ficha)


@hookimpl
def ficha_record_events(events: Sequence[RecordEvent]) -> None:
    note_change(events[0].conn, *{event.object for event in events})


@hookimpl
def ficha_views(ficha: Ficha) -> list[BaseView]:
    from starlette_admin.views import DropDown

    from app_builder.reports.pages import DashboardPage, MonitorPage, ReportPage
    from framework.reports import catalog_of

    catalog = catalog_of(ficha)
    menus: list[Any] = []
    pages: list[tuple[str, str, list[Any]]] = [
        (
            "Dashboards",
            "fa fa-gauge",
            [DashboardPage(ficha, d) for d in catalog.dashboards.values()],
        ),
        ("Reports", "fa fa-chart-column", [ReportPage(ficha, r) for r in catalog.reports.values()]),
        (
            "Monitors",
            "fa fa-tower-broadcast",
            [MonitorPage(ficha, m) for m in catalog.monitors.values()],
        ),
    ]
    for label, icon, views in pages:
        if views:
            menus.append(DropDown(label, views=views, icon=icon))
    return menus


@hookimpl
def ficha_routes(ficha: Ficha) -> list[BaseRoute]:
    from starlette.routing import Route

    from app_builder.reports.events import monitor_events, script

    return [
        Route("/reports-assets/ficha-reports.js", script),
        Route("/monitors/{name}/events", monitor_events(ficha)),
    ]


@hookimpl
def ficha_commands(cli: click.Group) -> None:
    from app_builder.reports.command import report

    cli.add_command(report)
