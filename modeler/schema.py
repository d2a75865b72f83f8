"""The immutable model: what the YAML declares, checked and frozen once at load."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from modeler.fieldtypes import DEFAULT_REGISTRY, FieldTypeRegistry

#: Columns every object table has. Users may not declare fields with these names.
SYSTEM_FIELDS: tuple[str, ...] = (
    "id",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "deleted_at",
)


@dataclass(frozen=True, slots=True)
class SourcePos:
    """Where a declaration came from: 1-based line and column, as editors count."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


UNKNOWN_POS = SourcePos("<built-in>")


@dataclass(frozen=True, slots=True)
class ChoiceValue:
    code: str
    label: str
    color: str | None = None


@dataclass(frozen=True, slots=True)
class ExprText:
    """An expression as written in the YAML (checked by the framework at load)."""

    text: str
    pos: SourcePos = UNKNOWN_POS

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field of an object. `options` holds the type-specific keys, already checked."""

    name: str
    type: str
    label: str
    kind: str = "column"  # column | link | has_many | many_to_many (see fieldtypes)
    pos: SourcePos = UNKNOWN_POS
    help: str | None = None
    required: bool = False
    unique: bool = False
    index: bool = False
    search: bool = False
    filter: bool = False
    read_only: bool = False
    #: personal data of a person: exported on request, blanked when they ask to be erased
    personal: bool = False
    default: Any = None
    min: Any = None
    max: Any = None
    max_length: int | None = None
    pattern: str | None = None
    # choice / multichoice
    values: tuple[ChoiceValue, ...] = ()
    # link / has_many / many_to_many
    target: str | None = None
    via: str | None = None
    on_delete: str = "restrict"
    link_fields: tuple[FieldDef, ...] = ()
    # decimal / money / percent
    precision: int | None = None
    scale: int | None = None
    currency: str | None = None
    # autonumber
    format: str | None = None
    # how existing data follows a change of the model (see modeler/evolution.py)
    renamed_from: str | None = None
    renamed_values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    convert: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    backfill: Any = None
    # behaviour (see modeler/behaviour.py): a formula and conditions on the field
    formula: ExprText | None = None
    stored: bool = True
    required_when: ExprText | None = None
    read_only_when: ExprText | None = None
    visible_when: ExprText | None = None
    # everything else the field type declared as its own
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    pack: str = ""
    #: where each key's value was written (for messages that point at the value)
    positions: Mapping[str, SourcePos] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )

    def pos_of(self, key: str) -> SourcePos:
        return self.positions.get(key, self.pos)

    def choice_label(self, code: Any) -> str:
        for value in self.values:
            if value.code == code:
                return value.label
        return "" if code is None else str(code)

    @property
    def choice_codes(self) -> tuple[str, ...]:
        return tuple(v.code for v in self.values)


@dataclass(frozen=True, slots=True)
class ListSpec:
    columns: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    page_size: int = 25
    #: where each name was written, keyed "columns:name", "sort:name" … (for messages)
    positions: Mapping[str, SourcePos] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )

    def pos(self, key: str, name: str, default: SourcePos) -> SourcePos:
        return self.positions.get(f"{key}:{name}", default)


@dataclass(frozen=True, slots=True)
class FormSection:
    """A titled group of fields; `tab` sections render as tabs, the others as panels."""

    title: str
    fields: tuple[str, ...]
    kind: str = "section"  # section | tab
    read_only: tuple[str, ...] = ()
    collapsed: bool = False
    positions: Mapping[str, SourcePos] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )


@dataclass(frozen=True, slots=True)
class FormSpec:
    sections: tuple[FormSection, ...] = ()
    read_only: tuple[str, ...] = ()

    @property
    def field_order(self) -> tuple[str, ...]:
        return tuple(name for section in self.sections for name in section.fields)

    @property
    def locked(self) -> frozenset[str]:
        """Fields the form shows without an input: the form's and its sections' read_only."""
        return frozenset(self.read_only).union(*(s.read_only for s in self.sections))


@dataclass(frozen=True, slots=True)
class IndexDef:
    """An index declared under `indexes:` or `unique:`.

    `include` are values the index also holds (after `fields`), so that a query reading
    only them never reads the table (a report's measures); `live` leaves out the records
    in the bin, which lists, reports and segments never read (storage/tables.py)."""

    fields: tuple[str, ...]
    unique: bool = False
    name: str | None = None
    pos: SourcePos = UNKNOWN_POS
    include: tuple[str, ...] = ()
    live: bool = False
    #: where each name of `fields` and `include` was written, for errors
    positions: Mapping[str, SourcePos] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def columns(self) -> tuple[str, ...]:
        """Every field the index holds, in order: its fields, then what it includes."""
        return self.fields + self.include


@dataclass(frozen=True, slots=True)
class ValidationDef:
    """A condition every saved record must meet, with the message when it does not."""

    check: ExprText
    message: str
    field: str | None = None  # where the message shows; the whole record when None
    when: ExprText | None = None
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True, slots=True)
class TransitionDef:
    sources: tuple[str, ...]  # states it leaves from; ("*",) for any
    target: str
    guard: ExprText | None = None
    roles: tuple[str, ...] = ()
    label: str = ""
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True, slots=True)
class WorkflowDef:
    """A choice field as a state machine: only declared transitions are allowed."""

    field: str
    transitions: tuple[TransitionDef, ...]
    pos: SourcePos = UNKNOWN_POS

    def allowed_from(self, state: str | None) -> tuple[TransitionDef, ...]:
        return tuple(t for t in self.transitions if "*" in t.sources or (state or "") in t.sources)


@dataclass(frozen=True, slots=True)
class ActionDef:
    """One thing a rule does: `kind` is the action's name, `options` its settings."""

    kind: str
    options: Mapping[str, Any]
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True, slots=True)
class RuleDef:
    """When something happens (and a condition holds), do these actions."""

    name: str
    on: str  # create | update | save | delete | change | transition | schedule | after
    actions: tuple[ActionDef, ...]
    condition: ExprText | None = None
    field: str | None = None  # for change and transition
    to: str | None = None  # for transition: the state entered
    schedule: str | None = None  # for schedule: "daily 07:00", "hourly", "every 15 minutes"
    delay_minutes: int = 0  # for after: minutes after the event
    after_event: str = "save"  # for after: which event starts the clock
    pos: SourcePos = UNKNOWN_POS


@dataclass(frozen=True, slots=True)
class SourceDef:
    """Where a wrapped object's records live instead of a Ficha table (`source:` in its
    YAML): a legacy SQL table, an HTTP/JSON service, or a service a plugin registered.
    `options` keeps the kind's own keys (url, table …) as written; `columns` maps a field
    to the legacy column or JSON key holding it (a field not listed uses its own name)."""

    kind: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    key: str = "id"
    read_only: bool = False
    pos: SourcePos = UNKNOWN_POS
    positions: Mapping[str, SourcePos] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )

    def pos_of(self, key: str) -> SourcePos:
        return self.positions.get(key, self.pos)

    def column_of(self, field_name: str) -> str:
        return self.columns.get(field_name, field_name)


@dataclass(frozen=True, slots=True)
class ObjectDef:
    name: str
    label: str
    plural: str
    fields: Mapping[str, FieldDef]
    title_field: str
    pos: SourcePos = UNKNOWN_POS
    description: str | None = None
    icon: str | None = None
    pack: str = ""
    list: ListSpec = ListSpec()
    form: FormSpec = FormSpec()
    indexes: tuple[IndexDef, ...] = ()
    renamed_from: str | None = None
    validations: tuple[ValidationDef, ...] = ()
    workflow: WorkflowDef | None = None
    rules: tuple[RuleDef, ...] = ()
    #: set when the records live in a legacy system rather than a Ficha table
    source: SourceDef | None = None

    def field(self, name: str) -> FieldDef:
        return self.fields[name]

    def __iter__(self) -> Iterator[FieldDef]:
        return iter(self.fields.values())

    @property
    def table_name(self) -> str:
        return self.name

    def stored_fields(self) -> Iterator[FieldDef]:
        """Fields that own a column in this object's table (links own their key)."""
        for f in self.fields.values():
            if f.kind in ("column", "link"):
                yield f

    @property
    def search_fields(self) -> tuple[str, ...]:
        declared = tuple(f.name for f in self.fields.values() if f.search)
        return self.list.search or declared


@dataclass(frozen=True, slots=True)
class PackInfo:
    """A pack: a folder of YAML (objects/*.yaml …) that a plugin contributes."""

    name: str
    label: str
    path: Path | None = None
    version: str = ""
    description: str = ""
    requires: tuple[str, ...] = ()

    def object_files(self) -> list[Path]:
        if self.path is None or not (self.path / "objects").is_dir():
            return []
        folder = self.path / "objects"
        return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


@dataclass(frozen=True, slots=True)
class Model:
    """Every object of a project, after packs are merged and checks have passed."""

    objects: Mapping[str, ObjectDef]
    field_types: FieldTypeRegistry = DEFAULT_REGISTRY
    packs: tuple[PackInfo, ...] = ()
    fingerprint: str = ""

    def __getitem__(self, name: str) -> ObjectDef:
        return self.objects[name]

    def __contains__(self, name: object) -> bool:
        return name in self.objects

    def __iter__(self) -> Iterator[ObjectDef]:
        return iter(self.objects.values())

    def reverse_links(self, target: str) -> Iterator[tuple[ObjectDef, FieldDef]]:
        """Every link field, in any object, that points at `target`."""
        for obj in self.objects.values():
            for f in obj.fields.values():
                if f.type == "link" and f.target == target:
                    yield obj, f
