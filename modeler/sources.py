"""`source:` — an object whose records live in a legacy system instead of a Ficha table.

    source:
      kind: sql                 # sql | http | service (one a plugin registered)
      url: sqlite:///legacy.db  # the kind's own keys, checked by the kind at load
      table: CLIENTES
      key: CLI_ID               # the legacy column (or JSON key) holding the id
      columns: {name: NOMBRE}   # field → legacy column / JSON key; others keep their name
      read_only: true

Here the shape is read and checked against the rest of the model (the codes L001-L009);
the kind's own keys (a URL, a table …) are checked by the kind when the project loads,
with the same file:line:column positions.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from modeler.fieldtypes import COLUMN, HAS_MANY, LINK, MANY_TO_MANY
from modeler.loader import Node
from modeler.problems import Problem, did_you_mean
from modeler.schema import Model, ObjectDef, SourceDef

if TYPE_CHECKING:
    from modeler.build import _Builder

#: keys every kind understands; the rest go to the kind as its options
COMMON_KEYS = ("kind", "columns", "key", "read_only")
#: kinds Ficha ships; `service` names a service a plugin registered
KINDS = ("sql", "http", "service")


def read_source(builder: _Builder, node: Node | None) -> SourceDef | None:
    if node is None or not builder.expect_map(node, "source"):
        return None
    kind_node = node.get("kind")
    if kind_node is None or not isinstance(kind_node.value, str):
        builder.error(
            "L001",
            "the source does not say what kind of legacy system holds the records",
            (kind_node or node).pos,
            f"add 'kind:' with one of {', '.join(KINDS)}",
        )
        return None
    kind = kind_node.value
    if kind not in KINDS:
        builder.error(
            "L002",
            f"unknown source kind '{kind}'",
            kind_node.pos,
            did_you_mean(kind, KINDS) or f"use one of {', '.join(KINDS)}",
        )
        return None
    columns: dict[str, str] = {}
    positions = {key: child.key_pos or child.pos for key, child in node.items()}
    columns_node = node.get("columns")
    if columns_node is not None and builder.expect_map(columns_node, "source columns"):
        for name, child in columns_node.items():
            if child.is_map or child.is_list or child.value in (None, ""):
                builder.error(
                    "L003",
                    f"the column of field '{name}' must be a column name",
                    child.pos,
                    f"for example {name}: {name.upper()}",
                )
                continue
            columns[name] = str(child.value)
            positions[f"columns:{name}"] = child.key_pos or child.pos
    options: dict[str, Any] = {
        key: child.plain() for key, child in node.items() if key not in COMMON_KEYS
    }
    return SourceDef(
        kind=kind,
        options=MappingProxyType(options),
        columns=MappingProxyType(columns),
        key=builder.text(node.get("key"), "source key") or "id",
        read_only=builder.flag(node.get("read_only"), "read_only"),
        pos=kind_node.pos,
        positions=MappingProxyType(positions),
    )


def check_sources(model: Model) -> Iterable[Problem]:
    """What a wrapped object may not have (its records are not in the Ficha database,
    so nothing Ficha joins or writes in one transaction with them), and links into it."""
    for obj in model:
        if obj.source is None:
            yield from _links_into_wrapped(obj, model)
            continue
        yield from _check_wrapped(obj, obj.source)


def _check_wrapped(obj: ObjectDef, source: SourceDef) -> Iterable[Problem]:
    why = f"the records of '{obj.name}' live in a legacy system ({source.kind})"
    for name in source.columns:
        if name not in obj.fields:
            yield Problem(
                "L004",
                f"the source maps unknown field '{name}'",
                source.pos_of(f"columns:{name}"),
                did_you_mean(name, obj.fields) or f"fields: {', '.join(obj.fields)}",
            )
    for f in obj.fields.values():
        if f.kind in (LINK, HAS_MANY, MANY_TO_MANY):
            yield Problem(
                "L005",
                f"field '{f.name}' is a {f.kind.replace('_', '-')} relation: {why}, "
                "so it cannot be joined to Ficha's tables",
                f.pos,
                "keep the legacy key as a plain field (string or integer)",
            )
        elif f.kind == COLUMN and f.type == "autonumber":
            yield Problem(
                "L006",
                f"field '{f.name}' is an autonumber: {why}, which numbers its own records",
                f.pos,
                "use a string or integer field for the legacy number",
            )
        elif f.formula is not None and f.stored:
            yield Problem(
                "L007",
                f"field '{f.name}' has a stored formula: {why}, where Ficha stores nothing",
                f.pos,
                "make it 'stored: false' or drop the formula",
            )
    if obj.rules or obj.workflow is not None:
        first = obj.rules[0].pos if obj.rules else obj.workflow.pos  # type: ignore[union-attr]
        yield Problem(
            "L008",
            f"'{obj.name}' declares rules or a workflow: {why}, and its changes are not "
            "made in a Ficha transaction rules could join",
            first,
            "put the rules on a Ficha object that copies what it needs",
        )


def _links_into_wrapped(obj: ObjectDef, model: Model) -> Iterable[Problem]:
    for f in obj.fields.values():
        target = model.objects.get(f.target or "")
        if f.kind in (LINK, HAS_MANY, MANY_TO_MANY) and target is not None and target.source:
            yield Problem(
                "L009",
                f"field '{f.name}' links to '{target.name}', whose records live in a legacy "
                f"system ({target.source.kind}): a link needs a Ficha table to point at",
                f.pos,
                f"keep the {target.label.lower()}'s legacy key as a plain field",
            )
