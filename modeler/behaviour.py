"""How objects behave, as declared in YAML: formulas and conditions on fields, validation
rules, workflows on a choice field, and business rules (when … if … do …).

The modeler reads and shape-checks them here (ids M070-M089); the expressions inside are
compiled and checked against the model by the framework at load (framework/behaviour.py),
which reports them with the same file:line:column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from modeler.loader import Node
from modeler.problems import Problem, did_you_mean
from modeler.schema import (
    ActionDef,
    ExprText,
    ObjectDef,
    RuleDef,
    SourcePos,
    TransitionDef,
    ValidationDef,
    WorkflowDef,
)

FIELD_KEYS = frozenset({"formula", "stored", "required_when", "read_only_when", "visible_when"})
OBJECT_KEYS = frozenset({"validations", "workflow", "rules"})
VALIDATION_KEYS = frozenset({"check", "message", "field", "when"})
TRANSITION_KEYS = frozenset({"from", "to", "when", "roles", "label"})
RULE_KEYS = frozenset({"name", "on", "if", "do"})
EVENTS = ("create", "update", "save", "delete")
TRIGGER_KINDS = ("change", "transition", "schedule", "after")
#: built-in actions; plugins add theirs (checked by the framework, which knows them)
ACTIONS = ("set", "create", "lookup", "update", "notify", "email", "assign", "call")
SCHEDULE_RE = re.compile(
    r"(hourly|daily \d{1,2}:\d{2}|weekdays \d{1,2}:\d{2}|every \d+ minutes?|every \d+ hours?)"
)


def schedule_problem(schedule: str) -> str | None:
    """What is wrong with a schedule (None when the scheduler can plan it)."""
    text = schedule.strip().lower()
    if not SCHEDULE_RE.fullmatch(text):
        return f"cannot read the schedule '{schedule}'"
    clock = re.search(r"(\d{1,2}):(\d{2})$", text)
    if clock and (int(clock.group(1)) > 23 or int(clock.group(2)) > 59):
        return f"'{schedule}' is not a time of day (00:00 to 23:59)"
    every = re.fullmatch(r"every (\d+) (minute|hour)s?", text)
    if every and int(every.group(1)) == 0:
        return f"'{schedule}' never comes round: the interval must be at least 1"
    return None


def _text(node: Node | None) -> str | None:
    if node is None or node.value is None or node.is_map or node.is_list:
        return None
    return str(node.value)


def _expr(node: Node | None) -> ExprText | None:
    text = _text(node)
    return None if text is None or node is None else ExprText(text, node.pos)


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, code: str, message: str, pos: SourcePos, hint: str | None = None) -> None:
        self.problems.append(Problem(code, message, pos, hint))

    def keys(self, node: Node, allowed: Iterable[str], what: str) -> None:
        allowed = sorted(allowed)
        for key, child in node.items():
            if key not in allowed:
                self.error(
                    "M010",
                    f"unknown key '{key}' in {what}",
                    child.key_pos or child.pos,
                    did_you_mean(key, allowed) or f"allowed keys: {', '.join(allowed)}",
                )

    def expression(self, node: Node | None, what: str) -> ExprText | None:
        if node is None:
            return None
        if node.is_map or node.is_list or node.value is None:
            self.error(
                "M070",
                f"{what} must be an expression written as text",
                node.pos,
                'e.g. stage == "won" and amount > 1000',
            )
            return None
        return _expr(node)


def read_field_keys(spec: Node) -> tuple[dict[str, Any], list[Problem]]:
    """formula / stored / *_when of one field."""
    reader = _Reader()
    found: dict[str, Any] = {}
    for key in ("formula", "required_when", "read_only_when", "visible_when"):
        value = reader.expression(spec.get(key), key)
        if value is not None:
            found[key] = value
    stored = spec.get("stored")
    if stored is not None:
        if not isinstance(stored.value, bool):
            reader.error("M012", "stored must be true or false", stored.pos)
        elif "formula" not in found:
            reader.error("M071", "stored only applies to a field with a formula", stored.pos)
        else:
            found["stored"] = stored.value
    if "formula" in found:
        for key in ("default", "required", "required_when", "read_only_when"):
            if spec.get(key) is not None:
                child = spec.get(key)
                assert child is not None
                reader.error(
                    "M071",
                    f"a field with a formula is computed; it takes no {key}",
                    child.key_pos or child.pos,
                    "remove it, or remove the formula",
                )
    return found, reader.problems


def read_object_keys(doc: Node) -> tuple[dict[str, Any], list[Problem]]:
    """validations / workflow / rules of one object (or extension) document."""
    reader = _Reader()
    found: dict[str, Any] = {}
    node = doc.get("validations")
    if node is not None:
        found["validations"] = tuple(_validations(reader, node))
    node = doc.get("workflow")
    if node is not None:
        workflow = _workflow(reader, node)
        if workflow is not None:
            found["workflow"] = workflow
    node = doc.get("rules")
    if node is not None:
        found["rules"] = tuple(_rules(reader, node))
    return found, reader.problems


def _validations(reader: _Reader, node: Node) -> Iterable[ValidationDef]:
    if not node.is_list:
        reader.error(
            "M012",
            "validations must be a list",
            node.pos,
            "e.g. validations: [{check: amount >= 0, message: The amount cannot be negative}]",
        )
        return
    for item in node:
        if not item.is_map:
            reader.error(
                "M012", "each validation must be a mapping with check and message", item.pos
            )
            continue
        reader.keys(item, VALIDATION_KEYS, "a validation")
        check = reader.expression(item.get("check"), "check")
        message = _text(item.get("message"))
        if check is None:
            reader.error(
                "M011", "a validation needs 'check:' (the condition that must hold)", item.pos
            )
            continue
        if not message:
            reader.error(
                "M011",
                "a validation needs 'message:' (what the user is told)",
                item.pos,
                "e.g. message: The amount cannot be negative",
            )
            continue
        yield ValidationDef(
            check,
            message,
            _text(item.get("field")),
            reader.expression(item.get("when"), "when"),
            item.pos,
        )


def _names(node: Node | None) -> tuple[str, ...]:
    if node is None:
        return ()
    if node.is_list:
        return tuple(str(i.value) for i in node)
    return tuple(p.strip() for p in str(node.value).split(",") if p.strip())


def _workflow(reader: _Reader, node: Node) -> WorkflowDef | None:
    if not node.is_map:
        reader.error("M012", "workflow must be a mapping with field and transitions", node.pos)
        return None
    reader.keys(node, {"field", "transitions"}, "workflow")
    field = _text(node.get("field"))
    transitions_node = node.get("transitions")
    if not field or transitions_node is None or not transitions_node.is_list:
        reader.error(
            "M011",
            "a workflow needs 'field:' (a choice field) and a list of 'transitions:'",
            node.pos,
            "e.g. transitions: [{from: new, to: qualified}]",
        )
        return None
    transitions = []
    for item in transitions_node:
        if not item.is_map:
            reader.error("M012", "each transition must be a mapping with from and to", item.pos)
            continue
        reader.keys(item, TRANSITION_KEYS, "a transition")
        target = _text(item.get("to"))
        sources = _names(item.get("from")) or ("*",)
        if not target:
            reader.error("M011", "a transition needs 'to:'", item.pos)
            continue
        transitions.append(
            TransitionDef(
                sources,
                target,
                reader.expression(item.get("when"), "when"),
                _names(item.get("roles")),
                _text(item.get("label")) or "",
                item.pos,
            )
        )
    return WorkflowDef(field, tuple(transitions), node.pos)


def _rules(reader: _Reader, node: Node) -> Iterable[RuleDef]:
    if not node.is_list:
        reader.error("M012", "rules must be a list", node.pos)
        return
    seen: dict[str, SourcePos] = {}
    for index, item in enumerate(node, start=1):
        if not item.is_map:
            reader.error("M012", "each rule must be a mapping (name, on, if, do)", item.pos)
            continue
        reader.keys(item, RULE_KEYS, "a rule")
        name = _text(item.get("name")) or f"rule {index}"
        if name in seen:
            first = seen[name]
            reader.error(
                "M072",
                f"two rules are named '{name}': here and at {first.file}:{first.line}:"
                f"{first.column}",
                item.pos,
                "give each rule its own name",
            )
        seen.setdefault(name, item.pos)
        trigger = _trigger(reader, item.get("on"), item.pos)
        if trigger is None:
            continue
        actions = tuple(_actions(reader, item.get("do"), item.pos))
        if not actions:
            continue
        yield RuleDef(
            name=name,
            actions=actions,
            condition=reader.expression(item.get("if"), "if"),
            pos=item.pos,
            **trigger,
        )


def _trigger(reader: _Reader, node: Node | None, pos: SourcePos) -> dict[str, Any] | None:
    hint = (
        "on: create | update | save | delete, or {change: field}, {transition: field, "
        "to: state}, {schedule: daily 07:00}, {after: save, minutes: 30}"
    )
    if node is None:
        reader.error("M011", "a rule needs 'on:' (when it runs)", pos, hint)
        return None
    if not node.is_map:
        event = str(node.value)
        if event not in EVENTS:
            reader.error(
                "M073",
                f"unknown event '{event}'",
                node.pos,
                did_you_mean(event, [*EVENTS, *TRIGGER_KINDS]) or hint,
            )
            return None
        return {"on": event}
    reader.keys(node, {*TRIGGER_KINDS, "to", "minutes", "hours"}, "on")
    if node.get("change") is not None:
        return {"on": "change", "field": _text(node.get("change"))}
    if node.get("transition") is not None:
        return {
            "on": "transition",
            "field": _text(node.get("transition")),
            "to": _text(node.get("to")),
        }
    if node.get("schedule") is not None:
        schedule = _text(node.get("schedule")) or ""
        problem = schedule_problem(schedule)
        if problem:
            reader.error(
                "M074",
                problem,
                node.get("schedule").pos,  # type: ignore[union-attr]
                "use hourly, daily 07:00, weekdays 08:30, every 15 minutes or every 2 hours",
            )
            return None
        return {"on": "schedule", "schedule": schedule}
    if node.get("after") is not None:
        event = _text(node.get("after")) or "save"
        parts = [(node.get("minutes"), 1), (node.get("hours"), 60)]
        given = [(n.value, factor) for n, factor in parts if n is not None]
        delay = sum(v * factor for v, factor in given if isinstance(v, int))
        if (
            event not in EVENTS
            or not given
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v, _ in given)
            or delay <= 0
        ):
            reader.error(
                "M074",
                "after needs an event and a number of minutes or hours",
                node.pos,
                "e.g. on: {after: create, minutes: 30}",
            )
            return None
        return {"on": "after", "after_event": event, "delay_minutes": delay}
    reader.error("M073", "cannot tell when this rule runs", node.pos, hint)
    return None


def _actions(reader: _Reader, node: Node | None, pos: SourcePos) -> Iterable[ActionDef]:
    if node is None:
        reader.error(
            "M011",
            "a rule needs 'do:' (a list of actions)",
            pos,
            "e.g. do: [{set: {priority: high}}]",
        )
        return
    items = list(node) if node.is_list else [node]
    for item in items:
        if not item.is_map or len(item.children or {}) != 1:
            reader.error(
                "M075",
                "each action is one name with its settings",
                item.pos,
                f"e.g. - create: {{object: activity, values: {{subject: Call}}}}; "
                f"actions: {', '.join(ACTIONS)}",
            )
            continue
        kind, options = next(item.items())
        yield ActionDef(
            kind,
            options.plain() if options.is_map else {"value": options.plain()},
            options.key_pos or item.pos,
        )


def check_object(obj: ObjectDef) -> list[Problem]:
    """What can be checked without compiling expressions: names and states."""
    problems: list[Problem] = []
    names = list(obj.fields)
    for validation in obj.validations:
        if validation.field and validation.field not in obj.fields:
            problems.append(
                Problem(
                    "M076",
                    f"validation shows its message on unknown field '{validation.field}'",
                    validation.pos,
                    did_you_mean(validation.field, names),
                )
            )
    workflow = obj.workflow
    if workflow is not None:
        f = obj.fields.get(workflow.field)
        if f is None or f.type != "choice":
            problems.append(
                Problem(
                    "M077",
                    f"the workflow field '{workflow.field}' must be a choice field of " + obj.name,
                    workflow.pos,
                    did_you_mean(workflow.field, names),
                )
            )
        else:
            codes = f.choice_codes
            for t in workflow.transitions:
                for state in (*t.sources, t.target):
                    if state != "*" and state not in codes:
                        problems.append(
                            Problem(
                                "M078",
                                f"'{state}' is not a value of {obj.name}.{f.name}",
                                t.pos,
                                did_you_mean(state, codes) or f"values: {', '.join(codes)}",
                            )
                        )
    for rule in obj.rules:
        if rule.on in ("change", "transition"):
            target = obj.fields.get(rule.field or "")
            if target is None:
                problems.append(
                    Problem(
                        "M079",
                        f"rule '{rule.name}' watches unknown field '{rule.field}'",
                        rule.pos,
                        did_you_mean(rule.field or "", names),
                    )
                )
            elif rule.on == "transition" and rule.to and rule.to not in target.choice_codes:
                problems.append(
                    Problem(
                        "M078",
                        f"'{rule.to}' is not a value of {obj.name}.{target.name}",
                        rule.pos,
                        did_you_mean(rule.to, target.choice_codes),
                    )
                )
    return problems
