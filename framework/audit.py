"""The audit trail: every change to a record — who, when, through which channel, and
each field's old → new value — written in the same transaction as the change."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from framework.records import RecordEvent, utcnow
from storage.bulk import Serialized, insert_rows
from storage.manager import StorageManager


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "id") and hasattr(value, "title"):
        return value.id
    return value


def _default(value: Any) -> Any:
    """What json cannot write itself, as `_jsonable` writes it."""
    found = _jsonable(value)
    if found is value:
        raise TypeError(f"cannot store {type(value).__name__} in the audit trail")
    return found


#: the values of a record's fields that json does not write itself, by exact type
_TEXT: dict[type, Any] = {
    decimal.Decimal: str,
    dt.date: dt.date.isoformat,
    dt.datetime: dt.datetime.isoformat,
}


def _default_quickly(value: Any) -> Any:
    """`_default`, the common types first."""
    text = _TEXT.get(type(value))
    return text(value) if text is not None else _default(value)


def _encoder() -> Any:
    """The changes of a batch's events as JSON text: (old, new) pairs become [old, new].

    JSONEncoder.encode builds its C encoder anew on each call, which costs more than
    encoding one record's changes; this one is built once, with the same settings (so
    the same text), and is encode itself where the C accelerator is missing."""
    encode = json.JSONEncoder(default=_default_quickly, separators=(", ", ": ")).encode
    try:
        from json.encoder import (  # type: ignore[attr-defined]
            c_make_encoder,
            encode_basestring_ascii,
        )
    except ImportError:  # pragma: no cover - CPython always has it
        return encode
    if c_make_encoder is None:  # pragma: no cover
        return encode
    # markers=None: no cycle check, as the changes of a record have no cycles
    iterencode = c_make_encoder(
        None, _default_quickly, encode_basestring_ascii, None, ": ", ", ", False, False, True
    )

    def dumps(changes: Any) -> str:
        return "".join(iterencode(changes, 0))

    return dumps


dumps = _encoder()


@dataclass(frozen=True)
class Entry:
    id: int
    at: dt.datetime
    object: str
    record_id: int | None
    action: str
    actor_name: str
    channel: str
    version: int | None
    changes: Mapping[str, tuple[Any, Any]]


class AuditTrail:
    """Subscribe `record` to the records service; read with `history`."""

    def __init__(self, storage: StorageManager) -> None:
        self.storage = storage
        self.table = storage.tables.system["audit"]
        self._insert = self.table.insert()  # built once; each entry goes as parameters

    def record(self, event: RecordEvent) -> None:
        changes = {k: [_jsonable(old), _jsonable(new)] for k, (old, new) in event.changes.items()}
        event.conn.execute(self._insert, _entry(event, utcnow(), changes or None))

    def record_many(self, events: Sequence[RecordEvent]) -> None:
        """The entries of a batch write, in one statement (same rows as `record`)."""
        if not events:
            return
        actor = events[0].actor
        same: dict[str, Any] = {"at": utcnow()}
        if all(event.actor is actor for event in events):  # a batch's: one writer
            same.update(actor_id=actor.user_id, actor_name=actor.name, channel=actor.channel)
            rows = [
                {
                    "object": event.object,
                    "record_id": event.record.get("id"),
                    "action": event.kind,
                    "version": event.record.get("version"),
                    "changes": Serialized(dumps(event.changes)) if event.changes else None,
                }
                for event in events
            ]
        else:
            rows = [
                _entry(
                    event, same["at"], Serialized(dumps(event.changes)) if event.changes else None
                )
                for event in events
            ]
            for row in rows:
                del row["at"]
        insert_rows(events[0].conn, self.table, rows, same=same)

    def log(
        self,
        conn: sa.Connection,
        action: str,
        actor: Any,
        *,
        object_name: str = "",
        record_id: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Something other than a record change: a login, an export, a role change."""
        conn.execute(
            self.table.insert().values(
                at=utcnow(),
                object=object_name or "-",
                record_id=record_id,
                action=action,
                actor_id=getattr(actor, "user_id", None),
                actor_name=getattr(actor, "name", "system"),
                channel=getattr(actor, "channel", "system"),
                version=None,
                changes={k: [None, _jsonable(v)] for k, v in (details or {}).items()} or None,
            )
        )

    def history(
        self,
        conn: sa.Connection,
        object_name: str,
        record_id: int,
        *,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[Entry]:
        t = self.table
        stmt = (
            sa.select(t)
            .where(t.c.object == object_name, t.c.record_id == record_id)
            .order_by(t.c.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            stmt = stmt.where(t.c.id < before_id)
        return [
            Entry(
                r.id,
                r.at,
                r.object,
                r.record_id,
                r.action,
                r.actor_name,
                r.channel,
                r.version,
                {k: tuple(v) for k, v in (r.changes or {}).items()},
            )
            for r in conn.execute(stmt)
        ]

    def changes_since(
        self, conn: sa.Connection, object_name: str, record_id: int, version: int
    ) -> dict[str, Any]:
        """Fields changed after `version` (to tell a user what happened meanwhile)."""
        t = self.table
        rows = conn.execute(
            sa.select(t.c.changes, t.c.actor_name)
            .where(t.c.object == object_name, t.c.record_id == record_id, t.c.version > version)
            .order_by(t.c.id)
        ).all()
        changed: dict[str, Any] = {}
        for row in rows:
            for name, (_old, new) in (row.changes or {}).items():
                changed[name] = (new, row.actor_name)
        return changed


def _entry(event: RecordEvent, at: Any, changes: Any) -> dict[str, Any]:
    """One audit row for a record event."""
    return {
        "at": at,
        "object": event.object,
        "record_id": event.record.get("id"),
        "action": event.kind,
        "actor_id": event.actor.user_id,
        "actor_name": event.actor.name,
        "channel": event.actor.channel,
        "version": event.record.get("version"),
        "changes": changes,
    }
