"""Drill-down: the records behind one bar or cell of a report, as an expression the
generated list screen filters by (`/admin/<object>/list?expr=…`).

The expression repeats the report's filters (parameters written in as values) and adds
one condition per group: `stage == "won"`, `hour(created_at) == 9`,
`created_at >= "2025-01-01" and created_at < "2025-02-01"`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from framework.expressions import syntax as s
from framework.reports.compile import Dimension, Report

#: parts of a date the expression language can name (weekday it cannot: no drill-down)
PART_FUNCTIONS = {"hour_of_day": "hour", "day_of_month": "day", "month_of_year": "month"}


def literal(value: Any) -> str:
    """A value written as the expression language reads it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f'"{value.isoformat(sep=" ")}"'
    if isinstance(value, dt.date):
        return f'"{value.isoformat()}"'
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _params_of(node: Any) -> Iterator[s.Param]:
    if isinstance(node, s.Param):
        yield node
    elif isinstance(node, s.Node):
        for f in dataclasses.fields(node):
            yield from _params_of(getattr(node, f.name))
    elif isinstance(node, tuple):
        for item in node:
            yield from _params_of(item)


def with_values(text: str, params: Mapping[str, Any]) -> str:
    """The expression with each `:name` replaced by its value."""
    found = sorted(_params_of(s.parse(text)), key=lambda p: p.at, reverse=True)
    for p in found:
        text = text[: p.at] + literal(params.get(p.name)) + text[p.at + len(p.name) + 1 :]
    return text


def _next(unit: str, start: dt.date) -> dt.date:
    if unit == "hour":
        return start + dt.timedelta(hours=1)
    if unit == "day":
        return start + dt.timedelta(days=1)
    if unit == "week":
        return start + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1, day=1)


def condition(dim: Dimension, value: Any) -> str | None:
    """The condition selecting the records of one group, or None if it cannot be said."""
    expr = f"({dim.spec.expr})"
    if value is None:
        return f"{expr} is null"
    if dim.kind == "bucket":
        unit = dim.spec.bucket or "day"
        return f"{expr} >= {literal(value)} and {expr} < {literal(_next(unit, value))}"
    if dim.kind == "part":
        func = PART_FUNCTIONS.get(dim.spec.bucket or "")
        return f"{func}{expr} == {int(value)}" if func else None
    return f"{expr} == {literal(value)}"


def drill_expression(
    report: Report,
    params: Mapping[str, Any],
    keys: Sequence[Any],
    column_keys: Sequence[Any] = (),
) -> str | None:
    """The whole condition for one group (row keys, then pivot column keys)."""
    parts = [
        f"({with_values(f.expression.text, params)})"
        for f in report.filters
        if all(params.get(p) is not None for p in f.params)
    ]
    for dim, value in zip([*report.rows, *report.columns], [*keys, *column_keys], strict=False):
        cond = condition(dim, value)
        if cond is None:
            return None
        parts.append(cond)
    return " and ".join(parts) if parts else "id > 0"
