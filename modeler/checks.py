"""Semantic checks of the model, each with a stable id (listed in docs/admin-guide.md).

`check_field` looks at one field as it is built; `complete_model` fills in the defaults
that depend on other objects (has_many targets, titles, layouts); `check_model` checks
every cross-reference once the whole model is known.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from modeler.fieldtypes import COLUMN, HAS_MANY, LINK, MANY_TO_MANY, CoerceContext, FieldType
from modeler.keys import ON_DELETE
from modeler.loader import Node
from modeler.problems import Problem, did_you_mean
from modeler.schema import (
    FieldDef,
    FormSection,
    FormSpec,
    IndexDef,
    ListSpec,
    Model,
    ObjectDef,
    SourcePos,
)

AUTONUMBER_RE = re.compile(r"\{(0+|YYYY|YY|MM|DD)\}")
_CTX = CoerceContext()


def _pos_of(spec: Node, key: str, field: FieldDef) -> object:
    node = spec.get(key)
    return node.pos if node is not None else field.pos


def check_field(field: FieldDef, ftype: FieldType, spec: Node) -> list[Problem]:
    problems: list[Problem] = []

    def error(code: str, message: str, key: str, hint: str | None = None) -> None:
        problems.append(Problem(code, message, _pos_of(spec, key, field), hint))  # type: ignore[arg-type]

    if field.max_length is not None and field.type not in ("string", "text"):
        error(
            "M031",
            f"max_length does not apply to a {field.type} field",
            "max_length",
            "it applies to string and text",
        )
    if field.pattern is not None:
        if not ftype.textual:
            error("M031", f"pattern does not apply to a {field.type} field", "pattern")
        else:
            try:
                re.compile(field.pattern)
            except re.error as exc:
                error("M032", f"pattern is not a valid regular expression: {exc}", "pattern")
    for key in ("min", "max"):
        value = getattr(field, key)
        if value is None:
            continue
        if not ftype.comparable:
            error(
                "M031",
                f"{key} does not apply to a {field.type} field",
                key,
                "it applies to numbers, money, percent, dates and date-times",
            )
            continue
        try:
            assert ftype.coerce is not None
            ftype.coerce(field, value, _CTX)
        except ValueError as exc:
            error("M030", f"{key} of '{field.name}' does not fit its type: {exc}", key)
    if field.min is not None and field.max is not None and ftype.comparable and ftype.coerce:
        try:
            if ftype.coerce(field, field.min, _CTX) > ftype.coerce(field, field.max, _CTX):
                error("M032", f"min ({field.min}) is greater than max ({field.max})", "min")
        except ValueError:
            pass
    if field.default is not None:
        _check_default(field, ftype, error)
    if field.kind in (LINK, HAS_MANY, MANY_TO_MANY) and not field.target:
        error(
            "M011",
            f"{field.type} field '{field.name}' does not say which object it points to",
            "type",
            "add 'object: <name>'",
        )
    if field.on_delete not in ON_DELETE:
        error(
            "M032",
            f"on_delete must be one of {', '.join(sorted(ON_DELETE))}",
            "on_delete",
            did_you_mean(field.on_delete, ON_DELETE),
        )
    if field.on_delete == "set_null" and field.required:
        error(
            "M032",
            "a required link cannot be emptied when its target is deleted",
            "on_delete",
            "use restrict or cascade, or make the field optional",
        )
    if field.type == "autonumber":
        if not field.format or not re.search(r"\{0+\}", field.format):
            error(
                "M034",
                f"autonumber '{field.name}' needs a format with a counter",
                "format" if field.format else "type",
                "e.g. format: CASE-{YYYY}-{00000}",
            )
        elif _unknown_placeholders(field.format):
            error(
                "M034",
                f"format '{field.format}' has an unknown placeholder",
                "format",
                "use {YYYY}, {YY}, {MM}, {DD} and one counter such as {00000}",
            )
        if field.required or field.default is not None:
            error(
                "M032",
                "an autonumber is always given by Ficha; it takes no default or required",
                "default" if field.default is not None else "required",
            )
    if field.unique and field.kind != COLUMN and field.kind != LINK:
        error("M031", f"unique does not apply to a {field.type} field", "unique")
    if field.search and not ftype.textual:
        error(
            "M044",
            f"'{field.name}' is a {field.type} field and cannot be full-text searched",
            "search",
            "use filter: true for exact filtering",
        )
    if field.kind in (HAS_MANY,) and (field.required or field.unique or field.index):
        error(
            "M031",
            "has_many is the other side of a link and takes no constraint",
            "required" if field.required else "unique" if field.unique else "index",
            "put the constraint on the link field",
        )
    return problems


def _unknown_placeholders(pattern: str) -> set[str]:
    found = set(re.findall(r"\{([^}]*)\}", pattern))
    return found - {"YYYY", "YY", "MM", "DD"} - set(re.findall(r"\{(0+)\}", pattern))


def check_default(field: FieldDef, ftype: FieldType, spec: Node) -> list[Problem]:
    """The default alone: what an extension may change on another pack's field."""
    problems: list[Problem] = []

    def error(code: str, message: str, key: str, hint: str | None = None) -> None:
        problems.append(Problem(code, message, _pos_of(spec, key, field), hint))  # type: ignore[arg-type]

    _check_default(field, ftype, error)
    return problems


def _check_default(field: FieldDef, ftype: FieldType, error: object) -> None:
    if ftype.coerce is None or ftype.kind != COLUMN or field.type in ("file", "autonumber"):
        if field.type != "autonumber":
            error("M030", f"a {field.type} field cannot have a default", "default")  # type: ignore[operator]
        return
    if isinstance(field.default, str) and field.default.startswith("="):
        expression = field.default[1:].replace(" ", "")
        fits = {"today()": ("date", "datetime"), "now()": ("datetime",)}.get(expression)
        if fits is None:
            error(
                "M030",
                f"the default '{field.default}' is not one Ficha can compute",  # type: ignore[operator]
                "default",
                "a default can be =today() (dates) or =now() (date-times); "
                "for anything else use a formula or a rule",
            )
        elif field.type not in fits:
            error(
                "M030",
                f"'{field.default}' does not fit a {field.type} field",  # type: ignore[operator]
                "default",
                "=today() fits date fields, =now() date-time fields",
            )
        return
    try:
        value = ftype.coerce(field, field.default, _CTX)
    except ValueError as exc:
        error(
            "M030",
            f"default of '{field.name}' does not fit its type: {exc}",  # type: ignore[operator]
            "default",
            _default_hint(field),
        )
        return
    if ftype.comparable:
        for bound, op in (("min", "below"), ("max", "above")):
            limit = getattr(field, bound)
            try:
                if limit is not None and (
                    (op == "below" and value < ftype.coerce(field, limit, _CTX))
                    or (op == "above" and value > ftype.coerce(field, limit, _CTX))
                ):
                    error("M030", f"default {field.default} is {op} {bound} {limit}", "default")  # type: ignore[operator]
            except (ValueError, TypeError):
                pass
    if field.max_length and isinstance(value, str) and len(value) > field.max_length:
        error("M030", f"default is longer than max_length {field.max_length}", "default")  # type: ignore[operator]


def _default_hint(field: FieldDef) -> str | None:
    if field.type in ("choice", "multichoice"):
        return f"use one of: {', '.join(field.choice_codes)}"
    if field.type == "date":
        return "write dates as YYYY-MM-DD, or '=today()'"
    if field.type == "boolean":
        return "use true or false"
    return None


# -- completing defaults that need the whole model -----------------------------------------


def complete_model(
    objects: Mapping[str, ObjectDef], problems: list[Problem]
) -> dict[str, ObjectDef]:
    done: dict[str, ObjectDef] = {}
    for obj in objects.values():
        fields = {
            name: _resolve_relation(obj, f, objects, problems) for name, f in obj.fields.items()
        }
        obj = dataclasses.replace(obj, fields=MappingProxyType(fields))
        done[obj.name] = _complete_layouts(obj)
    return done


def _resolve_relation(
    obj: ObjectDef, field: FieldDef, objects: Mapping[str, ObjectDef], problems: list[Problem]
) -> FieldDef:
    if field.kind not in (LINK, HAS_MANY, MANY_TO_MANY) or not field.target:
        return field
    target = objects.get(field.target)
    if target is None:
        problems.append(
            Problem(
                "M021",
                f"'{obj.name}.{field.name}' points to unknown object '{field.target}'",
                field.pos_of("object"),
                did_you_mean(field.target, objects)
                or f"known objects: {', '.join(sorted(objects)) or 'none'}",
            )
        )
        return field
    if field.kind == HAS_MANY:
        links = [f for f in target.fields.values() if f.kind == LINK and f.target == obj.name]
        if field.via:
            match = target.fields.get(field.via)
            if match is None or match.kind != LINK or match.target != obj.name:
                problems.append(
                    Problem(
                        "M043",
                        f"'{field.via}' is not a link from {target.name} to {obj.name}",
                        field.pos,
                        did_you_mean(field.via, [f.name for f in links])
                        or (
                            f"links from {target.name} to {obj.name}: "
                            f"{', '.join(f.name for f in links)}"
                            if links
                            else f"add a link field to {target.name}: "
                            f"'{obj.name}: {{type: link, object: {obj.name}}}'"
                        ),
                    )
                )
            return field
        if len(links) == 1:
            return dataclasses.replace(field, via=links[0].name)
        if not links and any(
            f.kind == LINK and f.target not in objects for f in target.fields.values()
        ):
            return field  # a broken link of the target is reported already (M021)
        problems.append(
            Problem(
                "M043",
                f"has_many '{field.name}' needs a link from {target.name} back to {obj.name}"
                if not links
                else f"has_many '{field.name}' is ambiguous: {target.name} links to "
                f"{obj.name} through {', '.join(f.name for f in links)}",
                field.pos,
                f"add 'via: <link field of {target.name}>'"
                if links
                else f"add to {target.name}: '{obj.name}: {{type: link, object: {obj.name}}}'",
            )
        )
        return field
    if field.kind == MANY_TO_MANY and field.via:
        other = target.fields.get(field.via)
        if other is None or other.kind != MANY_TO_MANY or other.target != obj.name:
            problems.append(
                Problem(
                    "M043",
                    f"'{field.via}' is not a many_to_many from {target.name} to {obj.name}",
                    field.pos,
                    "via names the field on the other side",
                )
            )
    return field


def _complete_layouts(obj: ObjectDef) -> ObjectDef:
    plain = [f for f in obj.fields.values() if f.kind == COLUMN]
    title = obj.title_field or next(
        (f.name for f in plain if f.type in ("string", "email", "autonumber")), "id"
    )
    shown = [
        f.name
        for f in obj.fields.values()
        if f.kind in (COLUMN, LINK) and f.type not in ("text", "json", "file")
    ]
    columns = obj.list.columns or tuple(dict.fromkeys([title, *shown]))[:6]
    if title == "id":
        columns = tuple(c for c in columns if c != "id")
    filters = obj.list.filters or tuple(f.name for f in obj.fields.values() if f.filter)
    search = obj.list.search or tuple(f.name for f in obj.fields.values() if f.search)
    list_spec = ListSpec(
        columns,
        filters,
        search,
        obj.list.sort or (("id", True),),
        obj.list.page_size,
        obj.list.positions,
    )
    form = obj.form
    editable = [f.name for f in obj.fields.values() if f.kind != HAS_MANY]
    if not form.sections:
        form = FormSpec((FormSection("Details", tuple(editable)),), form.read_only)
    else:
        placed = set(form.field_order)
        missing = tuple(n for n in editable if n not in placed)
        if missing:  # a field left out of the layout must not silently disappear
            form = FormSpec((*form.sections, FormSection("More", missing)), form.read_only)
    return dataclasses.replace(obj, title_field=title, list=list_spec, form=form)


# -- cross-reference checks -------------------------------------------------------------------


def check_model(model: Model) -> list[Problem]:
    problems: list[Problem] = []
    for obj in model:
        problems.extend(_check_object(obj, model))
    from modeler.evolution import check_model_evolution

    problems.extend(check_model_evolution(model))
    from modeler.behaviour import check_object

    for obj in model:
        problems.extend(check_object(obj))
    from modeler.sources import check_sources

    problems.extend(check_sources(model))
    return problems


def _check_index(
    obj: ObjectDef, index: IndexDef, model: Model, system: list[str]
) -> Iterable[Problem]:
    """M052: what an entry of `indexes:` or `unique:` names, and what it can hold."""
    names = list(obj.fields)
    if not index.fields:
        yield Problem("M052", f"an index of {obj.name} lists no field", index.pos)
    for name in dict.fromkeys(index.columns):
        pos = index.positions.get(name, index.pos)
        field = obj.fields.get(name)
        if field is None and name not in system:
            yield Problem(
                "M052",
                f"index of {obj.name} names unknown field '{name}'",
                pos,
                did_you_mean(name, names + system),
            )
        elif field is not None and field.kind not in (COLUMN, LINK):
            yield Problem("M052", f"'{name}' has no column and cannot be indexed", pos)
        elif name in index.include and name in index.fields:
            yield Problem(
                "M052",
                f"'{name}' is both a field and in include: of an index of {obj.name}",
                pos,
                "an index holds its fields already: name it once",
            )
        elif (
            name in index.include
            and field is not None
            and not model.field_types.get(field.type).orderable
        ):
            yield Problem(
                "M052",
                f"'{name}' is a {field.type} and cannot be held in an index",
                pos,
                "include numbers, dates, choices, links and short texts",
            )
    if index.unique and index.include:
        yield Problem(
            "M052",
            f"a unique index of {obj.name} cannot include other fields "
            "(they would count in what must be unique)",
            index.pos,
            "declare the unique fields in unique:, and a second index with include: under indexes:",
        )
    if index.unique and index.live:
        yield Problem(
            "M052",
            f"a unique index of {obj.name} cannot leave the deleted records out (live: true)",
            index.pos,
            "unique values are unique among deleted records too (MariaDB has no "
            "partial indexes, so it could not be otherwise there): leave live: out",
        )


def _check_object(obj: ObjectDef, model: Model) -> Iterable[Problem]:
    names = list(obj.fields)
    system = ["id", "created_at", "updated_at", "created_by", "updated_by"]

    def unknown(name: str, where: str, pos: SourcePos | None = None) -> Problem:
        candidates = names + system
        return Problem(
            "M040",
            f"{where} of {obj.name} names unknown field '{name}'",
            pos or obj.pos,
            did_you_mean(name, candidates) or f"fields of {obj.name}: {', '.join(names)}",
        )

    if obj.title_field not in obj.fields and obj.title_field != "id":
        yield Problem(
            "M041",
            f"title of {obj.name} names unknown field '{obj.title_field}'",
            obj.pos,
            did_you_mean(obj.title_field, names),
        )
    elif obj.title_field in obj.fields and obj.fields[obj.title_field].kind != COLUMN:
        yield Problem(
            "M041",
            f"title of {obj.name} must be a plain field, not a {obj.fields[obj.title_field].type}",
            obj.pos,
        )
    for name in obj.list.columns:
        if name not in obj.fields and name not in system:
            yield unknown(name, "list columns", obj.list.pos("columns", name, obj.pos))
        elif name in obj.fields and obj.fields[name].kind in (HAS_MANY,):
            yield Problem(
                "M046",
                f"list column '{name}' is a has_many: a list cannot show every related record",
                obj.pos,
                "show it on the record page; remove it from list columns",
            )
    for name in obj.list.filters:
        if name not in obj.fields and name not in system:
            yield unknown(name, "list filters", obj.list.pos("filters", name, obj.pos))
    for name in obj.list.search:
        if name not in obj.fields:
            yield unknown(name, "list search", obj.list.pos("search", name, obj.pos))
        elif not model.field_types.get(obj.fields[name].type).textual:
            yield Problem(
                "M044",
                f"'{name}' is a {obj.fields[name].type} field and cannot be full-text searched",
                obj.fields[name].pos,
                "use it as a list filter instead",
            )
    for name, _desc in obj.list.sort:
        if name not in obj.fields and name not in system:
            yield unknown(name, "list sort", obj.list.pos("sort", name, obj.pos))
        elif name in obj.fields and not model.field_types.get(obj.fields[name].type).orderable:
            yield Problem(
                "M047", f"list sort of {obj.name} uses '{name}', which cannot be sorted", obj.pos
            )
    seen: dict[str, str] = {}
    for section in obj.form.sections:
        for name in section.fields:
            if name not in obj.fields:
                yield unknown(name, f"form section '{section.title}'", section.positions.get(name))
            elif name in seen:
                where = (
                    f"section '{section.title}'"
                    if seen[name] == section.title
                    else f"sections '{seen[name]}' and '{section.title}'"
                )
                yield Problem(
                    "M042",
                    f"'{name}' is placed twice in the form of {obj.name} ({where})",
                    section.positions.get(name, obj.pos),
                    "keep it in one section",
                )
            else:
                seen[name] = section.title
        for name in section.read_only:
            if name not in obj.fields:
                yield unknown(name, f"read_only of form section '{section.title}'")
    for name in obj.form.read_only:
        if name not in obj.fields:
            yield unknown(name, "form read_only")
    for index in obj.indexes:
        yield from _check_index(obj, index, model, system)
    for field in obj.fields.values():
        if field.kind == MANY_TO_MANY:
            for attr in field.link_fields:
                if attr.kind != COLUMN:
                    yield Problem(
                        "M031",
                        f"attribute '{attr.name}' of a many_to_many link must be a plain field",
                        attr.pos,
                    )
