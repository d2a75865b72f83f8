"""Writes of wrapped objects: the records service's checks (permissions, types,
constraints, the object's validations and conditions, evaluated on the record), then
the change sent to the legacy system, then the event (audit, webhooks, plugins) in a
Ficha transaction.

The legacy write and Ficha's own bookkeeping cannot share one transaction: the legacy
write goes first, so a refused change leaves nothing behind anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from framework.errors import NotFound, PermissionDenied, ValidationFailed
from modeler.schema import ObjectDef
from storage.sources import LegacyRefused, RecordSource

if TYPE_CHECKING:
    from framework.records import Actor, RecordService
    from storage.queries import Record

SYSTEM_KEYS = (
    "id",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "deleted_at",
)


class WrappedWriter:
    def __init__(self, records: RecordService, obj: ObjectDef) -> None:
        self.records = records
        self.obj = obj
        self.storage = records.storage
        self.source: RecordSource = records.storage.external[obj.name]
        assert obj.source is not None
        self.system = getattr(self.source, "system", obj.source.kind)

    def _writable(self) -> None:
        assert self.obj.source is not None
        if self.obj.source.read_only:
            raise ValidationFailed(
                self.obj.name,
                {
                    "__all__": f"{self.obj.plural} are read-only here: they live in the "
                    f"legacy system {self.system}"
                },
            )

    def _permit(
        self, actor: Actor, action: str, ident: int | None, values: Mapping[str, Any]
    ) -> None:
        permissions = self.records.permissions
        if permissions is None:
            return
        with self.storage.read() as conn:
            permissions.check_write(conn, actor, self.obj.name, action, None, values)
            if ident is None:
                return
            condition = permissions.scope(permissions.who(actor), self.obj.name, action)
            if condition is None:
                return
            table = self.storage.table(self.obj.name)
            if not self.records.reader.list(
                conn, self.obj.name, where=[table.c.id == ident, condition], limit=1
            ):
                raise PermissionDenied(
                    f"this {self.obj.label.lower()} is not one your role lets you change"
                )

    def _clean(
        self, values: Mapping[str, Any], before: Record | None, actor: Actor
    ) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, raw in values.items():
            f = self.obj.fields.get(name)
            if f is None:
                if name not in SYSTEM_KEYS:
                    errors[name] = f"{self.obj.label} has no field '{name}'"
                continue
            if f.read_only:
                if before is None or before.get(name) == raw or raw is None:
                    continue
                errors[name] = "is read-only"
                continue
            try:
                value = self.records._coerce(f, raw)
            except ValueError as exc:
                errors[name] = str(exc)
                continue
            message = None if value is None else self.records._constraint_error(f, value)
            if message:
                errors[name] = message
            else:
                clean[name] = value
        if before is None:
            for f in self.obj.fields.values():
                if f.name not in clean and f.kind == "column":
                    default = self.records._default(f)
                    if default is not None:
                        clean[f.name] = default
        after = {**dict(before or {}), **clean}
        for f in self.obj.fields.values():
            missing = f.required and f.kind == "column" and after.get(f.name) in (None, "")
            if missing and (before is None or f.name in clean):
                errors.setdefault(f.name, "is required")
        enforcer = self.records.enforcer
        if not errors and enforcer is not None:  # validations, conditions: on the record
            touched = {k for k, v in clean.items() if before is None or before.get(k) != v}
            with self.storage.read() as conn:
                errors.update(enforcer.check(conn, self.obj, before, after, touched, actor))
        if errors:
            raise ValidationFailed(self.obj.name, errors)
        return {k: v for k, v in clean.items() if self.obj.fields[k].stored}

    def _refused(self, exc: LegacyRefused) -> ValidationFailed:
        return ValidationFailed(self.obj.name, {"__all__": str(exc)})

    def _emit(
        self, kind: str, record: Record, before: Record | None, changes: Any, actor: Actor
    ) -> None:
        with self.storage.write() as conn:
            self.records._emit(kind, self.obj, record, before, changes, actor, conn)

    def _load(self, ident: int) -> Record:
        with self.storage.read() as conn:
            record = self.records.reader.get(conn, self.obj.name, ident)
        if record is None:
            raise NotFound(self.obj.name, ident)
        return record

    # -- the three writes ------------------------------------------------------------------------

    def create(self, values: Mapping[str, Any], actor: Actor) -> Record:
        self._writable()
        self._permit(actor, "create", None, values)
        clean = self._clean(values, None, actor)
        try:
            ident = self.source.insert(self.obj, clean)
        except LegacyRefused as exc:
            raise self._refused(exc) from exc
        record = self._load(ident)
        self._emit("created", record, None, {k: (None, record.get(k)) for k in clean}, actor)
        return record

    def update(self, ident: int, values: Mapping[str, Any], actor: Actor) -> Record:
        self._writable()
        self._permit(actor, "update", ident, values)
        before = self._load(ident)
        clean = self._clean(values, before, actor)
        changed = {k: v for k, v in clean.items() if before.get(k) != v}
        if not changed:
            return before
        try:
            found = self.source.update(self.obj, ident, changed)
        except LegacyRefused as exc:
            raise self._refused(exc) from exc
        if not found:
            raise NotFound(self.obj.name, ident)
        record = self._load(ident)
        changes = {k: (before.get(k), record.get(k)) for k in changed}
        self._emit("updated", record, before, changes, actor)
        return record

    def delete(self, ident: int, actor: Actor) -> Record:
        self._writable()
        self._permit(actor, "delete", ident, {})
        before = self._load(ident)
        try:
            found = self.source.delete(self.obj, ident)
        except LegacyRefused as exc:
            raise self._refused(exc) from exc
        if not found:
            raise NotFound(self.obj.name, ident)
        self._emit("deleted", before, before, {}, actor)
        return before
