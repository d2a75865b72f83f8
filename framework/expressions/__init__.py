"""The expression language: one text, checked against the model once, evaluated for one
record in Python or turned into a WHERE for a whole segment — with the same meaning.

    cond = Expression.compile('stage == "rfp_received" and amount > 50000', model, "opportunity")
    cond.test(record, resolver)            # one record
    select(table).where(cond.where(storage))   # a million records, one query
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from framework.expressions.binding import Bound, Scope, Type, bind, bind_condition
from framework.expressions.evaluate import Context, Evaluator, Resolver
from framework.expressions.syntax import ExpressionError, parse
from framework.expressions.to_sql import NotCompilable, SqlCompiler
from modeler.schema import Model

__all__ = [
    "Context",
    "Expression",
    "ExpressionError",
    "NotCompilable",
    "Resolver",
]


@dataclass(frozen=True)
class Expression:
    text: str
    object: str
    bound: Bound

    @classmethod
    def compile(
        cls,
        text: str,
        model: Model,
        object_name: str,
        *,
        condition: bool = True,
        rules: bool = False,
        params: Mapping[str, Type] | None = None,
    ) -> Expression:
        """Parse and check `text` for records of `object_name`; raise ExpressionError with
        the character and a hint when it does not fit."""
        node = parse(text)
        scope = Scope(model, object_name, rules=rules, params=dict(params or {}))
        bound = bind_condition(node, scope) if condition else bind(node, scope)
        return cls(text, object_name, bound)

    @property
    def type(self) -> Type:
        return self.bound.type

    def evaluate(
        self,
        record: Mapping[str, Any],
        resolver: Resolver | None = None,
        context: Context | None = None,
    ) -> Any:
        return Evaluator(resolver, context or Context()).value(self.bound, record)

    def test(
        self,
        record: Mapping[str, Any],
        resolver: Resolver | None = None,
        context: Context | None = None,
    ) -> bool:
        """True only when the condition holds (unknown counts as not holding)."""
        return self.evaluate(record, resolver, context) is True

    def where(
        self, storage: Any, table: sa.FromClause | None = None, context: Context | None = None
    ) -> Any:
        """The condition as a SQLAlchemy WHERE clause on the object's table."""
        root = table if table is not None else storage.table(self.object)
        return SqlCompiler(storage, context or Context()).where(self.bound, root)

    def column(
        self, storage: Any, table: sa.FromClause | None = None, context: Context | None = None
    ) -> Any:
        """The value as a SQLAlchemy column expression (formulas, report measures)."""
        root = table if table is not None else storage.table(self.object)
        return SqlCompiler(storage, context or Context()).sql(self.bound, root)
