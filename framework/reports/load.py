"""reports/*.yaml, dashboards/*.yaml and monitors/*.yaml → spec values, with every
problem of shape named at file:line:column (ids P001-P009; compile.py adds P010-P019).

A project's files and those of its packs (a pack folder may hold reports/ next to
objects/) are read alike; the file name is the report's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from framework.reports.spec import (
    AGGREGATES,
    BUCKETS,
    CHARTS,
    FORMATS,
    PARAM_TYPES,
    PARTS,
    ChartDef,
    DashboardDef,
    DimensionDef,
    ListDef,
    MeasureDef,
    MonitorDef,
    ParamDef,
    ReportDef,
    SortDef,
    TileDef,
    WidgetDef,
)
from modeler.declarations import Checker, load_folder
from modeler.loader import Node
from modeler.problems import Problem

REPORT_KEYS = (
    "label",
    "description",
    "source",
    "params",
    "filter",
    "rows",
    "columns",
    "measures",
    "sort",
    "top",
    "chart",
    "roles",
)
PARAM_KEYS = ("type", "label", "default", "required", "choices")
DIMENSION_KEYS = ("field", "label", "by", "name")
MEASURE_KEYS = (*AGGREGATES, "of", "where", "label", "format", "decimals")
CHART_KEYS = ("type", "measures", "stacked")
DASHBOARD_KEYS = ("label", "widgets", "roles")
WIDGET_KEYS = ("report", "kpi", "table", "measure", "label", "width", "params")
MONITOR_KEYS = ("label", "tiles", "lists", "roles", "refresh")
TILE_KEYS = ("label", "source", "filter", *MEASURE_KEYS)
LIST_KEYS = ("label", "source", "filter", "columns", "sort", "limit")


class _Checker(Checker):
    """The reports' reader: the shared checks, and the pieces of a report."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems, "P")

    # -- the pieces of a report ------------------------------------------------------------

    def param_list(self, node: Node | None) -> tuple[ParamDef, ...]:
        if node is None:
            return ()
        if not node.is_map:
            self.add("P001", "params must be a mapping of name → settings", node.pos)
            return ()
        found = []
        for name, child in node.items():
            if child.value is None or isinstance(child.value, str):
                kind = self.text(child, "a parameter's type") or "text"
                spec = ParamDef(name, kind, name.replace("_", " ").capitalize(), pos=child.pos)
            elif self.mapping(child, f"parameter '{name}'", PARAM_KEYS):
                kind = self.text(child.get("type"), "type") or "text"
                default = child.get("default")
                spec = ParamDef(
                    name,
                    kind,
                    self.text(child.get("label"), "label") or name.replace("_", " ").capitalize(),
                    None if default is None or default.value is None else str(default.value),
                    bool(child.get("required") and child.get("required").value),  # type: ignore[union-attr]
                    self.names(child.get("choices"), "choices"),
                    child.pos,
                )
            else:
                continue
            type_node = child.get("type") or child
            if self.choice(type_node, spec.type, PARAM_TYPES, "parameter type"):
                found.append(spec)
        return tuple(found)

    def dimensions(self, node: Node | None, what: str) -> tuple[DimensionDef, ...]:
        if node is None:
            return ()
        items = list(node) if node.is_list else [node]
        found = []
        for item in items:
            if item.is_map:
                if not self.mapping(item, f"a group in {what}", DIMENSION_KEYS):
                    continue
                expr = self.text(item.get("field"), "field")
                if not expr:
                    self.add("P002", f"a group in {what} needs field:", item.pos)
                    continue
                by = self.text(item.get("by"), "by")
                if by is not None and not self.choice(
                    item.get("by") or item, by, (*BUCKETS, *PARTS), "time bucket"
                ):
                    continue
                name = self.text(item.get("name"), "name") or _name_of(expr, by)
                label = self.text(item.get("label"), "label") or ""
                found.append(DimensionDef(name, expr, label, by, item.pos))
            else:
                expr = self.text(item, f"a group in {what}")
                if expr:
                    found.append(DimensionDef(_name_of(expr, None), expr, "", None, item.pos))
        return tuple(found)

    def measure(self, name: str, node: Node, what: str) -> MeasureDef | None:
        pos = node.pos
        if isinstance(node.value, str) and not node.is_map:
            if node.value == "count":
                return MeasureDef(name, "count", label=_label(name), pos=pos)
            self.add(
                "P004",
                f"measure '{name}' must be 'count' or a mapping",
                pos,
                "e.g. {avg: amount} or {count: 'stage == \"won\"'}",
            )
            return None
        if not self.mapping(node, f"measure '{name}'", MEASURE_KEYS if what else TILE_KEYS):
            return None
        funcs = [key for key in AGGREGATES if node.get(key) is not None]
        if len(funcs) != 1:
            self.add(
                "P002",
                f"measure '{name}' needs exactly one of: {', '.join(AGGREGATES)}",
                pos,
                "e.g. {count: true}, {avg: amount}, {percentile: 90, of: wait}",
            )
            return None
        func = funcs[0]
        value = node.get(func)
        assert value is not None
        of = self.text(node.get("of"), "of")
        where = self.text(node.get("where"), "where")
        percentile: float | None = None
        ratio: tuple[str, str] = ("", "")
        if func == "count":
            if isinstance(value.value, str) and value.value not in ("all", "true"):
                where = f"({value.value}) and ({where})" if where else value.value
        elif func == "percentile":
            number = value.value
            if (
                isinstance(number, bool)
                or not isinstance(number, int | float)
                or not (0 <= number <= 100)
            ):
                self.add("P004", "percentile must be a number from 0 to 100", value.pos)
                return None
            percentile = float(number)
            if not of:
                self.add(
                    "P002", f"measure '{name}' needs of: (what to take the percentile of)", pos
                )
                return None
        elif func == "ratio":
            parts = self.names(value, "ratio")
            if len(parts) != 2:
                self.add(
                    "P004",
                    "ratio takes two measures: [numerator, denominator]",
                    value.pos,
                    "e.g. ratio: [abandoned, offered]",
                )
                return None
            ratio = (parts[0], parts[1])
        else:
            of = self.text(value, func)
            if func == "median":
                func, percentile = "percentile", 50.0
        fmt = self.text(node.get("format"), "format") or (
            "percent" if func == "ratio" else "number"
        )
        if not self.choice(node.get("format") or node, fmt, FORMATS, "format"):
            fmt = "number"
        return MeasureDef(
            name,
            func,
            of,
            where,
            percentile,
            ratio,
            self.text(node.get("label"), "label") or _label(name),
            fmt,
            self.integer(node.get("decimals"), "decimals", 0, 8),
            pos,
        )

    def sort(self, node: Node | None) -> tuple[SortDef, ...]:
        found = []
        for item in (list(node) if node.is_list else [node]) if node is not None else []:
            text = self.text(item, "a sort key")
            if text:
                found.append(SortDef(text.lstrip("-").strip(), text.startswith("-"), item.pos))
        return tuple(found)

    def chart(self, node: Node | None) -> ChartDef:
        if node is None:
            return ChartDef()
        if not node.is_map:
            kind = self.text(node, "chart") or "bar"
            return (
                ChartDef(kind, pos=node.pos)
                if self.choice(node, kind, CHARTS, "chart")
                else (ChartDef())
            )
        if not self.mapping(node, "chart", CHART_KEYS):
            return ChartDef()
        kind = self.text(node.get("type"), "type") or "bar"
        if not self.choice(node.get("type") or node, kind, CHARTS, "chart"):
            kind = "bar"
        stacked = node.get("stacked")
        return ChartDef(
            kind,
            self.names(node.get("measures"), "measures"),
            bool(stacked is not None and stacked.value),
            node.pos,
        )


def _name_of(expr: str, by: str | None) -> str:
    base = "".join(ch if ch.isalnum() else "_" for ch in expr.split(".")[-1]).strip("_")
    return f"{base}_{by}" if by else base or "group"


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _report(name: str, doc: Node, pack: str, check: _Checker) -> ReportDef | None:
    if not check.mapping(doc, f"report '{name}'", REPORT_KEYS):
        return None
    source = check.text(doc.get("source"), "source")
    if not source:
        check.add("P002", f"report '{name}' needs source: (the object it counts)", doc.pos)
        return None
    measures_node = doc.get("measures")
    measures: list[MeasureDef] = []
    if measures_node is None:
        measures.append(MeasureDef("count", "count", label="Records", pos=doc.pos))
    elif not measures_node.is_map:
        check.add("P001", "measures must be a mapping of name → measure", measures_node.pos)
    else:
        for mname, child in measures_node.items():
            measure = check.measure(mname, child, "report")
            if measure is not None:
                measures.append(measure)
    rows = check.dimensions(doc.get("rows"), "rows")
    columns = check.dimensions(doc.get("columns"), "columns")
    check.unique([(d.name, d.pos) for d in (*rows, *columns)], "groups")
    check.unique([(m.name, m.pos) for m in measures], "measures")
    top = check.integer(doc.get("top"), "top", 1, 10_000)
    return ReportDef(
        name=name,
        label=check.text(doc.get("label"), "label") or _label(name),
        source=source,
        pos=doc.pos,
        description=check.text(doc.get("description"), "description") or "",
        params=check.param_list(doc.get("params")),
        filters=check.filters(doc.get("filter")),
        rows=rows,
        columns=columns,
        measures=tuple(measures),
        sort=check.sort(doc.get("sort")),
        top=top,
        chart=check.chart(doc.get("chart")),
        roles=check.names(doc.get("roles"), "roles"),
        pack=pack,
    )


def _dashboard(name: str, doc: Node, pack: str, check: _Checker) -> DashboardDef | None:
    if not check.mapping(doc, f"dashboard '{name}'", DASHBOARD_KEYS):
        return None
    widgets = []
    node = doc.get("widgets")
    if node is None or not node.is_list:
        check.add("P002", f"dashboard '{name}' needs widgets: (a list)", (node or doc).pos)
    for item in node if node is not None and node.is_list else []:
        if not check.mapping(item, "a widget", WIDGET_KEYS):
            continue
        kinds = [k for k in ("report", "kpi", "table") if item.get(k) is not None]
        if len(kinds) != 1:
            check.add(
                "P002", "a widget needs one of report:, kpi: or table: (a report's name)", item.pos
            )
            continue
        params_node = item.get("params")
        params: tuple[tuple[str, str], ...] = ()
        if params_node is not None and check.mapping(
            params_node, "widget params", [k for k, _ in params_node.items()]
        ):
            params = tuple((k, str(v.value)) for k, v in params_node.items())
        widgets.append(
            WidgetDef(
                report=check.text(item.get(kinds[0]), kinds[0]) or "",
                kind="chart" if kinds[0] == "report" else kinds[0],
                measure=check.text(item.get("measure"), "measure"),
                label=check.text(item.get("label"), "label") or "",
                width=check.integer(item.get("width"), "width", 1, 12)
                or (3 if kinds[0] == "kpi" else 6),
                params=params,
                pos=item.pos,
            )
        )
    return DashboardDef(
        name,
        check.text(doc.get("label"), "label") or _label(name),
        doc.pos,
        tuple(widgets),
        check.names(doc.get("roles"), "roles"),
        pack,
    )


def _monitor(name: str, doc: Node, pack: str, check: _Checker) -> MonitorDef | None:
    if not check.mapping(doc, f"monitor '{name}'", MONITOR_KEYS):
        return None
    tiles: list[TileDef] = []
    lists: list[ListDef] = []
    for key, what in (("tiles", "tile"), ("lists", "list")):
        node = doc.get(key)
        if node is None:
            continue
        if not node.is_map:
            check.add("P001", f"{key} must be a mapping of name → {what}", node.pos)
            continue
        for item_name, item in node.items():
            allowed = TILE_KEYS if key == "tiles" else LIST_KEYS
            if not check.mapping(item, f"{what} '{item_name}'", allowed):
                continue
            source = check.text(item.get("source"), "source")
            if not source:
                check.add("P002", f"{what} '{item_name}' needs source:", item.pos)
                continue
            label = check.text(item.get("label"), "label") or _label(item_name)
            filters = check.filters(item.get("filter"))
            if key == "tiles":
                if not any(item.get(a) is not None for a in AGGREGATES):
                    measure: MeasureDef | None = MeasureDef(
                        item_name, "count", label=label, pos=item.pos
                    )
                else:
                    measure = check.measure(item_name, item, "")
                if measure is not None and measure.func == "ratio":
                    check.add("P004", "a tile cannot be a ratio", item.pos)
                elif measure is not None:
                    tiles.append(TileDef(item_name, label, source, measure, filters, item.pos))
            else:
                columns = check.names(item.get("columns"), "columns")
                limit = check.integer(item.get("limit"), "limit", 1, 200) or 10
                lists.append(
                    ListDef(
                        item_name,
                        label,
                        source,
                        columns,
                        filters,
                        check.sort(item.get("sort")),
                        limit,
                        item.pos,
                    )
                )
    if not tiles and not lists:
        check.add("P002", f"monitor '{name}' needs tiles: or lists:", doc.pos)
    refresh = check.integer(doc.get("refresh"), "refresh (seconds)", 1, 86_400) or 0
    return MonitorDef(
        name,
        check.text(doc.get("label"), "label") or _label(name),
        doc.pos,
        tuple(tiles),
        tuple(lists),
        check.names(doc.get("roles"), "roles"),
        refresh,
        pack,
    )


def load_reports(
    folders: Iterable[tuple[Path, str]], root: Path, problems: list[Problem]
) -> list[ReportDef]:
    return load_folder(folders, root, _report, _Checker(problems))


def load_dashboards(
    folders: Iterable[tuple[Path, str]], root: Path, problems: list[Problem]
) -> list[DashboardDef]:
    return load_folder(folders, root, _dashboard, _Checker(problems))


def load_monitors(
    folders: Iterable[tuple[Path, str]], root: Path, problems: list[Problem]
) -> list[MonitorDef]:
    return load_folder(folders, root, _monitor, _Checker(problems))
