"""YAML Nodes → the immutable Model. Packs are merged in order, then the whole model is
checked (see checks.py); every problem is collected, none stops the others from showing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from modeler import keys
from modeler.fieldtypes import DEFAULT_REGISTRY, FieldTypeRegistry
from modeler.loader import Node, load_yaml
from modeler.problems import ModelError, Problem, did_you_mean
from modeler.schema import (
    ChoiceValue,
    FieldDef,
    FormSection,
    FormSpec,
    IndexDef,
    ListSpec,
    Model,
    ObjectDef,
    PackInfo,
    SourcePos,
)


@dataclass(frozen=True, slots=True)
class Source:
    """One YAML file of object declarations and the pack it belongs to."""

    path: Path
    pack: str
    root: Path | None = None  # paths are shown relative to this folder


def split_value_hint(key: str) -> str | None:
    """A "key" that is really the end of the previous value: inside { } a comma ends a
    value, so `help: Amount, for the forecast` splits in two."""
    if " " in key.strip() or any(c in key for c in "()\"'"):
        return (
            "a comma inside { } ends a value: put the value before it in quotes, "
            'e.g. help: "Amount, for the forecast"'
        )
    return None


def _plain(node: Node | None) -> Any:
    return None if node is None else node.plain()


def humanize(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def pluralize(label: str) -> str:
    if label.endswith("y") and label[-2:-1] not in "aeiou":
        return label[:-1] + "ies"
    if label.endswith(("s", "x", "ch", "sh")):
        return label + "es"
    return label + "s"


class _Builder:
    def __init__(self, types: FieldTypeRegistry) -> None:
        self.types = types
        self.problems: list[Problem] = []

    def error(self, code: str, message: str, pos: SourcePos, hint: str | None = None) -> None:
        self.problems.append(Problem(code, message, pos, hint))

    def warn(self, code: str, message: str, pos: SourcePos, hint: str | None = None) -> None:
        self.problems.append(Problem(code, message, pos, hint, severity="warning"))

    # -- generic shape checks -----------------------------------------------------------

    def check_keys(self, node: Node, allowed: Iterable[str], what: str) -> None:
        allowed = list(allowed)
        for key, child in node.items():
            if key not in allowed:
                self.error(
                    "M010",
                    f"unknown key '{key}' in {what}",
                    child.key_pos or child.pos,
                    split_value_hint(key)
                    or did_you_mean(key, allowed)
                    or f"allowed keys: {', '.join(sorted(allowed))}",
                )

    def expect_map(self, node: Node | None, what: str) -> bool:
        if node is None:
            return False
        if not node.is_map:
            self.error("M012", f"{what} must be a mapping (key: value lines)", node.pos)
            return False
        return True

    def names_list(self, node: Node | None, what: str) -> list[tuple[str, SourcePos]]:
        """A list of names, also accepted as one name or a comma-separated string."""
        if node is None:
            return []
        if node.is_list:
            result = []
            for item in node:
                if item.is_map or item.is_list or item.value is None:
                    self.error("M012", f"{what} must list field names", item.pos)
                else:
                    result.append((str(item.value), item.pos))
            return result
        if isinstance(node.value, str):
            return [(part.strip(), node.pos) for part in node.value.split(",") if part.strip()]
        self.error("M012", f"{what} must be a list of field names", node.pos)
        return []

    def flag(self, node: Node | None, what: str) -> bool:
        if node is None:
            return False
        if not isinstance(node.value, bool):
            self.error("M012", f"{what} must be true or false, not '{node.value}'", node.pos)
            return False
        return node.value

    def text(self, node: Node | None, what: str) -> str | None:
        if node is None or node.value is None:
            return None
        if node.is_map or node.is_list:
            self.error("M012", f"{what} must be text", node.pos)
            return None
        return str(node.value)

    def integer(self, node: Node | None, what: str, minimum: int = 0) -> int | None:
        if node is None:
            return None
        if isinstance(node.value, bool) or not isinstance(node.value, int):
            self.error("M012", f"{what} must be a whole number, not '{node.value}'", node.pos)
            return None
        if node.value < minimum:
            self.error("M032", f"{what} must be at least {minimum}", node.pos)
            return None
        return int(node.value)

    def name(self, name: str, pos: SourcePos, what: str) -> bool:
        if not keys.NAME_RE.fullmatch(name):
            self.error(
                "M024",
                f"'{name}' is not a valid {what} name",
                pos,
                "use lowercase letters, digits and _ , starting with a letter, "
                f"at most {keys.MAX_NAME} characters",
            )
            return False
        return True

    # -- objects --------------------------------------------------------------------------

    def object_node(self, doc: Node, pack: str) -> tuple[ObjectDef | None, Node | None]:
        """A declaration (`object:`) gives an ObjectDef; an extension (`extends:`) is kept
        as a Node to be merged once every declaration is known."""
        if not doc.is_map:
            self.error(
                "M012",
                "a YAML object file must be a mapping of keys",
                doc.pos,
                "start with 'object: <name>'",
            )
            return None, None
        if doc.get("extends") is not None:
            self.check_keys(doc, keys.EXTENSION_KEYS, "an object extension")
            return None, doc
        self.check_keys(doc, keys.OBJECT_KEYS, "an object")
        name_node = doc.get("object")
        if name_node is None or not isinstance(name_node.value, str):
            self.error(
                "M011",
                "the file does not say which object it declares",
                doc.pos,
                "add 'object: <name>' (or 'extends: <name>' to extend one)",
            )
            return None, None
        name = name_node.value
        if not self.name(name, name_node.pos, "object"):
            return None, None
        reserved = name.startswith("ficha_") or name in keys.RESERVED_OBJECT_NAMES
        if reserved and pack != keys.SYSTEM_PACK:
            self.error(
                "M023",
                f"'{name}' is reserved for Ficha's own tables",
                name_node.pos,
                "choose another object name",
            )
            return None, None
        label = self.text(doc.get("label"), "label") or humanize(name)
        fields = self.fields(doc.get("fields"), pack, name)
        obj = ObjectDef(
            name=name,
            label=label,
            plural=self.text(doc.get("plural"), "plural") or pluralize(label),
            fields=MappingProxyType(fields),
            title_field=self.text(doc.get("title"), "title") or "",
            pos=name_node.pos,
            description=self.text(doc.get("description"), "description"),
            icon=self.text(doc.get("icon"), "icon"),
            pack=pack,
            renamed_from=self.text(doc.get("renamed_from"), "renamed_from"),
        )
        if doc.get("source") is not None:
            from modeler.sources import read_source

            obj = dataclasses.replace(obj, source=read_source(self, doc.get("source")))
        return self.layouts(obj, doc), None

    def fields(self, node: Node | None, pack: str, obj: str) -> dict[str, FieldDef]:
        result: dict[str, FieldDef] = {}
        if node is None:
            return result
        if not self.expect_map(node, "fields"):
            return result
        for name, spec in node.items():
            field = self.field(name, spec, pack, obj)
            if field is not None:
                result[name] = field
        return result

    def field(self, name: str, spec: Node, pack: str, obj: str) -> FieldDef | None:
        pos = spec.key_pos or spec.pos
        if not self.name(name, pos, "field"):
            return None
        if name in keys.RESERVED_FIELD_NAMES:
            why = (
                f"Ficha keeps {', '.join(keys.SYSTEM_FIELD_NAMES)} on every object"
                if name in keys.SYSTEM_FIELD_NAMES
                else "it is a word of the expression language or of Python"
            )
            self.error(
                "M023",
                f"'{name}' is a reserved word and cannot name a field",
                pos,
                f"{why}; try '{obj}_{name}'",
            )
            return None
        if spec.is_map:
            type_node = spec.get("type")
        elif isinstance(spec.value, str):  # shorthand: `name: string`
            type_node = spec
            spec = Node({}, spec.pos, spec.key_pos, {"type": spec})
        else:
            self.error(
                "M012",
                f"field '{name}' must be a type name or a mapping",
                spec.pos,
                "for example 'name: string' or 'name: {type: string, required: true}'",
            )
            return None
        if type_node is None or not isinstance(type_node.value, str):
            self.error(
                "M011",
                f"field '{name}' has no type",
                pos,
                f"add 'type:' with one of {', '.join(self.types.names())}",
            )
            return None
        type_name = type_node.value
        if type_name not in self.types:
            self.error(
                "M020",
                f"unknown field type '{type_name}'",
                type_node.pos,
                did_you_mean(type_name, self.types.names())
                or f"known types: {', '.join(self.types.names())}",
            )
            return None
        ftype = self.types.get(type_name)
        allowed = keys.FIELD_KEYS | ftype.options
        self.check_keys(spec, allowed | (keys.ALL_TYPE_OPTIONS - allowed), f"field '{name}'")
        for key, child in spec.items():  # a real key of another type: say which types take it
            if key in keys.ALL_TYPE_OPTIONS and key not in allowed:
                self.error(
                    "M031",
                    f"'{key}' does not apply to a {type_name} field",
                    child.key_pos or child.pos,
                    f"remove it, or change the type ({keys.types_taking(key, self.types)})",
                )
        values = self.choice_values(spec.get("values"), name) if "values" in ftype.options else ()
        if "values" in ftype.options and not values and spec.get("values") is None:
            self.error(
                "M033",
                f"{type_name} field '{name}' has no values",
                pos,
                "add 'values:' with the allowed codes, e.g. values: {new: New, won: Won}",
            )
        max_length_node = spec.get("max_length")
        max_length = self.integer(max_length_node, "max_length", 1)
        if max_length_node and max_length and type_name == "string" and max_length > 4000:
            self.error(
                "M032",
                "max_length above 4000 is not portable",
                max_length_node.pos,
                "use type text for long text",
            )
        fields_node = spec.get("fields")
        link_fields: tuple[FieldDef, ...] = ()
        if (
            fields_node is not None
            and "fields" in ftype.options
            and self.expect_map(fields_node, "fields")
        ):
            link_fields = tuple(self.fields(fields_node, pack, obj).values())
        field = FieldDef(
            name=name,
            type=type_name,
            kind=ftype.kind,
            label=self.text(spec.get("label"), "label") or humanize(name),
            pos=pos,
            help=self.text(spec.get("help"), "help"),
            required=self.flag(spec.get("required"), "required"),
            unique=self.flag(spec.get("unique"), "unique"),
            index=self.flag(spec.get("index"), "index"),
            search=self.flag(spec.get("search"), "search"),
            filter=self.flag(spec.get("filter"), "filter"),
            read_only=self.flag(spec.get("read_only"), "read_only"),
            personal=self.flag(spec.get("personal"), "personal"),
            default=_plain(spec.get("default")),
            min=_plain(spec.get("min")),
            max=_plain(spec.get("max")),
            max_length=max_length,
            pattern=self.text(spec.get("pattern"), "pattern"),
            values=values,
            target=self.text(spec.get("object"), "object"),
            via=self.text(spec.get("via"), "via"),
            on_delete=self.text(spec.get("on_delete"), "on_delete") or "restrict",
            link_fields=link_fields,
            precision=self.integer(spec.get("precision"), "precision", 1),
            scale=self.integer(spec.get("scale"), "scale", 0),
            currency=self.text(spec.get("currency"), "currency"),
            format=self.text(spec.get("format"), "format"),
            options=MappingProxyType({k: v.plain() for k, v in spec.items() if k in ftype.options}),
            pack=pack,
            positions=MappingProxyType({k: v.pos for k, v in spec.items()}),
            **self.evolution_keys(name, spec, ftype, tuple(v.code for v in values)),
            **self.behaviour_keys(spec),
        )
        from modeler.checks import check_field

        self.problems.extend(check_field(field, ftype, spec))
        if field.formula is not None and not field.stored:
            field = dataclasses.replace(field, kind="virtual")  # computed when read
        return field

    def behaviour_keys(self, spec: Node) -> dict[str, Any]:
        from modeler.behaviour import read_field_keys

        found, problems = read_field_keys(spec)
        self.problems.extend(problems)
        return found

    def evolution_keys(
        self, name: str, spec: Node, ftype: Any, codes: tuple[str, ...]
    ) -> dict[str, Any]:
        from modeler.evolution import read_field_keys

        found, problems = read_field_keys(name, spec, ftype, codes)
        self.problems.extend(problems)
        return found

    def choice_values(self, node: Node | None, field: str) -> tuple[ChoiceValue, ...]:
        if node is None:
            return ()
        values: list[ChoiceValue] = []
        seen: set[str] = set()

        def add(code: Any, label: Any, color: Any, pos: SourcePos) -> None:
            code_text = str(code)
            if code_text in seen:
                self.error("M033", f"value '{code_text}' is listed twice in '{field}'", pos)
                return
            if not code_text or len(code_text) > 64:
                self.error("M033", f"value code '{code_text}' must have 1 to 64 characters", pos)
                return
            seen.add(code_text)
            values.append(
                ChoiceValue(
                    code_text, str(label) if label is not None else humanize(code_text), color
                )
            )

        if node.is_map:
            for code, child in node.items():
                if child.is_map:
                    self.check_keys(child, {"label", "color"}, f"value '{code}'")
                    add(
                        code,
                        child.plain().get("label"),
                        child.plain().get("color"),
                        child.key_pos or child.pos,
                    )
                else:
                    add(code, child.value, None, child.key_pos or child.pos)
        elif node.is_list:
            for item in node:
                if item.is_map:
                    plain = item.plain()
                    if "code" not in plain:
                        self.error("M011", "a value written as a mapping needs 'code:'", item.pos)
                        continue
                    self.check_keys(item, {"code", "label", "color"}, "a value")
                    add(plain["code"], plain.get("label"), plain.get("color"), item.pos)
                else:
                    add(item.value, None, None, item.pos)
        else:
            self.error(
                "M012",
                f"values of '{field}' must be a list or a mapping",
                node.pos,
                "e.g. values: {new: New, won: Won} or values: [new, won]",
            )
        return tuple(values)

    # -- layouts ----------------------------------------------------------------------------

    def layouts(self, obj: ObjectDef, doc: Node) -> ObjectDef:
        list_spec = self.list_spec(doc.get("list"), obj.list)
        form = self.form_spec(doc.get("form"), obj.form)
        indexes = (
            obj.indexes
            + self.index_defs(doc.get("indexes"), unique=False)
            + (self.index_defs(doc.get("unique"), unique=True))
        )
        return dataclasses.replace(
            obj, list=list_spec, form=form, indexes=indexes, **self.behaviour(obj, doc)
        )

    def behaviour(self, obj: ObjectDef, doc: Node) -> dict[str, Any]:
        """validations / workflow / rules; an extension adds to those of the pack."""
        from modeler.behaviour import read_object_keys

        found, problems = read_object_keys(doc)
        self.problems.extend(problems)
        if "validations" in found:
            found["validations"] = obj.validations + found["validations"]
        if "rules" in found:
            found["rules"] = obj.rules + found["rules"]
        return found

    def list_spec(self, node: Node | None, base: ListSpec) -> ListSpec:
        if node is None or not self.expect_map(node, "list"):
            return base
        self.check_keys(node, keys.LIST_KEYS, "list")
        sort = base.sort
        if node.get("sort") is not None:
            sort = tuple(
                (name.lstrip("-+"), name.startswith("-"))
                for name, _ in self.names_list(node.get("sort"), "sort")
            )
        positions = dict(base.positions)
        for key in ("columns", "filters", "search", "sort"):
            for name, pos in self.names_list(node.get(key), key):
                positions[f"{key}:{name.lstrip('-+')}"] = pos
        size_node = node.get("page_size")
        page_size = self.integer(size_node, "page_size", 1) or base.page_size
        if size_node and page_size > 500:
            self.error("M045", "page_size must be at most 500", size_node.pos)
            page_size = base.page_size
        return ListSpec(
            columns=self._names(node, "columns", base.columns),
            filters=self._names(node, "filters", base.filters),
            search=self._names(node, "search", base.search),
            sort=sort,
            page_size=page_size,
            positions=MappingProxyType(positions),
        )

    def _names(self, node: Node, key: str, base: tuple[str, ...]) -> tuple[str, ...]:
        if node.get(key) is None:
            return base
        return tuple(name for name, _ in self.names_list(node.get(key), key))

    def form_spec(self, node: Node | None, base: FormSpec) -> FormSpec:
        if node is None:
            return base
        read_only: tuple[str, ...] = base.read_only
        sections_node: Node | None = node
        if node.is_map:
            self.check_keys(node, {"sections", "read_only"}, "form")
            read_only += tuple(n for n, _ in self.names_list(node.get("read_only"), "read_only"))
            sections_node = node.get("sections")
        sections = list(base.sections)
        if sections_node is not None and not sections_node.is_list:
            self.error(
                "M012",
                "form sections must be a list",
                sections_node.pos,
                "e.g. form: [{section: Identity, fields: [name, email]}]",
            )
            return FormSpec(tuple(sections), read_only)
        for item in sections_node or ():
            if not item.is_map:
                self.error(
                    "M012",
                    "each form section must be a mapping",
                    item.pos,
                    "e.g. - section: Identity\n    fields: [name, email]",
                )
                continue
            self.check_keys(item, keys.SECTION_KEYS, "a form section")
            kind = "tab" if item.get("tab") is not None else "section"
            title = self.text(item.get(kind), kind) or "Details"
            named = self.names_list(item.get("fields"), "fields")
            names = tuple(n for n, _ in named)
            existing = next((i for i, s in enumerate(sections) if s.title == title), None)
            section = FormSection(
                title=title,
                fields=names,
                kind=kind,
                read_only=tuple(n for n, _ in self.names_list(item.get("read_only"), "read_only")),
                collapsed=self.flag(item.get("collapsed"), "collapsed"),
                positions=MappingProxyType(dict(named)),
            )
            if existing is not None:  # a pack adds fields to a section of another pack
                old = sections[existing]
                sections[existing] = dataclasses.replace(
                    old,
                    fields=old.fields + section.fields,
                    read_only=old.read_only + section.read_only,
                    positions=MappingProxyType({**old.positions, **section.positions}),
                )
            else:
                sections.append(section)
        return FormSpec(tuple(sections), read_only)

    def index_defs(self, node: Node | None, unique: bool) -> tuple[IndexDef, ...]:
        if node is None:
            return ()
        what = "unique" if unique else "indexes"
        if not node.is_list:
            self.error(
                "M012",
                f"{what} must be a list of field lists",
                node.pos,
                f"e.g. {what}: [[last_name, first_name]]",
            )
            return ()
        result = []
        for item in node:
            if item.is_map:
                self.check_keys(
                    item, {"fields", "name", "unique", "include", "live"}, f"an entry of {what}"
                )
                names = self.names_list(item.get("fields"), "fields")
                included = self.names_list(item.get("include"), "include")
                result.append(
                    IndexDef(
                        tuple(n for n, _ in names),
                        unique or self.flag(item.get("unique"), "unique"),
                        self.text(item.get("name"), "name"),
                        item.pos,
                        include=tuple(n for n, _ in included),
                        live=self.flag(item.get("live"), "live"),
                        positions=MappingProxyType(
                            {**dict(reversed(names)), **dict(reversed(included))}
                        ),
                    )
                )
            else:
                names = self.names_list(item, what)
                result.append(
                    IndexDef(
                        tuple(n for n, _ in names),
                        unique,
                        None,
                        item.pos,
                        positions=MappingProxyType(dict(reversed(names))),
                    )
                )
        return tuple(result)

    # -- extensions -------------------------------------------------------------------------

    def extend(self, obj: ObjectDef, ext: Node, pack: str) -> ObjectDef:
        fields = dict(obj.fields)
        fields_node = ext.get("fields")
        if fields_node is not None and self.expect_map(fields_node, "fields"):
            for name, spec in fields_node.items():
                if name in fields and spec.is_map and spec.get("type") is None:
                    fields[name] = self.override_field(fields[name], spec)
                    continue
                if name in fields:
                    self.error(
                        "M051",
                        f"'{obj.name}.{name}' is already declared by pack "
                        f"'{fields[name].pack}' ({fields[name].pos})",
                        spec.key_pos or spec.pos,
                        "to change its label or help, give those keys without 'type:'",
                    )
                    continue
                field = self.field(name, spec, pack, obj.name)
                if field is not None:
                    fields[name] = field
        changes: dict[str, Any] = {"fields": MappingProxyType(fields)}
        for key, attr in (
            ("label", "label"),
            ("plural", "plural"),
            ("title", "title_field"),
            ("description", "description"),
            ("icon", "icon"),
        ):
            value = self.text(ext.get(key), key)
            if value is not None:
                changes[attr] = value
        return self.layouts(dataclasses.replace(obj, **changes), ext)

    def override_field(self, field: FieldDef, spec: Node) -> FieldDef:
        self.check_keys(spec, keys.OVERRIDE_KEYS, f"the extension of field '{field.name}'")
        changes: dict[str, Any] = {}
        for key in ("label", "help"):
            if spec.get(key) is not None:
                changes[key] = self.text(spec.get(key), key)
        for key in ("required", "search", "filter", "index", "read_only"):
            if spec.get(key) is not None:
                changes[key] = self.flag(spec.get(key), key)
        if spec.get("default") is not None:
            changes["default"] = _plain(spec.get("default"))
        if spec.get("values") is not None:  # add values to a choice of another pack
            extra = self.choice_values(spec.get("values"), field.name)
            known = {v.code for v in field.values}
            changes["values"] = field.values + tuple(v for v in extra if v.code not in known)
        changed = dataclasses.replace(field, **changes)
        if "default" in changes and field.type in self.types:
            from modeler.checks import check_default

            self.problems.extend(check_default(changed, self.types.get(field.type), spec))
        return changed


def build_model(
    sources: Sequence[Source],
    types: FieldTypeRegistry = DEFAULT_REGISTRY,
    packs: Sequence[PackInfo] = (),
) -> Model:
    """Read, merge and check every source; return the Model or raise ModelError with
    every problem found (warnings alone do not raise; they are kept on the error-free
    path by `build_model_with_warnings`)."""
    model, problems = build_model_with_warnings(sources, types, packs)
    if any(p.severity == "error" for p in problems) or model is None:
        raise ModelError(problems)
    return model


def build_model_with_warnings(
    sources: Sequence[Source],
    types: FieldTypeRegistry = DEFAULT_REGISTRY,
    packs: Sequence[PackInfo] = (),
) -> tuple[Model | None, list[Problem]]:
    from modeler.checks import check_model, complete_model

    builder = _Builder(types)
    objects: dict[str, ObjectDef] = {}
    extensions: list[tuple[Node, str]] = []
    fingerprint = hashlib.sha256()
    for source in sources:
        docs, problems = load_yaml(source.path, source.root)
        builder.problems.extend(problems)
        for doc in docs:
            fingerprint.update(
                json.dumps([source.pack, doc.plain()], default=str, sort_keys=True).encode()
            )
            obj, ext = builder.object_node(doc, source.pack)
            if ext is not None:
                extensions.append((ext, source.pack))
            if obj is None:
                continue
            if obj.name in objects:
                first = objects[obj.name]
                builder.error(
                    "M022",
                    f"object '{obj.name}' is declared twice; first at {first.pos}",
                    obj.pos,
                    f"to add fields to an object of another pack use 'extends: {obj.name}'",
                )
                continue
            objects[obj.name] = obj
    for ext, pack in extensions:
        target_node = ext.get("extends")
        assert target_node is not None
        target = str(target_node.value)
        if target not in objects:
            builder.error(
                "M050",
                f"cannot extend unknown object '{target}'",
                target_node.pos,
                did_you_mean(target, objects)
                or "is the pack that declares it enabled in ficha.yaml?",
            )
            continue
        objects[target] = builder.extend(objects[target], ext, pack)
    objects = complete_model(objects, builder.problems)
    model = Model(MappingProxyType(objects), types, tuple(packs), fingerprint.hexdigest())
    builder.problems.extend(check_model(model))
    ordered = sorted(builder.problems, key=lambda p: (p.pos.file, p.pos.line, p.pos.column))
    return model, ordered
