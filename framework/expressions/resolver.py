"""How a Python evaluation reaches other records: through storage, on one connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from framework.expressions import binding as b
from framework.expressions.evaluate import Context, plain
from framework.expressions.to_sql import SqlCompiler
from modeler.fieldtypes import HAS_MANY
from modeler.schema import FieldDef
from storage.manager import StorageManager
from storage.queries import Reader
from storage.tables import column_name


class StorageResolver:
    """Follows links and loads related records, caching within one evaluation."""

    def __init__(self, storage: StorageManager, conn: Connection) -> None:
        self.storage = storage
        self.reader = Reader(storage)
        self.conn = conn
        self._records: dict[tuple[str, int], Mapping[str, Any] | None] = {}

    def follow(
        self, object_name: str, record: Mapping[str, Any], link: FieldDef
    ) -> Mapping[str, Any] | None:
        ident = plain(record.get(link.name))
        if ident is None:
            return None
        key = (link.target or "", int(ident))
        if key not in self._records:
            self._records[key] = self.reader.get(self.conn, key[0], key[1])
        return self._records[key]

    def related(
        self, object_name: str, record: Mapping[str, Any], relation: FieldDef
    ) -> list[Mapping[str, Any]]:
        target = relation.target or ""
        table = self.storage.table(target)
        ident = record["id"]
        if relation.kind == HAS_MANY:
            via = self.storage.model[target].fields[relation.via or ""]
            where: Any = table.c[column_name(via)] == ident
        else:
            link = self.storage.tables.links[(object_name, relation.name)]
            reverse = self.storage.tables.reversed_links[(object_name, relation.name)]
            mine, theirs = ("target_id", "source_id") if reverse else ("source_id", "target_id")
            where = table.c.id.in_(sa.select(link.c[theirs]).where(link.c[mine] == ident))
        return list(self.reader.list(self.conn, target, where=[where], limit=0))


class SqlAggregateResolver(StorageResolver):
    """Like StorageResolver, but lets the database compute count/sum/has for a record
    instead of loading every related row (same semantics: see the property tests)."""

    def aggregate(self, node: b.BAggregate, record: Mapping[str, Any], context: Context) -> Any:
        table = self.storage.table(node.object)
        value = SqlCompiler(self.storage, context).sql(node, table)
        result = self.conn.execute(sa.select(value).where(table.c.id == record["id"])).scalar()
        return _normalise(node, result)


def _normalise(node: b.BAggregate, value: Any) -> Any:
    from framework.expressions.evaluate import quantize

    if node.func == "has":
        return bool(value)
    if value is None:
        return None
    if node.type.kind == "decimal":
        return quantize(value, node.type.scale)
    if node.type.kind == "integer":
        return int(value)
    return value
