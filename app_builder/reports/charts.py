"""A report's result → what the page's chart script draws (categories, series, the
records behind each point), and the drill-down links of its table."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from framework.reports.compile import Report
from framework.reports.drill import drill_expression
from framework.reports.export import Cell
from framework.reports.query import ReportResult

ADMIN = "/admin"


def list_url(object_name: str, expression: str | None) -> str | None:
    """The generated list screen, filtered by an expression (see RecordView._where)."""
    if expression is None:
        return None
    return f"{ADMIN}/{object_name}/list?{urlencode({'expr': expression})}"


def drill_url(result: ReportResult, index: int | None) -> str | None:
    if index is None:
        return None
    group = result.groups[index]
    report = result.report
    return list_url(
        report.source, drill_expression(report, result.params, group.keys, group.column_keys)
    )


def cell_link(result: ReportResult) -> Any:
    """For the table template: the link of a cell (group labels and figures)."""

    def link(cell: Cell) -> str | None:
        if cell.group is None or cell.text == "—":
            return None
        return drill_url(result, cell.group)

    return link


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def chart(
    result: ReportResult, kind: str | None = None, height: int = 320
) -> dict[str, Any] | None:
    report: Report = result.report
    kind = kind or report.spec.chart.type
    if kind in ("table", "kpi") or not report.rows or not result.groups:
        return None
    wanted = (
        list(report.spec.chart.measures)
        or [m.name for m in report.measures if m.spec.func != "ratio"]
        or [report.measures[0].name]
    )
    first = report.measure(wanted[0])
    categories: list[str] = []
    positions: dict[tuple[Any, ...], int] = {}
    for g in result.groups:
        if g.keys not in positions:
            positions[g.keys] = len(categories)
            categories.append(" / ".join(g.labels))
    series: list[dict[str, Any]] = []
    drill: list[list[str | None]] = []
    if result.pivot:  # one series per column key, of the first measure
        for column, label in result.column_keys:
            data: list[float | None] = [None] * len(categories)
            links: list[str | None] = [None] * len(categories)
            for i, g in enumerate(result.groups):
                if g.column_keys == column:
                    data[positions[g.keys]] = _number(g.values[first.name])
                    links[positions[g.keys]] = drill_url(result, i)
            series.append({"name": label, "data": data})
            drill.append(links)
    else:
        links = [drill_url(result, i) for i in range(len(result.groups))]
        for name in wanted if kind != "pie" else wanted[:1]:
            m = report.measure(name)
            series.append(
                {"name": m.spec.label, "data": [_number(g.values[name]) for g in result.groups]}
            )
            drill.append(links)
    return {
        "type": kind,
        "categories": categories,
        "series": series,
        "drill": drill,
        "stacked": report.spec.chart.stacked,
        "format": first.spec.format,
        "decimals": first.spec.decimals,
        "height": height,
    }
