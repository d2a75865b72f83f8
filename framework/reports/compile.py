"""Report, dashboard and monitor specs + the model → checked, bound definitions.

Every expression (filters, groups, measures) is compiled once at load with the
expression language, so a wrong field name stops `ficha check` with file:line:column
(ids P010-P019), and a report never meets the model's surprises while running.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from framework.expressions import Expression, ExpressionError
from framework.expressions import binding as b
from framework.expressions.walk import fields_read, params_used
from framework.reports.spec import (
    PARTS,
    DimensionDef,
    ListDef,
    MeasureDef,
    MonitorDef,
    ReportDef,
    TileDef,
)
from modeler.fieldtypes import LINK
from modeler.problems import Problem, did_you_mean
from modeler.schema import SYSTEM_FIELDS, Model, SourcePos

PARAM_TYPES: dict[str, b.Type] = {
    "date": b.DATE,
    "datetime": b.DATETIME,
    "integer": b.INTEGER,
    "number": b.Type("decimal", 6),
    "text": b.TEXT,
    "boolean": b.BOOLEAN,
}


@dataclass(frozen=True)
class Filter:
    expression: Expression
    params: frozenset[str]  # skipped when any of these is left empty


@dataclass(frozen=True)
class Dimension:
    spec: DimensionDef
    expression: Expression
    kind: str  # bucket | part | link | choice | value
    is_date: bool = False  # a date (not a date-time) field, for buckets
    target: str | None = None  # the linked object, for kind == "link"
    choices: Mapping[str, str] = field(default_factory=dict)  # code → label

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def label(self) -> str:
        return self.spec.label


@dataclass(frozen=True)
class Measure:
    spec: MeasureDef
    value: Expression | None  # what is summed, averaged …; None for count and ratio
    where: Expression | None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Report:
    spec: ReportDef
    params: Mapping[str, b.Type]
    filters: tuple[Filter, ...]
    rows: tuple[Dimension, ...]
    columns: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    #: (object, field) pairs the report reads: a role that hides one cannot run it
    reads: frozenset[tuple[str, str]]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def source(self) -> str:
        return self.spec.source

    def measure(self, name: str) -> Measure:
        return next(m for m in self.measures if m.name == name)

    @property
    def objects(self) -> frozenset[str]:
        return frozenset(obj for obj, _ in self.reads) | {self.source}


@dataclass(frozen=True)
class Tile:
    spec: TileDef
    measure: Measure
    filters: tuple[Filter, ...]
    reads: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class LiveList:
    spec: ListDef
    filters: tuple[Filter, ...]
    reads: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Monitor:
    spec: MonitorDef
    tiles: tuple[Tile, ...]
    lists: tuple[LiveList, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def objects(self) -> frozenset[str]:
        found = {obj for t in self.tiles for obj, _ in t.reads}
        found |= {obj for lst in self.lists for obj, _ in lst.reads}
        return frozenset(found) | self.spec.sources


# -- compiling ---------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, model: Model, roles: Iterable[str] | None, problems: list[Problem]):
        self.model = model
        self.roles = None if roles is None else tuple(roles)
        self.problems = problems

    def add(self, code: str, message: str, pos: SourcePos, hint: str | None = None) -> None:
        self.problems.append(Problem(code, message, pos, hint))

    def source(self, name: str, pos: SourcePos) -> bool:
        if name in self.model:
            return True
        self.add(
            "P003",
            f"unknown object '{name}'",
            pos,
            did_you_mean(name, self.model.objects) or "check objects/*.yaml for its name",
        )
        return False

    def expression(
        self,
        text: str,
        obj: str,
        pos: SourcePos,
        what: str,
        *,
        condition: bool,
        params: Mapping[str, b.Type] | None = None,
    ) -> Expression | None:
        try:
            return Expression.compile(text, self.model, obj, condition=condition, params=params)
        except ExpressionError as exc:
            self.add(
                "P010",
                f"in {what} '{text}', character {exc.offset + 1}: {exc.message}",
                pos,
                exc.hint,
            )
            return None

    def filters(
        self, items: Iterable[tuple[str, SourcePos]], obj: str, params: Mapping[str, b.Type]
    ) -> tuple[Filter, ...]:
        found = []
        for text, pos in items:
            expr = self.expression(text, obj, pos, "the filter", condition=True, params=params)
            if expr is not None:
                found.append(Filter(expr, params_used(expr)))
        return tuple(found)

    def roles_known(self, names: Iterable[str], pos: SourcePos) -> None:
        if self.roles is None:
            return
        for name in names:
            if name not in self.roles:
                self.add(
                    "P008",
                    f"unknown role '{name}'",
                    pos,
                    did_you_mean(name, self.roles) or f"roles: {', '.join(self.roles)}",
                )

    def dimension(self, spec: DimensionDef, obj: str) -> Dimension | None:
        expr = self.expression(spec.expr, obj, spec.pos, "the group", condition=False)
        if expr is None:
            return None
        kind = expr.type.kind
        label = spec.label
        node = expr.bound
        field_def = None
        if isinstance(node, b.BField) and node.name not in SYSTEM_FIELDS:
            field_def = self.model[node.objects[-1]].fields.get(node.name)
        if not label:
            label = field_def.label if field_def is not None else spec.expr
            if spec.bucket:
                label = f"{label} ({spec.bucket.replace('_', ' ')})"
        spec = dataclasses.replace(spec, label=label)
        if spec.bucket:
            if kind not in ("date", "datetime"):
                self.add(
                    "P011",
                    f"'{spec.expr}' is {expr.type}, so it cannot be grouped by {spec.bucket}",
                    spec.pos,
                    "time buckets work on date and date-time fields",
                )
                return None
            if kind == "date" and spec.bucket in ("hour", "hour_of_day"):
                self.add("P011", f"'{spec.expr}' is a date, without an hour", spec.pos)
                return None
            part = spec.bucket in PARTS
            return Dimension(spec, expr, "part" if part else "bucket", is_date=kind == "date")
        if field_def is not None and field_def.kind == LINK:
            return Dimension(spec, expr, "link", target=field_def.target)
        if field_def is not None and field_def.values:
            return Dimension(
                spec, expr, "choice", choices={v.code: v.label for v in field_def.values}
            )
        if kind == "list":
            self.add("P011", f"'{spec.expr}' holds several values and cannot be a group", spec.pos)
            return None
        return Dimension(spec, expr, "value")

    def measure(self, spec: MeasureDef, obj: str) -> Measure | None:
        where = None
        if spec.where:
            where = self.expression(
                spec.where, obj, spec.pos, "the measure's condition", condition=True
            )
            if where is None:
                return None
        value = None
        if spec.func not in ("count", "ratio"):
            value = self.expression(spec.of or "", obj, spec.pos, "the measure", condition=False)
            if value is None:
                return None
            kinds: tuple[str, ...] = ("integer", "decimal")
            if spec.func in ("min", "max"):
                kinds += ("date", "datetime")
            if value.type.kind not in kinds:
                self.add(
                    "P012",
                    f"{spec.func} needs a number, and '{spec.of}' is {value.type}",
                    spec.pos,
                    "count records with count: instead",
                )
                return None
        return Measure(spec, value, where)

    def measures(self, specs: Iterable[MeasureDef], obj: str) -> tuple[Measure, ...]:
        found = [m for m in (self.measure(s, obj) for s in specs) if m is not None]
        names = {m.name for m in found if m.spec.func != "ratio"}
        for m in found:
            for part in m.spec.ratio if m.spec.func == "ratio" else ():
                if part not in names:
                    self.add(
                        "P006",
                        f"ratio '{m.name}' divides by unknown measure '{part}'",
                        m.spec.pos,
                        did_you_mean(part, names) or "a ratio divides two other measures",
                    )
        return tuple(found)

    def report(self, spec: ReportDef) -> Report | None:
        if not self.source(spec.source, spec.pos):
            return None
        params = {p.name: PARAM_TYPES[p.type] for p in spec.params}
        params = {
            p.name: (
                dataclasses.replace(params[p.name], choices=p.choices)
                if p.choices
                else params[p.name]
            )
            for p in spec.params
        }
        before = len(self.problems)
        filters = self.filters(spec.filters, spec.source, params)
        rows = tuple(d for d in (self.dimension(s, spec.source) for s in spec.rows) if d)
        columns = tuple(d for d in (self.dimension(s, spec.source) for s in spec.columns) if d)
        measures = self.measures(spec.measures, spec.source)
        names = [d.name for d in (*rows, *columns)] + [m.name for m in measures]
        for sort in spec.sort:
            if sort.key not in names:
                self.add(
                    "P006",
                    f"cannot sort by '{sort.key}': it is not a group or measure of this report",
                    sort.pos,
                    did_you_mean(sort.key, names) or f"names: {', '.join(names)}",
                )
        for name in spec.chart.measures:
            if name not in {m.name for m in measures}:
                self.add(
                    "P006",
                    f"the chart draws unknown measure '{name}'",
                    spec.chart.pos,
                    did_you_mean(name, [m.name for m in measures]),
                )
        if spec.columns and not spec.rows:
            self.add("P004", "a pivot (columns:) needs rows: too", spec.pos)
        self.roles_known(spec.roles, spec.pos)
        if len(self.problems) > before:
            return None
        reads: set[tuple[str, str]] = set()
        expressions: list[Expression | None] = [f.expression for f in filters]
        expressions += [d.expression for d in (*rows, *columns)]
        expressions += [e for m in measures for e in (m.value, m.where)]
        for expr in expressions:
            if expr is not None:
                reads |= fields_read(expr)
        return Report(spec, params, filters, rows, columns, measures, frozenset(reads))

    def monitor(self, spec: MonitorDef) -> Monitor | None:
        before = len(self.problems)
        tiles = []
        for tile in spec.tiles:
            if not self.source(tile.source, tile.pos):
                continue
            filters = self.filters(tile.filters, tile.source, {})
            measure = self.measure(tile.measure, tile.source)
            if measure is None:
                continue
            reads = {r for f in filters for r in fields_read(f.expression)}
            for expr in (measure.value, measure.where):
                if expr is not None:
                    reads |= fields_read(expr)
            tiles.append(Tile(tile, measure, filters, frozenset(reads)))
        lists = []
        for item in spec.lists:
            if not self.source(item.source, item.pos):
                continue
            obj = self.model[item.source]
            known = [*obj.fields, *SYSTEM_FIELDS]
            for name in [*item.columns, *(s.key for s in item.sort)]:
                if name not in known:
                    self.add(
                        "P006",
                        f"{obj.label} has no field '{name}'",
                        item.pos,
                        did_you_mean(name, known),
                    )
            filters = self.filters(item.filters, item.source, {})
            reads = {r for f in filters for r in fields_read(f.expression)}
            reads |= {(item.source, c) for c in item.columns}
            lists.append(LiveList(item, filters, frozenset(reads)))
        self.roles_known(spec.roles, spec.pos)
        if len(self.problems) > before:
            return None
        return Monitor(spec, tuple(tiles), tuple(lists))


def compile_report(
    spec: ReportDef, model: Model, problems: list[Problem], roles: Iterable[str] | None = None
) -> Report | None:
    return _Compiler(model, roles, problems).report(spec)


def compile_monitor(
    spec: MonitorDef, model: Model, problems: list[Problem], roles: Iterable[str] | None = None
) -> Monitor | None:
    return _Compiler(model, roles, problems).monitor(spec)
