"""What reports/*.yaml, dashboards/*.yaml and monitors/*.yaml declare, as frozen values.

The loader (load.py) builds these from YAML and checks their shape; compile.py then
binds every expression to the model. Nothing here touches a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modeler.schema import UNKNOWN_POS, SourcePos

#: time buckets (the start of each period) and parts (a number that repeats)
BUCKETS = ("hour", "day", "week", "month", "quarter", "year")
PARTS = ("hour_of_day", "weekday", "day_of_month", "month_of_year")
AGGREGATES = ("count", "sum", "avg", "min", "max", "median", "percentile", "ratio")
CHARTS = ("bar", "line", "area", "pie", "table", "kpi")
PARAM_TYPES = ("date", "datetime", "integer", "number", "text", "boolean")
FORMATS = ("number", "integer", "percent", "seconds", "money")


@dataclass(frozen=True, slots=True)
class ParamDef:
    """A value the user fills in when running the report (`:name` in filters)."""

    name: str
    type: str = "text"
    label: str = ""
    default: str | None = None  # as written: a value, or today / start_of_month …
    required: bool = False
    choices: tuple[str, ...] = ()
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True, slots=True)
class DimensionDef:
    """One way of grouping: an expression (a field, `account.segment` …), maybe cut into
    time buckets (`month`) or parts (`hour_of_day`)."""

    name: str
    expr: str
    label: str = ""
    bucket: str | None = None
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True, slots=True)
class MeasureDef:
    """One figure per group: `func` over `of` (an expression) for the records where
    `where` holds; a ratio divides two other measures."""

    name: str
    func: str
    of: str | None = None
    where: str | None = None
    percentile: float | None = None  # 0-100, for func == "percentile" (median: 50)
    ratio: tuple[str, str] = ("", "")
    label: str = ""
    format: str = "number"
    decimals: int | None = None
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True, slots=True)
class ChartDef:
    type: str = "bar"
    measures: tuple[str, ...] = ()  # which measures are drawn (all but ratios if empty)
    stacked: bool = False
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True, slots=True)
class SortDef:
    key: str  # a dimension or a measure
    descending: bool = False
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True, slots=True)
class ReportDef:
    name: str
    label: str
    source: str
    pos: SourcePos
    description: str = ""
    params: tuple[ParamDef, ...] = ()
    filters: tuple[tuple[str, SourcePos], ...] = ()
    rows: tuple[DimensionDef, ...] = ()
    columns: tuple[DimensionDef, ...] = ()  # a pivot: these values become columns
    measures: tuple[MeasureDef, ...] = ()
    sort: tuple[SortDef, ...] = ()
    top: int | None = None
    chart: ChartDef = field(default_factory=ChartDef)
    roles: tuple[str, ...] = ()  # who sees it in the menu (empty: whoever may read source)
    pack: str = ""


@dataclass(frozen=True, slots=True)
class WidgetDef:
    """A report drawn on a dashboard, or one of its figures as a KPI tile."""

    report: str
    kind: str = "chart"  # chart | kpi | table
    measure: str | None = None  # for kpi: which measure (the first if empty)
    label: str = ""
    width: int = 6  # of 12 columns
    params: tuple[tuple[str, str], ...] = ()
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True, slots=True)
class DashboardDef:
    name: str
    label: str
    pos: SourcePos
    widgets: tuple[WidgetDef, ...] = ()
    roles: tuple[str, ...] = ()
    pack: str = ""


@dataclass(frozen=True, slots=True)
class TileDef:
    """A live figure: one measure over the records of an object."""

    name: str
    label: str
    source: str
    measure: MeasureDef
    filters: tuple[tuple[str, SourcePos], ...] = ()
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True, slots=True)
class ListDef:
    """A live list: the first records of an object that meet a condition."""

    name: str
    label: str
    source: str
    columns: tuple[str, ...]
    filters: tuple[tuple[str, SourcePos], ...] = ()
    sort: tuple[SortDef, ...] = ()
    limit: int = 10
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True, slots=True)
class MonitorDef:
    name: str
    label: str
    pos: SourcePos
    tiles: tuple[TileDef, ...] = ()
    lists: tuple[ListDef, ...] = ()
    roles: tuple[str, ...] = ()
    #: recompute this often even without changes (for conditions on now()); 0: never
    refresh_seconds: int = 0
    pack: str = ""

    @property
    def sources(self) -> frozenset[str]:
        return frozenset([t.source for t in self.tiles] + [lst.source for lst in self.lists])
