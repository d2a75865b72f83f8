"""The project's reports, dashboards and monitors (its own and its packs'), loaded and
checked once per loaded project. A problem stops the load like a problem in objects/,
so `ficha check` lists it with file:line:column."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from framework.reports.compile import Monitor, Report, compile_monitor, compile_report
from framework.reports.load import load_dashboards, load_monitors, load_reports
from framework.reports.spec import DashboardDef
from modeler.problems import ModelError, Problem, did_you_mean

if TYPE_CHECKING:
    from framework.app import Ficha

PROJECT_PACK = "project"
_CACHE = "_ficha_report_catalog"


@dataclass(frozen=True)
class Catalog:
    reports: Mapping[str, Report]
    dashboards: Mapping[str, DashboardDef]
    monitors: Mapping[str, Monitor]

    @property
    def empty(self) -> bool:
        return not (self.reports or self.dashboards or self.monitors)


def folders(ficha: Ficha, sub: str) -> list[tuple[Path, str]]:
    found = [(p.path / sub, p.name) for p in ficha.model.packs if p.path is not None]
    found.append((ficha.settings.project_dir / sub, PROJECT_PACK))
    return found


def _check_dashboard(
    dashboard: DashboardDef, reports: Mapping[str, Report], problems: list[Problem]
) -> None:
    for widget in dashboard.widgets:
        report = reports.get(widget.report)
        if report is None:
            problems.append(
                Problem(
                    "P006",
                    f"unknown report '{widget.report}'",
                    widget.pos,
                    did_you_mean(widget.report, reports) or "reports are files in reports/",
                )
            )
            continue
        names = [m.name for m in report.measures]
        if widget.measure and widget.measure not in names:
            problems.append(
                Problem(
                    "P006",
                    f"report '{report.name}' has no measure '{widget.measure}'",
                    widget.pos,
                    did_you_mean(widget.measure, names) or f"measures: {', '.join(names)}",
                )
            )
        params = [p.name for p in report.spec.params]
        for key, _ in widget.params:
            if key not in params:
                problems.append(
                    Problem(
                        "P006",
                        f"report '{report.name}' has no parameter '{key}'",
                        widget.pos,
                        did_you_mean(key, params) or f"parameters: {', '.join(params) or 'none'}",
                    )
                )


def load_catalog(ficha: Ficha) -> Catalog:
    """Read and check every report, dashboard and monitor; raise ModelError listing
    every problem found."""
    problems: list[Problem] = []
    root = ficha.settings.project_dir
    roles = ficha.permissions.roles
    role_names = list(roles.roles) if roles.declared else None
    reports: dict[str, Report] = {}
    for spec in load_reports(folders(ficha, "reports"), root, problems):
        report = compile_report(spec, ficha.model, problems, role_names)
        if report is not None:
            reports[spec.name] = report
    dashboards = {d.name: d for d in load_dashboards(folders(ficha, "dashboards"), root, problems)}
    for dashboard in dashboards.values():
        _check_dashboard(dashboard, reports, problems)
        if role_names is not None:
            for name in dashboard.roles:
                if name not in role_names:
                    problems.append(
                        Problem(
                            "P008",
                            f"unknown role '{name}'",
                            dashboard.pos,
                            did_you_mean(name, role_names),
                        )
                    )
    monitors: dict[str, Monitor] = {}
    for mspec in load_monitors(folders(ficha, "monitors"), root, problems):
        monitor = compile_monitor(mspec, ficha.model, problems, role_names)
        if monitor is not None:
            monitors[mspec.name] = monitor
    if any(p.severity == "error" for p in problems):
        raise ModelError(sorted(problems, key=lambda p: (p.pos.file, p.pos.line, p.pos.column)))
    return Catalog(reports, dashboards, monitors)


def catalog_of(ficha: Ficha) -> Catalog:
    """The catalog of a loaded project (read once: the YAML does not change under a
    loaded project; a reload loads a new one)."""
    found = ficha.__dict__.get(_CACHE)
    if found is None:
        found = ficha.__dict__[_CACHE] = load_catalog(ficha)
    return found
