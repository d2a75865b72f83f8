"""`source: {kind: sql}` — an object backed by a table of another SQL database.

    source:
      kind: sql
      url: postgresql://erp@10.0.0.5/erp   # SQLAlchemy URL; a relative sqlite path is
      table: CLIENTES                      #   read from the project folder
      schema: legacy                       # optional
      key: CLI_ID                          # the table's (auto-numbered) primary key
      columns: {name: NOMBRE, city: CIUDAD}
      read_only: true
      system: the old billing database     # optional: how messages name it

Reads translate the conditions written against the object's shape into conditions on
the legacy table (column for column) and run them there, so filters, search, sort and
pages happen in the legacy database, not in Python.
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.sql import visitors

from framework.datasources.base import Options, unreachable
from framework.services import Health
from modeler.fieldtypes import COLUMN
from modeler.schema import ObjectDef
from storage.manager import create_engine, normalize_url
from storage.sources import LegacyRefused, SourceQuery
from storage.tables import column_name

KEYS = ("url", "table", "schema", "system")
# what a wrapped row has that a legacy table does not: constant values
_SYSTEM = {
    "version": lambda: sa.literal_column("1", sa.Integer),
    "created_at": lambda: sa.cast(sa.null(), sa.DateTime),
    "updated_at": lambda: sa.cast(sa.null(), sa.DateTime),
    "created_by": lambda: sa.cast(sa.null(), sa.Integer),
    "updated_by": lambda: sa.cast(sa.null(), sa.Integer),
    "deleted_at": lambda: sa.cast(sa.null(), sa.DateTime),
}


class SqlTableSource:
    """A legacy SQL table as a RecordSource (and a service with a health check)."""

    def __init__(self, obj: ObjectDef, options: Options, shape: sa.Table) -> None:
        source = obj.source
        assert source is not None
        url = options.text("url", required=True)
        table_name = options.text("table", required=True)
        schema = options.text("schema")
        options.done(KEYS)
        self.url = normalize_url(url, options.base_dir)
        self.system = options.text("system") or (
            f"'{table_name}' at {self.url.render_as_string(hide_password=True)}"
        )
        self.obj_name = obj.name
        self.read_only = source.read_only
        self.engine = create_engine(self.url)
        metadata = sa.MetaData()
        columns: list[Any] = [
            sa.Column(source.key, shape.c.id.type, primary_key=True, key="id", autoincrement=True)
        ]
        for f in obj.stored_fields():
            name = column_name(f)
            columns.append(sa.Column(source.column_of(f.name), shape.c[name].type, key=name))
        self.table = sa.Table(table_name, metadata, *columns, schema=schema)
        # the legacy rows in the shape's terms: what the conditions are translated onto
        self.view = sa.select(
            self.table.c.id.label("id"),
            *(make().label(name) for name, make in _SYSTEM.items()),
            *(self.table.c[column_name(f)].label(column_name(f)) for f in obj.stored_fields()),
        ).subquery(f"legacy_{obj.name}")
        self.fields = [f for f in obj.stored_fields() if f.kind == COLUMN]

    # -- reads -------------------------------------------------------------------------------

    def _onto_view(self, shape: sa.Table, clause: Any) -> Any:
        """The same condition, with each of the shape's columns replaced by the view's."""

        def replace(element: Any, **_: Any) -> Any:
            if isinstance(element, sa.Column) and element.table is shape:
                return self.view.c[element.key]
            return None

        return visitors.replacement_traverse(clause, {}, replace)

    def _where(self, obj: ObjectDef, shape: sa.Table, query: SourceQuery) -> list[Any]:
        clauses = [self._onto_view(shape, c) for c in query.where]
        term = (query.search or "").strip()
        if term:
            names = [n for n in obj.search_fields if n in obj.fields] or [
                f.name for f in self.fields if f.type in ("string", "text", "email", "phone")
            ]
            like = f"%{term}%"
            options: list[Any] = [self.view.c[n].ilike(like) for n in names if n in self.view.c]
            if term.isdigit():
                options.append(self.view.c.id == int(term))
            clauses.append(sa.or_(*options) if options else sa.false())
        return clauses

    def select(self, obj: ObjectDef, shape: sa.Table, query: SourceQuery) -> list[dict[str, Any]]:
        extra = [
            self._onto_view(shape, make(shape)).label(name) for name, make in query.extra.items()
        ]
        stmt = sa.select(self.view, *extra).where(*self._where(obj, shape, query))
        order: list[Any] = []
        for s in query.sort:
            col = self.view.c[
                column_name(obj.fields[s.field]) if s.field in obj.fields else s.field
            ]
            order.append(col.desc() if s.descending else col.asc())
        if not any(s.field == "id" for s in query.sort):
            order.append(
                self.view.c.id.desc() if order and query.sort[-1].descending else self.view.c.id
            )
        stmt = stmt.order_by(*order)
        if query.limit > 0:
            stmt = stmt.limit(query.limit)
        if query.offset:
            stmt = stmt.offset(query.offset)
        with self._connect() as conn:
            return [dict(row) for row in conn.execute(stmt).mappings()]

    def count(self, obj: ObjectDef, shape: sa.Table, query: SourceQuery, cap: int) -> int:
        inner = sa.select(sa.literal(1)).select_from(self.view)
        inner = inner.where(*self._where(obj, shape, query)).limit(cap + 1)
        with self._connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(inner.subquery())).scalar() or 0
            )

    # -- writes ------------------------------------------------------------------------------

    def _row(self, obj: ObjectDef, values: dict[str, Any]) -> dict[str, Any]:
        return {column_name(obj.fields[k]): v for k, v in values.items() if k in obj.fields}

    def insert(self, obj: ObjectDef, values: dict[str, Any]) -> int:
        with self._write() as conn:
            result = conn.execute(self.table.insert().values(self._row(obj, values)))
            key = result.inserted_primary_key
            return int(key[0]) if key and key[0] is not None else 0

    def update(self, obj: ObjectDef, ident: int, values: dict[str, Any]) -> bool:
        row = self._row(obj, values)
        with self._write() as conn:
            if not row:
                found = conn.execute(sa.select(self.table.c.id).where(self.table.c.id == ident))
                return found.first() is not None
            result = conn.execute(self.table.update().where(self.table.c.id == ident).values(row))
            return result.rowcount == 1

    def delete(self, obj: ObjectDef, ident: int) -> bool:
        with self._write() as conn:
            return conn.execute(self.table.delete().where(self.table.c.id == ident)).rowcount == 1

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> Any:
        return _Guard(self, self.engine.connect)

    def _write(self) -> Any:
        return _Guard(self, self.engine.begin)

    def health(self) -> Health:
        with self._connect() as conn:
            conn.execute(sa.select(sa.func.count()).select_from(self.table).limit(1))
        return Health(True, f"{self.system} answers ({self.engine.dialect.name})")

    def close(self) -> None:
        self.engine.dispose()


class _Guard:
    """A connection (or transaction) whose failures become the errors users read."""

    def __init__(self, source: SqlTableSource, open_: Any) -> None:
        self.source = source
        self.open = open_
        self.cm: Any = None

    def __enter__(self) -> Any:
        try:
            self.cm = self.open()
            return self.cm.__enter__()
        except sa.exc.DBAPIError as exc:
            raise unreachable(self.source.system, _first_line(exc)) from exc

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> Literal[False]:
        try:
            self.cm.__exit__(kind, exc, tb)
        except sa.exc.DBAPIError as failure:  # the commit itself failed
            raise unreachable(self.source.system, _first_line(failure)) from failure
        if isinstance(exc, sa.exc.IntegrityError):
            raise LegacyRefused(
                f"the legacy system {self.source.system} refused the change: {_first_line(exc)}"
            ) from exc
        if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
            raise unreachable(self.source.system, _first_line(exc)) from exc
        if isinstance(exc, sa.exc.ProgrammingError):  # no such table / column
            raise unreachable(
                self.source.system, f"{_first_line(exc)} (check the source's table and columns)"
            ) from exc
        return False


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
