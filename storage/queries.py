"""Reads: list, search, filter, sort, count and fetch records as `select()` statements.

Every read of a list is one query for the page (linked records' titles come through
joins, never one query per row) plus one bounded count. Counts stop at a cap and fall
back to the database's own estimate, because an exact COUNT(*) over a million rows costs
more than the page itself.
"""

from __future__ import annotations

import base64
import builtins
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modeler.fieldtypes import COLUMN, HAS_MANY, LINK, MANY_TO_MANY
from modeler.schema import FieldDef, ObjectDef
from storage import combined
from storage.combined import ChoicesOf, CountOf
from storage.lookup import Found, Lookup, lookup
from storage.manager import StorageManager
from storage.tables import column_name

COUNT_CAP = 10_000
#: a search matching more than this says "1,000+": counting every hit costs more than
#: showing the first page, and nobody pages through thousands of search results
SEARCH_COUNT_CAP = 1_000


@dataclass(frozen=True, slots=True)
class LinkRef:
    """A linked record as lists and pages show it: its id and its title."""

    id: int
    title: str
    object: str = ""

    def __str__(self) -> str:
        return self.title


class Record(dict[str, Any]):
    """Field name → value (links as LinkRef). Attribute access reads the same values,
    which is what the generated screens expect of a row."""

    __slots__ = ("object",)

    def __init__(self, object_name: str, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.object = object_name

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def id(self) -> int:
        return int(self["id"])


@dataclass(frozen=True, slots=True)
class Count:
    value: int
    exact: bool = True


@dataclass(frozen=True, slots=True)
class Sort:
    field: str
    descending: bool = False


def _title_column(obj: ObjectDef, table: sa.FromClause) -> sa.ColumnElement[Any]:
    if obj.title_field == "id" or obj.title_field not in obj.fields:
        return sa.cast(table.c.id, sa.String)
    return table.c[column_name(obj.fields[obj.title_field])]


class Reader:
    """Builds and runs the reads of one StorageManager."""

    def __init__(self, storage: StorageManager) -> None:
        self.storage = storage
        self.model = storage.model
        self._aliases: dict[tuple[str, str], sa.FromClause] = {}
        self._prefix_indexes: dict[str, bool] = {}  # table → its prefix index is there

    # -- statement building ------------------------------------------------------------

    def _select(
        self,
        obj: ObjectDef,
        fields: Sequence[str] | None,
        page: sa.FromClause | None = None,
        base: sa.FromClause | None = None,
        extra: Mapping[str, Callable[[sa.FromClause], Any]] | None = None,
    ) -> tuple[sa.Select[Any], dict[str, sa.FromClause]]:
        """The columns of a record, with its links' titles joined. `page` limits it to
        the ids of one page chosen beforehand; `base` reads the rows from a subquery with
        the table's columns instead of the table."""
        table = base if base is not None else self.storage.table(obj.name)
        wanted = [f for f in obj.stored_fields() if fields is None or f.name in fields]
        columns: list[Any] = [
            table.c[name]
            for name in (
                "id",
                "version",
                "created_at",
                "updated_at",
                "created_by",
                "updated_by",
                "deleted_at",
            )
        ]
        joined: dict[str, sa.FromClause] = {}
        source: sa.FromClause = table
        if page is not None:
            source = table.join(page, page.c.id == table.c.id)
        for f in wanted:
            col = table.c[column_name(f)]
            if f.kind == LINK:
                target = self.model[f.target or ""]
                alias = self._alias(target.name, f"l_{f.name}")
                joined[f.name] = alias
                source = source.outerjoin(alias, alias.c.id == col)
                columns.append(col.label(f.name))
                columns.append(_title_column(target, alias).label(f"{f.name}__title"))
            else:
                columns.append(col.label(f.name))
        for name, make in (extra or {}).items():  # computed columns (virtual formulas …)
            columns.append(make(table).label(name))
        return sa.select(*columns).select_from(source), joined

    def _alias(self, object_name: str, name: str) -> sa.FromClause:
        """A named alias of a table, made once: making one copies every column of the
        table (a quarter of the time of building a read that joins a few links)."""
        key = (object_name, name)
        alias = self._aliases.get(key)
        if alias is None:
            alias = self._aliases[key] = self.storage.table(object_name).alias(name)
        return alias

    def _base_where(
        self, obj: ObjectDef, where: Iterable[Any], search: str | None, include_deleted: bool
    ) -> list[Any]:
        table = self.storage.table(obj.name)
        clauses = list(where)
        if not include_deleted:
            clauses.append(table.c.deleted_at.is_(None))
        if search and search.strip():
            clauses.append(self.search_clause(obj, search))
        return clauses

    def search_clause(self, obj: ObjectDef, term: str) -> Any:
        """Full-text over the declared search fields, plus exact matches on unique or
        indexed identifiers (an email or a phone typed whole finds its record at once)."""
        table = self.storage.table(obj.name)
        columns = [
            column_name(obj.fields[n])
            for n in obj.search_fields
            if n in obj.fields and obj.fields[n].kind == COLUMN
        ]
        term = term.strip()
        options: list[Any] = []
        if columns:
            options.append(self.storage.dialect.fulltext_clause(table, columns, term))
        for f in obj.fields.values():
            if (
                f.kind == COLUMN
                and (f.unique or f.index)
                and f.type in ("string", "email", "phone", "autonumber", "national_id")
            ):
                value = self._exact_value(f, term)
                if value is not None:
                    options.append(table.c[f.name] == value)
        if not options:
            return sa.false()
        return sa.or_(*options) if len(options) > 1 else options[0]

    def starting_with(self, conn: Connection, object_name: str, term: str) -> Any | None:
        """Records whose first search field starts with `term`, case and accents aside,
        through the database's prefix index; None where it has none (use `search`)."""
        obj = self.model[object_name]
        columns = [
            column_name(obj.fields[n])
            for n in obj.search_fields
            if n in obj.fields and obj.fields[n].kind == COLUMN
        ]
        if not columns or obj.name in self.storage.external:
            return None
        table = self.storage.table(obj.name)
        known = self._prefix_indexes.get(table.name)
        if known is None:
            known = self._prefix_indexes[table.name] = self.storage.dialect.has_prefix_index(
                conn, table.name
            )
        return self.storage.dialect.prefix_clause(table, columns[0], term) if known else None

    def _exact_value(self, f: FieldDef, term: str) -> str | None:
        ftype = self.model.field_types.get(f.type)
        if ftype.coerce is None:
            return None
        try:
            from modeler.fieldtypes import CoerceContext

            value = ftype.coerce(f, term, CoerceContext())
        except ValueError:
            return None
        return value if isinstance(value, str) and value else None

    def _order(
        self,
        obj: ObjectDef,
        sort: Sequence[Sort],
        joined: dict[str, sa.FromClause],
        searching: bool = False,
        base: sa.FromClause | None = None,
    ) -> list[Any]:
        table = base if base is not None else self.storage.table(obj.name)
        order: list[Any] = []
        for s in sort:
            if s.field == "id":
                break
            f = obj.fields.get(s.field)
            if f is None:
                col: Any = table.c[s.field]
            elif f.kind == LINK and f.name in joined:
                col = _title_column(self.model[f.target or ""], joined[f.name])
            else:
                col = table.c[column_name(f)]
            if searching:
                col = self.storage.dialect.order_after_filter(col)
            order.append(col.desc() if s.descending else col.asc())
        last_desc = next(
            (s.descending for s in sort if s.field == "id"), sort[-1].descending if sort else True
        )
        # id last keeps pages stable when values repeat, and is what keyset cursors use
        key = self.storage.dialect.order_after_filter(table.c.id) if searching else table.c.id
        order.append(key.desc() if last_desc else key.asc())
        return order

    # -- reads -----------------------------------------------------------------------------

    def list(
        self,
        conn: Connection,
        object_name: str,
        *,
        where: Iterable[Any] = (),
        search: str | None = None,
        sort: Sequence[Sort] = (),
        limit: int = 25,
        offset: int = 0,
        after: str | None = None,
        fields: Sequence[str] | None = None,
        include_deleted: bool = False,
        extra: Mapping[str, Callable[[sa.FromClause], Any]] | None = None,
    ) -> builtins.list[Record]:
        """Records of an object. `extra` adds computed columns: name → a function that
        builds the column from the table (or the subquery) the rows are read from."""
        obj = self.model[object_name]
        if obj.name in self.storage.external:
            return self._external_list(obj, where, search, sort, limit, offset, after, extra)
        table = self.storage.table(obj.name)
        clauses = self._base_where(obj, where, None, include_deleted)
        sort = tuple(sort) or tuple(Sort(f, d) for f, d in obj.list.sort)
        if after:
            clauses.append(self._after(obj, sort, after))
        by_link = any(s.field in obj.fields and obj.fields[s.field].kind == LINK for s in sort)
        if search and search.strip():
            # A search narrows the rows to a few: read them first (through the full-text or
            # a unique index), then sort only those and join their links. Left to
            # themselves the planners walk the sort index testing every row, or join the
            # matches back to the whole table.
            matches = self.storage.dialect.fence(
                sa.select(table).where(self.search_clause(obj, search), *clauses)
            ).subquery("matches")
            stmt, joined = self._select(obj, fields, base=matches, extra=extra)
            stmt = stmt.order_by(*self._order(obj, sort, joined, searching=True, base=matches))
            stmt = stmt.limit(limit) if limit > 0 else stmt
            stmt = stmt.offset(offset) if offset and not after else stmt
        elif offset and not after and limit > 0 and not by_link:
            # A deep page: find its ids on the table alone (an index walk), then join and
            # read just those rows; skipped rows are never read whole nor joined.
            ids = (
                sa.select(table.c.id)
                .where(*clauses)
                .order_by(*self._order(obj, sort, {}))
                .limit(limit)
                .offset(offset)
                .subquery("page")
            )
            stmt, joined = self._select(obj, fields, page=ids, extra=extra)
            stmt = stmt.order_by(*self._order(obj, sort, joined))
        else:
            stmt, joined = self._select(obj, fields, extra=extra)
            stmt = stmt.where(*clauses).order_by(*self._order(obj, sort, joined))
            if limit > 0:
                stmt = stmt.limit(limit)
            if offset and not after:
                stmt = stmt.offset(offset)
        rows = conn.execute(stmt).mappings().all()
        return [self._record(obj, row) for row in rows]

    def page(
        self,
        conn: Connection,
        object_name: str,
        *,
        where: Iterable[Any] = (),
        search: str | None = None,
        sort: Sequence[Sort] = (),
        limit: int = 25,
        offset: int = 0,
        fields: Sequence[str] | None = None,
        extra: Mapping[str, Callable[[sa.FromClause], Any]] | None = None,
    ) -> tuple[builtins.list[Record], Count]:
        """A page of records and how many there are in all, on one connection. A page
        that is not full tells the count itself; a search counts to a lower cap."""
        where = builtins.list(where)
        records = self.list(
            conn,
            object_name,
            where=where,
            search=search,
            sort=sort,
            limit=limit,
            offset=offset,
            fields=fields,
            extra=extra,
        )
        if limit > 0 and len(records) < limit and (records or offset == 0):
            return records, Count(offset + len(records), True)
        cap = SEARCH_COUNT_CAP if search and search.strip() else COUNT_CAP
        return records, self.count(conn, object_name, where=where, search=search, cap=cap)

    def count(
        self,
        conn: Connection,
        object_name: str,
        *,
        where: Iterable[Any] = (),
        search: str | None = None,
        cap: int = COUNT_CAP,
        include_deleted: bool = False,
    ) -> Count:
        obj = self.model[object_name]
        if obj.name in self.storage.external:
            return self._external_count(obj, where, search, cap)
        table = self.storage.table(obj.name)
        where = list(where)
        clauses = self._base_where(obj, where, search, include_deleted)
        inner = sa.select(sa.literal(1)).select_from(table).where(*clauses).limit(cap + 1)
        value = conn.execute(sa.select(sa.func.count()).select_from(inner.subquery())).scalar()
        value = int(value or 0)
        if value <= cap:
            return Count(value, True)
        if not where and not search:
            estimate = self.storage.dialect.estimate_rows(conn, table)
            if estimate is not None and estimate > cap:
                return Count(estimate, False)
        return Count(cap, False)

    def get(
        self,
        conn: Connection,
        object_name: str,
        ident: int,
        *,
        fields: Sequence[str] | None = None,
        include_deleted: bool = False,
    ) -> Record | None:
        if object_name in self.storage.external:
            found = self.get_many(conn, object_name, [ident])
            return found[0] if found else None
        key = ("get", object_name, tuple(fields) if fields is not None else None, include_deleted)
        stmt = self.storage.statements.get(key)
        if stmt is None:
            obj = self.model[object_name]
            table = self.storage.table(obj.name)
            stmt, _ = self._select(obj, fields)
            stmt = stmt.where(table.c.id == sa.bindparam("ident"))
            if not include_deleted:
                stmt = stmt.where(table.c.deleted_at.is_(None))
            self.storage.statements[key] = stmt
        row = conn.execute(stmt, {"ident": int(ident)}).mappings().first()
        return self._record(self.model[object_name], row) if row is not None else None

    def get_many(
        self,
        conn: Connection,
        object_name: str,
        ids: Iterable[int],
        *,
        fields: Sequence[str] | None = None,
        include_deleted: bool = False,
    ) -> builtins.list[Record]:
        obj = self.model[object_name]
        table = self.storage.table(obj.name)
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return []
        if obj.name in self.storage.external:
            where = [table.c.id == wanted[0]] if len(wanted) == 1 else [table.c.id.in_(wanted)]
            return self._external_list(obj, where, None, [Sort("id")], 0, 0, None, None)
        stmt, _ = self._select(obj, fields)
        stmt = stmt.where(table.c.id.in_(wanted))
        if not include_deleted:
            stmt = stmt.where(table.c.deleted_at.is_(None))
        rows = conn.execute(stmt.order_by(table.c.id)).mappings().all()
        return [self._record(obj, row) for row in rows]

    def titles(self, conn: Connection, object_name: str, ids: Iterable[int]) -> dict[int, LinkRef]:
        obj = self.model[object_name]
        table = self.storage.table(obj.name)
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return {}
        if obj.name in self.storage.external:
            return {
                r.id: LinkRef(r.id, str(r.get(obj.title_field) or f"#{r.id}"), obj.name)
                for r in self.get_many(conn, obj.name, wanted)
            }
        rows = conn.execute(
            sa.select(table.c.id, _title_column(obj, table).label("ttl")).where(
                table.c.id.in_(wanted)
            )
        ).all()
        return {
            r.id: LinkRef(r.id, str(r.ttl) if r.ttl is not None else f"#{r.id}", obj.name)
            for r in rows
        }

    def counts(self, conn: Connection, asked: Sequence[CountOf]) -> builtins.list[Count]:
        """Several capped counts in one statement (storage/combined.py)."""
        return combined.counts(self.storage, conn, asked)

    def choices(
        self, conn: Connection, asked: Sequence[ChoicesOf]
    ) -> builtins.list[builtins.list[LinkRef]]:
        """Several lists of records to choose from, ids and titles, in one statement."""
        return combined.choices(self.storage, conn, asked)

    def lookup(
        self, conn: Connection, lookups: Sequence[Lookup], *, limit: int = 20
    ) -> builtins.list[Found]:
        """Records found by an identifier stored in any of several places (storage/lookup.py)."""
        return lookup(self.storage, conn, lookups, limit, self._alias)

    def related(
        self, conn: Connection, object_name: str, ident: int, field_name: str, *, limit: int = 10
    ) -> tuple[builtins.list[Record], Count]:
        """The first records of a has_many or many_to_many, and how many there are."""
        obj = self.model[object_name]
        f = obj.fields[field_name]
        target = self.model[f.target or ""]
        target_table = self.storage.table(target.name)
        if f.kind == HAS_MANY:
            via = target.fields[f.via or ""]
            where: list[Any] = [target_table.c[column_name(via)] == ident]
        elif f.kind == MANY_TO_MANY:
            where = [target_table.c.id.in_(self._m2m_ids_select(obj, f, ident))]
        else:
            raise ValueError(f"{object_name}.{field_name} is not a relation list")
        records = self.list(
            conn, target.name, where=where, limit=limit, fields=list(target.list.columns)
        )
        return records, self.count(conn, target.name, where=where, cap=999)

    def _m2m_ids_select(self, obj: ObjectDef, f: FieldDef, ident: int) -> sa.Select[Any]:
        link = self.storage.tables.links[(obj.name, f.name)]
        reverse = self.storage.tables.reversed_links[(obj.name, f.name)]
        mine, theirs = ("target_id", "source_id") if reverse else ("source_id", "target_id")
        return sa.select(link.c[theirs]).where(link.c[mine] == ident)

    def m2m_links(
        self, conn: Connection, object_name: str, field_name: str, ids: Sequence[int]
    ) -> dict[int, builtins.list[LinkRef]]:
        """For each record id, its linked records (id and title), in one query."""
        obj = self.model[object_name]
        f = obj.fields[field_name]
        target = self.model[f.target or ""]
        link = self.storage.tables.links[(obj.name, f.name)]
        reverse = self.storage.tables.reversed_links[(obj.name, f.name)]
        mine, theirs = ("target_id", "source_id") if reverse else ("source_id", "target_id")
        other = self.storage.table(target.name)
        rows = conn.execute(
            sa.select(
                link.c[mine].label("me"), other.c.id, _title_column(target, other).label("ttl")
            )
            .join(other, other.c.id == link.c[theirs])
            .where(link.c[mine].in_(list(ids)), other.c.deleted_at.is_(None))
            .order_by(link.c[mine], other.c.id)
        ).all()
        result: dict[int, builtins.list[LinkRef]] = {int(i): [] for i in ids}
        for r in rows:
            result[int(r.me)].append(LinkRef(r.id, str(r.ttl), target.name))
        return result

    # -- keyset cursors ----------------------------------------------------------------------

    def cursor_for(self, record: Record, sort: Sequence[Sort]) -> str:
        values = [_jsonable(record.get(s.field)) for s in sort if s.field != "id"]
        payload = json.dumps([values, record.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    def _after(self, obj: ObjectDef, sort: Sequence[Sort], cursor: str) -> Any:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            values, last_id = json.loads(base64.urlsafe_b64decode(padded))
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "the page cursor is not valid; start again from the first page"
            ) from exc
        table = self.storage.table(obj.name)
        keys = [s for s in sort if s.field != "id"]
        id_desc = next(
            (s.descending for s in sort if s.field == "id"), keys[-1].descending if keys else True
        )
        chain = [
            *[
                (
                    table.c[column_name(obj.fields[s.field])]
                    if s.field in obj.fields
                    else table.c[s.field],
                    s.descending,
                    v,
                )
                for s, v in zip(keys, values, strict=False)
            ],
            (table.c.id, id_desc, last_id),
        ]
        options = []
        for i, (col, desc, value) in enumerate(chain):
            equal = [c == v for c, _, v in chain[:i]]
            options.append(sa.and_(*equal, col < value if desc else col > value))
        return sa.or_(*options)

    # -- wrapped objects: records of a legacy system (storage/sources.py) --------------------

    def _external_list(
        self,
        obj: ObjectDef,
        where: Iterable[Any],
        search: str | None,
        sort: Sequence[Sort],
        limit: int,
        offset: int,
        after: str | None,
        extra: Mapping[str, Callable[[sa.FromClause], Any]] | None,
    ) -> builtins.list[Record]:
        from storage.sources import SourceQuery

        sort = tuple(sort) or tuple(Sort(f, d) for f, d in obj.list.sort) or (Sort("id"),)
        clauses = builtins.list(where)
        if after:
            clauses.append(self._after(obj, sort, after))
        query = SourceQuery(clauses, search, sort, limit, 0 if after else offset, extra or {})
        source = self.storage.external[obj.name]
        rows = source.select(obj, self.storage.table(obj.name), query)
        base = dict.fromkeys(("version", "created_at", "updated_at", "created_by"), None)
        base.update(updated_by=None, deleted_at=None, version=1)
        return [self._record(obj, {**base, **row}) for row in rows]

    def _external_count(
        self, obj: ObjectDef, where: Iterable[Any], search: str | None, cap: int
    ) -> Count:
        from storage.sources import SourceQuery

        source = self.storage.external[obj.name]
        query = SourceQuery(builtins.list(where), search)
        value = int(source.count(obj, self.storage.table(obj.name), query, cap))
        return Count(min(value, cap), value <= cap)

    # -- rows → records ----------------------------------------------------------------------

    def _record(self, obj: ObjectDef, row: Any) -> Record:
        values = dict(row)
        for f in obj.fields.values():
            if f.kind == LINK and f.name in values:
                ident = values[f.name]
                title = values.pop(f"{f.name}__title", None)
                values[f.name] = (
                    None
                    if ident is None
                    else LinkRef(
                        int(ident), str(title) if title is not None else f"#{ident}", f.target or ""
                    )
                )
        return Record(obj.name, values)


def _jsonable(value: Any) -> Any:
    if isinstance(value, LinkRef):
        return value.id
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)
