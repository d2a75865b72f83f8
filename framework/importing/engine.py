"""The importer: a spreadsheet and a mapping in, records out through the records service
(`write_many`, the only write path), a report and a per-row error file back.

Rows are read, mapped and written a batch at a time. In `good_rows` mode each batch is
its own transaction and a refused row is reported while the others are saved; in
`all_or_nothing` mode the whole file is one transaction that is rolled back if any row is
refused. A dry run does all the same work and rolls everything back, so its report says
exactly what a real run would do. Running the same import again changes nothing: rows
find their records by the mapping's key and equal values are not written.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from framework.batch import BatchFailed
from framework.errors import PermissionDenied
from framework.importing.mapping import ChildMap, ColumnMap, ImportMapping, check_headers
from framework.importing.sources import Sheet, SourceError, open_sheet
from framework.importing.transforms import TRANSFORMS, parse_date
from framework.records import Actor
from modeler.fieldtypes import MANY_TO_MANY
from modeler.problems import ModelError
from storage.tables import column_name

if TYPE_CHECKING:
    from framework.app import Ficha

BATCH = 2000
KEEP_ERRORS = 1000  # in the report itself; the error file has all of them
#: a mapped column, where its cell is in a row, and whether it goes to the field as it is
_Cell = tuple[ColumnMap, int, bool]


@dataclass
class RowError:
    row: int  # as the user sees it in the file (the header is row 1)
    field: str
    message: str
    column: str = ""

    def __str__(self) -> str:
        where = f" ({self.column})" if self.column else (f" ({self.field})" if self.field else "")
        return f"row {self.row}{where}: {self.message}"


@dataclass
class Progress:
    rows: int
    done: float  # 0..1 of the file read
    report: ImportReport


@dataclass
class ImportReport:
    object: str
    file: str = ""
    dry_run: bool = False
    mode: str = "good_rows"
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    children: dict[str, int] = field(default_factory=dict)  # object → records written
    errors: list[RowError] = field(default_factory=list)
    error_file: str | None = None
    rolled_back: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        verb = "would be" if self.dry_run or self.rolled_back else "were"
        parts = [
            f"{self.rows:,} rows read",
            f"{self.created:,} created",
            f"{self.updated:,} updated",
            f"{self.unchanged:,} unchanged",
        ]
        if self.skipped:
            parts.append(f"{self.skipped:,} skipped as duplicates")
        parts.append(f"{self.failed:,} refused")
        text = ", ".join(parts)
        if self.rolled_back and not self.dry_run:
            text += "; nothing was saved (all-or-nothing: fix the refused rows and run again)"
        elif self.dry_run:
            text += f" (dry run: nothing {verb} saved)"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "file": self.file,
            "dry_run": self.dry_run,
            "mode": self.mode,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "children": dict(self.children),
            "rolled_back": self.rolled_back,
            "seconds": round(self.seconds, 3),
            "error_file": self.error_file,
            "errors": [
                {"row": e.row, "column": e.column, "field": e.field, "message": e.message}
                for e in self.errors
            ],
        }


class _Rollback(Exception):
    """Raised inside a transaction to undo it (a dry run, an all-or-nothing failure)."""


@dataclass(slots=True)
class _Pending:
    number: int
    cells: list[Any]
    values: dict[str, Any]
    children: list[dict[str, Any] | None]
    errors: list[RowError] = field(default_factory=list)


class Importer:
    """One import: a mapping, who runs it, and how."""

    def __init__(
        self,
        ficha: Ficha,
        mapping: ImportMapping,
        actor: Actor | None = None,
        *,
        dry_run: bool = False,
        mode: str | None = None,
        batch_size: int = BATCH,
        error_file: Path | None = None,
        progress: Callable[[Progress], None] | None = None,
        limit: int | None = None,
    ) -> None:
        self.ficha = ficha
        self.mapping = mapping
        self.actor = actor or Actor(None, "import", "cli")
        self.dry_run = dry_run
        self.mode = mode or mapping.mode
        self.batch_size = batch_size
        self.error_file = error_file
        self.progress = progress
        self.limit = limit
        self.obj = ficha.model[mapping.object]
        self._lookups: dict[tuple[str, str, str], dict[str, int | str]] = {}
        self._seen_keys: dict[tuple[Any, ...], int] = {}
        from framework.batch_values import FieldPlan

        plans = {
            name: FieldPlan.of(self.obj.fields[name], ficha.model, ficha.records.ctx)
            for name in mapping.key
        }
        self._fast = {name: plan.fast for name, plan in plans.items()}
        self._many = {name: plan.many for name, plan in plans.items()}

    # -- running ----------------------------------------------------------------------------

    def run(self, path: Path) -> ImportReport:
        mapping = self.mapping
        try:
            sheet = open_sheet(
                path, delimiter=mapping.delimiter, sheet=mapping.sheet, encoding=mapping.encoding
            )
        except SourceError:
            raise
        try:
            problems = check_headers(mapping, sheet.headers)
            if problems:
                raise ModelError(problems)
            return self.run_sheet(sheet, path.name)
        finally:
            sheet.close()

    def run_sheet(self, sheet: Sheet, name: str = "") -> ImportReport:
        self._require()
        report = ImportReport(self.obj.name, name, self.dry_run, self.mode)
        started = time.perf_counter()
        index = {h: i for i, h in enumerate(sheet.headers)}
        writer = _ErrorWriter(self.error_file, sheet.headers)
        gc_was = gc.isenabled()
        gc.disable()  # a batch makes many short-lived objects and no cycles worth chasing
        try:
            if self.mode == "all_or_nothing":
                self._all_or_nothing(sheet, index, report, writer)
            else:
                for batch in self._batches(sheet, index):
                    with self._transaction(lambda: not self.dry_run) as conn:
                        self._write_batch(conn, batch, report, writer, retry=True)
                    self._tell(sheet, report)
        finally:
            if gc_was:
                gc.enable()
            writer.close()
        report.seconds = time.perf_counter() - started
        report.error_file = writer.path_if_written()
        return report

    def _require(self) -> None:
        permissions = self.ficha.permissions
        who = permissions.who(self.actor)
        permissions.require(who, self.obj.name, "import")
        for child in self.mapping.children:
            permissions.require(who, child.object, "import")

    def _all_or_nothing(
        self, sheet: Sheet, index: dict[str, int], report: ImportReport, writer: _ErrorWriter
    ) -> None:
        with self._transaction(lambda: not self.dry_run and report.failed == 0) as conn:
            for batch in self._batches(sheet, index):
                self._write_batch(conn, batch, report, writer, retry=False)
                self._tell(sheet, report)
        report.rolled_back = report.failed > 0

    @contextlib.contextmanager
    def _transaction(self, keep: Callable[[], bool]) -> Iterator[Connection]:
        """A transaction of the records service, kept only if `keep()` says so when the
        block ends (a dry run and a failed all-or-nothing import keep nothing)."""
        try:
            with self.ficha.records.transaction() as conn:
                yield conn
                if not keep():
                    raise _Rollback
        except _Rollback:
            pass

    def _tell(self, sheet: Sheet, report: ImportReport) -> None:
        if self.progress is not None:
            done = sheet.position() / sheet.size if sheet.size else 0.0
            self.progress(Progress(report.rows, min(done, 1.0), report))

    # -- rows → values ----------------------------------------------------------------------

    def _batches(self, sheet: Sheet, index: dict[str, int]) -> Iterator[list[_Pending]]:
        batch: list[_Pending] = []
        main = _layout(self.mapping.columns, index)
        children = [(child, _layout(child.columns, index)) for child in self.mapping.children]
        map_row = self._map_row
        if sheet.text and not children and self.mapping.null == ("",) and all(p for *_, p in main):
            map_row = self._plain_row(main)
        for read, (number, cells) in enumerate(sheet.rows):
            if self.limit is not None and read >= self.limit:
                break
            batch.append(map_row(number, cells, main, children))
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _map_row(
        self,
        number: int,
        cells: list[Any],
        main: list[_Cell],
        children: list[tuple[ChildMap, list[_Cell]]],
    ) -> _Pending:
        pending = _Pending(number, cells, {}, [])
        pending.values = self._values(pending, main, self.mapping.constants, cells)
        for child, layout in children:
            values = self._values(pending, layout, {}, cells)
            if any(v is not None for v in values.values()):
                pending.children.append({**child.constants, **values})
            else:
                pending.children.append(None)  # no values for the child in this row
        return pending

    def _plain_row(self, main: list[_Cell]) -> Callable[..., _Pending]:
        """`_map_row` for text cells that all go to their fields as they are (a CSV mapped
        column to field): the same values, one comprehension a row."""
        constants = dict(self.mapping.constants)
        cells_of = [(c.field, position, c.default) for c, position, _ in main]

        def plain_row(number: int, cells: list[Any], *layouts: Any) -> _Pending:
            try:
                values = {f: cells[at].strip() or default for f, at, default in cells_of}
            except IndexError:  # a short row: its missing cells are empty
                return self._map_row(number, cells, *layouts)
            return _Pending(number, cells, {**constants, **values} if constants else values, [])

        return plain_row

    def _values(
        self, pending: _Pending, layout: list[_Cell], constants: Any, cells: list[Any]
    ) -> dict[str, Any]:
        values: dict[str, Any] = dict(constants)
        nulls = self.mapping.null
        width = len(cells)
        for column, position, plain in layout:
            value = cells[position] if position < width else ""
            if type(value) is str:
                value = value.strip()
            if value in nulls or value is None:
                value = column.default
            elif not plain:
                for name in column.transforms:
                    value = TRANSFORMS[name](value)
                if column.values:
                    value = column.values.get(str(value), value)
                if column.format:
                    try:
                        value = parse_date(value, column.format)
                    except ValueError as exc:
                        pending.errors.append(
                            RowError(pending.number, column.field, str(exc), column.column)
                        )
                        continue
            values[column.field] = value
        return values

    # -- links by natural key ----------------------------------------------------------------

    def _resolve(
        self,
        conn: Connection,
        object_name: str,
        columns: Sequence[ColumnMap],
        rows: list[tuple[_Pending, dict[str, Any]]],
    ) -> None:
        obj = self.ficha.model[object_name]
        for column in columns:
            if column.lookup is None:
                continue
            f = obj.fields[column.field]
            target = f.target or ""
            cache = self._lookups.setdefault((target, column.lookup, object_name), {})
            wanted: set[str] = set()
            for _pending, values in rows:
                value = values.get(column.field)
                if value is None:
                    continue
                for part in self._parts(column, f.kind, value):
                    if part not in cache:
                        wanted.add(part)
            if wanted:
                cache.update(self._find(conn, target, column.lookup, sorted(wanted)))
            label = self.ficha.model[target].label.lower()
            for pending, values in rows:
                value = values.get(column.field)
                if value is None:
                    continue
                ids = []
                for part in self._parts(column, f.kind, value):
                    found = cache.get(part)
                    if isinstance(found, int):
                        ids.append(found)
                    else:
                        message = (
                            f"there is no {label} with {column.lookup} '{part}'"
                            if found is None
                            else f"{found}: '{part}' does not say which one"
                        )
                        pending.errors.append(
                            RowError(pending.number, column.field, message, column.column)
                        )
                values[column.field] = ids if f.kind == MANY_TO_MANY else (ids[0] if ids else None)

    @staticmethod
    def _parts(column: ColumnMap, kind: str, value: Any) -> list[str]:
        text = str(value)
        if kind == MANY_TO_MANY or column.split:
            return [p.strip() for p in text.split(column.split or ",") if p.strip()]
        return [text.strip()]

    def _find(
        self, conn: Connection, object_name: str, field_name: str, values: list[str]
    ) -> dict[str, int | str]:
        obj = self.ficha.model[object_name]
        table = self.ficha.storage.table(object_name)
        col = table.c[column_name(obj.fields[field_name])]
        where = [table.c.deleted_at.is_(None)]
        scope = self.ficha.permissions.scope(
            self.ficha.permissions.who(self.actor), object_name, "read"
        )
        if scope is not None:
            where.append(scope)
        found: dict[str, int | str] = {}
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            for value, ident in conn.execute(
                sa.select(col, table.c.id).where(col.in_(chunk), *where)
            ):
                key = str(value)
                if key in found:
                    found[key] = f"several {obj.plural.lower()} have that {field_name}"
                else:
                    found[key] = int(ident)
        return found

    # -- writing ---------------------------------------------------------------------------

    def _write_batch(
        self,
        conn: Connection,
        batch: list[_Pending],
        report: ImportReport,
        writer: _ErrorWriter,
        *,
        retry: bool,
    ) -> None:
        self._resolve(conn, self.obj.name, self.mapping.columns, [(p, p.values) for p in batch])
        for i, child in enumerate(self.mapping.children):
            rows = [(p, p.children[i]) for p in batch if p.children[i] is not None]
            self._resolve(conn, child.object, child.columns, rows)  # type: ignore[arg-type]
        self._duplicates(batch)
        if retry:
            # a child refused after its parent was written: redo the batch without the
            # rows that failed, so a refused row never leaves half of itself behind
            nested = conn.begin_nested()
            outcome = self._attempt(conn, batch)
            if any(p.errors for p in batch) and outcome.children_failed:
                nested.rollback()
                good = [p for p in batch if not p.errors]
                outcome = self._attempt(conn, good)
            else:
                nested.commit()
        else:
            outcome = self._attempt(conn, batch)
        report.rows += len(batch)
        for action, count in outcome.counts.items():
            setattr(report, action, getattr(report, action) + count)
        for name, count in outcome.children.items():
            report.children[name] = report.children.get(name, 0) + count
        for pending in batch:
            if pending.errors:
                report.failed += 1
                writer.write(pending)
                room = KEEP_ERRORS - len(report.errors)
                if room > 0:
                    report.errors.extend(pending.errors[:room])

    def _duplicates(self, batch: list[_Pending]) -> None:
        """A key seen in an earlier row of the file: report it, do not apply it twice."""
        key = self.mapping.key
        if not key:
            return
        keyable = self._keyable
        todo = [p for p in batch if not p.errors]
        cells = []  # each key field's cells, and what its shortcut makes of them
        for name in key:
            raws = [p.values.get(name) for p in todo]
            many = self._many.get(name)
            cells.append((name, raws, many(raws) if many is not None else [None] * len(raws)))
        for i, pending in enumerate(todo):
            ident = tuple(
                [q[i] if q[i] is not None else keyable(name, raws[i]) for name, raws, q in cells]
            )
            if None in ident:
                continue  # the records service says which key field is missing
            first = self._seen_keys.get(ident)
            if first is not None:
                names = ", ".join(key)
                pending.errors.append(
                    RowError(
                        pending.number, key[0], f"the same {names} as row {first} (a duplicate)"
                    )
                )
            else:
                self._seen_keys[ident] = pending.number

    def _keyable(self, name: str, value: Any) -> Any:
        """A key value as the records service will store it (an email in lower case)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        fast = self._fast.get(name)
        if fast is not None and type(value) is str:
            found = fast(value)
            if found is not None:
                return found
        f = self.obj.fields[name]
        coerce = self.ficha.model.field_types.get(f.type).coerce
        try:
            return coerce(f, value, self.ficha.records.ctx) if coerce else value
        except (ValueError, ArithmeticError):
            return str(value).strip()

    def _attempt(self, conn: Connection, batch: list[_Pending]) -> _Outcome:
        outcome = _Outcome()
        good = [p for p in batch if not p.errors]
        if not good:
            return outcome
        mapping = self.mapping
        try:
            results = self.ficha.records.write_many(
                self.obj.name,
                [p.values for p in good],
                self.actor,
                key=mapping.key,
                on_existing=mapping.on_existing,
                conn=conn,
            )
        except BatchFailed as exc:  # pragma: no cover - write_many is not asked to raise
            results = exc.results
        except PermissionDenied as exc:
            for p in good:
                p.errors.append(RowError(p.number, "", str(exc)))
            return outcome
        ids: dict[int, int] = {}  # row → its record, for the children
        counts = outcome.counts
        for pending, result in zip(good, results, strict=True):
            action = result.action
            if action == "failed":
                for name, message in result.errors.items():
                    pending.errors.append(
                        RowError(
                            pending.number,
                            "" if name == "__all__" else name,
                            message,
                            self._column_of(name),
                        )
                    )
                continue
            counts[action] = counts.get(action, 0) + 1
            if result.id is not None and mapping.children:
                ids[pending.number] = result.id
        for i, child in enumerate(mapping.children):
            self._write_children(conn, child, i, good, ids, outcome)
        return outcome

    def _write_children(
        self,
        conn: Connection,
        child: ChildMap,
        i: int,
        rows: list[_Pending],
        ids: dict[int, int],
        outcome: _Outcome,
    ) -> None:
        todo = [
            (p, {**(p.children[i] or {}), child.link: ids[p.number]})
            for p in rows
            if p.children[i] is not None and p.number in ids and not p.errors
        ]
        if not todo:
            return
        results = self.ficha.records.write_many(
            child.object,
            [values for _, values in todo],
            self.actor,
            key=child.upsert_key,
            conn=conn,
        )
        written = 0
        for (pending, _), result in zip(todo, results, strict=True):
            if result.ok:
                written += result.action in ("created", "updated")
                continue
            outcome.children_failed = True
            for name, message in result.errors.items():
                pending.errors.append(
                    RowError(
                        pending.number,
                        f"{child.object}.{name}",
                        message,
                        self._column_of(name, child),
                    )
                )
        outcome.children[child.object] = outcome.children.get(child.object, 0) + written

    def _column_of(self, field_name: str, child: ChildMap | None = None) -> str:
        columns = child.columns if child is not None else self.mapping.columns
        return next((c.column for c in columns if c.field == field_name), "")


def _layout(columns: Sequence[ColumnMap], index: dict[str, int]) -> list[_Cell]:
    """The columns of a mapping against the file's header, worked out once per file."""
    return [(c, index[c.column], c.plain) for c in columns]


@dataclass
class _Outcome:
    counts: dict[str, int] = field(default_factory=dict)
    children: dict[str, int] = field(default_factory=dict)
    children_failed: bool = False


class _ErrorWriter:
    """The per-row error report: each refused row as it was in the file, with why."""

    def __init__(self, path: Path | None, headers: list[str]) -> None:
        self.path = path
        self.headers = headers
        self.handle: Any = None
        self.writer: Any = None
        self.count = 0

    def write(self, pending: _Pending) -> None:
        if self.path is None:
            return
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = self.path.open("w", newline="", encoding="utf-8")
            self.writer = csv.writer(self.handle)
            self.writer.writerow(["row", "column", "field", "error", *self.headers])
        for error in pending.errors:
            self.writer.writerow(
                [pending.number, error.column, error.field, error.message, *pending.cells]
            )
        self.count += 1

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()

    def path_if_written(self) -> str | None:
        return str(self.path) if self.path is not None and self.count else None


__all__ = ["BATCH", "ImportReport", "Importer", "Progress", "RowError", "SourceError"]
