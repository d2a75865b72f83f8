"""Bound tree → a SQLAlchemy expression, so a condition selects a segment of a million
records in one query. Same semantics as evaluate.py; what differs per database is asked
of storage's dialect (exact text, dates, JSON lists)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from framework.expressions import binding as b
from framework.expressions.evaluate import Context, Evaluator
from modeler.fieldtypes import HAS_MANY
from storage.manager import StorageManager
from storage.tables import column_name


class NotCompilable(ValueError):
    pass


def is_constant(node: b.Bound) -> bool:
    """True when the value is the same for every record (folded in Python, then bound)."""
    if isinstance(node, b.BLiteral | b.BUser | b.BParam):
        return True
    if isinstance(node, b.BCall):
        return node.name in ("today", "now") or (
            node.name not in ("if", "coalesce")
            and bool(node.args)
            and all(is_constant(a) for a in node.args)
        )
    if isinstance(node, b.BArith | b.BCompare):
        return is_constant(node.left) and is_constant(node.right)
    if isinstance(node, b.BNeg):
        return is_constant(node.operand)
    return False


_SA_TYPES: dict[str, Any] = {
    "integer": sa.BigInteger,
    "text": sa.String,
    "boolean": sa.Boolean,
    "date": sa.Date,
    "datetime": sa.DateTime,
}


class SqlCompiler:
    def __init__(self, storage: StorageManager, context: Context) -> None:
        self.storage = storage
        self.dialect = storage.dialect
        self.context = context
        self.evaluator = Evaluator(None, context)

    def where(self, node: b.Bound, root: sa.FromClause) -> Any:
        """A boolean clause: NULL (unknown) counts as false, as in a WHERE.

        Under and/or only the true rows matter, so a test of a linked record's field
        (`agent.team == "north"`) becomes `agent_id IN (SELECT id FROM agent WHERE team =
        'north')`, one lookup instead of one subquery per row. Elsewhere (under not, in
        if()) false and unknown differ, and the plain subquery stays."""
        if isinstance(node, b.BBool):
            items = [self.where(i, root) for i in node.items]
            return sa.and_(*items) if node.op == "and" else sa.or_(*items)
        if isinstance(node, b.BCompare | b.BIn):
            semi = self._semi_join(node, root)
            if semi is not None:
                return semi
        return self.sql(node, root)

    def _semi_join(self, node: b.BCompare | b.BIn, root: sa.FromClause) -> Any:
        sides: list[tuple[b.Bound, str, b.Bound | None]]
        if isinstance(node, b.BCompare):
            sides = [(node.left, "left", node.right), (node.right, "right", node.left)]
        else:
            sides = [(node.operand, "operand", None)]
            if not all(is_constant(i) for i in node.items):
                return None
        for side, attr, other in sides:
            if not isinstance(side, b.BField) or not side.links:
                continue
            if other is not None and not is_constant(other):
                continue
            target = self.storage.table(side.objects[1]).alias()
            nearer = replace(side, links=side.links[1:], objects=side.objects[1:])
            inner = self.where(replace(node, **{attr: nearer}), target)  # type: ignore[arg-type]
            ids = sa.select(target.c.id).where(target.c.deleted_at.is_(None), inner)
            return root.c[column_name(side.links[0])].in_(ids)
        return None

    def sql(self, node: b.Bound, root: sa.FromClause) -> Any:
        if is_constant(node) and not isinstance(node, b.BLiteral | b.BUser):
            return self._bind(self.evaluator.value(node, {}), node.type)
        method = getattr(self, f"_{type(node).__name__[1:].lower()}")
        return method(node, root)

    def _bind(self, value: Any, type_: b.Type) -> Any:
        if value is None:
            return sa.null()
        if type_.kind == "decimal" or isinstance(value, Decimal):
            return sa.bindparam(None, value, type_=sa.Numeric(36, max(type_.scale, 0)))
        if isinstance(value, dt.datetime):
            return sa.bindparam(None, value, type_=sa.DateTime())
        if isinstance(value, dt.date):
            return sa.bindparam(None, value, type_=sa.Date())
        sa_type = _SA_TYPES.get(type_.kind)
        return sa.bindparam(None, value, type_=sa_type() if sa_type else None)

    # leaves

    def _literal(self, node: b.BLiteral, root: sa.FromClause) -> Any:
        if isinstance(node.value, dt.timedelta):
            raise NotCompilable("a duration only works added to a date")
        return self._bind(node.value, node.type)

    def _user(self, node: b.BUser, root: sa.FromClause) -> Any:
        return self._bind((self.context.user or {}).get(node.attribute), node.type)

    def _field(self, node: b.BField, root: sa.FromClause) -> Any:
        return self._follow(root, node.links, node.objects, node.column)

    def _follow(
        self, source: sa.FromClause, links: tuple[Any, ...], objects: tuple[str, ...], column: str
    ) -> Any:
        if not links:
            return source.c[column]
        link, rest = links[0], links[1:]
        target = self.storage.table(objects[1]).alias()
        inner = self._follow(target, rest, objects[1:], column)
        return (
            sa.select(inner)
            .where(target.c.id == source.c[column_name(link)], target.c.deleted_at.is_(None))
            .scalar_subquery()
        )

    def _changed(self, node: b.BChanged, root: sa.FromClause) -> Any:
        raise NotCompilable(f"{node.func}() only works in rules")

    # logic

    def _not(self, node: b.BNot, root: sa.FromClause) -> Any:
        return sa.not_(self.sql(node.operand, root))

    def _bool(self, node: b.BBool, root: sa.FromClause) -> Any:
        items = [self.sql(i, root) for i in node.items]
        return sa.and_(*items) if node.op == "and" else sa.or_(*items)

    def _compare(self, node: b.BCompare, root: sa.FromClause) -> Any:
        left, right = self._operand(node.left, root), self._operand(node.right, root)
        if "decimal" in (node.left.type.kind, node.right.type.kind) and (
            _computed(node.left) or _computed(node.right)
        ):
            left = self.dialect.round_to(left, node.scale)
            right = self.dialect.round_to(right, node.scale)
        if node.left.type.kind == "text" and node.right.type.kind == "text":
            if node.op == "==":
                return self.dialect.text_equal(left, right)
            wrap = self.dialect.exact_text if node.op == "!=" else self.dialect.ordered_text
            left, right = wrap(left), wrap(right)
        return {
            "==": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[node.op]

    def _operand(self, node: b.Bound, root: sa.FromClause) -> Any:
        value = self.sql(node, root)
        if node.type.kind == "list":
            raise NotCompilable("compare lists with contains()")
        return value

    def _in(self, node: b.BIn, root: sa.FromClause) -> Any:
        operand = self.sql(node.operand, root)
        items = [self.sql(i, root) for i in node.items]
        if node.operand.type.kind == "text":
            clause = self.dialect.text_in(operand, items)
        else:
            clause = operand.in_(items)
        return sa.not_(clause) if node.negated else clause

    def _isnull(self, node: b.BIsNull, root: sa.FromClause) -> Any:
        value = self.sql(node.operand, root)
        return value.is_not(None) if node.negated else value.is_(None)

    def _like(self, node: b.BLike, root: sa.FromClause) -> Any:
        value = self.dialect.exact_text(sa.func.lower(self.sql(node.operand, root)))
        pattern = self.dialect.exact_text(sa.func.lower(self.sql(node.pattern, root)))
        return value.like(pattern, escape="\\")

    # arithmetic

    def _arith(self, node: b.BArith, root: sa.FromClause) -> Any:
        if node.op == "days":
            return self.dialect.days_between(self.sql(node.left, root), self.sql(node.right, root))
        if node.type.kind == "duration" and node.left.type.kind == "datetime":
            raise NotCompilable("the time between two date-times is computed in rules only")
        if node.right.type.kind == "duration":
            if not is_constant(node.right):
                raise NotCompilable("the duration must be a constant such as 2d")
            delta = self.evaluator.value(node.right, {})
            if node.op == "-":
                delta = -delta
            return self.dialect.add_interval(
                self.sql(node.left, root), delta, node.left.type.kind == "date"
            )
        left, right = self.sql(node.left, root), self.sql(node.right, root)
        if node.type.kind == "text":
            return sa.type_coerce(left, sa.String) + sa.type_coerce(right, sa.String)
        if node.op == "/":
            return self.dialect.round_to(self.dialect.divide(left, right), node.type.scale)
        result = {"+": left + right, "-": left - right, "*": left * right}[node.op]
        if node.type.kind == "decimal":
            return self.dialect.round_to(result, node.type.scale)
        return result

    def _neg(self, node: b.BNeg, root: sa.FromClause) -> Any:
        return -self.sql(node.operand, root)

    # functions

    def _call(self, node: b.BCall, root: sa.FromClause) -> Any:
        name = node.name
        args = [self.sql(a, root) for a in node.args]
        if name in ("lower", "upper"):
            return getattr(sa.func, name)(args[0])
        if name == "trim":
            return sa.func.trim(args[0])
        if name == "replace":
            return sa.func.replace(args[0], args[1], args[2])
        if name == "len":
            return self.dialect.char_length(args[0])
        if name == "contains":
            if node.args[0].type.kind == "list":  # unknown when the list is empty (NULL)
                return sa.case(
                    (args[0].is_(None), sa.null()),
                    else_=self.dialect.list_contains(args[0], args[1]),
                )
            position = self.dialect.position(sa.func.lower(args[0]), sa.func.lower(args[1]))
            return sa.case(
                (sa.or_(args[0].is_(None), args[1].is_(None)), sa.null()), else_=position > 0
            )
        if name == "starts_with":
            prefix = sa.func.substr(args[0], 1, self.dialect.char_length(args[1]))
            return self.dialect.exact_text(prefix) == self.dialect.exact_text(args[1])
        if name in ("year", "month", "day", "hour"):
            return self.dialect.date_part(name, args[0])
        if name == "days_between":
            return self.dialect.days_between(args[1], args[0])
        if name == "abs":
            return sa.func.abs(args[0])
        if name == "round":
            rounded = self.dialect.round_to(args[0], node.type.scale)
            return sa.cast(rounded, sa.Integer) if node.type.kind == "integer" else rounded
        if name == "coalesce":
            return sa.func.coalesce(*args)
        if name == "if":
            return sa.case((args[0], args[1]), else_=args[2])
        raise NotCompilable(f"{name}() cannot run in the database")  # today/now are constants

    def _aggregate(self, node: b.BAggregate, root: sa.FromClause) -> Any:
        target = self.storage.table(node.target).alias()
        if node.relation.kind == HAS_MANY:
            via = self.storage.model[node.target].fields[node.relation.via or ""]
            where: list[Any] = [target.c[column_name(via)] == root.c.id]
            source: sa.FromClause = target
        else:
            link = self.storage.tables.links[(node.object, node.relation.name)]
            reverse = self.storage.tables.reversed_links[(node.object, node.relation.name)]
            mine, theirs = ("target_id", "source_id") if reverse else ("source_id", "target_id")
            link_alias = link.alias()
            source = target.join(link_alias, link_alias.c[theirs] == target.c.id)
            where = [link_alias.c[mine] == root.c.id]
        where.append(target.c.deleted_at.is_(None))
        if node.condition is not None:
            where.append(self.sql(node.condition, target))
        if node.func == "has":
            return sa.exists(sa.select(sa.literal(1)).select_from(source).where(*where))
        if node.func == "count":
            measure: Any = sa.func.count()
        else:
            assert node.value is not None
            value = self.sql(node.value, target)
            measure = getattr(sa.func, node.func)(value)
            if node.func == "sum":
                measure = sa.func.coalesce(measure, 0)
            if node.func == "avg":
                measure = self.dialect.round_to(measure, node.type.scale)
        return sa.select(measure).select_from(source).where(*where).scalar_subquery()


def _computed(node: b.Bound) -> bool:
    return isinstance(node, b.BArith | b.BCall | b.BAggregate | b.BNeg)
