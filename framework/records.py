"""RecordService: the only write path. Screens, the API, imports, rules, scripts and
plugins all create, update and delete records through it, so validation, defaults,
autonumbers, integrity and events happen here and nowhere else. Each call is one
transaction: it either fully happens or changes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from framework.behaviour import Behaviour
from framework.enforce import Enforcer
from framework.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from modeler.fieldtypes import COLUMN, HAS_MANY, LINK, MANY_TO_MANY, CoerceContext
from modeler.schema import FieldDef, ObjectDef
from storage import counters
from storage.manager import StorageManager
from storage.queries import LinkRef, Reader, Record
from storage.tables import column_name

if TYPE_CHECKING:
    from framework.batch import RowResult
    from framework.permissions import Permissions

CHANNELS = ("screen", "api", "import", "rule", "script", "plugin", "cli", "system")
#: how deep rules may write in reaction to writes before Ficha stops a loop
MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Actor:
    """Who writes, and through which channel (recorded on each change). The user's team,
    territory and role are what expressions read as `user.team` … and what workflows
    check transitions against."""

    user_id: int | None = None
    name: str = "system"
    channel: str = "system"
    role: str | None = None
    team: str | None = None
    territory: str | None = None
    email: str | None = None

    def via(self, channel: str) -> Actor:
        """The same person acting through another channel (a rule they triggered)."""
        return dataclasses.replace(self, channel=channel)


SYSTEM = Actor()


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """What happened to a record, handed to listeners inside the write's transaction."""

    kind: str  # created | updated | deleted | restored
    object: str
    record: Record
    before: Record | None
    changes: Mapping[str, tuple[Any, Any]]
    actor: Actor
    conn: Connection = field(repr=False, compare=False)


Listener = Callable[[RecordEvent], None]
BatchListener = Callable[[Sequence[RecordEvent]], None]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class RecordService:
    def __init__(
        self,
        storage: StorageManager,
        *,
        coerce_context: CoerceContext | None = None,
        listeners: Sequence[Listener] = (),
    ) -> None:
        self.storage = storage
        self.model = storage.model
        self.reader = Reader(storage)
        self.ctx = coerce_context or CoerceContext()
        self._listeners = list(listeners)
        #: listener → its batch form (see subscribe)
        self._batch_listeners: dict[Listener, BatchListener] = {}
        self.enforcer: Enforcer | None = None
        self.permissions: Permissions | None = None
        #: (conn, object, id, version) → field → who changed it since that version
        self.changes_since: Callable[[Connection, str, int, int], Mapping[str, Any]] | None = None

    def use_behaviour(self, behaviour: Behaviour) -> None:
        """Apply the model's formulas, validations and workflows on every write."""
        self.enforcer = Enforcer(self.storage, behaviour, self.ctx)

    @contextlib.contextmanager
    def _transaction(self, conn: Connection | None) -> Iterator[Connection]:
        """A new transaction, or the caller's (a rule writing inside the write that
        triggered it, so both happen or neither does)."""
        if conn is not None:
            depth = conn.info.get("ficha_depth", 0)
            if depth >= MAX_DEPTH:
                raise ValidationFailed(
                    "rules",
                    {
                        "__all__": (
                            f"rules kept changing records in reaction to each other ({MAX_DEPTH} "
                            "levels deep); check rules that update what triggers them"
                        )
                    },
                )
            conn.info["ficha_depth"] = depth + 1
            try:
                yield conn
            finally:
                conn.info["ficha_depth"] = depth
            return
        with self.storage.write() as own:
            # conn.info lives as long as the pooled connection: state for this one
            # transaction is set here and cleared when it ends
            own.info["ficha_depth"] = 1
            own.info["ficha_fired"] = set()
            own.info["ficha_writes"] = {}  # (object, id) → updates in this transaction
            try:
                yield own
            finally:
                own.info["ficha_depth"] = 0
                own.info.pop("ficha_fired", None)
                own.info.pop("ficha_writes", None)

    def subscribe(self, listener: Listener, *, batch: BatchListener | None = None) -> None:
        """Call `listener` with each event; `batch`, when given, is called instead with
        all the events of a batch write at once (the audit trail writes them in one
        statement)."""
        self._listeners.append(listener)
        if batch is not None:
            self._batch_listeners[listener] = batch

    # -- reads (the write path's own view of a record) -------------------------------------

    def get(self, object_name: str, ident: int) -> Record:
        with self.storage.read() as conn:
            record = self.reader.get(conn, object_name, ident)
        if record is None:
            raise NotFound(object_name, ident)
        return record

    # -- writes ---------------------------------------------------------------------------

    def create(
        self,
        object_name: str,
        values: Mapping[str, Any],
        actor: Actor = SYSTEM,
        *,
        conn: Connection | None = None,
    ) -> Record:
        obj = self.model[object_name]
        if obj.name in self.storage.external:
            return self._wrapped(obj).create(values, actor)
        with self._transaction(conn) as tx:
            return self._create(tx, obj, values, actor)

    def update(
        self,
        object_name: str,
        ident: int,
        values: Mapping[str, Any],
        actor: Actor = SYSTEM,
        *,
        expected_version: int | None = None,
        conn: Connection | None = None,
    ) -> Record:
        obj = self.model[object_name]
        if obj.name in self.storage.external:
            return self._wrapped(obj).update(ident, values, actor)
        with self._transaction(conn) as tx:
            return self._update(tx, obj, ident, values, actor, expected_version)

    def delete(
        self, object_name: str, ident: int, actor: Actor = SYSTEM, *, conn: Connection | None = None
    ) -> Record:
        """Soft delete: the record leaves every list but can be restored."""
        obj = self.model[object_name]
        if obj.name in self.storage.external:
            return self._wrapped(obj).delete(ident, actor)
        with self._transaction(conn) as tx:
            return self._delete(tx, obj, ident, actor)

    def delete_many(self, object_name: str, ids: Iterable[int], actor: Actor = SYSTEM) -> int:
        obj = self.model[object_name]
        if obj.name in self.storage.external:
            return len([self._wrapped(obj).delete(int(i), actor) for i in ids])
        with self.storage.write() as conn:
            return len([self._delete(conn, obj, int(i), actor) for i in ids])

    def restore(self, object_name: str, ident: int, actor: Actor = SYSTEM) -> Record:
        obj = self.model[object_name]
        table = self.storage.table(obj.name)
        with self.storage.write() as conn:
            before = self._load(conn, obj, ident, include_deleted=True)
            if before.get("deleted_at") is None:
                return before
            conn.execute(
                table.update()
                .where(table.c.id == ident)
                .values(
                    deleted_at=None,
                    updated_at=utcnow(),
                    updated_by=actor.user_id,
                    version=table.c.version + 1,
                )
            )
            record = self._load(conn, obj, ident)
            rolled = []
            if self.enforcer is not None:
                rolled = self.enforcer.refresh(
                    conn, obj, ident, None, {k: _plain(v) for k, v in record.items()}
                )
            self._emit("restored", obj, record, before, {}, actor, conn)
            self._emit_rolled(conn, rolled, actor)
            return record

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction for several writes (an import batch, a bulk API call): pass
        the connection to each as `conn=`. Committed when the block ends, rolled back if
        it raises."""
        with self._transaction(None) as conn:
            yield conn

    def write_many(
        self,
        object_name: str,
        rows: Sequence[Mapping[str, Any]],
        actor: Actor = SYSTEM,
        *,
        key: Sequence[str] = (),
        on_existing: str = "update",
        all_or_nothing: bool = False,
        conn: Connection | None = None,
    ) -> list[RowResult]:
        """Create (or, with `key`, create or update) many records in one transaction.

        Each row is checked as `create`/`update` would check it; the reads, writes and
        audit rows are done a batch at a time (see framework/batch.py). A row found by
        its `key` fields is updated (`on_existing="update"`), left alone ("skip") or
        refused ("error"). Returns one RowResult per row, in order; a refused row is
        reported, not written. With `all_or_nothing`, one refused row raises BatchFailed
        and nothing of the batch is written."""
        from framework.batch import BatchFailed, BatchWriter

        obj = self.model[object_name]
        with self._transaction(conn) as tx:
            results = BatchWriter(self, obj, actor).run(tx, rows, tuple(key), on_existing)
            if all_or_nothing and any(not r.ok for r in results):
                raise BatchFailed(obj.name, results)
            return results

    def _emit_batch(self, events: Sequence[RecordEvent]) -> None:
        """Tell every listener about a batch's events: at once where it has a batch
        form, else one by one (in the same order as single writes)."""
        if not events:
            return
        for listener in self._listeners:
            batch = self._batch_listeners.get(listener)
            if batch is not None:
                batch(events)
            else:
                for event in events:
                    listener(event)

    def _wrapped(self, obj: ObjectDef) -> Any:
        """The writes of an object whose records live in a legacy system."""
        from framework.datasources.writes import WrappedWriter

        return WrappedWriter(self, obj)

    # -- the steps of a write ---------------------------------------------------------------

    def _create(
        self, conn: Connection, obj: ObjectDef, values: Mapping[str, Any], actor: Actor
    ) -> Record:
        if self.permissions is not None:
            self.permissions.check_write(conn, actor, obj.name, "create", None, values)
        clean, links, errors = self._validate(conn, obj, values, None)
        for f in obj.fields.values():
            if f.name not in clean and f.kind == COLUMN and f.type != "autonumber":
                default = self._default(f)
                if default is not None:
                    clean[f.name] = default
        for f in obj.fields.values():  # required is checked after defaults are applied
            if f.required and f.kind in (COLUMN, LINK) and clean.get(f.name) is None:
                errors.setdefault(f.name, "is required")
            if f.required and f.kind == MANY_TO_MANY and not links.get(f.name):
                errors.setdefault(f.name, "needs at least one")
        if not errors and self.enforcer is not None:
            after = {**clean, **links}
            errors.update(self.enforcer.check(conn, obj, None, after, set(after), actor))
            clean.update(
                {k: after[k] for k in self.enforcer.behaviour.of(obj.name).formulas if k in after}
            )
        if errors:
            raise ValidationFailed(obj.name, errors)
        now = utcnow()
        row = {column_name(obj.fields[k]): v for k, v in clean.items()}
        for f in obj.fields.values():
            if f.type == "autonumber":
                row[f.name] = self._next_number(conn, obj, f, now)
        row.update(
            created_at=now,
            updated_at=now,
            created_by=actor.user_id,
            updated_by=actor.user_id,
            version=1,
        )
        table = self.storage.table(obj.name)
        ident = self._insert(conn, obj, table, row)
        if self.permissions is not None and not self.permissions.record_allowed(
            conn, self.permissions.who(actor), obj.name, "create", ident
        ):
            raise PermissionDenied(
                f"your role does not let you create this {obj.label.lower()} (check its owner)"
            )
        for name, ids in links.items():
            self._write_links(conn, obj, obj.fields[name], ident, ids)
        rolled = (
            self.enforcer.refresh(conn, obj, ident, None, clean)
            if self.enforcer is not None
            else []
        )
        record = self._load(conn, obj, ident)
        changes = {k: (None, _plain(record.get(k))) for k in clean}
        seen = _writes(conn, obj, ident)
        self._emit("created", obj, record, None, changes, actor, conn)
        self._emit_rolled(conn, rolled, actor)
        return self._as_saved(conn, obj, record, seen)

    def _insert_statement(self, table: sa.Table) -> Any:
        """Built once: the row's values go as parameters (building costs more than running)."""
        key = ("insert", table.name)
        stmt = self.storage.statements.get(key)
        if stmt is None:
            stmt = self.storage.statements[key] = table.insert().returning(table.c.id)
        return stmt

    def _insert(
        self, conn: Connection, obj: ObjectDef, table: sa.Table, row: dict[str, Any]
    ) -> int:
        try:
            result = conn.execute(self._insert_statement(table), row)
        except sa.exc.IntegrityError as exc:
            raise ValidationFailed(obj.name, self._integrity_errors(obj, exc)) from exc
        return int(result.scalar_one())

    def _update(
        self,
        conn: Connection,
        obj: ObjectDef,
        ident: int,
        values: Mapping[str, Any],
        actor: Actor,
        expected_version: int | None,
    ) -> Record:
        if self.permissions is not None:
            self.permissions.check_write(conn, actor, obj.name, "update", ident, values)
        before = self._load(conn, obj, ident)
        if expected_version is not None and before["version"] != expected_version:
            raise self._conflict(conn, obj, ident, expected_version)
        clean, links, errors = self._validate(conn, obj, values, before)
        for name, value in clean.items():
            f = obj.fields[name]
            if f.required and value is None:
                errors.setdefault(name, "is required")
        if not errors and self.enforcer is not None:
            plain_before = {k: _plain(v) for k, v in before.items()}
            after = {**plain_before, **clean, **links}
            touched = {k for k, v in clean.items() if plain_before.get(k) != v}
            errors.update(self.enforcer.check(conn, obj, plain_before, after, touched, actor))
            clean.update(
                {k: after[k] for k in self.enforcer.behaviour.of(obj.name).formulas if k in after}
            )
        if errors:
            raise ValidationFailed(obj.name, errors)
        changed = {k: v for k, v in clean.items() if _plain(before.get(k)) != v}
        link_changes = {}
        for name, ids in links.items():
            current = self._link_ids(conn, obj, obj.fields[name], ident)
            if sorted(current) != sorted(ids):
                link_changes[name] = (current, ids)
        if not changed and not link_changes:
            return before
        table = self.storage.table(obj.name)
        row = {column_name(obj.fields[k]): v for k, v in changed.items()}
        version = before["version"]
        try:
            result = conn.execute(
                table.update()
                .where(table.c.id == ident, table.c.version == version)
                .values(
                    **row,
                    updated_at=utcnow(),
                    updated_by=actor.user_id,
                    version=table.c.version + 1,
                )
            )
        except sa.exc.IntegrityError as exc:
            raise ValidationFailed(obj.name, self._integrity_errors(obj, exc)) from exc
        if result.rowcount != 1:  # someone else saved between our read and our write
            raise self._conflict(conn, obj, ident, version)
        writes = conn.info.get("ficha_writes")
        if writes is not None:  # counted so an outer write of this record sees a rule's
            writes[(obj.name, ident)] = writes.get((obj.name, ident), 0) + 1
        for name, (_old, ids) in link_changes.items():
            self._write_links(conn, obj, obj.fields[name], ident, ids)
        rolled = []
        if self.enforcer is not None:
            plain_before = {k: _plain(v) for k, v in before.items()}
            rolled = self.enforcer.refresh(
                conn, obj, ident, plain_before, {**plain_before, **clean}
            )
        record = self._load(conn, obj, ident)
        changes = {k: (_plain(before.get(k)), _plain(record.get(k))) for k in changed}
        changes.update(link_changes)
        seen = _writes(conn, obj, ident)
        self._emit("updated", obj, record, before, changes, actor, conn)
        self._emit_rolled(conn, rolled, actor)
        return self._as_saved(conn, obj, record, seen)

    def _as_saved(self, conn: Connection, obj: ObjectDef, record: Record, seen: int) -> Record:
        """The record as it was left: read again when a listener (a rule's `set`) wrote
        it again, so the caller holds its latest values and version."""
        if _writes(conn, obj, record.id) == seen:
            return record
        return self._load(conn, obj, record.id)

    def _conflict(self, conn: Connection, obj: ObjectDef, ident: int, version: int) -> Conflict:
        changed: dict[str, Any] = {}
        if self.changes_since is not None:
            for name, (_value, who) in self.changes_since(conn, obj.name, ident, version).items():
                label = obj.fields[name].label.lower() if name in obj.fields else name
                changed[f"{label} (by {who})"] = _value
        return Conflict(obj.name, ident, changed)

    def _delete(self, conn: Connection, obj: ObjectDef, ident: int, actor: Actor) -> Record:
        if self.permissions is not None:
            self.permissions.check_write(conn, actor, obj.name, "delete", ident, {})
        before = self._load(conn, obj, ident)
        blockers = self._delete_blockers(conn, obj, ident)
        if blockers:
            raise ValidationFailed(
                obj.name, {"__all__": "cannot be deleted: " + "; ".join(blockers)}
            )
        now = utcnow()
        for other, f in self.model.reverse_links(obj.name):
            table = self.storage.table(other.name)
            col = table.c[column_name(f)]
            if f.on_delete == "set_null":
                conn.execute(table.update().where(col == ident).values(**{col.name: None}))
            elif f.on_delete == "cascade":
                children = (
                    conn.execute(
                        sa.select(table.c.id).where(col == ident, table.c.deleted_at.is_(None))
                    )
                    .scalars()
                    .all()
                )
                for child in children:
                    self._delete(conn, other, int(child), actor)
        table = self.storage.table(obj.name)
        conn.execute(
            table.update()
            .where(table.c.id == ident)
            .values(
                deleted_at=now,
                updated_at=now,
                updated_by=actor.user_id,
                version=table.c.version + 1,
            )
        )
        rolled = []
        if self.enforcer is not None:  # a deleted child no longer counts in its parent
            rolled = self.enforcer.refresh(
                conn, obj, ident, {k: _plain(v) for k, v in before.items()}, None
            )
        self._emit("deleted", obj, before, before, {}, actor, conn)
        self._emit_rolled(conn, rolled, actor)
        return before

    def _delete_blockers(self, conn: Connection, obj: ObjectDef, ident: int) -> list[str]:
        blockers = []
        for other, f in self.model.reverse_links(obj.name):
            if f.on_delete != "restrict":
                continue
            table = self.storage.table(other.name)
            count = conn.execute(
                sa.select(sa.func.count()).where(
                    table.c[column_name(f)] == ident, table.c.deleted_at.is_(None)
                )
            ).scalar()
            if count:
                label = other.label if count == 1 else other.plural
                one = count == 1
                blockers.append(
                    f"{count} {label.lower()} still {'links' if one else 'link'} to it through "
                    f"'{f.label}'; delete {'it' if one else 'them'} or change "
                    f"{'its' if one else 'their'} {f.label.lower()} first"
                )
        return blockers

    # -- validation -----------------------------------------------------------------------

    def _validate(
        self, conn: Connection, obj: ObjectDef, values: Mapping[str, Any], before: Record | None
    ) -> tuple[dict[str, Any], dict[str, list[int]], dict[str, str]]:
        clean: dict[str, Any] = {}
        links: dict[str, list[int]] = {}
        errors: dict[str, str] = {}
        for name, raw in values.items():
            f = obj.fields.get(name)
            if f is None:
                if name in (
                    "id",
                    "version",
                    "created_at",
                    "updated_at",
                    "created_by",
                    "updated_by",
                    "deleted_at",
                ):
                    continue  # kept by Ficha; a form or an export may carry them back
                errors[name] = f"{obj.label} has no field '{name}'"
                continue
            if f.kind == HAS_MANY:
                continue  # the other side's link field owns these rows
            if f.type == "autonumber" or f.read_only:
                if before is None or _plain(before.get(name)) == raw or raw is None:
                    continue
                errors[name] = "is read-only"
                continue
            try:
                value = self._coerce(f, raw)
            except ValueError as exc:
                errors[name] = str(exc)
                continue
            if f.kind == MANY_TO_MANY:
                links[name] = value or []
            else:
                clean[name] = value
        for name, value in list(clean.items()):
            f = obj.fields[name]
            if value is None:
                continue
            message = self._constraint_error(f, value)
            if message:
                errors[name] = message
        self._check_links(conn, obj, clean, links, errors)
        self._check_unique(conn, obj, clean, before, errors)
        return clean, links, errors

    def _coerce(self, f: FieldDef, raw: Any) -> Any:
        if (
            raw is None
            or (isinstance(raw, str) and not raw.strip())
            or (isinstance(raw, (list, tuple)) and not raw and f.kind != MANY_TO_MANY)
        ):
            return [] if f.kind == MANY_TO_MANY else None
        ftype = self.model.field_types.get(f.type)
        if ftype.coerce is None:
            return raw
        return ftype.coerce(f, raw, self.ctx)

    def _constraint_error(self, f: FieldDef, value: Any) -> str | None:
        ftype = self.model.field_types.get(f.type)
        if f.max_length is not None and isinstance(value, str) and len(value) > f.max_length:
            return f"is longer than {f.max_length} characters ({len(value)})"
        if f.type == "string" and f.max_length is None and len(value) > 255:
            return f"is longer than 255 characters ({len(value)}); use a text field for more"
        if f.pattern and isinstance(value, str) and not re.fullmatch(f.pattern, value):
            return f"does not have the expected form ({f.pattern})"
        if ftype.comparable and ftype.coerce is not None:
            if f.min is not None and value < ftype.coerce(f, f.min, self.ctx):
                return f"must be at least {f.min}"
            if f.max is not None and value > ftype.coerce(f, f.max, self.ctx):
                return f"must be at most {f.max}"
        return None

    def _check_links(
        self,
        conn: Connection,
        obj: ObjectDef,
        clean: dict[str, Any],
        links: dict[str, list[int]],
        errors: dict[str, str],
    ) -> None:
        for name in [*clean, *links]:
            f = obj.fields[name]
            if f.kind not in (LINK, MANY_TO_MANY) or name in errors:
                continue
            wanted = (
                links.get(name)
                if f.kind == MANY_TO_MANY
                else ([clean[name]] if clean[name] is not None else [])
            )
            if not wanted:
                continue
            table = self.storage.table(f.target or "")
            found = set(
                conn.execute(
                    sa.select(table.c.id).where(
                        table.c.id.in_(wanted), table.c.deleted_at.is_(None)
                    )
                ).scalars()
            )
            missing = [str(i) for i in wanted if i not in found]
            if missing:
                target = self.model[f.target or ""]
                errors[name] = f"there is no {target.label.lower()} with id {', '.join(missing)}"

    def _check_unique(
        self,
        conn: Connection,
        obj: ObjectDef,
        clean: dict[str, Any],
        before: Record | None,
        errors: dict[str, str],
    ) -> None:
        table = self.storage.table(obj.name)
        for name, value in clean.items():
            f = obj.fields[name]
            if not f.unique or value is None or name in errors:
                continue
            stmt = sa.select(table.c.id, table.c.deleted_at).where(table.c[column_name(f)] == value)
            if before is not None:
                stmt = stmt.where(table.c.id != before["id"])
            clash = conn.execute(stmt.limit(1)).first()
            if clash is not None:
                where = (
                    " (a deleted record: restore it or change its value)"
                    if (clash.deleted_at is not None)
                    else ""
                )
                errors[name] = (
                    f"'{value}' is already used by {obj.label.lower()} #{clash.id}{where}"
                )
        for index in obj.indexes:
            if index.unique and len(index.fields) > 1:
                self._check_unique_together(conn, obj, index.fields, clean, before, errors)

    def _check_unique_together(
        self,
        conn: Connection,
        obj: ObjectDef,
        names: tuple[str, ...],
        clean: dict[str, Any],
        before: Record | None,
        errors: dict[str, str],
    ) -> None:
        """A unique combination (`unique: [[name, city]]`), said in words before the
        database refuses it; a combination with an empty part never clashes (as in SQL)."""
        if not any(n in clean for n in names) or any(n in errors for n in names):
            return
        values = [clean[n] if n in clean else (before[n] if before else None) for n in names]
        values = [v.id if isinstance(v, LinkRef) else v for v in values]
        if any(v is None for v in values):
            return
        table = self.storage.table(obj.name)
        fields = [obj.fields[n] for n in names]
        stmt = sa.select(table.c.id).where(
            *(table.c[column_name(f)] == v for f, v in zip(fields, values, strict=True))
        )
        if before is not None:
            stmt = stmt.where(table.c.id != before["id"])
        clash = conn.execute(stmt.limit(1)).first()
        if clash is not None:
            labels = " and ".join(f.label.lower() for f in fields)
            errors[names[0]] = (
                f"{obj.label.lower()} #{clash.id} already has this {labels}; "
                f"the {labels} together must be unique"
            )

    def _integrity_errors(self, obj: ObjectDef, exc: sa.exc.IntegrityError) -> dict[str, str]:
        """The database refused (a race the checks above could not see): say which field."""
        text = str(exc.orig).lower()
        for f in obj.fields.values():
            if f.unique and column_name(f) in text:
                return {f.name: "this value is already used by another record"}
        return {
            "__all__": "the database refused the change (a value is no longer valid); "
            "reload and try again"
        }

    def _default(self, f: FieldDef) -> Any:
        if f.default is None:
            return None
        if isinstance(f.default, str) and f.default.startswith("="):
            expression = f.default[1:].strip().replace(" ", "")
            if expression == "today()":
                return self.ctx.today()
            if expression == "now()":
                return utcnow()
            return None
        return self._coerce(f, f.default)

    # -- autonumbers and links ----------------------------------------------------------------

    def _next_number(self, conn: Connection, obj: ObjectDef, f: FieldDef, now: dt.datetime) -> str:
        pattern = f.format or "{00000}"
        stamped = (
            pattern.replace("{YYYY}", f"{now.year:04d}")
            .replace("{YY}", f"{now.year % 100:02d}")
            .replace("{MM}", f"{now.month:02d}")
            .replace("{DD}", f"{now.day:02d}")
        )
        counter_match = re.search(r"\{(0+)\}", stamped)
        assert counter_match is not None  # checked at load (M034)
        # The counter restarts whenever the stamped part (e.g. the year) changes.
        key = f"{obj.name}.{f.name}:{stamped}"[:120]
        value = counters.increment(conn, self.storage.tables.system["counter"], key)
        width = len(counter_match.group(1))
        return (
            stamped[: counter_match.start()] + f"{value:0{width}d}" + stamped[counter_match.end() :]
        )

    def _link_table(self, obj: ObjectDef, f: FieldDef) -> tuple[sa.Table, str, str]:
        table = self.storage.tables.links[(obj.name, f.name)]
        if self.storage.tables.reversed_links[(obj.name, f.name)]:
            return table, "target_id", "source_id"
        return table, "source_id", "target_id"

    def _link_ids(self, conn: Connection, obj: ObjectDef, f: FieldDef, ident: int) -> list[int]:
        table, mine, theirs = self._link_table(obj, f)
        return sorted(
            int(i)
            for i in conn.execute(
                sa.select(table.c[theirs]).where(table.c[mine] == ident)
            ).scalars()
        )

    def _write_links(
        self, conn: Connection, obj: ObjectDef, f: FieldDef, ident: int, ids: list[int]
    ) -> None:
        table, mine, theirs = self._link_table(obj, f)
        current = set(self._link_ids(conn, obj, f, ident))
        wanted = set(ids)
        if current - wanted:
            conn.execute(
                table.delete().where(
                    table.c[mine] == ident, table.c[theirs].in_(sorted(current - wanted))
                )
            )
        if wanted - current:
            conn.execute(
                table.insert(), [{mine: ident, theirs: i} for i in sorted(wanted - current)]
            )

    # -- helpers ------------------------------------------------------------------------------

    def _load(
        self, conn: Connection, obj: ObjectDef, ident: int, *, include_deleted: bool = False
    ) -> Record:
        record = self.reader.get(conn, obj.name, ident, include_deleted=include_deleted)
        if record is None:
            raise NotFound(obj.name, ident)
        for f in obj.fields.values():
            if f.kind == MANY_TO_MANY:
                record[f.name] = self.reader.m2m_links(conn, obj.name, f.name, [ident])[ident]
        return record

    def _emit_rolled(
        self, conn: Connection, rolled: list[tuple[str, int, dict[str, Any]]], actor: Actor
    ) -> None:
        """A child's change moved a roll-up of its parent: audit it and let rules react."""
        for object_name, ident, changes in rolled:
            parent = self.model[object_name]
            record = self.reader.get(conn, object_name, ident)
            if record is not None:
                self._emit(
                    "updated",
                    parent,
                    record,
                    record,
                    changes,
                    Actor(actor.user_id, f"{actor.name} (roll-up)", "system"),
                    conn,
                )

    def _emit(
        self,
        kind: str,
        obj: ObjectDef,
        record: Record,
        before: Record | None,
        changes: Mapping[str, tuple[Any, Any]],
        actor: Actor,
        conn: Connection,
    ) -> None:
        event = RecordEvent(kind, obj.name, record, before, changes, actor, conn)
        for listener in self._listeners:
            listener(event)


def _writes(conn: Connection, obj: ObjectDef, ident: int) -> int:
    """How many times this transaction has updated the record so far."""
    return int(conn.info.get("ficha_writes", {}).get((obj.name, ident), 0))


def _plain(value: Any) -> Any:
    """A stored value as the validator produces it (links as ids) for comparisons."""
    if isinstance(value, LinkRef):
        return value.id
    if isinstance(value, list) and value and isinstance(value[0], LinkRef):
        return sorted(v.id for v in value)
    return value
