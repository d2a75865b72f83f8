"""Finding a record by any of its identifiers, in one statement: each place an identifier
may live (a field of the record, or of records that lead to it through links) is an
indexed equality, and the places are asked together in a UNION ALL, most precise first.
The caller says where to look and what to compare; the SQL is built here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.manager import StorageManager
from storage.tables import column_name


@dataclass(frozen=True)
class Lookup:
    """Records of `object` whose `field` is one of `values`, and the record they lead to
    through `links` (link fields in turn, from `object`; none: `object` is it)."""

    object: str
    field: str
    values: tuple[str, ...]
    links: tuple[str, ...] = ()
    where: tuple[Any, ...] = ()  # more conditions on `object`'s table (scope, filter)
    label: str = ""  # how a match is named ("contact's phone")
    label_field: str | None = None  # or the field of `object` that names it ("kind")


@dataclass(frozen=True)
class Found:
    id: int  # the record found
    rank: int  # the index of the Lookup that found it
    how: str  # the Lookup's label, or the stored value of its label_field
    value: str  # the identifier that matched


def lookup(
    storage: StorageManager,
    conn: Connection,
    lookups: Sequence[Lookup],
    limit: int,
    alias: Callable[[str, str], sa.FromClause] | None = None,
) -> list[Found]:
    """What the lookups find, in their order (at most `limit` from each, twice that in
    all); deleted records, and records reached through a deleted one, are left out."""
    selects = []
    for rank, spec in enumerate(lookups):
        if spec.values:
            selects.append(sa.select(_one(storage, rank, spec, limit, alias)))
    if not selects:
        return []
    union = sa.union_all(*selects).subquery("found")
    rows = conn.execute(
        sa.select(union.c.found_id, union.c.rank, union.c.how, union.c.value)
        .order_by(union.c.rank)
        .limit(limit * 2)
    ).all()
    return [Found(int(r.found_id), int(r.rank), str(r.how), str(r.value)) for r in rows]


def _one(
    storage: StorageManager,
    rank: int,
    spec: Lookup,
    limit: int,
    alias: Callable[[str, str], sa.FromClause] | None,
) -> sa.Subquery:
    model = storage.model
    obj = model[spec.object]
    table = storage.table(obj.name)
    column = table.c[column_name(obj.fields[spec.field])]
    source: sa.FromClause = table
    where: list[Any] = [column.in_(sorted(spec.values)), table.c.deleted_at.is_(None)]
    found: Any = table.c.id
    here = obj
    at: sa.FromClause = table
    for n, name in enumerate(spec.links):
        link = at.c[column_name(here.fields[name])]
        if n == len(spec.links) - 1:
            found = link
            break
        here = model[here.fields[name].target or ""]
        nxt = (alias or _alias(storage))(here.name, f"via{rank}_{n}")
        source = source.join(nxt, nxt.c.id == link)
        where.append(nxt.c.deleted_at.is_(None))
        at = nxt
    how: Any = (
        table.c[column_name(obj.fields[spec.label_field])]
        if spec.label_field is not None
        else sa.literal(spec.label)
    )
    return (
        sa.select(
            found.label("found_id"),
            sa.literal(rank).label("rank"),
            sa.cast(how, sa.String(60)).label("how"),
            sa.cast(column, sa.String(254)).label("value"),
        )
        .select_from(source)
        .where(*where, *spec.where, found.is_not(None))
        .limit(limit)
        .subquery(f"s{rank}")  # SQLite takes no LIMIT inside a UNION member
    )


def _alias(storage: StorageManager) -> Callable[[str, str], sa.FromClause]:
    return lambda name, label: storage.table(name).alias(label)
