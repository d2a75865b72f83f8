"""Personal data: consent before a send, a person's data export, and erasure.

Consent lives in the `consent` object (address, channel, purpose, opt-in/opt-out; the
latest entry counts). Fields marked `personal: true` are what an export gathers and what
an erasure blanks; numbers, dates of business events and links stay, so reports and
aggregates keep adding up, and the erasure itself is audited.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from framework.errors import NotFound
from framework.records import Actor, RecordService, utcnow
from modeler.fieldtypes import HAS_MANY, MANY_TO_MANY
from storage.queries import LinkRef
from storage.tables import column_name

ERASED = "[erased]"
#: purposes for which silence is not enough: the person must have said yes
NEEDS_OPT_IN = frozenset({"marketing", "profiling"})


def consent_allows(
    records: RecordService, conn: Connection, address: str, channel: str, purpose: str
) -> bool:
    """May we contact `address` through `channel` for `purpose`? The latest consent entry
    decides; with none, only purposes that do not need an opt-in are allowed."""
    table = records.storage.table("consent")
    latest = conn.execute(
        sa.select(table.c.status)
        .where(
            sa.func.lower(table.c.address) == address.strip().lower(),
            table.c.channel == channel,
            table.c.purpose == purpose,
            table.c.deleted_at.is_(None),
        )
        .order_by(table.c.given_at.desc(), table.c.id.desc())
        .limit(1)
    ).scalar()
    if latest is None:
        return purpose not in NEEDS_OPT_IN
    return bool(latest == "opt_in")


def _plain(value: Any) -> Any:
    if isinstance(value, LinkRef):
        return {"id": value.id, "title": value.title}
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def export_person(records: RecordService, object_name: str, ident: int) -> dict[str, Any]:
    """Everything Ficha holds about one person: the record, the records that belong to
    it, its links, the consents of its addresses, and the history of its changes."""
    from framework.audit import AuditTrail

    model = records.model
    obj = model[object_name]
    with records.storage.read() as conn:
        record = records.reader.get(conn, object_name, ident)
        if record is None:
            raise NotFound(object_name, ident)
        result: dict[str, Any] = {
            "object": object_name,
            "exported_at": utcnow().isoformat(),
            "record": {k: _plain(v) for k, v in record.items()},
            "related": {},
            "consents": [],
        }
        for f in obj.fields.values():
            if f.kind == HAS_MANY:
                target = model[f.target or ""]
                table = records.storage.table(target.name)
                via = target.fields[f.via or ""]
                rows = records.reader.list(
                    conn, target.name, limit=0, where=[table.c[column_name(via)] == ident]
                )
                result["related"][f.name] = [{k: _plain(v) for k, v in r.items()} for r in rows]
            elif f.kind == MANY_TO_MANY:
                links = records.reader.m2m_links(conn, object_name, f.name, [ident])[ident]
                result["related"][f.name] = [_plain(link) for link in links]
        addresses = _addresses(record, obj.fields)
        if addresses:
            consent = records.storage.table("consent")
            rows = records.reader.list(
                conn,
                "consent",
                limit=0,
                where=[sa.func.lower(consent.c.address).in_([a.lower() for a in addresses])],
            )
            result["consents"] = [{k: _plain(v) for k, v in r.items()} for r in rows]
        history = AuditTrail(records.storage).history(conn, object_name, ident, limit=10_000)
        result["history"] = [
            {
                "at": h.at.isoformat(),
                "action": h.action,
                "by": h.actor_name,
                "channel": h.channel,
                "changes": h.changes,
            }
            for h in history
        ]
    return result


def export_json(records: RecordService, object_name: str, ident: int) -> str:
    return json.dumps(
        export_person(records, object_name, ident), ensure_ascii=False, indent=2, default=str
    )


def _addresses(record: Mapping[str, Any], fields: Mapping[str, Any]) -> list[str]:
    return [
        str(record[f.name])
        for f in fields.values()
        if f.type in ("email", "phone") and record.get(f.name)
    ]


def erase_person(records: RecordService, object_name: str, ident: int, actor: Actor) -> list[str]:
    """Blank the personal fields of a person's record and of the records that belong to
    it; scrub the old values of those fields from its history. Returns what was blanked.
    One transaction: all of it happens, or none."""
    model = records.model
    obj = model[object_name]
    erased: list[str] = []
    with records.storage.write() as conn:
        record = records.reader.get(conn, object_name, ident)
        if record is None:
            raise NotFound(object_name, ident)
        erased += _erase_record(records, conn, object_name, ident)
        for f in obj.fields.values():
            if f.kind != HAS_MANY:
                continue
            target = model[f.target or ""]
            if not any(t.personal for t in target.fields.values()):
                continue
            table = records.storage.table(target.name)
            via = target.fields[f.via or ""]
            children = (
                conn.execute(sa.select(table.c.id).where(table.c[column_name(via)] == ident))
                .scalars()
                .all()
            )
            for child in children:
                erased += [
                    f"{target.name}#{child}.{n}"
                    for n in _erase_record(records, conn, target.name, int(child))
                ]
        records_audit = records.storage.tables.system["audit"]
        conn.execute(
            records_audit.insert().values(
                at=utcnow(),
                object=object_name,
                record_id=ident,
                action="erased",
                actor_id=actor.user_id,
                actor_name=actor.name,
                channel=actor.channel,
                version=None,
                changes={"fields": [None, sorted(erased)]},
            )
        )
    return erased


def _erase_record(
    records: RecordService, conn: Connection, object_name: str, ident: int
) -> list[str]:
    obj = records.model[object_name]
    personal = [f for f in obj.fields.values() if f.personal and f.kind in ("column", "link")]
    if not personal:
        return []
    table = records.storage.table(object_name)
    values: dict[str, Any] = {}
    for f in personal:
        col = column_name(f)
        if f.type in ("string", "text", "autonumber"):
            # a required name keeps a placeholder, so the record still shows in lists
            values[col] = ERASED if f.required else None
        else:
            values[col] = None
    # Written directly, not through validation: an erasure must succeed even where the
    # blanked value breaks a rule (a required email), and it fires no business rule.
    conn.execute(
        table.update()
        .where(table.c.id == ident)
        .values(**values, updated_at=utcnow(), version=table.c.version + 1)
    )
    _scrub_history(records, conn, object_name, ident, {f.name for f in personal})
    return sorted(f.name for f in personal)


def _scrub_history(
    records: RecordService, conn: Connection, object_name: str, ident: int, names: set[str]
) -> None:
    audit = records.storage.tables.system["audit"]
    rows = conn.execute(
        sa.select(audit.c.id, audit.c.changes).where(
            audit.c.object == object_name, audit.c.record_id == ident
        )
    ).all()
    for row in rows:
        changes = dict(row.changes or {})
        touched = False
        for name in names & set(changes):
            changes[name] = [ERASED, ERASED]
            touched = True
        if touched:
            conn.execute(audit.update().where(audit.c.id == row.id).values(changes=changes))
