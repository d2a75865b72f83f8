"""A compiled report → one SQL statement the database aggregates → a small result.

The rows of the source never reach Python: the statement groups and measures them, and
only one row per group comes back (capped at MAX_GROUPS). Dialect differences (time
buckets, percentiles) are asked of storage/reporting.py.

    SELECT g0, g1, count(*), avg(m1) …
    FROM (SELECT <bucket(created_at)> AS g0, stage AS g1, amount AS m1 …
          FROM opportunity WHERE deleted_at IS NULL AND <scope> AND <filters>) AS rows
    GROUP BY g0, g1 ORDER BY g0, g1

A report grouped by a time bucket of a date may be grouped in two stages instead, by
the date and then by its bucket, where storage says the database gains from it (SQLite,
reading an index in order: see `ReportQuery._two_stages`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from framework.expressions import Context
from framework.reports.compile import Dimension, Measure, Report
from storage.manager import StorageManager
from storage.queries import Reader
from storage.reporting import Reporting, reporting_for

#: more groups than this is not a report anyone reads: the page says to narrow it
MAX_GROUPS = 5_000
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass
class Group:
    """One row of the result: the groups' values (typed), their labels, the measures."""

    keys: tuple[Any, ...]  # row dimensions
    column_keys: tuple[Any, ...]  # pivot dimensions
    labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    values: dict[str, Any]


@dataclass
class ReportResult:
    report: Report
    params: Mapping[str, Any]
    groups: list[Group]
    truncated: bool = False
    #: pivot: every column key in order, with its label
    column_keys: list[tuple[tuple[Any, ...], str]] = field(default_factory=list)

    @property
    def measures(self) -> list[Measure]:
        return list(self.report.measures)

    @property
    def pivot(self) -> bool:
        return bool(self.report.columns)


def _label(dim: Dimension, value: Any, titles: Mapping[int, Any]) -> str:
    if value is None:
        return "(empty)"
    unit = dim.spec.bucket
    if dim.kind == "bucket":
        if unit == "hour":
            return f"{value:%Y-%m-%d %H:00}"
        if unit == "month":
            return f"{value:%Y-%m}"
        if unit == "quarter":
            return f"{value.year} Q{(value.month - 1) // 3 + 1}"
        if unit == "year":
            return str(value.year)
        return value.isoformat()
    if dim.kind == "part":
        if unit == "hour_of_day":
            return f"{int(value):02d}:00"
        if unit == "weekday":
            return WEEKDAYS[int(value) - 1]
        if unit == "month_of_year":
            return MONTHS[int(value) - 1]
        return str(value)
    if dim.kind == "link":
        ref = titles.get(int(value))
        return str(ref) if ref is not None else f"#{value}"
    if dim.kind == "choice":
        return dim.choices.get(str(value), str(value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _typed(dim: Dimension, raw: Any, reporting: Reporting) -> Any:
    if raw is None:
        return None
    if dim.kind == "bucket":
        return reporting.bucket_value(dim.spec.bucket or "day", raw)
    if dim.kind in ("part", "link"):
        return int(raw)
    if dim.expression.type.kind == "boolean":
        return bool(raw)
    return raw


def _number(measure: Measure, value: Any) -> Any:
    """Averages, percentiles and ratios as floats; sums, minima and maxima as stored."""
    if value is None:
        return None
    if measure.spec.func in ("avg", "percentile", "ratio"):
        return float(value)
    if measure.spec.func == "count":
        return int(value)
    if (
        isinstance(value, float | Decimal)
        and measure.value is not None
        and measure.value.type.kind == "integer"
        and value == int(value)
    ):
        # a sum of whole numbers is one, whatever the database widened it to (a NUMERIC
        # for PostgreSQL's sum of bigints, MariaDB's DECIMAL)
        return int(value)
    return value


#: measures whose value over a group can be computed from the values of its parts
DECOMPOSABLE = frozenset({"count", "sum", "avg", "min", "max", "ratio"})


class ReportQuery:
    """Builds and runs the statement of one report on one database.

    `two_stages` is for tests: True groups in two stages wherever the report allows it
    (see `_rolled_up`), False never; None (the default) asks storage whether this
    database gains from it for this statement."""

    def __init__(self, storage: StorageManager, two_stages: bool | None = None) -> None:
        self.storage = storage
        self.reporting = reporting_for(storage.backend)
        self.reader = Reader(storage)
        self.two_stages = two_stages

    def statement(
        self,
        report: Report,
        params: Mapping[str, Any],
        *,
        scope: Any | None = None,
        user: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> sa.Select[Any]:
        storage = self.storage
        table = storage.table(report.source)
        ctx = Context(user=user, params=params)
        where: list[Any] = [table.c.deleted_at.is_(None)]
        if scope is not None:
            where.append(scope)
        for f in report.filters:
            if all(params.get(p) is not None for p in f.params):
                where.append(f.expression.where(storage, table, ctx))
        dims = [*report.rows, *report.columns]
        values = [dim.expression.column(storage, table, ctx) for dim in dims]
        inputs: list[Any] = []
        plain = [m for m in report.measures if m.spec.func != "ratio"]
        for j, m in enumerate(plain):
            cond = m.where.where(storage, table, ctx) if m.where is not None else None
            if m.value is None:
                if cond is None:
                    continue  # count(*) needs no input
                value: Any = sa.literal_column("1")
            else:
                value = m.value.column(storage, table, ctx)
            inputs.append((value if cond is None else sa.case((cond, value))).label(f"m{j}"))
        rolled = self._rolled_up(report, dims)
        if rolled:  # the first stage groups by the dates themselves
            firsts = [
                col if i in rolled else self._grouped(dim, col)
                for i, (dim, col) in enumerate(zip(dims, values, strict=True))
            ]
            rows_q = (
                sa.select(*(g.label(f"g{i}") for i, g in enumerate(firsts)), *inputs)
                .select_from(table)
                .where(*where)
            )
            if self.two_stages or (
                self.two_stages is None and self.reporting.groups_twice(table, firsts, rows_q)
            ):
                return self._two_stages(report, dims, rolled, rows_q, limit)
        inner = []
        for i, (dim, col) in enumerate(zip(dims, values, strict=True)):
            inner.append(self._grouped(dim, col).label(f"g{i}"))
        inner += inputs
        if not inner:
            inner.append(sa.literal_column("1").label("one"))
        rows_q = sa.select(*inner).select_from(table).where(*where)
        ranked = [
            j
            for j, m in enumerate(plain)
            if m.spec.func == "percentile" and not self.reporting.native_percentile
        ]
        if ranked:  # each value's rank in its group, and the group's size (window functions)
            base = rows_q.subquery("base")
            groups = [base.c[f"g{i}"] for i in range(len(dims))]
            extra = []
            for j in ranked:
                rank, size = self.reporting.rank_columns(base.c[f"m{j}"], groups)
                extra += [rank.label(f"r{j}"), size.label(f"n{j}")]
            rows_q = sa.select(*base.c, *extra)
        sub = rows_q.subquery("rows")
        keys = [sub.c[f"g{i}"] for i in range(len(dims))]
        aggs = {m.name: self._aggregate(m, sub, j) for j, m in enumerate(plain)}
        return self._grouped_statement(report, sub, keys, aggs, limit)

    def _grouped(self, dim: Dimension, col: Any) -> Any:
        """The value a record is grouped by: its bucket or part of a date, or itself."""
        if dim.kind == "bucket":
            return self.reporting.bucket(dim.spec.bucket or "day", col, dim.is_date)
        if dim.kind == "part":
            return self.reporting.part(dim.spec.bucket or "", col)
        return col

    @staticmethod
    def _rolled_up(report: Report, dims: list[Dimension]) -> set[int]:
        """The groups that can be formed in two stages: first by the date itself, then
        by its month (week, weekday …). Only dates: a date-time has nearly as many
        values as records, so its first stage would shrink nothing. Only measures that
        combine from parts (a count is the sum of the parts' counts, a mean their sum
        over their count); a percentile needs every value at once."""
        if any(m.spec.func not in DECOMPOSABLE for m in report.measures):
            return set()
        return {i for i, d in enumerate(dims) if d.kind in ("bucket", "part") and d.is_date}

    def _two_stages(
        self,
        report: Report,
        dims: list[Dimension],
        rolled: set[int],
        rows_q: sa.Select[Any],
        limit: int | None,
    ) -> sa.Select[Any]:
        """Group by the dates first, then by their buckets. The first stage groups by
        plain columns, which SQLite can read in order from an index holding them (no
        sort of every record), and leaves a few rows per day for the second.

            SELECT <bucket(g0)> AS g0, g1, sum(c), sum(s1) / sum(n1) …
            FROM (SELECT g0, g1, count(*) AS c, sum(m1) AS s1, count(m1) AS n1 …
                  FROM (<rows>) GROUP BY g0, g1) GROUP BY <bucket(g0)>, g1"""
        sub = rows_q.subquery("rows")
        plain = [m for m in report.measures if m.spec.func != "ratio"]
        firsts: list[Any] = [sub.c[f"g{i}"] for i in range(len(dims))]
        for j, m in enumerate(plain):
            func = m.spec.func
            value = sub.c.get(f"m{j}")
            if func == "count":
                firsts.append(
                    (sa.func.count() if value is None else sa.func.count(value)).label(f"c{j}")
                )
            elif func in ("sum", "avg"):
                firsts.append(sa.func.sum(value).label(f"s{j}"))
                if func == "avg":
                    firsts.append(sa.func.count(value).label(f"n{j}"))
            else:
                firsts.append(getattr(sa.func, func)(value).label(f"x{j}"))
        groups = [sub.c[f"g{i}"] for i in range(len(dims))]
        first = sa.select(*firsts).select_from(sub).group_by(*groups).subquery("days")
        keys = [
            self._grouped(d, first.c[f"g{i}"]) if i in rolled else first.c[f"g{i}"]
            for i, d in enumerate(dims)
        ]
        aggs: dict[str, Any] = {}
        for j, m in enumerate(plain):
            func = m.spec.func
            if func == "count":
                aggs[m.name] = sa.func.sum(first.c[f"c{j}"])
            elif func == "sum":
                aggs[m.name] = sa.func.coalesce(sa.func.sum(first.c[f"s{j}"]), 0)
            elif func == "avg":
                total, count = sa.func.sum(first.c[f"s{j}"]), sa.func.sum(first.c[f"n{j}"])
                aggs[m.name] = self.reporting.ratio(total, count)
            else:
                aggs[m.name] = getattr(sa.func, func)(first.c[f"x{j}"])
        return self._grouped_statement(report, first, keys, aggs, limit)

    def _grouped_statement(
        self,
        report: Report,
        source: sa.Subquery,
        keys: list[Any],
        aggs: dict[str, Any],
        limit: int | None,
    ) -> sa.Select[Any]:
        """The final SELECT: the groups, the measures (ratios of the others), the order."""
        dims = [*report.rows, *report.columns]
        columns = [k.label(f"g{i}") for i, k in enumerate(keys)]
        for j, m in enumerate(report.measures):
            if m.spec.func == "ratio":
                num, den = (aggs[n] for n in m.spec.ratio)
                aggs[m.name] = self.reporting.ratio(num, den)
            columns.append(aggs[m.name].label(f"v{j}"))
        stmt = sa.select(*columns).select_from(source)
        if keys:
            stmt = stmt.group_by(*keys)
        order: list[Any] = []
        by_name = {d.name: keys[i] for i, d in enumerate(dims)} | aggs
        sorts = [s for s in report.spec.sort if s.key in by_name and not report.columns]
        for sort in sorts:
            expr = by_name[sort.key]
            order += [expr.is_(None), expr.desc() if sort.descending else expr]
        for key in keys:  # then by the groups, empty last, so the order is stable
            order += [key.is_(None), key]
        if order:
            stmt = stmt.order_by(*order)
        if limit is not None:
            stmt = stmt.limit(limit)
        return stmt

    def _aggregate(self, m: Measure, sub: sa.Subquery, j: int) -> Any:
        func = m.spec.func
        if func == "count":
            return sa.func.count(sub.c[f"m{j}"]) if m.where is not None else sa.func.count()
        value = sub.c[f"m{j}"]
        if func == "sum":
            return sa.func.coalesce(sa.func.sum(value), 0)
        if func == "avg":
            return self.reporting.mean(value)
        if func in ("min", "max"):
            return getattr(sa.func, func)(value)
        fraction = (m.spec.percentile or 50.0) / 100
        if self.reporting.native_percentile:
            return self.reporting.percentile(value, fraction)
        pick = self.reporting.pick_percentile(value, sub.c[f"r{j}"], sub.c[f"n{j}"], fraction)
        return sa.func.sum(pick)

    def run(
        self,
        report: Report,
        params: Mapping[str, Any],
        *,
        scope: Any | None = None,
        user: Mapping[str, Any] | None = None,
    ) -> ReportResult:
        top = report.spec.top if not report.columns else None
        limit = top if top is not None else MAX_GROUPS + 1
        stmt = self.statement(report, params, scope=scope, user=user, limit=limit)
        dims = [*report.rows, *report.columns]
        # groups and percentiles sort (on SQLite, without an index read in order)
        sorts = bool(dims) or any(m.spec.func == "percentile" for m in report.measures)
        with self.storage.read() as conn:
            with self.reporting.sorting(conn) if sorts else contextlib.nullcontext():
                raw = conn.execute(stmt).all()
            typed = [[_typed(d, row[i], self.reporting) for i, d in enumerate(dims)] for row in raw]
            titles: dict[int, dict[int, Any]] = {}
            for i, dim in enumerate(dims):
                if dim.kind == "link" and dim.target:
                    ids = {v[i] for v in typed if v[i] is not None}
                    titles[i] = dict(self.reader.titles(conn, dim.target, ids))
        truncated = top is None and len(raw) > MAX_GROUPS
        groups = []
        n_rows = len(report.rows)
        for row, keys in zip(raw[:MAX_GROUPS], typed, strict=False):
            labels = tuple(_label(d, keys[i], titles.get(i, {})) for i, d in enumerate(dims))
            values = {m.name: _number(m, row[len(dims) + j]) for j, m in enumerate(report.measures)}
            groups.append(
                Group(
                    tuple(keys[:n_rows]),
                    tuple(keys[n_rows:]),
                    labels[:n_rows],
                    labels[n_rows:],
                    values,
                )
            )
        result = ReportResult(report, params, groups, truncated)
        if report.columns:
            _pivot(result)
        return result


def _pivot(result: ReportResult) -> None:
    """Order the row groups (by a measure's total when sorted so), keep the top N, and
    list the column keys in order."""
    report = result.report
    seen: dict[tuple[Any, ...], str] = {}
    for g in result.groups:
        seen.setdefault(g.column_keys, " / ".join(g.column_labels))
    result.column_keys = sorted(seen.items(), key=lambda kv: [_sortable(v) for v in kv[0]])
    rows: dict[tuple[Any, ...], list[Group]] = {}
    for g in result.groups:
        rows.setdefault(g.keys, []).append(g)
    order = list(rows)
    for sort in reversed(report.spec.sort):
        names = [d.name for d in report.rows]
        if sort.key in names:
            i = names.index(sort.key)
            order.sort(key=functools.partial(_key_at, i), reverse=sort.descending)
        elif sort.key in {m.name for m in report.measures}:

            def total(k: tuple[Any, ...], name: str = sort.key) -> float:
                return float(sum(g.values.get(name) or 0 for g in rows[k]))

            order.sort(key=total, reverse=sort.descending)
    if report.spec.top:
        order = order[: report.spec.top]
    result.groups = [g for k in order for g in rows[k]]


def _key_at(i: int, keys: tuple[Any, ...]) -> tuple[int, Any]:
    return _sortable(keys[i])


def _sortable(value: Any) -> tuple[int, Any]:
    if value is None:
        return (1, "")
    if isinstance(value, dt.datetime | dt.date):
        return (0, value.isoformat())
    if isinstance(value, int | float | Decimal):
        return (0, float(value))
    return (0, str(value))
