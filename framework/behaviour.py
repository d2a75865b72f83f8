"""The behaviour of the model, compiled once at load: formulas, conditional fields,
validation rules, workflows and business rules, with every expression checked against
the model. A problem is reported like any YAML problem: file:line:column, the character
inside the expression, and a hint (ids M080-M089).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from framework.expressions import Expression, ExpressionError
from framework.expressions.binding import BAggregate, Bound
from modeler.fieldtypes import HAS_MANY, LINK, MANY_TO_MANY
from modeler.problems import Problem, did_you_mean
from modeler.schema import (
    UNKNOWN_POS,
    ActionDef,
    ExprText,
    FieldDef,
    Model,
    ObjectDef,
    RuleDef,
    SourcePos,
    TransitionDef,
    ValidationDef,
)

PLACEHOLDER_RE = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
#: the kinds of recipient `notify: {to: "kind:name"}` names; `group` is another word for team
RECIPIENT_KINDS = {"role": "role", "team": "team", "group": "team", "territory": "territory"}
NOTIFY_LEVELS = ("info", "warning", "alert")


@dataclass(frozen=True)
class Value:
    """A setting of an action: a literal, or an expression when written "=…"."""

    literal: Any = None
    expression: Expression | None = None

    @property
    def is_expression(self) -> bool:
        return self.expression is not None


@dataclass(frozen=True)
class CompiledAction:
    kind: str
    options: Mapping[str, Any]
    values: Mapping[str, Value] = field(default_factory=dict)
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True)
class CompiledRule:
    rule: RuleDef
    object: str
    condition: Expression | None
    actions: tuple[CompiledAction, ...]

    @property
    def name(self) -> str:
        return self.rule.name


@dataclass(frozen=True)
class CompiledTransition:
    transition: TransitionDef
    guard: Expression | None


@dataclass
class ObjectBehaviour:
    """What the records service must do for one object beyond plain field checks."""

    name: str
    formulas: dict[str, Expression] = field(default_factory=dict)  # stored: computed on save
    virtual: dict[str, Expression] = field(default_factory=dict)  # computed when read
    required_when: dict[str, Expression] = field(default_factory=dict)
    read_only_when: dict[str, Expression] = field(default_factory=dict)
    visible_when: dict[str, Expression] = field(default_factory=dict)
    validations: list[tuple[ValidationDef, Expression, Expression | None]] = field(
        default_factory=list
    )
    workflow_field: str | None = None
    transitions: list[CompiledTransition] = field(default_factory=list)
    rules: list[CompiledRule] = field(default_factory=list)

    def allowed_transitions(self, state: str | None) -> list[CompiledTransition]:
        return [
            t
            for t in self.transitions
            if "*" in t.transition.sources or (state or "") in t.transition.sources
        ]


@dataclass(frozen=True)
class Rollup:
    """A stored formula of `parent` that aggregates records of `child` (kept current when
    a child changes)."""

    parent: str
    field: str
    child: str
    via: str  # the child's link to the parent


@dataclass
class Behaviour:
    objects: dict[str, ObjectBehaviour]
    rollups: list[Rollup]

    def of(self, name: str) -> ObjectBehaviour:
        return self.objects.get(name) or ObjectBehaviour(name)

    def rollups_fed_by(self, child: str) -> list[Rollup]:
        return [r for r in self.rollups if r.child == child]

    def scheduled(self) -> list[CompiledRule]:
        return [r for o in self.objects.values() for r in o.rules if r.rule.on == "schedule"]


ActionChecker = Callable[[Model, ObjectDef, ActionDef], Iterable[str]]


class _Compiler:
    def __init__(self, model: Model, plugin_actions: Iterable[str]) -> None:
        self.model = model
        self.plugin_actions = set(plugin_actions)
        self.problems: list[Problem] = []

    def expression(
        self,
        text: ExprText | None,
        obj: str,
        what: str,
        *,
        condition: bool = True,
        rules: bool = False,
    ) -> Expression | None:
        if text is None:
            return None
        try:
            return Expression.compile(text.text, self.model, obj, condition=condition, rules=rules)
        except ExpressionError as exc:
            self.problems.append(
                Problem(
                    "M080",
                    f"in {what}, character {exc.offset + 1} of '{text.text}': {exc.message}",
                    text.pos,
                    exc.hint,
                )
            )
            return None

    def error(self, code: str, message: str, pos: SourcePos, hint: str | None = None) -> None:
        self.problems.append(Problem(code, message, pos, hint))

    def compile(self) -> Behaviour:
        objects = {obj.name: self.object(obj) for obj in self.model}
        return Behaviour(objects, self.rollups(objects))

    def object(self, obj: ObjectDef) -> ObjectBehaviour:
        result = ObjectBehaviour(obj.name)
        for f in obj.fields.values():
            self.field(obj, f, result)
        for v in obj.validations:
            check = self.expression(v.check, obj.name, "the check of a validation")
            when = self.expression(v.when, obj.name, "the 'when' of a validation")
            if check is not None:
                result.validations.append((v, check, when))
        if obj.workflow is not None:
            result.workflow_field = obj.workflow.field
            for t in obj.workflow.transitions:
                guard = self.expression(
                    t.guard, obj.name, f"the 'when' of the transition to {t.target}"
                )
                result.transitions.append(CompiledTransition(t, guard))
        named: dict[str, SourcePos] = {}
        for rule in obj.rules:
            first = named.setdefault(rule.name, rule.pos)
            if first is not rule.pos:  # an extension reuses a name of the pack (or another)
                self.error(
                    "M072",
                    f"two rules of {obj.name} are named '{rule.name}': here and at "
                    f"{first.file}:{first.line}:{first.column}",
                    rule.pos,
                    "give each rule its own name (the scheduler and the audit tell them "
                    "apart by it)",
                )
                continue
            compiled = self.rule(obj, rule)
            if compiled is not None:
                result.rules.append(compiled)
        return result

    def field(self, obj: ObjectDef, f: FieldDef, result: ObjectBehaviour) -> None:
        if f.formula is not None:
            formula = self.expression(
                f.formula, obj.name, f"the formula of '{f.name}'", condition=False
            )
            if formula is not None:
                self.formula_type(f, formula)
                (result.formulas if f.stored else result.virtual)[f.name] = formula
        for key, target in (
            ("required_when", result.required_when),
            ("read_only_when", result.read_only_when),
            ("visible_when", result.visible_when),
        ):
            text = getattr(f, key)
            compiled = self.expression(text, obj.name, f"{key} of '{f.name}'")
            if compiled is not None:
                target[f.name] = compiled

    def formula_type(self, f: FieldDef, formula: Expression) -> None:
        kind = formula.type.kind
        fits = {
            "integer": ("integer",),
            "decimal": ("integer", "decimal"),
            "money": ("integer", "decimal"),
            "percent": ("integer", "decimal"),
            "string": ("text",),
            "text": ("text",),
            "boolean": ("boolean",),
            "date": ("date",),
            "datetime": ("datetime", "date"),
            "choice": ("text",),
        }.get(f.type)
        if fits is not None and kind not in (*fits, "null", "any"):
            assert f.formula is not None
            self.error(
                "M081",
                f"the formula of '{f.name}' gives {formula.type}, but the field is {f.type}",
                f.formula.pos,
                "change the field's type or the formula",
            )

    def rule(self, obj: ObjectDef, rule: RuleDef) -> CompiledRule | None:
        condition = self.expression(
            rule.condition,
            obj.name,
            f"the 'if' of rule '{rule.name}'",
            rules=rule.on not in ("schedule",),
        )
        actions = []
        for action in rule.actions:
            compiled = self.action(obj, rule, action)
            if compiled is not None:
                actions.append(compiled)
        if len(actions) != len(rule.actions):
            return None
        return CompiledRule(rule, obj.name, condition, tuple(actions))

    def value(self, raw: Any, obj: ObjectDef, what: str, pos: SourcePos) -> Value | None:
        if isinstance(raw, str) and raw.startswith("="):
            try:
                return Value(
                    expression=Expression.compile(
                        raw[1:], self.model, obj.name, condition=False, rules=True
                    )
                )
            except ExpressionError as exc:
                self.error(
                    "M080",
                    f"in {what}, character {exc.offset + 1} of '{raw[1:]}': {exc.message}",
                    pos,
                    exc.hint,
                )
                return None
        return Value(literal=raw)

    def values(
        self, raw: Any, obj: ObjectDef, target: ObjectDef, what: str, pos: SourcePos
    ) -> dict[str, Value] | None:
        if not isinstance(raw, Mapping):
            self.error(
                "M082",
                f"{what} needs field: value pairs",
                pos,
                "e.g. values: {subject: Call back, due: =now() + 2d}",
            )
            return None
        result = {}
        for name, raw_value in raw.items():
            f = target.fields.get(name)
            if f is None or f.kind not in ("column", LINK, MANY_TO_MANY):
                self.error(
                    "M082",
                    f"{target.label} has no field '{name}' to set in {what}",
                    pos,
                    did_you_mean(str(name), list(target.fields)),
                )
                return None
            value = self.value(raw_value, obj, f"{what}.{name}", pos)
            if value is None:
                return None
            result[str(name)] = value
        return result

    def action(self, obj: ObjectDef, rule: RuleDef, action: ActionDef) -> CompiledAction | None:
        where = f"rule '{rule.name}'"
        options = dict(action.options)
        pos = action.pos
        if action.kind == "set":
            values = self.values(options, obj, obj, f"set of {where}", pos)
            return None if values is None else CompiledAction("set", {}, values, pos)
        if action.kind == "create":
            target_name = options.get("object")
            target = self.model.objects.get(str(target_name))
            if target is None:
                self.error(
                    "M082",
                    f"create in {where} names unknown object '{target_name}'",
                    pos,
                    did_you_mean(str(target_name), self.model.objects),
                )
                return None
            from framework.match_actions import compile_create_options

            found = compile_create_options(self, obj, target, action, where)
            if found is None:
                return None
            create_options, source = found
            values = self.values(
                options.get("values") or {}, source, target, f"create {target.name} of {where}", pos
            )
            return None if values is None else CompiledAction("create", create_options, values, pos)
        if action.kind in ("lookup", "update"):
            from framework.match_actions import compile_lookup, compile_update

            compile_match = compile_lookup if action.kind == "lookup" else compile_update
            return compile_match(self, obj, rule, action)
        if action.kind in ("notify", "email"):
            required = ("to", "message") if action.kind == "notify" else ("to", "subject")
            missing = [k for k in required if k not in options]
            if missing:
                self.error(
                    "M082",
                    f"{action.kind} in {where} needs {', '.join(missing)}",
                    pos,
                    "e.g. notify: {to: =owner, message: 'Review {name}'}",
                )
                return None
            values = {}
            for key in ("to",):
                value = self.value(options[key], obj, f"{action.kind}.{key} of {where}", pos)
                if value is None:
                    return None
                values[key] = value
            if action.kind == "notify":
                self.recipients(values["to"], where, pos)
                level = options.get("level", "info")
                if level not in NOTIFY_LEVELS:
                    self.error(
                        "M082",
                        f"notify in {where}: level '{level}' is not one of "
                        f"{', '.join(NOTIFY_LEVELS)}",
                        pos,
                        did_you_mean(str(level), NOTIFY_LEVELS),
                    )
                    return None
            for key in ("message", "subject", "body"):
                if key in options:
                    self.template(str(options[key]), obj, f"{action.kind}.{key} of {where}", pos)
            return CompiledAction(action.kind, options, values, pos)
        if action.kind == "assign":
            field_name = options.get("field", "owner")
            f = obj.fields.get(str(field_name))
            if f is None or f.kind != LINK or f.target != "user":
                self.error(
                    "M082",
                    f"assign in {where} needs a link to user in 'field' "
                    f"('{field_name}' is not one)",
                    pos,
                )
                return None
            if not any(k in options for k in ("team", "role", "territory")):
                self.error(
                    "M082",
                    f"assign in {where} needs team, role or territory: among "
                    "whom to share the records",
                    pos,
                    "e.g. assign: {field: owner, team: Sales}",
                )
                return None
            return CompiledAction("assign", options, {}, pos)
        if action.kind == "call" or action.kind in self.plugin_actions:
            name = str(options.get("value", options.get("action", action.kind)))
            if action.kind == "call" and name not in self.plugin_actions:
                self.error(
                    "M083",
                    f"rule '{rule.name}' calls unknown action '{name}'",
                    pos,
                    did_you_mean(name, self.plugin_actions)
                    or "plugin actions: "
                    + (", ".join(sorted(self.plugin_actions)) or "none installed"),
                )
                return None
            return CompiledAction("call", {**options, "action": name}, {}, pos)
        self.error(
            "M083",
            f"unknown action '{action.kind}' in {where}",
            pos,
            did_you_mean(
                action.kind,
                [
                    "set",
                    "create",
                    "lookup",
                    "update",
                    "notify",
                    "email",
                    "assign",
                    "call",
                    *self.plugin_actions,
                ],
            ),
        )
        return None

    def recipients(self, to: Value, where: str, pos: SourcePos) -> None:
        """A literal `to:` of notify: a user id, a username, or kind:name (checked here so
        a typo is a `ficha check` error, not a refused save when the rule runs)."""
        if to.expression is not None:
            return
        for item in to.literal if isinstance(to.literal, list) else [to.literal]:
            if isinstance(item, bool) or not isinstance(item, str | int):
                self.error(
                    "M082",
                    f"notify in {where}: 'to' cannot be {item!r}",
                    pos,
                    "write a username, a user id, role:NAME, team:NAME (or group:NAME), "
                    "territory:NAME, or =an expression such as =owner",
                )
            elif isinstance(item, str) and ":" in item:
                kind = item.partition(":")[0].strip().lower()
                if kind not in RECIPIENT_KINDS:
                    self.error(
                        "M082",
                        f"notify in {where}: '{kind}:' is not a kind of recipient",
                        pos,
                        did_you_mean(kind, list(RECIPIENT_KINDS))
                        or "use role:, team:, group: or territory:",
                    )

    def template(self, text: str, obj: ObjectDef, what: str, pos: SourcePos) -> None:
        for name in PLACEHOLDER_RE.findall(text):
            try:
                Expression.compile(name, self.model, obj.name, condition=False)
            except ExpressionError as exc:
                self.error(
                    "M084",
                    f"in {what}, '{{{name}}}' does not name a value: {exc.message}",
                    pos,
                    exc.hint,
                )

    def rollups(self, objects: Mapping[str, ObjectBehaviour]) -> list[Rollup]:
        found: list[Rollup] = []
        for behaviour in objects.values():
            for field_name, formula in behaviour.formulas.items():
                for aggregate in _aggregates(formula.bound):
                    relation = aggregate.relation
                    if relation.kind == HAS_MANY and relation.via:
                        found.append(
                            Rollup(behaviour.name, field_name, aggregate.target, relation.via)
                        )
        return found


def _aggregates(node: Any) -> Iterable[BAggregate]:
    """Every aggregate inside a bound expression (the formulas a child's change affects)."""
    if isinstance(node, BAggregate):
        yield node
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            yield from _aggregates_in(getattr(node, f.name))


def _aggregates_in(value: Any) -> Iterable[BAggregate]:
    if isinstance(value, Bound):
        yield from _aggregates(value)
    elif isinstance(value, tuple):
        for item in value:
            yield from _aggregates_in(item)


def compile_behaviour(
    model: Model, plugin_actions: Iterable[str] = ()
) -> tuple[Behaviour, list[Problem]]:
    compiler = _Compiler(model, plugin_actions)
    behaviour = compiler.compile()
    return behaviour, compiler.problems


def render_template(text: str, values: Callable[[str], Any]) -> str:
    """'Review {name} ({amount})' with each {…} replaced by the record's value."""

    def one(match: re.Match[str]) -> str:
        value = values(match.group(1))
        return "" if value is None else str(value)

    return PLACEHOLDER_RE.sub(one, text)
