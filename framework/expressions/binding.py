"""Syntax tree + model → a bound, type-checked tree.

Binding resolves every name against the model (fields, links followed with `.`, has_many
relations for aggregates, `user.…`), checks types and choice values, and reports each
problem at its character with a did-you-mean. Both compilers (to Python and to SQL) work
on the bound tree only, so they cannot disagree on what a name means.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from framework.expressions import syntax as s
from framework.expressions.syntax import ExpressionError
from modeler.fieldtypes import HAS_MANY, LINK, MANY_TO_MANY
from modeler.problems import did_you_mean
from modeler.schema import FieldDef, Model

# -- types ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Type:
    kind: str  # integer decimal text boolean date datetime duration list null any
    scale: int = 0
    choices: tuple[str, ...] = ()  # for text from a choice field
    labels: tuple[str, ...] = ()  # the choices' labels, in the same order

    @property
    def numeric(self) -> bool:
        return self.kind in ("integer", "decimal")

    def __str__(self) -> str:
        return {
            "integer": "a whole number",
            "decimal": "a number",
            "text": "text",
            "boolean": "true/false",
            "date": "a date",
            "datetime": "a date-time",
            "duration": "a duration",
            "list": "a list of values",
            "null": "null",
            "any": "a value",
        }[self.kind]


INTEGER = Type("integer")
TEXT = Type("text")
BOOLEAN = Type("boolean")
DATE = Type("date")
DATETIME = Type("datetime")
DURATION = Type("duration")
NULL = Type("null")
ANY = Type("any")
MAX_SCALE = 8
DIVISION_SCALE = 6

_FIELD_TYPES = {
    "string": TEXT,
    "text": TEXT,
    "email": TEXT,
    "phone": TEXT,
    "url": TEXT,
    "autonumber": TEXT,
    "national_id": TEXT,
    "integer": INTEGER,
    "boolean": BOOLEAN,
    "date": DATE,
    "datetime": DATETIME,
    "multichoice": Type("list"),
}
_SYSTEM = {
    "id": INTEGER,
    "version": INTEGER,
    "created_at": DATETIME,
    "updated_at": DATETIME,
    "created_by": INTEGER,
    "updated_by": INTEGER,
}
USER_ATTRIBUTES = {
    "id": INTEGER,
    "name": TEXT,
    "email": TEXT,
    "team": TEXT,
    "territory": TEXT,
    "role": TEXT,
}


def type_of_field(f: FieldDef) -> Type:
    if f.type in ("decimal", "money", "percent"):
        scale = f.scale if f.scale is not None else {"money": 2}.get(f.type, 4)
        return Type("decimal", scale)
    labels = tuple(v.label for v in f.values)
    if f.type == "choice":
        return Type("text", choices=f.choice_codes, labels=labels)
    if f.type == "multichoice":
        return Type("list", choices=f.choice_codes, labels=labels)
    if f.kind == LINK:
        return INTEGER
    return _FIELD_TYPES.get(f.type, ANY)


# -- bound nodes ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bound:
    type: Type


@dataclass(frozen=True, slots=True)
class BLiteral(Bound):
    value: Any


@dataclass(frozen=True, slots=True)
class BField(Bound):
    """A field of the record, maybe reached through links (`account.owner.team`)."""

    links: tuple[FieldDef, ...]
    name: str  # field name, or a system column
    column: str
    objects: tuple[str, ...]  # the object of the root, then of each link's target


@dataclass(frozen=True, slots=True)
class BUser(Bound):
    attribute: str


@dataclass(frozen=True, slots=True)
class BParam(Bound):
    """A report parameter: one value for every record, given when the report runs."""

    name: str


@dataclass(frozen=True, slots=True)
class BNot(Bound):
    operand: Bound


@dataclass(frozen=True, slots=True)
class BBool(Bound):
    op: str
    items: tuple[Bound, ...]


@dataclass(frozen=True, slots=True)
class BCompare(Bound):
    op: str
    left: Bound
    right: Bound
    scale: int = 0  # decimals compared at this precision


@dataclass(frozen=True, slots=True)
class BIn(Bound):
    operand: Bound
    items: tuple[Bound, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class BIsNull(Bound):
    operand: Bound
    negated: bool


@dataclass(frozen=True, slots=True)
class BLike(Bound):
    operand: Bound
    pattern: Bound


@dataclass(frozen=True, slots=True)
class BArith(Bound):
    op: str
    left: Bound
    right: Bound


@dataclass(frozen=True, slots=True)
class BNeg(Bound):
    operand: Bound


@dataclass(frozen=True, slots=True)
class BCall(Bound):
    name: str
    args: tuple[Bound, ...]


@dataclass(frozen=True, slots=True)
class BAggregate(Bound):
    """count/sum/avg/min/max/has over the records of a has_many or many_to_many."""

    func: str
    object: str  # the object the relation belongs to
    relation: FieldDef
    target: str
    value: Bound | None  # the measured field, bound on the target (None for count/has)
    condition: Bound | None  # bound on the target


@dataclass(frozen=True, slots=True)
class BChanged(Bound):
    """changed(field) / previous(field): only in rules, which see the record before."""

    func: str
    field: BField


# -- functions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    args: tuple[str, ...]  # kinds accepted per argument ("text", "number", "date", "any" …)
    returns: str  # a kind, or "arg0" for the type of the first argument
    help: str
    optional: int = 0  # how many trailing args may be left out


FUNCTIONS = {
    f.name: f
    for f in (
        Function("today", (), "date", "today's date"),
        Function("now", (), "datetime", "the current date and time"),
        Function("lower", ("text",), "text", "text in lowercase"),
        Function("upper", ("text",), "text", "text in uppercase"),
        Function("trim", ("text",), "text", "text without surrounding spaces"),
        Function("replace", ("text", "text", "text"), "text", "text with every `old` made `new`"),
        Function("len", ("text",), "integer", "number of characters"),
        Function(
            "contains",
            ("text|list", "text"),
            "boolean",
            "text contains other text (ignoring case), or a multichoice holds a value",
        ),
        Function("starts_with", ("text", "text"), "boolean", "text starts with other text"),
        Function("year", ("date|datetime",), "integer", "the year of a date"),
        Function("month", ("date|datetime",), "integer", "the month (1-12) of a date"),
        Function("day", ("date|datetime",), "integer", "the day of the month of a date"),
        Function("hour", ("datetime",), "integer", "the hour (0-23) of a date-time"),
        Function(
            "days_between",
            ("date|datetime", "date|datetime"),
            "integer",
            "days from the first date to the second",
        ),
        Function("abs", ("number",), "arg0", "absolute value"),
        Function(
            "round", ("number", "integer"), "decimal", "a number rounded to N decimals", optional=1
        ),
        Function("coalesce", ("any", "any"), "arg0", "the first value that is not empty"),
        Function(
            "if",
            ("boolean", "any", "any"),
            "arg1",
            "the second value when the condition holds, else the third",
        ),
    )
}
AGGREGATES = ("count", "sum", "avg", "min", "max", "has")
RULE_FUNCTIONS = ("changed", "previous")


# -- binding --------------------------------------------------------------------------------


@dataclass
class Scope:
    model: Model
    object: str
    rules: bool = False  # changed()/previous() allowed
    user: bool = True  # user.… allowed
    params: dict[str, Type] = field(default_factory=dict)  # :name parameters (reports)


def bind(node: s.Node, scope: Scope) -> Bound:
    return _Binder(scope).bind(node)


def bind_condition(node: s.Node, scope: Scope) -> Bound:
    bound = bind(node, scope)
    if bound.type.kind not in ("boolean", "null"):
        raise ExpressionError(
            f"a condition must be true or false, but this is {bound.type}",
            node.at,
            "compare it with something, e.g. amount > 0",
        )
    return bound


class _Binder:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.model = scope.model

    def bind(self, node: s.Node, obj: str | None = None) -> Bound:
        obj = obj or self.scope.object
        method = getattr(self, f"_{type(node).__name__.lower()}")
        return method(node, obj)

    # literals and names

    def _literal(self, node: s.Literal, obj: str) -> Bound:
        v = node.value
        if v is None:
            return BLiteral(NULL, None)
        if isinstance(v, bool):
            return BLiteral(BOOLEAN, v)
        if isinstance(v, int):
            return BLiteral(INTEGER, v)
        if isinstance(v, Decimal):
            return BLiteral(Type("decimal", min(-int(v.as_tuple().exponent), MAX_SCALE)), v)
        if isinstance(v, dt.timedelta):
            return BLiteral(DURATION, v)
        return BLiteral(TEXT, v)

    def _path(self, node: s.Path, obj: str) -> Bound:
        parts = node.parts
        # `user.…` is the person signed in, at the top and inside an aggregate's `where`
        # (count(tickets where owner == user.id)), unless that object has a `user` field
        if parts[0] == "user" and (
            obj == self.scope.object or "user" not in self.model[obj].fields
        ):
            if not self.scope.user:
                raise ExpressionError("user is not known here", node.at)
            if len(parts) != 2 or parts[1] not in USER_ATTRIBUTES:
                attr = parts[1] if len(parts) > 1 else ""
                raise ExpressionError(
                    f"user has no attribute '{attr}'",
                    node.at,
                    did_you_mean(attr, USER_ATTRIBUTES)
                    or f"use one of: {', '.join(USER_ATTRIBUTES)}",
                )
            return BUser(USER_ATTRIBUTES[parts[1]], parts[1])
        links: list[FieldDef] = []
        objects = [obj]
        current = self.model[obj]
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            f = current.fields.get(part)
            if f is None and part in _SYSTEM and last:
                return BField(_SYSTEM[part], tuple(links), part, part, tuple(objects))
            if f is None:
                raise ExpressionError(
                    f"{current.label} has no field '{part}'",
                    node.at,
                    did_you_mean(part, [*current.fields, *_SYSTEM])
                    or f"fields of {current.name}: {', '.join(current.fields)}",
                )
            if f.kind in (HAS_MANY, MANY_TO_MANY):
                raise ExpressionError(
                    f"'{part}' holds many records: use count({part}), sum({part}.field), "
                    f"or has({part}, condition)",
                    node.at,
                )
            if last:
                from storage.tables import column_name

                return BField(
                    type_of_field(f), tuple(links), f.name, column_name(f), tuple(objects)
                )
            if f.kind != LINK:
                raise ExpressionError(
                    f"'{part}' is not a link, so '{parts[i + 1]}' cannot follow it", node.at
                )
            links.append(f)
            current = self.model[f.target or ""]
            objects.append(current.name)
        raise ExpressionError("empty name", node.at)  # pragma: no cover - grammar forbids

    def _param(self, node: s.Param, obj: str) -> Bound:
        found = self.scope.params.get(node.name)
        if found is None:
            if not self.scope.params:
                raise ExpressionError(
                    f"':{node.name}' is a parameter, and only reports have parameters", node.at
                )
            raise ExpressionError(
                f"unknown parameter ':{node.name}'",
                node.at,
                did_you_mean(node.name, self.scope.params)
                or f"parameters: {', '.join(':' + p for p in self.scope.params)}",
            )
        return BParam(found, node.name)

    # logic

    def _not(self, node: s.Not, obj: str) -> Bound:
        operand = self._boolean(node.operand, obj, "not")
        return BNot(BOOLEAN, operand)

    def _boolop(self, node: s.BoolOp, obj: str) -> Bound:
        items = tuple(self._boolean(item, obj, node.op) for item in node.items)
        return BBool(BOOLEAN, node.op, items)

    def _boolean(self, node: s.Node, obj: str, word: str) -> Bound:
        bound = self.bind(node, obj)
        if bound.type.kind not in ("boolean", "null"):
            raise ExpressionError(
                f"'{word}' needs conditions (true/false), not {bound.type}", node.at
            )
        return bound

    def _compare(self, node: s.Compare, obj: str) -> Bound:
        left = self.bind(node.left, obj)
        right = self.bind(node.right, obj)
        left, right = (
            _date_literal(left, right, node.left.at),
            _date_literal(right, left, node.right.at),
        )
        if NULL in (left.type, right.type):
            if node.op not in ("==", "!="):
                raise ExpressionError("null cannot be ordered", node.at, "use 'is null'")
            operand = right if left.type == NULL else left
            return BIsNull(BOOLEAN, operand, negated=node.op == "!=")
        self._comparable(left, right, node.right.at, node.op)
        self._check_choice(left, right, node.right)
        self._check_choice(right, left, node.left)
        return BCompare(BOOLEAN, node.op, left, right, max(left.type.scale, right.type.scale))

    def _comparable(self, left: Bound, right: Bound, at: int, op: str) -> None:
        a, b = left.type.kind, right.type.kind
        if (
            "any" in (a, b)
            or a == b
            or {a, b} <= {"integer", "decimal"}
            or {a, b} <= {"date", "datetime"}
        ):
            if a == "list" and op not in ("==", "!="):
                raise ExpressionError("lists cannot be ordered", at)
            if a == "boolean" and op not in ("==", "!="):
                raise ExpressionError("true/false cannot be ordered", at)
            return
        raise ExpressionError(
            f"cannot compare {left.type} with {right.type}", at, _compare_hint(left, right)
        )

    def _min_max(self, func: str, value: Bound, at: int) -> None:
        if func in ("min", "max") and value.type.kind not in (
            "integer",
            "decimal",
            "date",
            "datetime",
        ):
            raise ExpressionError(f"{func}() works on numbers and dates, not {value.type}", at)

    def _check_choice(self, field_side: Bound, literal_side: Bound, node: s.Node) -> None:
        choices = field_side.type.choices
        if (
            choices
            and isinstance(literal_side, BLiteral)
            and isinstance(literal_side.value, str)
            and literal_side.value not in choices
        ):
            word = literal_side.value
            by_label = {
                label.lower(): code
                for code, label in zip(choices, field_side.type.labels, strict=False)
            }
            near_label = did_you_mean(word.lower(), by_label)
            hint = (
                (
                    f"did you mean '{by_label[near_label.split(chr(39))[1]]}'? (the code, "
                    "not the label)"
                )
                if near_label
                else did_you_mean(word, choices)
            )
            listed = ", ".join(
                f"{c} ({lab})" if lab and lab != c else c
                for c, lab in zip(choices, field_side.type.labels or choices, strict=False)
            )
            raise ExpressionError(
                f"'{word}' is not a value of this field", node.at, hint or f"values: {listed}"
            )

    def _in(self, node: s.In, obj: str) -> Bound:
        operand = self.bind(node.operand, obj)
        items = []
        for item_node in node.items:
            item = _date_literal(self.bind(item_node, obj), operand, item_node.at)
            if item.type != NULL:
                self._comparable(operand, item, item_node.at, "==")
                self._check_choice(operand, item, item_node)
            items.append(item)
        return BIn(BOOLEAN, operand, tuple(items), node.negated)

    def _between(self, node: s.Between, obj: str) -> Bound:
        low = s.Compare(node.at, ">=", node.operand, node.low)
        high = s.Compare(node.at, "<=", node.operand, node.high)
        return self._boolop(s.BoolOp(node.at, "and", (low, high)), obj)

    def _isnull(self, node: s.IsNull, obj: str) -> Bound:
        return BIsNull(BOOLEAN, self.bind(node.operand, obj), node.negated)

    def _like(self, node: s.Like, obj: str) -> Bound:
        operand = self.bind(node.operand, obj)
        pattern = self.bind(node.pattern, obj)
        for side, at in ((operand, node.operand.at), (pattern, node.pattern.at)):
            if side.type.kind not in ("text", "null", "any"):
                raise ExpressionError(f"like works on text, not {side.type}", at)
        return BLike(BOOLEAN, operand, pattern)

    # arithmetic

    def _arith(self, node: s.Arith, obj: str) -> Bound:
        left = self.bind(node.left, obj)
        right = self.bind(node.right, obj)
        a, b = left.type, right.type
        if NULL in (a, b):
            return BArith(a if b == NULL else b, node.op, left, right)
        if a.kind == "text" and b.kind == "text" and node.op == "+":
            return BArith(TEXT, "+", left, right)
        if a.numeric and b.numeric:
            if node.op == "/":
                return BArith(Type("decimal", DIVISION_SCALE), "/", left, right)
            if a.kind == b.kind == "integer":
                return BArith(INTEGER, node.op, left, right)
            scale = a.scale + b.scale if node.op == "*" else max(a.scale, b.scale)
            return BArith(Type("decimal", min(scale, MAX_SCALE)), node.op, left, right)
        if a.kind in ("date", "datetime") and b.kind == "duration" and node.op in "+-":
            if (
                a.kind == "date"
                and isinstance(right, BLiteral)
                and right.value % dt.timedelta(days=1)
            ):
                raise ExpressionError(
                    "a date moves by whole days", node.right.at, "use d or w, or a date-time field"
                )
            return BArith(a, node.op, left, right)
        if a.kind == "duration" and b.kind in ("date", "datetime") and node.op == "+":
            return BArith(b, "+", right, left)
        if a.kind == b.kind == "date" and node.op == "-":
            return BArith(INTEGER, "days", left, right)
        if a.kind == b.kind == "datetime" and node.op == "-":
            # how long between two moments (a ticket's paused time); rules and formulas
            # compute it, the database does not (see to_sql)
            return BArith(DURATION, "-", left, right)
        if a.kind == b.kind == "duration" and node.op in "+-":
            return BArith(DURATION, node.op, left, right)
        raise ExpressionError(f"cannot use {node.op} between {a} and {b}", node.at)

    def _neg(self, node: s.Neg, obj: str) -> Bound:
        operand = self.bind(node.operand, obj)
        if not operand.type.numeric and operand.type.kind != "duration":
            raise ExpressionError(f"cannot negate {operand.type}", node.at)
        return BNeg(operand.type, operand)

    # calls

    def _call(self, node: s.Call, obj: str) -> Bound:
        if node.name in AGGREGATES:
            return self._aggregate(node, obj)
        if node.name in RULE_FUNCTIONS:
            if not self.scope.rules:
                raise ExpressionError(
                    f"{node.name}() only works in rules, which see the "
                    "record before and after a change",
                    node.at,
                )
            if len(node.args) != 1 or not isinstance(node.args[0], s.Path):
                raise ExpressionError(f"{node.name}() takes one field name", node.at)
            target = self.bind(node.args[0], obj)
            if not isinstance(target, BField) or target.links:
                raise ExpressionError(f"{node.name}() takes a field of this record", node.at)
            return BChanged(BOOLEAN if node.name == "changed" else target.type, node.name, target)
        function = FUNCTIONS.get(node.name)
        if function is None:
            known = [*FUNCTIONS, *AGGREGATES]
            raise ExpressionError(
                f"unknown function '{node.name}'",
                node.at,
                did_you_mean(node.name, known) or f"functions: {', '.join(sorted(known))}",
            )
        need, extra = len(function.args), function.optional
        if not need - extra <= len(node.args) <= need:
            count = str(need) if not extra else f"{need - extra} or {need}"
            raise ExpressionError(
                f"{node.name}() takes {count} value(s), not {len(node.args)}", node.at
            )
        args = tuple(self.bind(a, obj) for a in node.args)
        if (
            node.name == "round"
            and len(args) > 1
            and not (isinstance(args[1], BLiteral) and isinstance(args[1].value, int))
        ):
            raise ExpressionError(
                "round() takes the number of decimals as a plain number",
                node.args[1].at,
                "e.g. round(amount * 1.21, 2)",
            )
        for arg, wanted, arg_node in zip(args, function.args, node.args, strict=False):
            if not _accepts(wanted, arg.type):
                raise ExpressionError(
                    f"{node.name}() needs {wanted.replace('|', ' or ')} here, not {arg.type}",
                    arg_node.at,
                )
        if node.name in ("coalesce", "if"):
            first = 0 if node.name == "coalesce" else 1
            a, b = args[first].type, args[first + 1].type
            if not _same_kind(a, b):
                raise ExpressionError(
                    f"{node.name}() gives {a} or {b}: both values must be of one kind",
                    node.args[first + 1].at,
                    "convert one of them, e.g. coalesce(amount, 0) for a number, "
                    'coalesce(name, "") for text',
                )
        if node.name == "coalesce":
            result = args[0].type if args[0].type != NULL else args[1].type
            if result.numeric and args[1].type.numeric and result.kind != args[1].type.kind:
                result = Type("decimal", max(args[0].type.scale, args[1].type.scale))
        elif function.returns == "arg0":
            result = args[0].type
        elif function.returns == "arg1":
            result = args[1].type if args[1].type != NULL else args[2].type
            if result.numeric and args[2].type.numeric and result.kind != args[2].type.kind:
                result = Type("decimal", max(args[1].type.scale, args[2].type.scale))
        elif node.name == "round" and _round_scale(args) == 0:
            result = INTEGER  # round(x) is a whole number: it fits an integer field
        else:
            result = {
                "decimal": Type("decimal", _round_scale(args)),
                "integer": INTEGER,
                "text": TEXT,
                "boolean": BOOLEAN,
                "date": DATE,
                "datetime": DATETIME,
            }[function.returns]
        return BCall(result, node.name, args)

    def _aggregate(self, node: s.Call, obj: str) -> Bound:
        func = node.name
        if not node.args:
            raise ExpressionError(f"{func}() needs a relation, e.g. {func}(tickets)", node.at)
        first = node.args[0]
        condition_node: s.Node | None = None
        if isinstance(first, s.Filtered):
            path, condition_node = first.path, first.condition
        elif isinstance(first, s.Path):
            path = first
        else:
            raise ExpressionError(
                f"{func}() needs a relation such as tickets or opportunities.amount", first.at
            )
        if func == "has":
            if len(node.args) > 2:
                raise ExpressionError("has() takes a relation and a condition", node.at)
            if len(node.args) == 2:
                if condition_node is not None:
                    raise ExpressionError("give the condition once", node.args[1].at)
                condition_node = node.args[1]
        elif len(node.args) != 1:
            raise ExpressionError(
                f"{func}() takes one relation (add 'where …' to narrow it)", node.at
            )
        current = self.model[obj]
        relation = current.fields.get(path.parts[0])
        if relation is None or relation.kind not in (HAS_MANY, MANY_TO_MANY):
            many = [f.name for f in current.fields.values() if f.kind in (HAS_MANY, MANY_TO_MANY)]
            raise ExpressionError(
                f"'{path.parts[0]}' is not a list of related records of {current.label}",
                path.at,
                did_you_mean(path.parts[0], many)
                or (
                    f"relations of {current.name}: {', '.join(many)}"
                    if many
                    else f"{current.name} has no has_many or many_to_many field"
                ),
            )
        target = relation.target or ""
        value: Bound | None = None
        if len(path.parts) > 1:
            if func in ("count", "has"):
                raise ExpressionError(
                    f"{func}() counts records: write {func}({path.parts[0]})", path.at
                )
            value = self._path(s.Path(path.at, path.parts[1:]), target)
            self._min_max(func, value, path.at)
            if func in ("sum", "avg") and not value.type.numeric:
                raise ExpressionError(
                    f"{func}() needs a number, and {path.parts[-1]} is {value.type}", path.at
                )
        elif func in ("sum", "avg", "min", "max"):
            raise ExpressionError(
                f"{func}() needs a field of the related records, e.g. "
                f"{func}({path.parts[0]}.amount)",
                path.at,
            )
        condition = None
        if condition_node is not None:
            condition = self.bind(condition_node, target)
            if condition.type.kind not in ("boolean", "null"):
                raise ExpressionError("the condition must be true or false", condition_node.at)
        if func == "count":
            result = INTEGER
        elif func == "has":
            result = BOOLEAN
        elif func == "avg":
            result = Type("decimal", DIVISION_SCALE)
        else:
            assert value is not None
            result = value.type
        return BAggregate(result, func, obj, relation, target, value, condition)

    def _filtered(self, node: s.Filtered, obj: str) -> Bound:
        raise ExpressionError(
            "'where' narrows a relation inside count(), sum(), avg(), min(), max() or has()",
            node.at,
        )


def _date_literal(side: Bound, other: Bound, at: int) -> Bound:
    """ "2025-01-31" next to a date is that date (there is no other way to write one)."""
    if not (
        isinstance(side, BLiteral)
        and isinstance(side.value, str)
        and other.type.kind in ("date", "datetime")
    ):
        return side
    try:
        if other.type.kind == "date":
            return BLiteral(DATE, dt.date.fromisoformat(side.value))
        moment = dt.datetime.fromisoformat(side.value)
        if moment.tzinfo is not None:  # stored date-times are UTC without an offset
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return BLiteral(DATETIME, moment)
    except ValueError:
        raise ExpressionError(
            f"'{side.value}' is not a date", at, 'write dates as "YYYY-MM-DD"'
        ) from None


def _accepts(wanted: str, got: Type) -> bool:
    if got.kind in ("null", "any") or wanted == "any":
        return True
    kinds = wanted.split("|")
    if "number" in kinds and got.numeric:
        return True
    return got.kind in kinds or (got.kind == "integer" and "decimal" in kinds)


def _same_kind(a: Type, b: Type) -> bool:
    """Whether two values can stand for each other (in coalesce() and if())."""
    if a.kind in ("null", "any") or b.kind in ("null", "any"):
        return True
    if a.numeric and b.numeric:
        return True
    return a.kind == b.kind or {a.kind, b.kind} == {"date", "datetime"}


def _round_scale(args: tuple[Bound, ...]) -> int:
    if len(args) > 1 and isinstance(args[1], BLiteral) and isinstance(args[1].value, int):
        return max(0, min(int(args[1].value), MAX_SCALE))
    return 0


def _compare_hint(left: Bound, right: Bound) -> str | None:
    kinds = {left.type.kind, right.type.kind}
    quoted_number = any(
        isinstance(side, BLiteral)
        and isinstance(side.value, str)
        and side.value.replace(".", "", 1).isdigit()
        for side in (left, right)
    )
    if quoted_number and kinds & {"integer", "decimal"}:
        return 'numbers are written without quotes: amount > 100, not amount > "100"'
    if "date" in kinds and "text" in kinds:
        return "compare dates with dates, e.g. close_date < today() + 30d"
    return None
