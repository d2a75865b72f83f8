"""The model as the database remembers it: what each migration recorded in ficha_meta.

A snapshot holds what the next plan needs and a database cannot say by itself (which
field a column belongs to, choice codes, declared lengths), and enough to rebuild the
tables the model had then (to tell a hand-made change from a change of the YAML).
Snapshots written by earlier versions hold fewer keys; readers use `.get()` and treat a
missing key as "unchanged".
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from modeler.fieldtypes import COLUMN, FieldTypeRegistry
from modeler.schema import ChoiceValue, FieldDef, IndexDef, ListSpec, Model, ObjectDef
from storage.tables import column_name

Snapshot = dict[str, Any]

#: FieldDef attributes that shape a column (or a link table) or its data
_FIELD_KEYS = (
    "type",
    "kind",
    "target",
    "max_length",
    "precision",
    "scale",
    "unique",
    "index",
    "filter",
    "required",
    "on_delete",
    "via",
)


def field_spec(f: FieldDef) -> dict[str, Any]:
    spec: dict[str, Any] = {key: getattr(f, key) for key in _FIELD_KEYS}
    spec["values"] = [v.code for v in f.values]
    spec["column"] = column_name(f)
    if f.link_fields:
        spec["link_fields"] = {a.name: field_spec(a) for a in f.link_fields}
    return spec


def snapshot(model: Model) -> Snapshot:
    """What the next plan needs to know about this model."""
    return {
        obj.name: {
            "fields": {f.name: field_spec(f) for f in obj.fields.values()},
            "search": search_columns(obj),
            # the list order shapes the tables too (an index serves it: storage/tables.py)
            "sort": [name for name, _descending in obj.list.sort],
            "indexes": [index_spec(i) for i in obj.indexes],
        }
        for obj in model
        if obj.source is None  # a wrapped object has no table to migrate
    }


def index_spec(index: IndexDef) -> dict[str, Any]:
    spec: dict[str, Any] = {"fields": list(index.fields), "unique": index.unique}
    spec["name"] = index.name
    # written only when used, so that snapshots of earlier versions stay equal
    if index.include:
        spec["include"] = list(index.include)
    if index.live:
        spec["live"] = True
    return spec


def search_columns(obj: ObjectDef) -> list[str]:
    return [
        column_name(obj.fields[n])
        for n in obj.search_fields
        if n in obj.fields and obj.fields[n].kind == COLUMN
    ]


def is_complete(snap: Mapping[str, Any]) -> bool:
    """True when the snapshot can rebuild its tables (written by this version)."""
    return bool(snap) and all("indexes" in spec for spec in snap.values())


def model_from_snapshot(snap: Mapping[str, Any], types: FieldTypeRegistry) -> Model | None:
    """The model a snapshot describes, enough to build its tables; None if it cannot
    (an older snapshot, or a field type no plugin provides any more)."""
    if not is_complete(snap):
        return None
    objects: dict[str, ObjectDef] = {}
    for name, spec in snap.items():
        fields: dict[str, FieldDef] = {}
        for fname, fspec in spec["fields"].items():
            f = _field(fname, fspec, types)
            if f is None:
                return None
            fields[fname] = f
        indexes = tuple(
            IndexDef(
                tuple(i["fields"]),
                bool(i["unique"]),
                i.get("name"),
                include=tuple(i.get("include", ())),
                live=bool(i.get("live")),
            )
            for i in spec.get("indexes", [])
        )
        objects[name] = ObjectDef(
            name=name,
            label=name,
            plural=name,
            fields=MappingProxyType(fields),
            title_field="id",
            indexes=indexes,
            list=ListSpec(sort=tuple((n, False) for n in spec.get("sort", ["id"]))),
        )
    return Model(MappingProxyType(objects), types)


def _field(name: str, spec: Mapping[str, Any], types: FieldTypeRegistry) -> FieldDef | None:
    if spec.get("type") not in types:
        return None
    values = tuple(ChoiceValue(code, code) for code in spec.get("values", []))
    link_fields = []
    for attr, attr_spec in (spec.get("link_fields") or {}).items():
        built = _field(attr, attr_spec, types)
        if built is None:
            return None
        link_fields.append(built)
    kwargs = {key: spec[key] for key in _FIELD_KEYS if key in spec}
    kwargs["index"] = bool(kwargs.get("index"))
    kwargs["filter"] = bool(kwargs.get("filter"))
    kwargs["on_delete"] = kwargs.get("on_delete") or "restrict"
    return FieldDef(name=name, label=name, values=values, link_fields=tuple(link_fields), **kwargs)
