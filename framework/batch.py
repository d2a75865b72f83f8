"""The records service's batched write path (`RecordService.write_many`): rows are
checked one by one exactly as `create`/`update` check them, but read, inserted, updated
and audited a batch at a time, inside one transaction. Imports and the API's bulk
endpoints use it; nothing else writes this way.

What a batch does per row (coercion, constraints, defaults, required fields, formulas,
validations, workflows, permissions) is the single-record path's; rows that name the
same fields (an import's) have their values read a field at a time, with the same
values and messages (framework/batch_values.py). What it does per batch is the SQL: one
query per link field and per unique field, one for the upsert key (whole records are
read only for the keys it finds, and what it finds serves the key's unique check), one
multi-row INSERT, one UPDATE per set of changed columns and one audit INSERT. Objects
whose writes need a query per record anyway (autonumbers, many-to-many values) go
through the single-record steps, row by row, in savepoints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from framework.batch_values import FieldPlan
from framework.errors import Conflict, FichaError, NotFound, PermissionDenied, ValidationFailed
from modeler.fieldtypes import COLUMN, LINK, MANY_TO_MANY
from modeler.schema import FieldDef, ObjectDef
from storage.bulk import insert_rows
from storage.queries import LinkRef, Record
from storage.tables import column_name

if TYPE_CHECKING:
    from framework.records import Actor, RecordService

SYSTEM_COLUMNS = ("id", "version", "created_at", "updated_at", "created_by", "updated_by")
KEPT = frozenset({*SYSTEM_COLUMNS, "deleted_at"})
#: what happens to a row whose key finds an existing record
ON_EXISTING = ("update", "skip", "error")


#: `id` as a key: rows that name the record they update
ID_FIELD = FieldDef("id", "integer", "Id")


@dataclass(frozen=True, slots=True)
class RowResult:
    """What happened to one row of a batch: created, updated, unchanged, skipped or
    failed (then `errors` says why, field → message)."""

    index: int
    action: str
    id: int | None = None
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.action != "failed"


class BatchFailed(FichaError):
    """An all-or-nothing batch had rows that failed: nothing of it was written."""

    def __init__(self, object_name: str, results: Sequence[RowResult]) -> None:
        self.object_name = object_name
        self.results = list(results)
        failed = [r for r in results if not r.ok]
        super().__init__(
            f"{len(failed)} of {len(results)} {object_name} rows were refused; nothing was saved"
        )


@dataclass(slots=True)
class _Row:
    index: int
    values: Mapping[str, Any]
    before: Record | None = None
    clean: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    action: str = ""
    id: int | None = None
    changed: dict[str, Any] = field(default_factory=dict)


class BatchWriter:
    """One call of write_many: the rows of one object, in the caller's transaction."""

    def __init__(self, service: RecordService, obj: ObjectDef, actor: Actor) -> None:
        self.service = service
        self.storage = service.storage
        self.model = service.model
        self.obj = obj
        self.actor = actor
        self.table = self.storage.table(obj.name)
        #: what the key lookup found of a unique key field: (field, values asked, matches)
        self._keyed: tuple[str, set[Any], list[tuple[Any, int, Any]]] | None = None

    # -- the whole batch --------------------------------------------------------------------

    def run(
        self,
        conn: Connection,
        rows: Sequence[Mapping[str, Any]],
        key: Sequence[str],
        on_existing: str,
    ) -> list[RowResult]:
        if on_existing not in ON_EXISTING:
            raise ValueError(f"on_existing must be one of {', '.join(ON_EXISTING)}")
        for name in key:
            f = self.obj.fields.get(name)
            if name == "id" and len(key) == 1:
                continue
            if f is None or f.kind not in (COLUMN, LINK):
                raise ValueError(f"{self.obj.label} has no stored field '{name}' to use as a key")
        work = [_Row(i, values) for i, values in enumerate(rows)]
        if key:
            self._find_existing(conn, work, key, on_existing)
        pending = [r for r in work if not r.action]
        self._permissions(conn, pending)
        if self._row_by_row(rows):
            for row in pending:
                if not row.errors:
                    self._single(conn, row)
                else:
                    row.action = "failed"
        else:
            self._validate(conn, pending)
            self._write(conn, [r for r in pending if not r.errors])
            for row in pending:
                if row.errors:
                    row.action = "failed"
        return [
            RowResult(r.index, r.action, r.id, dict(r.errors) if r.errors else {}) for r in work
        ]

    def _row_by_row(self, rows: Sequence[Mapping[str, Any]]) -> bool:
        """Autonumbers take a counter per record and many-to-many values a link table:
        such writes go through the single-record steps."""
        fields = self.obj.fields.values()
        if any(f.type == "autonumber" for f in fields):
            return True
        m2m = {f.name for f in fields if f.kind == MANY_TO_MANY}
        return bool(m2m) and any(m2m & set(r) for r in rows)

    def _single(self, conn: Connection, row: _Row) -> None:
        service = self.service
        try:
            with conn.begin_nested():
                if row.before is None:
                    record = service._create(conn, self.obj, row.values, self.actor)
                    row.action = "created"
                else:
                    record = service._update(
                        conn, self.obj, int(row.before["id"]), row.values, self.actor, None
                    )
                    row.action = (
                        "updated" if record["version"] != row.before["version"] else "unchanged"
                    )
                row.id = int(record["id"])
        except ValidationFailed as exc:
            row.errors.update(exc.errors)
            row.action = "failed"
        except (PermissionDenied, NotFound, Conflict) as exc:
            row.errors["__all__"] = str(exc)
            row.action = "failed"

    # -- the upsert key -------------------------------------------------------------------

    def _find_existing(
        self, conn: Connection, work: list[_Row], key: Sequence[str], on_existing: str
    ) -> None:
        by_id = tuple(key) == ("id",)
        fields = [ID_FIELD if by_id else self.obj.fields[n] for n in key]
        wanted: dict[tuple[Any, ...], _Row] = {}
        plans = self.plans
        cells = []  # each key field's cells, and what its shortcut makes of them
        for f in fields:
            raws = [row.values.get(f.name) for row in work]
            many = None if by_id else plans[f.name].many
            cells.append((f, raws, many(raws) if many is not None else [None] * len(raws)))
        for i, row in enumerate(work):
            parts = []
            for f, raws, quick in cells:
                value = quick[i]
                if value is not None:
                    parts.append(value)
                    continue
                raw = raws[i]
                try:
                    value = self.service._coerce(f, raw)
                except ValueError as exc:
                    row.errors[f.name] = str(exc)
                    break
                if value is None:
                    row.errors[f.name] = "is needed to find the record (it is the key)"
                    break
                parts.append(value)
            if row.errors:
                row.action = "failed"
                continue
            ident = tuple(parts)
            first = wanted.get(ident)
            if first is not None:
                label = ", ".join(f.label.lower() for f in fields)
                row.errors["__all__"] = f"the same {label} as row {first.index + 1} of this batch"
                row.action = "failed"
                continue
            wanted[ident] = row
        if not wanted:
            return
        columns = [self.table.c[column_name(f)] for f in fields]
        t = self.table
        idents = list(wanted)
        live: list[int] = []
        matches: list[tuple[Any, int, Any]] = []  # (key as stored, id, deleted_at)
        # the key, id and deletion only: a new record (most rows of a first import) costs
        # no read of whole records
        asked: sa.BindParameter[Any] = sa.bindparam("keys", expanding=True)
        stmt = sa.select(*columns, t.c.id, t.c.deleted_at).where(
            columns[0].in_(asked) if len(columns) == 1 else sa.tuple_(*columns).in_(asked)
        )
        for start in range(0, len(idents), 500):  # bound the IN list on every database
            chunk = idents[start : start + 500]
            keys = [i[0] for i in chunk] if len(columns) == 1 else chunk
            for *stored, ident, deleted_at in conn.execute(stmt, {"keys": keys}):
                value = stored[0] if len(columns) == 1 else tuple(stored)
                matches.append((value, ident, deleted_at))
                if deleted_at is None:
                    live.append(ident)
        if len(fields) == 1 and fields[0].unique and fields[0].kind == COLUMN:
            # the unique check of this field needs the same query: keep what it found
            self._keyed = (fields[0].name, {i[0] for i in idents}, matches)
        found: dict[tuple[Any, ...], Record] = {}
        reader = self.service.reader
        for start in range(0, len(live), 500):
            chunk_ids = live[start : start + 500]
            for record in reader.list(
                conn, self.obj.name, where=[t.c.id.in_(chunk_ids)], limit=0, sort=()
            ):
                found[tuple(_plain(record.get(f.name)) for f in fields)] = record
        for ident, row in wanted.items():
            before = found.get(ident)
            if before is None:
                if by_id:
                    row.errors["id"] = f"there is no {self.obj.label.lower()} with id {ident[0]}"
                    row.action = "failed"
                continue
            row.before = before
            row.id = int(before["id"])
            sent = row.values.get("version")
            if sent is not None and str(sent) != str(before["version"]):
                row.errors["version"] = (
                    f"the record is at version {before['version']}, not {sent}: someone "
                    "changed it meanwhile; read it again and make your change again"
                )
                row.action = "failed"
            elif on_existing == "skip":
                row.action = "skipped"
            elif on_existing == "error":
                row.errors["__all__"] = f"already exists ({self.obj.label.lower()} #{row.id})"
                row.action = "failed"

    # -- permissions ------------------------------------------------------------------------

    def _permissions(self, conn: Connection, rows: list[_Row]) -> None:
        permissions = self.service.permissions
        if permissions is None or not rows:
            return
        who = permissions.who(self.actor)
        if permissions.trusted(who):
            return
        locked = permissions.read_only(who, self.obj.name)
        updates = [r for r in rows if r.before is not None]
        allowed_ids: set[int] | None = None
        if updates:
            condition = permissions.scope(who, self.obj.name, "update")
            if condition is not None:
                ids = [int(r.before["id"]) for r in updates if r.before is not None]
                allowed_ids = set(
                    conn.execute(
                        sa.select(self.table.c.id).where(self.table.c.id.in_(ids), condition)
                    ).scalars()
                )
        for row in rows:
            action = "update" if row.before is not None else "create"
            try:
                permissions.require(who, self.obj.name, action)
            except PermissionDenied as exc:
                row.errors["__all__"] = str(exc)
                continue
            if allowed_ids is not None and row.before is not None and row.id not in allowed_ids:
                row.errors["__all__"] = (
                    f"this {self.obj.label.lower()} is not one your role lets you change"
                )
                continue
            blocked = sorted(set(row.values) & locked)
            if blocked:
                labels = ", ".join(
                    self.obj.fields[n].label for n in blocked if n in self.obj.fields
                )
                row.errors["__all__"] = f"your role cannot change {labels}"

    # -- checks: per row in Python, per batch in SQL ------------------------------------------

    def _validate(self, conn: Connection, rows: list[_Row]) -> None:
        service = self.service
        obj = self.obj
        required = [f for f in obj.fields.values() if f.required and f.kind in (COLUMN, LINK)]
        defaults = {
            f.name: f
            for f in obj.fields.values()
            if f.kind == COLUMN and f.default is not None and f.type != "autonumber"
        }
        pending = [r for r in rows if not r.errors]
        self._coerce_rows(pending)
        for row in pending:
            if row.before is None:
                for name, f in defaults.items():
                    if name not in row.clean:
                        value = service._default(f)
                        if value is not None:
                            row.clean[name] = value
                for f in required:
                    if row.clean.get(f.name) is None:
                        row.errors.setdefault(f.name, "is required")
            else:
                for name, value in row.clean.items():
                    if value is None and obj.fields[name].required:
                        row.errors.setdefault(name, "is required")
        live = [r for r in rows if not r.errors]
        titles = self._check_links(conn, live)
        self._check_unique(conn, [r for r in live if not r.errors])
        self._check_unique_together(conn, [r for r in live if not r.errors])
        enforcer = service.enforcer
        rules = enforcer.behaviour.of(obj.name) if enforcer is not None else None
        formulas = rules.formulas if rules is not None else {}
        if rules is not None and not (
            rules.formulas
            or rules.read_only_when
            or rules.required_when
            or rules.validations
            or rules.workflow_field
        ):
            enforcer = None  # nothing declared: checking would find nothing
        for row in rows:
            if row.errors:
                continue
            if enforcer is not None:
                if row.before is None:
                    after = dict(row.clean)
                    touched = set(after)
                    plain_before = None
                else:
                    plain_before = {k: _plain(v) for k, v in row.before.items()}
                    after = {**plain_before, **row.clean}
                    touched = {k for k, v in row.clean.items() if plain_before.get(k) != v}
                row.errors.update(
                    enforcer.check(conn, obj, plain_before, after, touched, self.actor)
                )
                row.clean.update({k: after[k] for k in formulas if k in after})
        self._titles = titles

    def _coerce_rows(self, rows: list[_Row]) -> None:
        """`_coerce_row` for each row; rows that all name the same fields (an import's
        do) are read a column at a time, with the same values and refusals."""
        if len(rows) < 2:
            for row in rows:
                self._coerce_row(row)
            return
        names = rows[0].values.keys()
        if not all(r.values.keys() == names for r in rows):
            for row in rows:
                self._coerce_row(row)
            return
        plans = self.plans
        read: list[str] = []
        columns: list[list[Any]] = []
        for name in names:
            plan = plans.get(name)
            if plan is None or plan.column is None:
                for row in rows:
                    self._unconverted(row, name, row.values[name])
                continue
            values, refused = plan.column([r.values[name] for r in rows])
            for i, message in refused.items():
                rows[i].errors[name] = message
            read.append(name)
            columns.append(values)
        for row, values in zip(rows, zip(*columns, strict=True), strict=False):
            row.clean = dict(zip(read, values, strict=True))
        if any(r.errors for r in rows):
            for row in rows:
                for name in row.errors:
                    row.clean.pop(name, None)  # a refused value is not kept

    def _coerce_row(self, row: _Row) -> None:
        """The single-record path's coercion and constraints (RecordService._validate
        without its queries, which a batch runs once for all rows)."""
        converters = self.converters
        clean = row.clean
        for name, raw in row.values.items():
            convert = converters.get(name)
            if convert is None:
                self._unconverted(row, name, raw)
                continue
            try:
                clean[name] = convert(raw)
            except ValueError as exc:
                row.errors[name] = str(exc)

    def _unconverted(self, row: _Row, name: str, raw: Any) -> None:
        """A value that is not a field's to convert: Ficha's own columns, the other side
        of a link, a read-only field (refused if changed), or no field at all."""
        plan = self.plans.get(name)
        if plan is None:
            if name not in KEPT:
                row.errors[name] = f"{self.obj.label} has no field '{name}'"
        elif plan.fixed:
            before = row.before
            if not (before is None or _plain(before.get(name)) == raw or raw is None):
                row.errors[name] = "is read-only"

    @property
    def converters(self) -> dict[str, Callable[[Any], Any]]:
        """Field name → its `FieldPlan.convert`, for the fields that have one."""
        cache: dict[str, dict[str, Any]] = self.service.__dict__.setdefault("_batch_converters", {})
        found = cache.get(self.obj.name)
        if found is None:
            found = cache[self.obj.name] = {
                name: plan.convert for name, plan in self.plans.items() if plan.convert is not None
            }
        return found

    @property
    def plans(self) -> dict[str, FieldPlan]:
        """How each field's values are read and checked, worked out once per object."""
        cache: dict[str, dict[str, FieldPlan]] = self.service.__dict__.setdefault(
            "_batch_plans", {}
        )
        found = cache.get(self.obj.name)
        if found is None:
            found = cache[self.obj.name] = {
                f.name: FieldPlan.of(f, self.model, self.service.ctx)
                for f in self.obj.fields.values()
            }
        return found

    def _check_links(self, conn: Connection, rows: list[_Row]) -> dict[tuple[str, int], str]:
        """Linked records must exist (one query per link field); returns their titles."""
        titles: dict[tuple[str, int], str] = {}
        for f in self.obj.fields.values():
            if f.kind != LINK:
                continue
            wanted = {r.clean[f.name] for r in rows if r.clean.get(f.name) is not None}
            if not wanted:
                continue
            target = self.model[f.target or ""]
            found: dict[int, LinkRef] = {}
            ids = sorted(wanted)
            for start in range(0, len(ids), 500):
                found.update(
                    (ident, title)
                    for ident, title in self.service.reader.titles(
                        conn, target.name, ids[start : start + 500]
                    ).items()
                )
            table = self.storage.table(target.name)
            deleted = (
                set(
                    conn.execute(
                        sa.select(table.c.id).where(
                            table.c.id.in_(list(found)), table.c.deleted_at.is_not(None)
                        )
                    ).scalars()
                )
                if found
                else set()
            )
            for row in rows:
                value = row.clean.get(f.name)
                if value is None:
                    continue
                if value not in found or value in deleted:
                    row.errors[f.name] = f"there is no {target.label.lower()} with id {value}"
                else:
                    titles[(f.name, value)] = found[value].title
        return titles

    def _check_unique(self, conn: Connection, rows: list[_Row]) -> None:
        for f in self.obj.fields.values():
            if not f.unique or f.kind != COLUMN:
                continue
            seen: dict[Any, _Row] = {}
            for row in rows:
                value = row.clean.get(f.name)
                if value is None or f.name in row.errors:
                    continue
                if row.before is not None and _plain(row.before.get(f.name)) == value:
                    continue  # unchanged: it was unique already
                other = seen.get(value)
                if other is not None:
                    row.errors[f.name] = f"'{value}' is also in row {other.index + 1} of this batch"
                    continue
                seen[value] = row
            if not seen:
                continue
            col = self.table.c[column_name(f)]
            values = list(seen)
            known: list[tuple[Any, int, Any]] = []
            keyed = self._keyed
            if keyed is not None and keyed[0] == f.name:
                # found by the key lookup of this batch (nothing was written since)
                values = [v for v in values if v not in keyed[1]]
                known = keyed[2]
            batches: list[Sequence[Any]] = [known] if known else []
            for start in range(0, len(values), 500):
                batches.append(
                    conn.execute(
                        sa.select(col, self.table.c.id, self.table.c.deleted_at).where(
                            col.in_(values[start : start + 500])
                        )
                    ).all()
                )
            for clashes in batches:
                for value, ident, deleted_at in clashes:
                    clash = seen.get(value)
                    if clash is None or clash.id == ident:
                        continue
                    where = (
                        " (a deleted record: restore it or change its value)"
                        if deleted_at is not None
                        else ""
                    )
                    clash.errors[f.name] = (
                        f"'{value}' is already used by {self.obj.label.lower()} #{ident}{where}"
                    )

    def _check_unique_together(self, conn: Connection, rows: list[_Row]) -> None:
        """Unique combinations (`unique: [[name, team]]`), as the single-record path
        checks them: one query per combination and 500 rows; a combination with an empty
        part never clashes (as in SQL)."""
        obj = self.obj
        for index in obj.indexes:
            if not index.unique or len(index.fields) < 2:
                continue
            names = index.fields
            labels = " and ".join(obj.fields[n].label.lower() for n in names)
            seen: dict[tuple[Any, ...], _Row] = {}
            for row in rows:
                if row.errors or not any(n in row.clean for n in names):
                    continue
                before = row.before
                values = tuple(
                    row.clean[n] if n in row.clean else (_plain(before.get(n)) if before else None)
                    for n in names
                )
                if None in values:
                    continue
                other = seen.get(values)
                if other is not None:
                    row.errors[names[0]] = (
                        f"the same {labels} as row {other.index + 1} of this batch; "
                        f"the {labels} together must be unique"
                    )
                    continue
                seen[values] = row
            columns = [self.table.c[column_name(obj.fields[n])] for n in names]
            wanted = list(seen)
            for start in range(0, len(wanted), 500):
                clashes = conn.execute(
                    sa.select(self.table.c.id, *columns).where(
                        sa.tuple_(*columns).in_(wanted[start : start + 500])
                    )
                )
                for ident, *stored in clashes:
                    clash = seen.get(tuple(stored))
                    if clash is None or clash.id == ident:
                        continue  # itself is no clash
                    clash.errors[names[0]] = (
                        f"{obj.label.lower()} #{ident} already has this {labels}; "
                        f"the {labels} together must be unique"
                    )

    # -- writes -------------------------------------------------------------------------------

    def _write(self, conn: Connection, rows: list[_Row]) -> None:
        from framework.records import utcnow

        now = utcnow()
        creates = [r for r in rows if r.before is None]
        updates = []
        for row in rows:
            if row.before is None:
                continue
            before = row.before
            row.changed = {k: v for k, v in row.clean.items() if _plain(before.get(k)) != v}
            if row.changed:
                updates.append(row)
            else:
                row.action = "unchanged"
        self._insert(conn, creates, now)
        self._update(conn, updates, now)
        created = [r for r in creates if not r.errors]
        self._refresh(conn, created, updates)
        self._emit(conn, created, updates, now)

    def _insert(self, conn: Connection, rows: list[_Row], now: Any) -> None:
        if not rows:
            return
        user = self.actor.user_id
        columns = {f.name: column_name(f) for f in self.obj.stored_fields()}
        system = {
            "created_at": now,
            "updated_at": now,
            "created_by": user,
            "updated_by": user,
            "version": 1,
        }
        first = rows[0].clean.keys()
        params: list[Mapping[str, Any]]
        if all(columns[n] == n for n in first) and all(r.clean.keys() == first for r in rows):
            params = [row.clean for row in rows]  # the rows name the same columns already
        else:  # every row must name the same columns for one multi-row statement
            names = sorted({name for row in rows for name in row.clean})
            params = [{columns[n]: row.clean.get(n) for n in names} for row in rows]
        try:
            ids = insert_rows(conn, self.table, params, same=system, ids=True)
        except sa.exc.IntegrityError as exc:
            # a race the checks could not see: say which field, refuse the batch
            raise ValidationFailed(
                self.obj.name, self.service._integrity_errors(self.obj, exc)
            ) from exc
        for row, ident in zip(rows, ids, strict=True):
            row.id = ident
            row.action = "created"
        self._creation_scope(conn, rows)

    def _creation_scope(self, conn: Connection, rows: list[_Row]) -> None:
        """A record created outside the creator's scope (someone else's owner) is taken
        back at once, as the single-record path refuses it."""
        permissions = self.service.permissions
        if permissions is None:
            return
        who = permissions.who(self.actor)
        condition = permissions.scope(who, self.obj.name, "create")
        if condition is None:
            return
        ids = [r.id for r in rows]
        allowed = set(
            conn.execute(
                sa.select(self.table.c.id).where(self.table.c.id.in_(ids), condition)
            ).scalars()
        )
        refused = [r for r in rows if r.id not in allowed]
        if not refused:
            return
        conn.execute(self.table.delete().where(self.table.c.id.in_([r.id for r in refused])))
        for row in refused:
            row.errors["__all__"] = (
                f"your role does not let you create this {self.obj.label.lower()} (check its owner)"
            )
            row.action = "failed"
            row.id = None

    def _update(self, conn: Connection, rows: list[_Row], now: Any) -> None:
        groups: dict[tuple[str, ...], list[_Row]] = {}
        for row in rows:
            groups.setdefault(tuple(sorted(row.changed)), []).append(row)
        t = self.table
        for names, group in groups.items():
            stmt = (
                t.update()
                .where(t.c.id == sa.bindparam("_id"), t.c.version == sa.bindparam("_version"))
                .values(
                    {
                        **{column_name(self.obj.fields[n]): sa.bindparam(f"_v_{n}") for n in names},
                        "updated_at": now,
                        "updated_by": self.actor.user_id,
                        "version": t.c.version + 1,
                    }
                )
            )
            params = [
                {
                    "_id": row.id,
                    "_version": row.before["version"] if row.before is not None else 0,
                    **{f"_v_{n}": row.changed[n] for n in names},
                }
                for row in group
            ]
            try:
                result = conn.execute(stmt, params)
            except sa.exc.IntegrityError as exc:
                raise ValidationFailed(
                    self.obj.name, self.service._integrity_errors(self.obj, exc)
                ) from exc
            if result.rowcount not in (-1, len(group)):  # someone saved meanwhile
                first = group[0]
                raise self.service._conflict(
                    conn,
                    self.obj,
                    int(first.id or 0),
                    int(first.before["version"]),  # type: ignore[index]
                )
            for row in group:
                row.action = "updated"

    def _refresh(self, conn: Connection, created: list[_Row], updated: list[_Row]) -> None:
        """Roll-ups and aggregate formulas: the single-record path's refresh, per row
        (only for objects that have them)."""
        enforcer = self.service.enforcer
        if enforcer is None:
            return
        from framework.enforce import _has_aggregate

        own = any(_has_aggregate(e) for e in enforcer.behaviour.of(self.obj.name).formulas.values())
        if not own and not enforcer.behaviour.rollups_fed_by(self.obj.name):
            return
        self._rolled = []
        for row in created:
            self._rolled += enforcer.refresh(conn, self.obj, int(row.id or 0), None, row.clean)
        for row in updated:
            assert row.before is not None
            before = {k: _plain(v) for k, v in row.before.items()}
            after = {**before, **row.clean}
            self._rolled += enforcer.refresh(conn, self.obj, int(row.id or 0), before, after)

    def _emit(self, conn: Connection, created: list[_Row], updated: list[_Row], now: Any) -> None:
        from framework.records import RecordEvent

        obj = self.obj
        stored = [f.name for f in obj.stored_fields()]
        m2m = [f.name for f in obj.fields.values() if f.kind == MANY_TO_MANY]
        links = {f.name: f.target or "" for f in obj.fields.values() if f.kind == LINK}
        titles = getattr(self, "_titles", {})
        user = self.actor.user_id
        actor = self.actor
        system = {
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "created_by": user,
            "updated_by": user,
            "deleted_at": None,
        }

        def shown(clean: dict[str, Any]) -> dict[str, Any]:
            """Values as a read returns them: links as id and title."""
            values = dict(clean)
            for name, target in links.items():
                ident = values.get(name)
                if ident is not None:
                    values[name] = LinkRef(ident, titles.get((name, ident), f"#{ident}"), target)
            return values

        template: dict[str, Any] = dict.fromkeys(stored)
        template.update(system)
        events: list[RecordEvent] = []
        append = events.append
        name = obj.name
        for row in created:
            record = Record(name, template)
            record.update(shown(row.clean) if links else row.clean)
            record["id"] = row.id
            for many in m2m:
                record[many] = []
            changes = {k: (None, v) for k, v in row.clean.items()}
            append(RecordEvent("created", name, record, None, changes, actor, conn))
        for row in updated:
            assert row.before is not None
            record = Record(obj.name, {**row.before, **shown(row.changed)})
            record.update(version=int(row.before["version"]) + 1, updated_at=now, updated_by=user)
            changes = {k: (_plain(row.before.get(k)), v) for k, v in row.changed.items()}
            events.append(
                RecordEvent("updated", obj.name, record, row.before, changes, actor, conn)
            )
        self.service._emit_batch(events)
        rolled = getattr(self, "_rolled", [])
        if rolled:
            self.service._emit_rolled(conn, rolled, self.actor)


def _plain(value: Any) -> Any:
    if isinstance(value, LinkRef):
        return value.id
    if isinstance(value, list) and value and isinstance(value[0], LinkRef):
        return sorted(v.id for v in value)
    return value
