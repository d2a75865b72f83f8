"""Conditions written against a wrapped object's shape (SQLAlchemy clauses), applied to
rows in Python — for legacy systems that cannot filter themselves (an HTTP/JSON
service). Comparisons follow SQL: anything compared with an empty value is false.

Only what Ficha's filters, scopes and expressions produce is understood; anything else
raises UnsupportedCondition, which names the operator, rather than guessing.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import elements, operators

Row = dict[str, Any]
Predicate = Callable[[Row], Any]


class UnsupportedCondition(ValueError):
    pass


def compile_predicate(clauses: list[Any]) -> Predicate:
    parts = [_compile(c) for c in clauses]
    return lambda row: all(_true(p(row)) for p in parts)


def _true(value: Any) -> bool:
    return value is True or (value is not None and value is not False and bool(value))


def _compare(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def run(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        a, b = _comparable(a, b)
        try:
            return op(a, b)
        except TypeError:
            return None

    return run


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    """JSON gives text where the condition has a date or a number: compare like with like."""
    if isinstance(b, (dt.date, dt.datetime)) and isinstance(a, str):
        a = _parse_date(a, type(b))
    elif isinstance(a, (dt.date, dt.datetime)) and isinstance(b, str):
        b = _parse_date(b, type(a))
    elif isinstance(b, decimal.Decimal) and isinstance(a, (int, float, str)):
        a = decimal.Decimal(str(a))
    elif isinstance(a, decimal.Decimal) and isinstance(b, (int, float, str)):
        b = decimal.Decimal(str(b))
    if isinstance(a, dt.datetime) is not isinstance(b, dt.datetime):  # date vs date-time
        a = a.date() if isinstance(a, dt.datetime) else a
        b = b.date() if isinstance(b, dt.datetime) else b
    return a, b


def _parse_date(text: str, kind: type) -> Any:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    return value if kind is dt.datetime else value.date()


def _like(pattern: str, *, case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{regex}$", re.S | (0 if case else re.I))


def _compile(clause: Any) -> Predicate:
    if isinstance(clause, elements.Grouping):
        return _compile(clause.element)
    if isinstance(clause, elements.True_):
        return lambda row: True
    if isinstance(clause, elements.False_):
        return lambda row: False
    if isinstance(clause, elements.Null):
        return lambda row: None
    if isinstance(clause, elements.BindParameter):
        value = clause.effective_value
        return lambda row: value
    if isinstance(clause, (sa.Column, elements.ColumnClause)):
        key = clause.key
        return lambda row: row.get(key)
    if isinstance(clause, elements.Label):
        return _compile(clause.element)
    if isinstance(clause, elements.Cast):
        return _compile(clause.clause)
    if isinstance(clause, elements.BooleanClauseList) or (
        isinstance(clause, elements.ClauseList)
        and clause.operator in (operators.and_, operators.or_)
    ):
        parts = [_compile(c) for c in clause.clauses]
        if clause.operator is operators.and_:
            return lambda row: all(_true(p(row)) for p in parts)
        if clause.operator is operators.or_:
            return lambda row: any(_true(p(row)) for p in parts)
    if isinstance(clause, elements.UnaryExpression) and clause.operator is operators.inv:
        inner = _compile(clause.element)
        return lambda row: (lambda v: None if v is None else not _true(v))(inner(row))
    if isinstance(clause, elements.AsBoolean):
        inner = _compile(clause.element)
        if clause.operator is operators.is_false:
            return lambda row: not _true(inner(row))
        return lambda row: _true(inner(row))
    if isinstance(clause, elements.BinaryExpression):
        return _binary(clause)
    if isinstance(clause, elements.FunctionElement):
        name = clause.name.lower()
        args = [_compile(c) for c in clause.clauses]
        functions: dict[str, Callable[..., Any]] = {
            "lower": lambda v: None if v is None else str(v).lower(),
            "upper": lambda v: None if v is None else str(v).upper(),
            "coalesce": lambda *vs: next((v for v in vs if v is not None), None),
            "length": lambda v: None if v is None else len(str(v)),
        }
        if name in functions:
            fn = functions[name]
            return lambda row: fn(*(a(row) for a in args))
        raise UnsupportedCondition(f"the function {name}()")
    raise UnsupportedCondition(type(clause).__name__)


def _binary(clause: elements.BinaryExpression[Any]) -> Predicate:
    op = clause.operator
    left, right = _compile(clause.left), _compile(clause.right)
    simple: dict[Any, Callable[[Any, Any], Any]] = {
        operators.eq: _compare(lambda a, b: a == b),
        operators.ne: _compare(lambda a, b: a != b),
        operators.lt: _compare(lambda a, b: a < b),
        operators.le: _compare(lambda a, b: a <= b),
        operators.gt: _compare(lambda a, b: a > b),
        operators.ge: _compare(lambda a, b: a >= b),
        operators.add: _compare(lambda a, b: a + b),
        operators.sub: _compare(lambda a, b: a - b),
        operators.mul: _compare(lambda a, b: a * b),
        operators.concat_op: lambda a, b: None if a is None or b is None else f"{a}{b}",
        operators.is_: lambda a, b: a is b if b is None else a == b,
        operators.is_not: lambda a, b: a is not b if b is None else a != b,
    }
    if op in simple:
        fn = simple[op]
        return lambda row: fn(left(row), right(row))
    if op in (operators.in_op, operators.not_in_op):
        negate = op is operators.not_in_op

        def member(row: Row) -> Any:
            value, options = left(row), right(row)
            if value is None:
                return None
            found = any(_compare(lambda a, b: a == b)(value, o) for o in options or ())
            return not found if negate else found

        return member
    likes = {
        operators.like_op: (True, False),
        operators.not_like_op: (True, True),
        operators.ilike_op: (False, False),
        operators.not_ilike_op: (False, True),
    }
    if op in likes:
        case, negate = likes[op]

        def like(row: Row) -> Any:
            value, pattern = left(row), right(row)
            if value is None or pattern is None:
                return None
            hit = bool(_like(str(pattern), case=case).match(str(value)))
            return not hit if negate else hit

        return like
    contains = {
        operators.contains_op: lambda v, p: p in v,
        operators.startswith_op: lambda v, p: v.startswith(p),
        operators.endswith_op: lambda v, p: v.endswith(p),
    }
    if op in contains:
        test = contains[op]
        return lambda row: (
            None
            if left(row) is None or right(row) is None
            else test(str(left(row)), str(right(row)))
        )
    raise UnsupportedCondition(f"the operator {getattr(op, '__name__', op)}")


def sort_key(value: Any) -> tuple[int, Any]:
    """Empty values first, as SQL's ascending order puts NULLs on SQLite and MariaDB."""
    return (0, "") if value is None else (1, value)
