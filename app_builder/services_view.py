"""The admin's Services page: every registered service — its name, the interface it is
checked against, the implementation and version serving it now, and its health, asked
when the page opens (a legacy system that is down shows here first). A built-in plugin,
registered through `ficha_views` like any outside plugin's page; administrators only."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette_admin import route

from app_builder.pages.base import PageView
from app_builder.pages.reads import who_of
from plugins import hookimpl

if TYPE_CHECKING:
    from starlette_admin.views import BaseView

    from framework.app import Ficha


class ServicesView(PageView):
    menu_label = "Services"
    icon = "fa fa-plug"
    path = "/services"
    route_name = "services"

    def is_accessible(self, request: Request) -> bool:
        who = who_of(request, self.ficha)
        return who.role is not None and who.role.everything

    def title(self, request: Request) -> str:
        return "Services"

    @route("")
    async def index(self, request: Request) -> Response:
        services = self.ficha.services

        def check() -> list[dict[str, Any]]:
            rows = []
            for registration in services:
                report = services.health(registration.name)
                rows.append(
                    {
                        "name": registration.name,
                        "description": registration.description,
                        "interface": registration.interface_name,
                        "implementation": registration.implementation_name,
                        "version": registration.version,
                        "source": registration.source or "Ficha",
                        "replaced": len(services.history(registration.name)) - 1,
                        "ok": report.ok,
                        "detail": report.detail,
                        "checked_at": dt.datetime.fromtimestamp(report.checked_at).strftime(
                            "%Y-%m-%d %H:%M:%S"
                        ),
                    }
                )
            return rows

        rows = await self.run(check)
        down = sum(1 for r in rows if not r["ok"])
        return self.render(request, "pages/services.html", {"rows": rows, "down": down})


@hookimpl
def ficha_views(ficha: Ficha) -> list[BaseView]:
    return [ServicesView(ficha)]
