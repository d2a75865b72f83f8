"""Applies an object's declared behaviour to one write, inside its transaction: stored
formulas, conditional fields, validation rules and the workflow; then keeps roll-ups of
parent records current. Called only by the records service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from framework.behaviour import Behaviour, ObjectBehaviour
from framework.expressions import Context, Expression
from framework.expressions.evaluate import plain
from framework.expressions.resolver import SqlAggregateResolver
from framework.expressions.to_sql import SqlCompiler
from modeler.fieldtypes import CoerceContext
from modeler.schema import ObjectDef
from storage.manager import StorageManager
from storage.tables import column_name


def _has_aggregate(expression: Expression) -> bool:
    from framework.behaviour import _aggregates

    return any(True for _ in _aggregates(expression.bound))


def user_context(actor: Any) -> dict[str, Any]:
    return {
        "id": actor.user_id,
        "name": actor.name,
        "team": actor.team,
        "territory": actor.territory,
        "role": actor.role,
        "email": actor.email,
    }


class Enforcer:
    def __init__(
        self, storage: StorageManager, behaviour: Behaviour, coerce: CoerceContext
    ) -> None:
        self.storage = storage
        self.behaviour = behaviour
        self.coerce = coerce
        self._sql_cache: dict[tuple[str, str, str], Any] = {}

    def context(self, actor: Any, before: Mapping[str, Any] | None) -> Context:
        return Context(user=user_context(actor), before=before)

    def check(
        self,
        conn: Connection,
        obj: ObjectDef,
        before: Mapping[str, Any] | None,
        after: dict[str, Any],
        changed: set[str],
        actor: Any,
    ) -> dict[str, str]:
        """Fill stored formulas into `after`; return field → message for what fails."""
        rules = self.behaviour.of(obj.name)
        errors: dict[str, str] = {}
        resolver = SqlAggregateResolver(self.storage, conn)
        ctx = self.context(actor, before)
        for name, formula in rules.formulas.items():
            if not _has_aggregate(formula):  # aggregates are refreshed once written
                after[name] = self._fit(obj, name, formula.evaluate(after, resolver, ctx))
        if before is not None:
            for name, condition in rules.read_only_when.items():
                if name in changed and condition.test(before, resolver, ctx):
                    errors[name] = f"cannot be changed now ({condition.text})"
        for name, condition in rules.required_when.items():
            if after.get(name) in (None, "", []) and condition.test(after, resolver, ctx):
                errors.setdefault(name, f"is required when {condition.text}")
        for validation, check, when in rules.validations:
            if when is not None and not when.test(after, resolver, ctx):
                continue
            if check.evaluate(after, resolver, ctx) is False:
                errors.setdefault(validation.field or "__all__", validation.message)
        message = self._transition(rules, obj, before, after, changed, actor, resolver, ctx)
        if message and rules.workflow_field:
            errors.setdefault(rules.workflow_field, message)
        return errors

    def _fit(self, obj: ObjectDef, name: str, value: Any) -> Any:
        """A formula's result in the field's own type (a money formula keeps 2 decimals)."""
        if value is None:
            return None
        f = obj.fields[name]
        ftype = self.storage.model.field_types.get(f.type)
        try:
            return ftype.coerce(f, value, self.coerce) if ftype.coerce else value
        except ValueError:
            return None

    def _transition(
        self,
        rules: ObjectBehaviour,
        obj: ObjectDef,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any],
        changed: set[str],
        actor: Any,
        resolver: Any,
        ctx: Context,
    ) -> str | None:
        state_field = rules.workflow_field
        if state_field is None or before is None or state_field not in changed:
            return None
        old, new = plain(before.get(state_field)), after.get(state_field)
        f = obj.fields[state_field]
        candidates = [t for t in rules.allowed_transitions(old) if t.transition.target == new]
        if not candidates:
            possible = sorted(
                {f.choice_label(t.transition.target) for t in rules.allowed_transitions(old)}
            )
            return f"cannot go from {f.choice_label(old)} to {f.choice_label(new)}" + (
                f"; from {f.choice_label(old)} it can go to: {', '.join(possible)}"
                if possible
                else f"; {f.choice_label(old)} is a final state"
            )
        reasons = []
        for candidate in candidates:
            t = candidate.transition
            if (
                t.roles
                and getattr(actor, "role", None) not in t.roles
                and actor.channel not in ("system", "rule")
            ):
                reasons.append(f"only {', '.join(t.roles)} may move it to {f.choice_label(new)}")
                continue
            if candidate.guard is not None and not candidate.guard.test(after, resolver, ctx):
                reasons.append(
                    f"it can move to {f.choice_label(new)} only when {candidate.guard.text}"
                )
                continue
            return None
        return reasons[0]

    def allowed_states(
        self, conn: Connection, obj: ObjectDef, record: Mapping[str, Any], actor: Any
    ) -> list[str]:
        """The states a user may move this record to (for screens and the kanban)."""
        rules = self.behaviour.of(obj.name)
        if rules.workflow_field is None:
            return []
        state = plain(record.get(rules.workflow_field))
        resolver = SqlAggregateResolver(self.storage, conn)
        ctx = self.context(actor, record)
        allowed = [state] if state is not None else []
        for candidate in rules.allowed_transitions(state):
            t = candidate.transition
            if t.roles and getattr(actor, "role", None) not in t.roles:
                continue
            target = dict(record, **{rules.workflow_field: t.target})
            if candidate.guard is not None and not candidate.guard.test(target, resolver, ctx):
                continue
            if t.target not in allowed:
                allowed.append(t.target)
        return allowed

    # -- after the write: aggregate formulas, of this record and of its parents ----------

    def refresh(
        self,
        conn: Connection,
        obj: ObjectDef,
        ident: int,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> list[tuple[str, int, dict[str, tuple[Any, Any]]]]:
        """Recompute aggregate formulas of this record and of the parents whose roll-ups
        it feeds. Returns what changed in other records (object, id, field → (old, new)),
        so the records service can tell listeners and rules about it."""
        own = {n: e for n, e in self.behaviour.of(obj.name).formulas.items() if _has_aggregate(e)}
        if own:
            self._recompute(conn, obj.name, own, [ident])
        changed: list[tuple[str, int, dict[str, tuple[Any, Any]]]] = []
        for rollup in self.behaviour.rollups_fed_by(obj.name):
            parents = {
                plain((before or {}).get(rollup.via)),
                plain((after or {}).get(rollup.via)),
            } - {None}
            if parents:
                formula = self.behaviour.of(rollup.parent).formulas[rollup.field]
                diffs = self._recompute(
                    conn, rollup.parent, {rollup.field: formula}, sorted(int(p) for p in parents)
                )
                changed += [(rollup.parent, i, d) for i, d in diffs.items()]
        return changed

    def _recompute(
        self, conn: Connection, object_name: str, formulas: Mapping[str, Expression], ids: list[int]
    ) -> dict[int, dict[str, tuple[Any, Any]]]:
        """One UPDATE: the database computes each aggregate for the given records.
        Returns, per record, the fields whose value changed."""
        table = self.storage.table(object_name)
        obj = self.storage.model[object_name]
        compiler = SqlCompiler(self.storage, Context())
        columns = {name: table.c[column_name(obj.fields[name])] for name in formulas}
        read = sa.select(table.c.id, *columns.values()).where(table.c.id.in_(ids))
        old = {r.id: r for r in conn.execute(read)}
        values = {}
        for name, formula in formulas.items():
            # Building the SQL of an aggregate costs more than running it: keep it, unless
            # it holds today() or now(), which are written into the SQL as values.
            key = (object_name, name, formula.text)
            expression = self._sql_cache.get(key)
            if expression is None:
                expression = compiler.sql(formula.bound, table)
                # SQLite keeps dates as ISO text and a CAST to DATE would make a number of
                # '2025-01-31' (2025): the aggregate's text is already what is stored
                kind = columns[name].type
                if not (
                    self.storage.backend == "sqlite" and isinstance(kind, sa.Date | sa.DateTime)
                ):
                    expression = sa.cast(expression, kind)
                if not _uses_the_clock(formula.bound):
                    self._sql_cache[key] = expression
            values[columns[name].name] = expression
        conn.execute(table.update().where(table.c.id.in_(ids)).values(**values))
        diffs: dict[int, dict[str, tuple[Any, Any]]] = {}
        for row in conn.execute(read):
            before_row = old.get(row.id)
            for name, column in columns.items():
                was = None if before_row is None else before_row._mapping[column]
                now = row._mapping[column]
                if was != now:
                    diffs.setdefault(int(row.id), {})[name] = (was, now)
        return diffs


def _uses_the_clock(node: Any) -> bool:
    """Whether a bound expression calls today() or now() anywhere inside."""
    import dataclasses

    from framework.expressions.binding import BCall

    if isinstance(node, BCall) and node.name in ("today", "now"):
        return True
    if isinstance(node, tuple):
        return any(_uses_the_clock(item) for item in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return any(_uses_the_clock(getattr(node, f.name)) for f in dataclasses.fields(node))
    return False


def no_rules(name: str) -> ObjectBehaviour:
    return ObjectBehaviour(name)
