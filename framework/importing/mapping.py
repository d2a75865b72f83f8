"""Import mappings: which column of a spreadsheet goes to which field, how its values are
transformed, how links are found by a natural key, and which columns make a child
record. Read from YAML (`mappings/*.yaml`) or built by the import screen, and checked
against the model with file:line:column, a stable id and a did-you-mean.

    object: deal
    key: [opportunity_id]            # upsert: the row finds its record by these fields
    on_existing: update              # update | skip | error (duplicate detection)
    mode: good_rows                  # good_rows | all_or_nothing
    columns:
      opportunity_id: opportunity_id           # column: field
      account: {field: account, lookup: name}  # a link found by the account's name
      product: {field: product, lookup: name, map: {GTXPro: GTX Pro}}
      deal_stage: {field: stage, transform: lower}
    children:
      - object: contract                       # several columns into one child record
        link: customer
        columns: {Contract: kind, MonthlyCharges: monthly_charges}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framework.importing.transforms import TRANSFORMS
from modeler.fieldtypes import COLUMN, LINK, MANY_TO_MANY
from modeler.loader import Node, load_yaml
from modeler.problems import ModelError, Problem, did_you_mean
from modeler.schema import UNKNOWN_POS, Model, ObjectDef, SourcePos

MODES = ("good_rows", "all_or_nothing")
ON_EXISTING = ("update", "skip", "error")
TOP_KEYS = {
    "object",
    "key",
    "on_existing",
    "mode",
    "columns",
    "children",
    "constants",
    "null",
    "delimiter",
    "sheet",
    "encoding",
    "label",
}
COLUMN_KEYS = {"field", "lookup", "transform", "map", "default", "format", "split"}
CHILD_KEYS = {"object", "link", "key", "columns", "constants"}


@dataclass(frozen=True)
class ColumnMap:
    """One spreadsheet column → one field of the object."""

    column: str
    field: str
    lookup: str | None = None  # for a link: the target's field holding the natural key
    transforms: tuple[str, ...] = ()
    values: MappingABC[str, Any] = dataclasses.field(default_factory=dict)  # `map:` value → value
    default: Any = None  # when the cell is empty
    format: str | None = None  # a date format (strptime), e.g. %d/%m/%Y
    split: str | None = None  # many values in one cell (multichoice, many-to-many)
    pos: SourcePos = UNKNOWN_POS

    @property
    def plain(self) -> bool:
        """The cell goes to the field as it is (no transform, map or format)."""
        return not (self.transforms or self.values or self.format)


@dataclass(frozen=True)
class ChildMap:
    """Several columns of the same row → one record of another object, linked to the
    row's record through `link` (one per parent, upserted by `key`)."""

    object: str
    link: str
    columns: tuple[ColumnMap, ...]
    key: tuple[str, ...] = ()
    constants: MappingABC[str, Any] = dataclasses.field(default_factory=dict)
    pos: SourcePos = UNKNOWN_POS

    @property
    def upsert_key(self) -> tuple[str, ...]:
        return self.key or (self.link,)


@dataclass(frozen=True)
class ImportMapping:
    object: str
    columns: tuple[ColumnMap, ...]
    key: tuple[str, ...] = ()
    on_existing: str = "update"
    mode: str = "good_rows"
    children: tuple[ChildMap, ...] = ()
    constants: MappingABC[str, Any] = dataclasses.field(default_factory=dict)
    null: tuple[str, ...] = ("",)
    delimiter: str | None = None
    sheet: str | None = None
    encoding: str = "utf-8-sig"
    label: str = ""
    source: str = ""

    def column_names(self) -> list[str]:
        names = [c.column for c in self.columns]
        names += [c.column for child in self.children for c in child.columns]
        return list(dict.fromkeys(names))


# -- reading ---------------------------------------------------------------------------------


def load_mapping(path: Path, model: Model, root: Path | None = None) -> ImportMapping:
    """A mapping file, checked against the model; raises ModelError with every problem."""
    docs, problems = load_yaml(path, root)
    if problems:
        raise ModelError(problems)
    if not docs:
        raise ModelError([Problem("I001", "the mapping file is empty", SourcePos(str(path)))])
    mapping, problems = read_mapping(docs[0], model, str(path))
    if problems or mapping is None:
        raise ModelError(problems)
    return mapping


def mapping_from_dict(data: MappingABC[str, Any], model: Model) -> ImportMapping:
    """A mapping given as plain data (the import screen, the API)."""
    node = _node(data, SourcePos("<mapping>"))
    mapping, problems = read_mapping(node, model, "<mapping>")
    if problems or mapping is None:
        raise ModelError(problems)
    return mapping


def _node(value: Any, pos: SourcePos) -> Node:
    if isinstance(value, MappingABC):
        return Node(value, pos, pos, {str(k): _node(v, pos) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return Node(value, pos, None, [_node(v, pos) for v in value])
    return Node(value, pos)


class _Reader:
    def __init__(self, model: Model) -> None:
        self.model = model
        self.problems: list[Problem] = []

    def problem(self, code: str, message: str, pos: SourcePos, hint: str | None = None) -> None:
        self.problems.append(Problem(code, message, pos, hint))

    def keys(self, node: Node, allowed: set[str], what: str) -> None:
        for key, child in node.items():
            if key not in allowed:
                self.problem(
                    "I002",
                    f"unknown key '{key}' in {what}",
                    child.key_pos or child.pos,
                    did_you_mean(key, allowed) or f"allowed: {', '.join(sorted(allowed))}",
                )

    def object(self, node: Node | None, pos: SourcePos) -> ObjectDef | None:
        if node is None or not isinstance(node.value, str):
            self.problem("I003", "the mapping needs 'object:' (the object to import into)", pos)
            return None
        name = node.value
        if name not in self.model:
            self.problem(
                "I004",
                f"unknown object '{name}'",
                node.pos,
                did_you_mean(name, self.model.objects) or "see 'ficha objects'",
            )
            return None
        return self.model[name]

    def field_names(self, node: Node | None, obj: ObjectDef, what: str) -> tuple[str, ...]:
        if node is None:
            return ()
        names = node.plain()
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.problem("I005", f"{what} must be a list of field names", node.pos)
            return ()
        for name in names:
            f = obj.fields.get(name)
            if f is None or f.kind not in (COLUMN, LINK):
                self.problem(
                    "I006",
                    f"{obj.name} has no stored field '{name}' for {what}",
                    node.pos,
                    did_you_mean(name, [g.name for g in obj.stored_fields()]),
                )
        return tuple(names)

    def columns(self, node: Node | None, obj: ObjectDef, pos: SourcePos) -> tuple[ColumnMap, ...]:
        if node is None or not node.is_map:
            self.problem(
                "I007",
                "'columns:' must map each spreadsheet column to a field",
                node.pos if node else pos,
                "e.g. columns: {Customer name: name, Email: email}",
            )
            return ()
        result = []
        for column, spec in node.items():
            found = self.column(column, spec, obj)
            if found is not None:
                result.append(found)
        return tuple(result)

    def column(self, column: str, spec: Node, obj: ObjectDef) -> ColumnMap | None:
        where = spec.key_pos or spec.pos
        if spec.value is None:
            return None  # `Column: ~` — read but not imported
        if isinstance(spec.value, str) and not spec.is_map:
            options: dict[str, Any] = {"field": spec.value}
        elif spec.is_map:
            self.keys(spec, COLUMN_KEYS, f"column '{column}'")
            options = spec.plain()
        else:
            self.problem("I008", f"column '{column}' must name a field", spec.pos)
            return None
        name = options.get("field")
        f = obj.fields.get(str(name)) if name is not None else None
        if f is None or f.kind not in (COLUMN, LINK, MANY_TO_MANY) or f.type == "autonumber":
            writable = [g.name for g in obj.fields.values() if g.kind != "has_many"]
            self.problem(
                "I009",
                f"{obj.name} has no field '{name}' to import column '{column}' into",
                spec.pos,
                did_you_mean(str(name), writable) or f"fields: {', '.join(writable)}",
            )
            return None
        lookup = options.get("lookup")
        if lookup is not None:
            if f.kind not in (LINK, MANY_TO_MANY):
                self.problem(
                    "I010",
                    f"'lookup' finds linked records, but {obj.name}.{f.name} is a {f.type}",
                    spec.pos,
                )
            else:
                target = self.model[f.target or ""]
                lf = target.fields.get(str(lookup))
                if lf is None or lf.kind != COLUMN:
                    self.problem(
                        "I011",
                        f"{target.name} has no field '{lookup}' to find it by",
                        spec.pos,
                        did_you_mean(str(lookup), [g.name for g in target.stored_fields()]),
                    )
        transforms = options.get("transform") or ()
        if isinstance(transforms, str):
            transforms = (transforms,)
        for t in transforms:
            if t not in TRANSFORMS:
                self.problem(
                    "I012",
                    f"unknown transform '{t}' in column '{column}'",
                    spec.pos,
                    did_you_mean(str(t), TRANSFORMS) or f"transforms: {', '.join(TRANSFORMS)}",
                )
        values = options.get("map") or {}
        if not isinstance(values, dict):
            self.problem("I013", f"'map' of column '{column}' must be value: value", spec.pos)
            values = {}
        return ColumnMap(
            column=str(column),
            field=f.name,
            lookup=None if lookup is None else str(lookup),
            transforms=tuple(str(t) for t in transforms),
            values={str(k): v for k, v in values.items()},
            default=options.get("default"),
            format=options.get("format"),
            split=options.get("split"),
            pos=where,
        )

    def constants(self, node: Node | None, obj: ObjectDef) -> dict[str, Any]:
        if node is None:
            return {}
        values = node.plain()
        if not isinstance(values, dict):
            self.problem("I014", "'constants' must map fields to values", node.pos)
            return {}
        for name in values:
            if name not in obj.fields:
                self.problem(
                    "I009",
                    f"{obj.name} has no field '{name}'",
                    node.pos,
                    did_you_mean(str(name), obj.fields),
                )
        return values

    def choice(self, node: Node | None, allowed: tuple[str, ...], default: str, what: str) -> str:
        if node is None:
            return default
        if node.value not in allowed:
            self.problem(
                "I015",
                f"{what} must be one of: {', '.join(allowed)}",
                node.pos,
                did_you_mean(str(node.value), allowed),
            )
            return default
        return str(node.value)

    def child(self, node: Node, parent: ObjectDef) -> ChildMap | None:
        if not node.is_map:
            self.problem(
                "I016", "each child must be a mapping with object, link, columns", node.pos
            )
            return None
        self.keys(node, CHILD_KEYS, "a child")
        obj = self.object(node.get("object"), node.pos)
        if obj is None:
            return None
        link_node = node.get("link")
        link = link_node.value if link_node is not None else None
        candidates = [
            f.name for f in obj.fields.values() if f.kind == LINK and f.target == parent.name
        ]
        if link is None and len(candidates) == 1:
            link = candidates[0]
        f = obj.fields.get(str(link)) if link is not None else None
        if f is None or f.kind != LINK or f.target != parent.name:
            self.problem(
                "I017",
                f"the child {obj.name} needs 'link:', its link field to {parent.name}",
                (link_node or node).pos,
                f"links of {obj.name} to {parent.name}: {', '.join(candidates) or 'none'}",
            )
            return None
        columns = self.columns(node.get("columns"), obj, node.pos)
        key = self.field_names(node.get("key"), obj, "the child's key")
        return ChildMap(
            obj.name,
            str(link),
            columns,
            key,
            self.constants(node.get("constants"), obj),
            node.pos,
        )


def read_mapping(
    node: Node, model: Model, source: str
) -> tuple[ImportMapping | None, list[Problem]]:
    reader = _Reader(model)
    if not node.is_map:
        return None, [
            Problem("I001", "a mapping must be a YAML mapping (object, columns …)", node.pos)
        ]
    reader.keys(node, TOP_KEYS, "the mapping")
    obj = reader.object(node.get("object"), node.pos)
    if obj is None:
        return None, reader.problems
    columns = reader.columns(node.get("columns"), obj, node.pos)
    constants = reader.constants(node.get("constants"), obj)
    key = reader.field_names(node.get("key"), obj, "the key")
    mapped = {c.field for c in columns} | set(constants)
    for name in key:
        if name in obj.fields and name not in mapped:
            reader.problem(
                "I018",
                f"the key field '{name}' is not filled by any column",
                (node.get("key") or node).pos,
                "map a column to it, or remove it from the key",
            )
    children = []
    children_node = node.get("children")
    if children_node is not None:
        for child_node in children_node:
            child = reader.child(child_node, obj)
            if child is not None:
                children.append(child)
    nulls = node.get("null")
    null_values: tuple[str, ...] = ("",)
    if nulls is not None:
        plain = nulls.plain()
        null_values = tuple(str(v) for v in (plain if isinstance(plain, list) else [plain]))
    mapping = ImportMapping(
        object=obj.name,
        columns=columns,
        key=key,
        on_existing=reader.choice(node.get("on_existing"), ON_EXISTING, "update", "on_existing"),
        mode=reader.choice(node.get("mode"), MODES, "good_rows", "mode"),
        children=tuple(children),
        constants=constants,
        null=null_values,
        delimiter=_scalar(node.get("delimiter")),
        sheet=_scalar(node.get("sheet")),
        encoding=_scalar(node.get("encoding")) or "utf-8-sig",
        label=_scalar(node.get("label")) or "",
        source=source,
    )
    return mapping, reader.problems


def _scalar(node: Node | None) -> str | None:
    return None if node is None or node.value is None else str(node.value)


def check_headers(mapping: ImportMapping, headers: list[str]) -> list[Problem]:
    """Columns the mapping names that the file does not have."""
    present = set(headers)
    problems = []
    every = [*mapping.columns, *(c for child in mapping.children for c in child.columns)]
    for column in every:
        if column.column not in present:
            problems.append(
                Problem(
                    "I020",
                    f"the file has no column '{column.column}'",
                    column.pos,
                    did_you_mean(column.column, headers)
                    or f"its columns: {', '.join(headers[:20])}",
                )
            )
    return problems
