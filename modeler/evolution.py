"""The YAML keys that tell `ficha migrate` how existing data follows a model change.

A database cannot tell a rename from a drop plus an add, nor what 'twelve' should become
when a text field turns into a number: the admin says so next to the field.

    renamed_from: old_name              (field or object) the same data under a new name
    renamed_values: {old: new}          (choice, multichoice) codes renamed; data updated
    convert: {map: {old: new}, match: field}
                                        values that do not convert by themselves, and for a
                                        link, the field both objects share to match records
    backfill: value                     what existing records get when the field is added
                                        (or becomes required)

The keys stay in the YAML after the migration (they are history, harmless once applied).
Checks here have ids M060 to M064; the plan checks them again against the live data.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

from modeler import keys
from modeler.fieldtypes import COLUMN, LINK, MANY_TO_MANY, CoerceContext, FieldType
from modeler.loader import Node
from modeler.problems import Problem, did_you_mean
from modeler.schema import FieldDef, Model

CONVERT_KEYS = frozenset({"map", "match"})
_CTX = CoerceContext()


def read_field_keys(
    name: str, spec: Node, ftype: FieldType, codes: tuple[str, ...]
) -> tuple[dict[str, Any], list[Problem]]:
    """The evolution keys of one field, as FieldDef keyword arguments, and their problems."""
    problems: list[Problem] = []
    result: dict[str, Any] = {}

    def error(code: str, message: str, node: Node, hint: str | None = None) -> None:
        problems.append(Problem(code, message, node.key_pos or node.pos, hint))

    node = spec.get("renamed_from")
    if node is not None:
        old = node.value
        if not isinstance(old, str) or not keys.NAME_RE.fullmatch(old):
            error("M060", f"renamed_from of '{name}' must be the field's old name", node)
        elif old == name:
            error("M060", f"'{name}' is renamed from itself", node, "remove renamed_from")
        else:
            result["renamed_from"] = old
    node = spec.get("renamed_values")
    if node is not None:
        result["renamed_values"] = MappingProxyType(_renamed_values(name, node, codes, error))
        if "values" not in ftype.options:
            error(
                "M061",
                f"renamed_values does not apply to a {ftype.name} field",
                node,
                "it applies to choice and multichoice fields",
            )
    node = spec.get("convert")
    if node is not None:
        result["convert"] = MappingProxyType(_convert(name, node, ftype, error))
    node = spec.get("backfill")
    if node is not None:
        value = node.plain()
        if ftype.kind != COLUMN or ftype.name in ("autonumber", "file") or ftype.coerce is None:
            error("M063", f"a {ftype.name} field cannot be backfilled", node)
        elif value is not None:
            try:
                result["backfill"] = _fits(ftype, name, value, codes)
            except ValueError as exc:
                error("M063", f"backfill of '{name}' does not fit its type: {exc}", node)
    return result, problems


def _fits(ftype: FieldType, name: str, value: Any, codes: tuple[str, ...]) -> Any:
    """The value as the field type would store it (ValueError if it does not fit)."""
    assert ftype.coerce is not None
    probe = FieldDef(name, ftype.name, name, values=_choices(codes))
    return ftype.coerce(probe, value, _CTX)


def _choices(codes: tuple[str, ...]) -> tuple[Any, ...]:
    from modeler.schema import ChoiceValue

    return tuple(ChoiceValue(code, code) for code in codes)


def _renamed_values(name: str, node: Node, codes: tuple[str, ...], error: Any) -> dict[str, str]:
    if not node.is_map:
        error(
            "M061",
            f"renamed_values of '{name}' must map old codes to new ones",
            node,
            "e.g. renamed_values: {prospect: lead}",
        )
        return {}
    renames: dict[str, str] = {}
    for old, child in node.items():
        new = child.value
        if child.is_map or child.is_list or new is None:
            error("M061", f"the new code for '{old}' must be one code", child)
            continue
        new = str(new)
        if old in codes:
            error(
                "M061",
                f"'{old}' is renamed but is still one of the values of '{name}'",
                child,
                f"remove '{old}' from values, or drop this line",
            )
        elif new not in codes:
            error(
                "M061",
                f"'{old}' is renamed to '{new}', which is not one of the values of '{name}'",
                child,
                did_you_mean(new, codes) or f"values: {', '.join(codes)}",
            )
        else:
            renames[str(old)] = new
    return renames


def _convert(name: str, node: Node, ftype: FieldType, error: Any) -> dict[str, Any]:
    if not node.is_map:
        error(
            "M062",
            f"convert of '{name}' must be a mapping",
            node,
            "e.g. convert: {map: {twelve: 12, n/a: null}}",
        )
        return {}
    result: dict[str, Any] = {}
    for key, child in node.items():
        if key not in CONVERT_KEYS:
            error(
                "M062",
                f"unknown key '{key}' in convert of '{name}'",
                child,
                did_you_mean(key, CONVERT_KEYS) or "convert takes map: and match:",
            )
    map_node = node.get("map")
    if map_node is not None:
        if not map_node.is_map:
            error("M062", f"convert map of '{name}' must map old values to new ones", map_node)
        else:
            # Keys are the old values as text (how they are compared in the database);
            # the new values are checked against the field's type when the plan runs,
            # where the old and new types are both known.
            result["map"] = MappingProxyType(
                {str(k): (None if v.value is None else v.plain()) for k, v in map_node.items()}
            )
    match_node = node.get("match")
    if match_node is not None:
        if ftype.kind not in (LINK, MANY_TO_MANY):
            error(
                "M062",
                f"convert match does not apply to a {ftype.name} field",
                match_node,
                "match names the field that finds the linked record; it applies to links",
            )
        elif not isinstance(match_node.value, str):
            error("M062", "convert match must name one field", match_node)
        else:
            result["match"] = match_node.value
    return result


def check_model_evolution(model: Model) -> Iterator[Problem]:
    """Checks that need the whole model: clashing renames, unknown match fields."""
    renamed_objects: dict[str, str] = {}
    for obj in model:
        if obj.renamed_from:
            if obj.renamed_from in model:
                yield Problem(
                    "M064",
                    f"'{obj.name}' is renamed from '{obj.renamed_from}', which is still an object",
                    obj.pos,
                    f"remove renamed_from, or the declaration of '{obj.renamed_from}'",
                )
            elif obj.renamed_from in renamed_objects:
                yield Problem(
                    "M064",
                    f"'{obj.name}' and '{renamed_objects[obj.renamed_from]}' are both renamed "
                    f"from '{obj.renamed_from}'",
                    obj.pos,
                    "one object can take the old name's data; remove one renamed_from",
                )
            renamed_objects[obj.renamed_from] = obj.name
        renamed_fields: dict[str, str] = {}
        for f in obj.fields.values():
            if not f.renamed_from:
                continue
            pos = f.pos_of("renamed_from")
            if f.renamed_from in obj.fields:
                yield Problem(
                    "M064",
                    f"'{obj.name}.{f.name}' is renamed from '{f.renamed_from}', which is still "
                    f"a field of {obj.name}",
                    pos,
                    f"remove renamed_from, or the field '{f.renamed_from}'",
                )
            elif f.renamed_from in renamed_fields:
                yield Problem(
                    "M064",
                    f"'{f.name}' and '{renamed_fields[f.renamed_from]}' are both renamed from "
                    f"'{f.renamed_from}'",
                    pos,
                    "remove one renamed_from",
                )
            renamed_fields[f.renamed_from] = f.name
        for f in obj.fields.values():
            match = f.convert.get("match")
            if match is None or f.target not in model:
                continue
            target = model[f.target or ""]
            plain = [n for n, t in target.fields.items() if t.kind == COLUMN]
            if match not in plain and match != "id":
                yield Problem(
                    "M062",
                    f"convert match of '{obj.name}.{f.name}' names '{match}', which is not a "
                    f"field of {target.name}",
                    f.pos_of("convert"),
                    did_you_mean(match, plain) or f"fields of {target.name}: {', '.join(plain)}",
                )
