"""The pages: a report (chart, table, parameters, exports, a printable page), a dashboard
(a grid of report widgets and KPI tiles), a monitor (live tiles and lists). Each is a
starlette-admin CustomView, so it sits in the menu and the screens' layout."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette_admin.routing import route
from starlette_admin.views import CustomView

from app_builder.reports.charts import cell_link, chart
from app_builder.screens import actor_for
from framework.errors import PermissionDenied
from framework.permissions import Who
from framework.reports import BadParameter, catalog_of, run_report
from framework.reports.access import may_run, refusal
from framework.reports.compile import Monitor, Report
from framework.reports.export import format_value, table, to_csv, to_xlsx
from framework.reports.indexes import advise
from framework.reports.params import as_text, resolve
from framework.reports.query import MAX_GROUPS, ReportResult
from framework.reports.spec import DashboardDef

if TYPE_CHECKING:
    from framework.app import Ficha

TEMPLATES = Path(__file__).parent / "templates"
SCRIPT_URL = "/reports-assets/ficha-reports.js"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
# JSON inside <script type="application/json">: "<" escaped, so no "</script>" ends it
_env.filters["tojson"] = lambda value: Markup(  # noqa: S704
    json.dumps(value, default=str).replace("<", "\\u003c")
)
_ids = itertools.count()
#: a report page slower than this tells an administrator which index would help
SLOW_REPORT_MS = 1000.0


def render(name: str, **context: Any) -> str:
    return _env.get_template(name).render(**context)


def who_of(ficha: Ficha, request: Request) -> Who:
    who = getattr(request.state, "who", None)
    return who if who is not None else ficha.permissions.who(actor_for(request))


def apexcharts_url(request: Request) -> str:
    # the copy starlette-admin ships (its chart widget uses it): served by Ficha itself
    return str(request.url_for("admin:static", path="js/vendor/apexcharts.min.js"))


class _Page(CustomView):
    def __init__(self, ficha: Ficha, label: str, icon: str, path: str) -> None:
        super().__init__(menu_label=label, icon=icon, path=path, route_name=f"ficha{path}")
        self.ficha = ficha
        self.label = label
        self.identity = path.strip("/").replace("/", "-")

    def title(self, request: Request) -> str:
        return self.label

    def _page(self, request: Request, html: str) -> Response:
        admin: Any = self._admin
        return admin._template_response(
            request=request,
            name="index.html",
            context={
                "title": self.label,
                "widget": None,
                "widget_html": Markup(html),  # noqa: S704 - rendered by our autoescaping env
                "widget_additional_css": [],
                "widget_additional_js": [apexcharts_url(request), SCRIPT_URL],
            },
        )


def _kpis(result: ReportResult) -> list[dict[str, Any]]:
    if result.report.rows or not result.groups:
        return []
    group = result.groups[0]
    return [
        {"name": m.name, "label": m.spec.label, "text": format_value(m, group.values[m.name])}
        for m in result.measures
    ]


class ReportPage(_Page):
    def __init__(self, ficha: Ficha, report: Report) -> None:
        super().__init__(ficha, report.spec.label, "fa fa-chart-column", f"/reports/{report.name}")
        self.report = report

    def is_accessible(self, request: Request) -> bool:
        return may_run(self.ficha, who_of(self.ficha, request), self.report)

    def _given(self, request: Request) -> dict[str, str]:
        names = {p.name for p in self.report.spec.params}
        return {k: v for k, v in request.query_params.items() if k in names}

    async def _run(self, request: Request) -> ReportResult:
        who = who_of(self.ficha, request)
        given = self._given(request)
        return await anyio.to_thread.run_sync(
            lambda: run_report(self.ficha, who, self.report, given)
        )

    def _links(self, request: Request) -> dict[str, str]:
        query = urlencode(self._given(request))
        base = f"/admin{self.path}"
        return {
            kind: f"{base}/{kind}" + (f"?{query}" if query else "")
            for kind in ("csv", "xlsx", "print")
        }

    def _advice(self, request: Request, took_ms: float) -> dict[str, Any] | None:
        """For an administrator, after a slow run: the index that would keep it fast."""
        if took_ms < SLOW_REPORT_MS:
            return None
        if not self.ficha.permissions.trusted(who_of(self.ficha, request)):
            return None
        found = advise(self.report, self.ficha.model)
        if found is None or found.served_by is not None:
            return None
        return {"seconds": took_ms / 1000, "file": found.file, "yaml": found.yaml}

    @route("")
    async def index(self, request: Request) -> Response:
        result: ReportResult | None = None
        error = ""
        started = time.perf_counter()
        try:
            result = await self._run(request)
        except (BadParameter, PermissionDenied) as exc:
            error = str(exc)
        took_ms = (time.perf_counter() - started) * 1000
        values = {
            p.name: request.query_params.get(p.name, p.default or "")
            for p in self.report.spec.params
        }
        if result is not None:
            values = {k: as_text(v) for k, v in result.params.items()}
        html = render(
            "report.html",
            report=self.report,
            result=result,
            error=error,
            values=values,
            links=self._links(request),
            kpis=_kpis(result) if result is not None else [],
            chart=chart(result) if result is not None else None,
            chart_id=f"chart-{next(_ids)}",
            table=table(result) if result is not None else None,
            drill=cell_link(result) if result is not None else None,
            truncated=result.truncated if result is not None else False,
            max_groups=MAX_GROUPS,
            advice=self._advice(request, took_ms) if result is not None else None,
        )
        return self._page(request, html)

    async def _export(self, request: Request, kind: str) -> Response:
        try:
            result = await self._run(request)
        except (BadParameter, PermissionDenied) as exc:
            return HTMLResponse(str(exc), status_code=400)
        stamp = dt.date.today().isoformat()
        if kind == "csv":
            body: bytes = to_csv(result).encode("utf-8")
            media = "text/csv; charset=utf-8"
        else:
            body = await anyio.to_thread.run_sync(lambda: to_xlsx(result))
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        filename = f"{self.report.name}-{stamp}.{kind}"
        return Response(
            body,
            media_type=media,
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )

    @route("/csv")
    async def csv(self, request: Request) -> Response:
        return await self._export(request, "csv")

    @route("/xlsx")
    async def xlsx(self, request: Request) -> Response:
        return await self._export(request, "xlsx")

    @route("/print")
    async def printable(self, request: Request) -> Response:
        try:
            result = await self._run(request)
        except (BadParameter, PermissionDenied) as exc:
            return HTMLResponse(str(exc), status_code=400)
        params = ", ".join(
            f"{p.label}: {as_text(result.params.get(p.name))}"
            for p in self.report.spec.params
            if result.params.get(p.name) is not None
        )
        html = render(
            "print.html",
            report=self.report,
            table=table(result),
            chart=chart(result),
            chart_id="chart-print",
            params_text=params,
            printed_at=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            apexcharts=apexcharts_url(request),
            script=SCRIPT_URL,
        )
        return HTMLResponse(html)


class DashboardPage(_Page):
    def __init__(self, ficha: Ficha, dashboard: DashboardDef) -> None:
        super().__init__(ficha, dashboard.label, "fa fa-gauge", f"/dashboards/{dashboard.name}")
        self.dashboard = dashboard

    def is_accessible(self, request: Request) -> bool:
        who = who_of(self.ficha, request)
        roles = self.dashboard.roles
        return (
            not roles
            or self.ficha.permissions.trusted(who)
            or (who.role is not None and who.role.name in roles)
        )

    def _widgets(self, who: Who) -> list[dict[str, Any]]:
        reports = catalog_of(self.ficha).reports
        found = []
        for w in self.dashboard.widgets:
            report = reports[w.report]
            if not may_run(self.ficha, who, report):
                continue
            query = urlencode(dict(w.params))
            link = f"/admin/reports/{report.name}" + (f"?{query}" if query else "")
            item: dict[str, Any] = {
                "kind": w.kind,
                "width": w.width,
                "report": report.name,
                "link": link,
                "label": w.label or report.spec.label,
            }
            try:
                if w.kind == "kpi":
                    whole = dataclasses.replace(report, rows=(), columns=())
                    result = run_report(self.ficha, who, whole, dict(w.params))
                    measure = report.measure(w.measure or report.measures[0].name)
                    value = result.groups[0].values[measure.name] if result.groups else None
                    item["text"] = format_value(measure, value)
                    item["label"] = w.label or measure.spec.label
                else:
                    result = run_report(self.ficha, who, report, dict(w.params))
                    item["chart"] = chart(result, "table" if w.kind == "table" else None, 260)
                    item["chart_id"] = f"chart-{next(_ids)}"
                    item["table"] = table(result)
                    item["drill"] = cell_link(result)
                    if item["chart"] is None:
                        item["kind"] = "table"
            except (BadParameter, PermissionDenied) as exc:
                item["error"] = str(exc)
            found.append(item)
        return found

    @route("")
    async def index(self, request: Request) -> Response:
        who = who_of(self.ficha, request)
        widgets = await anyio.to_thread.run_sync(lambda: self._widgets(who))
        return self._page(
            request, render("dashboard.html", dashboard=self.dashboard, widgets=widgets)
        )


def monitor_refusal(ficha: Ficha, who: Who, monitor: Monitor) -> str | None:
    return refusal(ficha, who, monitor.spec.roles, set(), monitor.objects)


class MonitorPage(_Page):
    def __init__(self, ficha: Ficha, monitor: Monitor) -> None:
        super().__init__(
            ficha, monitor.spec.label, "fa fa-tower-broadcast", f"/monitors/{monitor.name}"
        )
        self.monitor = monitor

    def is_accessible(self, request: Request) -> bool:
        return monitor_refusal(self.ficha, who_of(self.ficha, request), self.monitor) is None

    @route("")
    async def index(self, request: Request) -> Response:
        from app_builder.reports.live import hub_of

        who = who_of(self.ficha, request)
        data = await hub_of(self.ficha).snapshot(self.monitor, who)
        html = render(
            "monitor.html",
            monitor=self.monitor,
            data=data,
            events_url=f"/monitors/{self.monitor.name}/events",
        )
        return self._page(request, html)


def params_of(report: Report, given: dict[str, str]) -> dict[str, Any]:
    return resolve(report.spec.params, given)
