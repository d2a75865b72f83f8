"""Bound tree → a value for one record, in Python.

Semantics follow SQL so that a rule (evaluated here) and a segment (run by the database,
see to_sql.py) never disagree: three-valued logic (a comparison with an empty value is
unknown; a condition holds only when it is true), decimals rounded half away from zero
at the precision of their fields, division by zero is empty, text compared exactly.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Protocol

from framework.expressions import binding as b
from modeler.schema import FieldDef
from storage.queries import LinkRef


class Resolver(Protocol):
    """How the evaluator reaches other records (the records service, or plain data)."""

    def follow(
        self, object_name: str, record: Mapping[str, Any], link: FieldDef
    ) -> Mapping[str, Any] | None: ...

    def related(
        self, object_name: str, record: Mapping[str, Any], relation: FieldDef
    ) -> list[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class Context:
    user: Mapping[str, Any] | None = None
    now: dt.datetime = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    )
    before: Mapping[str, Any] | None = None  # the record before the change (rules)
    params: Mapping[str, Any] | None = None  # report parameters (:name), already typed
    timezone: str | None = None  # None: the project's (set_project_timezone)

    @property
    def today(self) -> dt.date:
        """The date on the project's clocks (ficha.yaml `timezone:`): just after midnight
        in Madrid it is already tomorrow there, though still today in UTC."""
        zone = _zone(self.timezone or _PROJECT_TIMEZONE[0])
        return self.now.replace(tzinfo=dt.UTC).astimezone(zone).date()


#: the timezone of the loaded project; Ficha.load sets it from ficha.yaml
_PROJECT_TIMEZONE = ["UTC"]


def set_project_timezone(name: str) -> None:
    _zone(name)  # an unknown zone is refused here, not at the first today()
    _PROJECT_TIMEZONE[0] = name


@functools.lru_cache(maxsize=16)
def _zone(name: str) -> dt.tzinfo:
    if name.upper() == "UTC":
        return dt.UTC
    return zoneinfo.ZoneInfo(name)


def quantize(value: Any, scale: int) -> Any:
    if isinstance(value, float):
        value = Decimal(repr(value))
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        return value
    try:
        return Decimal(value).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return value


def plain(value: Any) -> Any:
    """A record's value as expressions see it: a linked record is its id."""
    if isinstance(value, LinkRef):
        return value.id
    if isinstance(value, list) and value and isinstance(value[0], LinkRef):
        return [v.id for v in value]
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def like_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE (% any text, _ one character, \\ escapes) as a case-blind regex."""
    out = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


class Evaluator:
    def __init__(self, resolver: Resolver | None, context: Context) -> None:
        self.resolver = resolver
        self.context = context

    def value(self, node: b.Bound, record: Mapping[str, Any]) -> Any:
        method: Callable[[Any, Mapping[str, Any]], Any] = getattr(
            self, f"_{type(node).__name__[1:].lower()}"
        )
        return method(node, record)

    def truth(self, node: b.Bound, record: Mapping[str, Any]) -> bool:
        return self.value(node, record) is True

    # leaves

    def _literal(self, node: b.BLiteral, record: Mapping[str, Any]) -> Any:
        return node.value

    def _param(self, node: b.BParam, record: Mapping[str, Any]) -> Any:
        return (self.context.params or {}).get(node.name)

    def _user(self, node: b.BUser, record: Mapping[str, Any]) -> Any:
        user = self.context.user or {}
        return user.get(node.attribute)

    def _field(self, node: b.BField, record: Mapping[str, Any]) -> Any:
        current: Mapping[str, Any] | None = record
        for obj, link in zip(node.objects, node.links, strict=False):
            if current is None:
                return None
            if plain(current.get(link.name)) is None:
                return None
            current = self._resolver().follow(obj, current, link)
        if current is None:
            return None
        return plain(current.get(node.name))

    def _changed(self, node: b.BChanged, record: Mapping[str, Any]) -> Any:
        before = self.context.before
        now = plain(record.get(node.field.name))
        if node.func == "previous":
            return None if before is None else plain(before.get(node.field.name))
        return before is None or plain(before.get(node.field.name)) != now

    def _resolver(self) -> Resolver:
        if self.resolver is None:
            raise ValueError("this expression reads other records; give a resolver")
        return self.resolver

    # logic (three-valued, as in SQL)

    def _not(self, node: b.BNot, record: Mapping[str, Any]) -> Any:
        value = self.value(node.operand, record)
        return None if value is None else not value

    def _bool(self, node: b.BBool, record: Mapping[str, Any]) -> Any:
        unknown = False
        for item in node.items:
            value = self.value(item, record)
            if value is None:
                unknown = True
            elif node.op == "and" and value is False:
                return False
            elif node.op == "or" and value is True:
                return True
        return None if unknown else node.op == "and"

    def _compare(self, node: b.BCompare, record: Mapping[str, Any]) -> Any:
        left = self.value(node.left, record)
        right = self.value(node.right, record)
        if left is None or right is None:
            return None
        if "decimal" in (node.left.type.kind, node.right.type.kind) and (
            _computed(node.left) or _computed(node.right)
        ):
            left, right = quantize(left, node.scale), quantize(right, node.scale)
        left, right = _same_kind(left, right)
        return {
            "==": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[node.op]

    def _in(self, node: b.BIn, record: Mapping[str, Any]) -> Any:
        value = self.value(node.operand, record)
        if value is None:
            return None
        unknown = False
        for item in node.items:
            candidate = self.value(item, record)
            if candidate is None:
                unknown = True
            elif _same_kind(value, candidate)[0] == _same_kind(value, candidate)[1]:
                return not node.negated
        return None if unknown else node.negated

    def _isnull(self, node: b.BIsNull, record: Mapping[str, Any]) -> Any:
        value = self.value(node.operand, record)
        return (value is not None) if node.negated else (value is None)

    def _like(self, node: b.BLike, record: Mapping[str, Any]) -> Any:
        value = self.value(node.operand, record)
        pattern = self.value(node.pattern, record)
        if value is None or pattern is None:
            return None
        return like_regex(str(pattern).lower()).fullmatch(str(value).lower()) is not None

    # arithmetic

    def _arith(self, node: b.BArith, record: Mapping[str, Any]) -> Any:
        left = self.value(node.left, record)
        right = self.value(node.right, record)
        if left is None or right is None:
            return None
        if node.op == "days":
            return (left - right).days
        if isinstance(left, str):
            return left + right
        if isinstance(right, dt.timedelta) and isinstance(left, dt.date):
            return left + right if node.op == "+" else left - right
        if node.op == "/":
            if right == 0:
                return None
            return quantize(Decimal(left) / Decimal(right), node.type.scale)
        # only the operator asked for: durations can be added but not multiplied
        result = _ARITH[node.op](left, right)
        return quantize(result, node.type.scale) if node.type.kind == "decimal" else result

    def _neg(self, node: b.BNeg, record: Mapping[str, Any]) -> Any:
        value = self.value(node.operand, record)
        return None if value is None else -value

    # functions

    def _call(self, node: b.BCall, record: Mapping[str, Any]) -> Any:
        name = node.name
        if name == "today":
            return self.context.today
        if name == "now":
            return self.context.now
        if name == "if":
            condition = self.value(node.args[0], record)
            return self.value(node.args[1] if condition is True else node.args[2], record)
        if name == "coalesce":
            first = self.value(node.args[0], record)
            return first if first is not None else self.value(node.args[1], record)
        args = [self.value(a, record) for a in node.args]
        if any(a is None for a in args):
            return None
        return _FUNCTIONS[name](node, *args)

    def _aggregate(self, node: b.BAggregate, record: Mapping[str, Any]) -> Any:
        shortcut = getattr(self.resolver, "aggregate", None)
        if shortcut is not None:  # a database at hand counts and sums faster itself
            return shortcut(node, record, self.context)
        items = self._resolver().related(node.object, record, node.relation)
        if node.condition is not None:
            items = [i for i in items if self.value(node.condition, i) is True]
        if node.func == "count":
            return len(items)
        if node.func == "has":
            return bool(items)
        assert node.value is not None
        values = [v for v in (self.value(node.value, i) for i in items) if v is not None]
        if node.func == "sum":
            total = sum(values, Decimal(0) if node.type.kind == "decimal" else 0)
            return quantize(total, node.type.scale) if node.type.kind == "decimal" else total
        if not values:
            return None
        if node.func == "avg":
            return quantize(Decimal(sum(values)) / len(values), node.type.scale)
        return min(values) if node.func == "min" else max(values)


def _computed(node: b.Bound) -> bool:
    return isinstance(node, b.BArith | b.BCall | b.BAggregate | b.BNeg)


def _same_kind(left: Any, right: Any) -> tuple[Any, Any]:
    """A date compared with a date-time is that day at midnight, as databases do."""
    if isinstance(left, dt.datetime) and type(right) is dt.date:
        return left, dt.datetime(right.year, right.month, right.day)
    if type(left) is dt.date and isinstance(right, dt.datetime):
        return dt.datetime(left.year, left.month, left.day), right
    if isinstance(left, list) and isinstance(right, list):
        return sorted(left), sorted(right)
    return left, right


def _day(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _contains(node: b.BCall, haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return needle in haystack
    return str(needle).lower() in str(haystack).lower()


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lower": lambda n, x: x.lower(),
    "upper": lambda n, x: x.upper(),
    "trim": lambda n, x: x.strip(" "),
    # as the databases do it: an empty `old` replaces nothing
    "replace": lambda n, x, old, new: x.replace(old, new) if old else x,
    "len": lambda n, x: len(x),
    "contains": _contains,
    "starts_with": lambda n, x, y: x.startswith(y),
    "year": lambda n, x: x.year,
    "month": lambda n, x: x.month,
    "day": lambda n, x: x.day,
    "hour": lambda n, x: x.hour,
    "days_between": lambda n, x, y: (_day(y) - _day(x)).days,
    "abs": lambda n, x: abs(x),
    "round": lambda n, x, places=0: (
        int(quantize(x, 0)) if n.type.kind == "integer" else quantize(x, n.type.scale)
    ),
}


def evaluate_many(
    node: b.Bound, records: Iterable[Mapping[str, Any]], resolver: Resolver | None, context: Context
) -> list[Any]:
    evaluator = Evaluator(resolver, context)
    return [evaluator.value(node, r) for r in records]
