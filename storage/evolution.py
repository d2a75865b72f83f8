"""What changed between the model the database was migrated to (its snapshot) and the
model the YAML declares now, in the terms a database diff cannot see: renames, type
changes, choice codes, fields that need a value for the records that already exist.

Renames are declared (`renamed_from:`), never guessed. A rename is pending while the old
name is in the snapshot and the new one is not; once applied, the declaration is history.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from modeler.fieldtypes import LINK, MANY_TO_MANY
from modeler.schema import FieldDef, Model, ObjectDef
from storage.tables import column_name, link_table_name


@dataclass(frozen=True)
class Renames:
    """Pending renames, by the names the database has now (old) and will have (new)."""

    objects: Mapping[str, str] = field(default_factory=dict)  # old → new
    #: (new object name, old field name) → new field name
    fields: Mapping[tuple[str, str], str] = field(default_factory=dict)
    #: an object or field declared renamed whose old and new names both exist
    clashes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.objects or self.fields)

    def old_object(self, new: str) -> str:
        for old, name in self.objects.items():
            if name == new:
                return old
        return new

    def old_field(self, obj: str, new: str) -> str:
        for (o, old), name in self.fields.items():
            if o == obj and name == new:
                return old
        return new


def find_renames(model: Model, old: Mapping[str, Any]) -> Renames:
    objects: dict[str, str] = {}
    fields: dict[tuple[str, str], str] = {}
    clashes: list[str] = []
    for obj in model:
        before = obj.name
        if obj.renamed_from and obj.renamed_from in old:
            if obj.name in old:
                clashes.append(
                    f"'{obj.name}' is renamed from '{obj.renamed_from}', but the database "
                    f"holds both objects"
                )
            else:
                objects[obj.renamed_from] = obj.name
                before = obj.renamed_from
        old_fields = old.get(before, {}).get("fields", {})
        for f in obj.fields.values():
            if not f.renamed_from or f.renamed_from not in old_fields:
                continue
            if f.name in old_fields:
                clashes.append(
                    f"'{obj.name}.{f.name}' is renamed from '{f.renamed_from}', but the "
                    "database holds both fields"
                )
            else:
                fields[(obj.name, f.renamed_from)] = f.name
    return Renames(objects, fields, tuple(clashes))


def undo_renames(model: Model, renames: Renames) -> Model:
    """The model with every pending rename undone: its tables have the names the live
    database has, so comparing them shows only the other changes."""
    if not renames:
        return model
    objects: dict[str, ObjectDef] = {}
    for obj in model:
        fields: dict[str, FieldDef] = {}
        for f in obj.fields.values():
            name = renames.old_field(obj.name, f.name)
            target = renames.old_object(f.target) if f.target else None
            via = renames.old_field(f.target, f.via) if f.target and f.via else f.via
            fields[name] = dataclasses.replace(f, name=name, target=target, via=via)
        indexes = tuple(
            dataclasses.replace(
                i,
                fields=tuple(renames.old_field(obj.name, n) for n in i.fields),
                include=tuple(renames.old_field(obj.name, n) for n in i.include),
            )
            for i in obj.indexes
        )
        old_name = renames.old_object(obj.name)
        objects[old_name] = dataclasses.replace(
            obj, name=old_name, fields=MappingProxyType(fields), indexes=indexes
        )
    return Model(MappingProxyType(objects), model.field_types, model.packs, model.fingerprint)


@dataclass(frozen=True)
class NameMap:
    """Live (pre-rename) table and column names → the names of the model now."""

    tables: Mapping[str, str]
    columns: Mapping[tuple[str, str], str]  # (live table, live column) → new column

    def table(self, live: str) -> str:
        return self.tables.get(live, live)

    def column(self, live_table: str, live_column: str) -> str:
        return self.columns.get((live_table, live_column), live_column)


def name_map(model: Model, undone: Model, renames: Renames) -> NameMap:
    tables: dict[str, str] = {}
    columns: dict[tuple[str, str], str] = {}
    for obj in model:
        old_obj = undone[renames.old_object(obj.name)]
        tables[old_obj.name] = obj.name
        for f in obj.fields.values():
            old_f = old_obj.fields[renames.old_field(obj.name, f.name)]
            columns[(old_obj.name, column_name(old_f))] = column_name(f)
            if f.kind == MANY_TO_MANY and not f.via:
                tables[link_table_name(old_obj, old_f)] = link_table_name(obj, f)
    return NameMap(tables, columns)


# -- field by field ------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDiff:
    """One field of the model now against the same field in the snapshot (if any)."""

    obj: ObjectDef
    field: FieldDef
    old: Mapping[str, Any] | None  # the field's spec in the snapshot; None for a new field
    new: Mapping[str, Any]

    @property
    def is_new(self) -> bool:
        return self.old is None

    def changed(self, *keys: str) -> bool:
        """A key differs from the snapshot (a key the snapshot lacks counts as the same)."""
        assert self.old is not None
        return any(key in self.old and self.old[key] != self.new.get(key) for key in keys)

    @property
    def label(self) -> str:
        return f"{self.obj.name}.{self.field.name}"


def field_diffs(
    model: Model, old: Mapping[str, Any], renames: Renames, new_snapshot: Mapping[str, Any]
) -> Iterator[FieldDiff]:
    for obj in model:
        before = old.get(renames.old_object(obj.name))
        if before is None:
            continue  # a new object: its table is created with every field
        old_fields = before.get("fields", {})
        for f in obj.fields.values():
            spec = old_fields.get(renames.old_field(obj.name, f.name))
            yield FieldDiff(obj, f, spec, new_snapshot[obj.name]["fields"][f.name])


def type_changed(diff: FieldDiff, renames: Renames) -> bool:
    """The stored form of the values changes (type, length, precision, link target)."""
    if diff.old is None:
        return False
    if diff.changed("type", "kind"):
        return True
    if diff.field.type == "string" and diff.changed("max_length"):
        return True
    if diff.field.kind in (LINK, MANY_TO_MANY) and "target" in diff.old:
        # a target that was renamed is the same target
        return renames.objects.get(diff.old["target"], diff.old["target"]) != diff.field.target
    return diff.field.type in ("decimal", "money", "percent") and diff.changed("precision", "scale")
