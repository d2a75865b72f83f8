"""The quick actions of a customer file (`actions:` in pages/customer_file.yaml) → Action
specs: the kind of record each form makes, the fields it asks and the values it sets,
checked against the model."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from framework.pages.read import NUMBERS, PageChecker, items
from framework.pages.spec import Action, ActionField, Relation
from modeler.fieldtypes import HAS_MANY, LINK
from modeler.loader import Node
from modeler.schema import FieldDef, ObjectDef

ACTION_KEYS = ("label", "button", "done", "relation", "fields", "set")
ACTION_FIELD_KEYS = ("field", "label", "required", "placeholder", "factor", "options")


def read_actions(check: PageChecker, node: Node | None, obj: ObjectDef) -> tuple[Action, ...]:
    found = []
    for name, spec in check.named(node, "actions"):
        if not check.mapping(spec, f"action '{name}'", ACTION_KEYS):
            continue
        relation = check.relation(spec.get("relation"), obj, f"action '{name}'")
        if relation is None:
            if spec.get("relation") is None:
                check.add(
                    "002",
                    f"action '{name}' needs relation: (the kind of record it makes)",
                    spec.pos,
                )
            continue
        if len(relation.path) != 1:
            check.add(
                "004",
                f"action '{name}' makes records linked straight to the {obj.label}",
                spec.get("relation").pos,  # type: ignore[union-attr]
                "use one of its has_many fields",
            )
            continue
        target = check.model[relation.object]
        fields = tuple(
            f
            for item in items(spec.get("fields"))
            if (f := _action_field(check, item, target, obj)) is not None
        )
        if not fields:
            check.add("002", f"action '{name}' needs fields: (what the form asks)", spec.pos)
            continue
        label = check.text(spec.get("label"), "label") or name.replace("_", " ").capitalize()
        found.append(
            Action(
                name,
                label,
                check.text(spec.get("button"), "button") or label,
                check.text(spec.get("done"), "done") or "Saved",
                relation,
                fields,
                _values(check, spec.get("set"), target, relation, {f.field for f in fields}),
                spec.pos,
            )
        )
    return tuple(found)


def _action_field(
    check: PageChecker, item: Node, target: ObjectDef, obj: ObjectDef
) -> ActionField | None:
    spec = item if item.is_map else None
    if spec is not None and not check.mapping(spec, "a field of a form", ACTION_FIELD_KEYS):
        return None
    f = check.field(spec.get("field") if spec is not None else item, target, "a form field")
    if f is None:
        if spec is not None and spec.get("field") is None:
            check.add("002", "a field of a form needs field:", item.pos)
        return None
    if f.formula is not None or f.read_only:
        check.add("004", f"'{f.name}' is computed or read-only: nobody types it", item.pos)
        return None
    if spec is None:
        return ActionField(f.name, f.label, f.required, options_from=_options_from(f, obj))
    factor: Decimal | None = None
    if spec.get("factor") is not None:
        try:
            factor = Decimal(str(spec.get("factor").value))  # type: ignore[union-attr]
        except InvalidOperation:
            factor = None
        if factor is None or f.type not in NUMBERS or factor <= 0:
            check.add(
                "004",
                "factor is a positive number, for a number field",
                spec.get("factor").pos,  # type: ignore[union-attr]
            )
            factor = None
    options = None
    if spec.get("options") is not None:
        if f.kind != LINK:
            check.add("004", "options: is a condition on a link's records", spec.get("options").pos)  # type: ignore[union-attr]
        else:
            options = check.expression(
                spec.get("options"), check.model[f.target or ""], "the options"
            )
    required = spec.get("required")
    return ActionField(
        f.name,
        check.text(spec.get("label"), "label") or f.label,
        bool(required.value) if required is not None else f.required,
        check.text(spec.get("placeholder"), "placeholder") or "",
        factor,
        options,
        _options_from(f, obj) if options is None else None,
    )


def _options_from(f: FieldDef, obj: ObjectDef) -> Relation | None:
    """A link to an object the customer has a list of (its contacts, its assets) offers
    that list; to anything else (a product), the records of that object."""
    if f.kind != LINK:
        return None
    lists = [g for g in obj.fields.values() if g.kind == HAS_MANY and g.target == f.target]
    if len(lists) != 1:
        return None
    return Relation((lists[0].name,), f.target or "", (lists[0].via or "",))


def _values(
    check: PageChecker, node: Node | None, target: ObjectDef, relation: Relation, asked: set[str]
) -> tuple[tuple[str, Any], ...]:
    """`set: {channel: phone, agent: =user.id}`: a value, or `=` and an expression."""
    found: list[tuple[str, Any]] = []
    for name, value in check.named(node, "set"):
        f = check.field(value, target, "set", name=name)
        if f is None:
            continue
        if name in asked or name == relation.links[0]:
            check.add(
                "004",
                f"'{name}' is asked in the form or is the link to the customer: it is not set",
                value.key_pos or value.pos,
            )
            continue
        text = value.value
        if isinstance(text, str) and text.startswith("="):
            expression = check.expression(
                Node(text[1:], value.pos), target, f"the value of {name}", condition=False
            )
            if expression is not None:
                found.append((name, expression))
        elif value.is_map or value.is_list:
            check.add("004", f"the value of {name} must be one value", value.pos)
        else:
            found.append((name, text))
    return tuple(found)
