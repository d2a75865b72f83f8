"""The seam between reads/writes and where an object's records live.

A native object lives in a Ficha table and is read with SQL on the project's database.
A wrapped object (`source:` in its YAML) lives in a legacy system: the Reader and the
records service hand its reads and writes to a `RecordSource` instead. Conditions reach
the source as SQLAlchemy clauses written against the object's *shape* (`storage.table()`
of a wrapped object: the columns a Ficha table would have, in no database), so filters,
permission scopes and expressions are built the same way for both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import sqlalchemy as sa

from modeler.schema import Model, ObjectDef
from storage.manager import StorageError


def native_model(model: Model) -> Model:
    """The model without its wrapped objects: what migrations make tables for."""
    if all(obj.source is None for obj in model):
        return model
    objects = {name: obj for name, obj in model.objects.items() if obj.source is None}
    return dataclasses.replace(model, objects=MappingProxyType(objects))


class LegacyUnavailable(StorageError):
    """The legacy system holding a wrapped object's records did not answer. The message
    is what a user reads: "the legacy system X is not reachable: …"."""


class LegacyRefused(StorageError):
    """The legacy system answered but refused the change (a duplicate, a bad value);
    the message says what it said."""


@dataclass(frozen=True)
class SourceQuery:
    """One read of a wrapped object: conditions on its shape, a search, an order, a
    window. `extra` adds computed columns (name → a function of the table read from)."""

    where: Sequence[Any] = ()
    search: str | None = None
    sort: Sequence[Any] = ()  # storage.queries.Sort
    limit: int = 25
    offset: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)


class RecordSource(Protocol):
    """Where a wrapped object's records live. Rows are dicts keyed like a Ficha row:
    `id` and each stored field's column name. Every method may raise LegacyUnavailable."""

    @property
    def system(self) -> str:
        """The legacy system's name as users read it in messages."""
        ...

    def select(self, obj: ObjectDef, shape: sa.Table, query: SourceQuery) -> list[dict[str, Any]]:
        """The rows matching the query, in its order and window."""
        ...

    def count(self, obj: ObjectDef, shape: sa.Table, query: SourceQuery, cap: int) -> int:
        """How many rows match (it may stop counting past `cap`)."""
        ...

    def insert(self, obj: ObjectDef, values: dict[str, Any]) -> int:
        """Store a new record (field name → value); return its id."""
        ...

    def update(self, obj: ObjectDef, ident: int, values: dict[str, Any]) -> bool:
        """Change the given fields of a record; False when there is no such record."""
        ...

    def delete(self, obj: ObjectDef, ident: int) -> bool:
        """Remove a record; False when there is no such record."""
        ...
