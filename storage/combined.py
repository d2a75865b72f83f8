"""Several small reads of one page in one statement: capped counts of a few lists, and
the records a few selects offer (their ids and titles). On a database server each
statement is a round trip; a page that shows ten lists pays for every one of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.manager import StorageManager

if TYPE_CHECKING:
    from storage.queries import Count, LinkRef


@dataclass(frozen=True)
class CountOf:
    """How many records of `object` meet `where` (deleted ones left out), up to `cap`."""

    object: str
    where: tuple[Any, ...]
    cap: int = 999


@dataclass(frozen=True)
class ChoicesOf:
    """The first `limit` records of `object` meeting `where`, in its title's order."""

    object: str
    where: tuple[Any, ...] = ()
    limit: int = 200


def counts(storage: StorageManager, conn: Connection, asked: Sequence[CountOf]) -> list[Count]:
    """Each count, in one SELECT of capped scalar subqueries."""
    from storage.queries import Count

    if not asked:
        return []
    columns = []
    for n, spec in enumerate(asked):
        table = storage.table(spec.object)
        capped = (
            sa.select(sa.literal(1))
            .select_from(table)
            .where(*spec.where, table.c.deleted_at.is_(None))
            .limit(spec.cap + 1)
            .subquery(f"c{n}")
        )
        columns.append(sa.select(sa.func.count()).select_from(capped).scalar_subquery())
    row = conn.execute(sa.select(*columns)).one()
    found = []
    for spec, value in zip(asked, row, strict=True):
        value = int(value or 0)
        found.append(Count(value) if value <= spec.cap else Count(spec.cap, False))
    return found


def choices(
    storage: StorageManager, conn: Connection, asked: Sequence[ChoicesOf]
) -> list[list[LinkRef]]:
    """Each list of (id, title), in one UNION ALL."""
    from storage.queries import LinkRef, _title_column

    if not asked:
        return []
    selects = []
    for n, spec in enumerate(asked):
        obj = storage.model[spec.object]
        table = storage.table(obj.name)
        title = _title_column(obj, table)
        part = (
            sa.select(
                sa.literal(n).label("n"),
                table.c.id.label("id"),
                sa.cast(title, sa.String(255)).label("title"),
            )
            .where(*spec.where, table.c.deleted_at.is_(None))
            .order_by(title, table.c.id)
            .limit(spec.limit)
            .subquery(f"o{n}")  # SQLite takes no ORDER BY or LIMIT inside a UNION member
        )
        selects.append(sa.select(part))
    union = sa.union_all(*selects).subquery("choices")
    rows = conn.execute(sa.select(union).order_by(union.c.n, union.c.title, union.c.id)).all()
    found: list[list[LinkRef]] = [[] for _ in asked]
    for row in rows:
        spec = asked[int(row.n)]
        text = str(row.title) if row.title is not None else f"#{row.id}"
        found[int(row.n)].append(LinkRef(int(row.id), text, spec.object))
    return found
