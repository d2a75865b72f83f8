"""Exports: the records of a list — its filters, its sort, and only what the user may
read — as CSV or XLSX, read a keyset page at a time and written as they come, so a
million rows never sit in memory. A saved import mapping can name the columns, which
makes an export a file the same mapping imports back (links by their natural key).
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.errors import ValidationFailed
from framework.expressions import Context, Expression, ExpressionError
from framework.records import Actor
from modeler.fieldtypes import COLUMN, LINK, MANY_TO_MANY
from storage.queries import LinkRef, Record, Sort
from storage.tables import column_name

if TYPE_CHECKING:
    from framework.app import Ficha
    from framework.importing.mapping import ImportMapping

PAGE = 2000
FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def parse_sort(text: str | None) -> list[Sort]:
    """'-amount,name' → [Sort('amount', True), Sort('name')]."""
    result = []
    for part in (text or "").split(","):
        part = part.strip()
        if part:
            result.append(Sort(part.lstrip("-+"), part.startswith("-")))
    return result


class Export:
    """What to export and for whom; iterate `rows()` for the header and the values."""

    def __init__(
        self,
        ficha: Ficha,
        object_name: str,
        actor: Actor,
        *,
        where: str | None = None,
        conditions: Sequence[Any] = (),
        search: str | None = None,
        sort: Sequence[Sort] = (),
        fields: Sequence[str] | None = None,
        mapping: ImportMapping | None = None,
        who: Any = None,
    ) -> None:
        if object_name not in ficha.model:
            raise ValidationFailed(object_name, {"__all__": f"there is no object '{object_name}'"})
        self.ficha = ficha
        self.obj = ficha.model[object_name]
        self.actor = actor
        permissions = ficha.permissions
        self.who = who if who is not None else permissions.who(actor)
        permissions.require(self.who, self.obj.name, "export")
        table = ficha.storage.table(self.obj.name)
        self.where: list[Any] = list(conditions)
        scope = permissions.scope(self.who, self.obj.name, "read")
        if scope is not None:
            self.where.append(scope)
        if where:
            try:
                expression = Expression.compile(where, ficha.model, self.obj.name)
            except ExpressionError as exc:
                raise ValidationFailed(
                    self.obj.name, {"where": f"character {exc.offset + 1}: {exc.message}"}
                ) from exc
            self.where.append(expression.where(ficha.storage, table, Context()))
        for s in sort:
            f = self.obj.fields.get(s.field)
            if s.field != "id" and (f is None or f.kind not in (COLUMN, LINK)):
                raise ValidationFailed(self.obj.name, {"sort": f"cannot sort by '{s.field}'"})
        self.search = search
        self.sort = list(sort)
        #: a window of the list (the page on screen) instead of all of it
        self.limit: int | None = None
        self.offset = 0
        hidden = permissions.hidden(self.who, self.obj.name)
        self.mapping = mapping if mapping is not None and mapping.object == self.obj.name else None
        if self.mapping is not None:
            self.columns = [
                (c.column, c.field, c.lookup, {str(v): k for k, v in c.values.items()})
                for c in self.mapping.columns
                if c.field not in hidden
            ]
        else:
            names = fields or [
                "id",
                *(f.name for f in self.obj.fields.values() if f.kind != "has_many"),
            ]
            self.columns = [
                (name if name == "id" else self.obj.fields[name].label, name, None, {})
                for name in names
                if (name == "id" or name in self.obj.fields) and name not in hidden
            ]

    def header(self) -> list[str]:
        return [c[0] for c in self.columns]

    def records(self) -> Iterator[Record]:
        """Every record, a keyset page at a time (a deep page costs what the first does)."""
        ficha = self.ficha
        sort = self.sort or [Sort(f, d) for f, d in self.obj.list.sort]
        names = {c[1] for c in self.columns if c[1] != "id"}
        stored = [f.name for f in self.obj.stored_fields() if f.name in names]
        m2m = [
            f.name for f in self.obj.fields.values() if f.kind == MANY_TO_MANY and f.name in names
        ]
        lookups = {c[1]: c[2] for c in self.columns if c[2]}
        # keyset pages, except for a window or a sort by a link (its title orders it)
        keyset = (
            self.limit is None
            and not self.offset
            and all(
                s.field not in self.obj.fields or self.obj.fields[s.field].kind != LINK
                for s in sort
            )
        )
        cursor = None
        offset = self.offset
        left = self.limit
        while left is None or left > 0:
            size = PAGE if left is None else min(PAGE, left)
            with ficha.storage.read() as conn:
                page = ficha.reader.list(
                    conn,
                    self.obj.name,
                    where=self.where,
                    search=self.search,
                    sort=sort,
                    limit=size,
                    after=cursor,
                    offset=0 if keyset else offset,
                    fields=stored,
                )
                if not page:
                    return
                ids = [r.id for r in page]
                for name in m2m:
                    links = ficha.reader.m2m_links(conn, self.obj.name, name, ids)
                    for record in page:
                        record[name] = links.get(record.id, [])
                for name, lookup in lookups.items():
                    self._natural_keys(conn, page, name, lookup)
            yield from page
            if len(page) < size:
                return
            offset += len(page)
            if left is not None:
                left -= len(page)
            if keyset:
                cursor = ficha.reader.cursor_for(page[-1], sort)

    def _natural_keys(self, conn: Any, page: list[Record], name: str, lookup: str) -> None:
        """A link exported as the linked record's natural key (the account's name)."""
        f = self.obj.fields[name]
        target = self.ficha.model[f.target or ""]
        table = self.ficha.storage.table(target.name)
        ids = set()
        for record in page:
            value = record.get(name)
            for ref in value if isinstance(value, list) else [value]:
                if isinstance(ref, LinkRef):
                    ids.add(ref.id)
        if not ids:
            return
        import sqlalchemy as sa

        col = table.c[column_name(target.fields[lookup])]
        keys = dict(
            conn.execute(sa.select(table.c.id, col).where(table.c.id.in_(sorted(ids)))).all()
        )
        for record in page:
            value = record.get(name)
            if isinstance(value, LinkRef):
                record[name] = LinkRef(value.id, str(keys.get(value.id, value.title)), value.object)
            elif isinstance(value, list):
                record[name] = [
                    LinkRef(v.id, str(keys.get(v.id, v.title)), v.object) for v in value
                ]

    def rows(self) -> Iterator[list[Any]]:
        for record in self.records():
            row = []
            for _column, name, _lookup, reverse in self.columns:
                value = record.get(name)
                row.append(cell(value, reverse))
            yield row

    def log(self, file_format: str, count: int) -> None:
        with self.ficha.storage.write() as conn:
            self.ficha.audit.log(
                conn,
                "export",
                self.actor,
                object_name=self.obj.name,
                details={"format": file_format, "records": count},
            )


def cell(value: Any, reverse: dict[str, Any] | None = None) -> Any:
    """A value as a spreadsheet holds it: links by title, lists joined, no objects."""
    if isinstance(value, LinkRef):
        value = value.title
    elif isinstance(value, list):
        value = ", ".join(str(v.title if isinstance(v, LinkRef) else v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, default=str, ensure_ascii=False)
    if reverse and value is not None and str(value) in reverse:
        return reverse[str(value)]
    return value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | decimal.Decimal):
        return str(value)
    return str(value)


def csv_chunks(export: Export, counter: list[int] | None = None) -> Iterator[bytes]:
    """The CSV file, a few hundred rows per chunk (for a streamed response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # so that spreadsheets read it as UTF-8
    writer.writerow(export.header())
    count = 0
    for row in export.rows():
        writer.writerow([_csv_text(v) for v in row])
        count += 1
        if count % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
    if counter is not None:
        counter.append(count)


def xlsx_file(export: Export) -> tuple[Path, int]:
    """The XLSX file written row by row (openpyxl's write-only mode) to a temporary file."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(export.obj.plural[:31])
    sheet.append(export.header())
    count = 0
    for row in export.rows():
        sheet.append([_xlsx_value(v) for v in row])
        count += 1
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115 - streamed then removed
    handle.close()
    book.save(handle.name)
    return Path(handle.name), count


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def file_chunks(path: Path, size: int = 65536) -> Iterator[bytes]:
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(size):
                yield chunk
    finally:
        path.unlink(missing_ok=True)


def write_file(export: Export, output: Path) -> int:
    """Write the export to `output` (.csv or .xlsx); returns how many records."""
    if output.suffix.lower() == ".xlsx":
        path, count = xlsx_file(export)
        output.write_bytes(path.read_bytes())
        path.unlink(missing_ok=True)
    else:
        counter: list[int] = []
        with output.open("wb") as handle:
            for chunk in csv_chunks(export, counter):
                handle.write(chunk)
        count = counter[0]
    export.log(output.suffix.lstrip(".") or "csv", count)
    return count
