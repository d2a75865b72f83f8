"""The model as JSON: a record as the API returns it, each field type as a JSON Schema
(OpenAPI 3.1), and the checks a JSON value gets before the records service sees it
(what a database driver would refuse rather than explain: NUL characters, numbers
beyond 64 bits, dates past year 9999).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping
from typing import Any

from modeler.fieldtypes import COLUMN, HAS_MANY, LINK, MANY_TO_MANY, CoerceContext
from modeler.schema import FieldDef, Model, ObjectDef
from storage.queries import LinkRef, Record

INT64 = 2**63 - 1
SYSTEM_OUT = ("id", "version", "created_at", "updated_at")

# -- records → JSON --------------------------------------------------------------------------


def value_json(value: Any) -> Any:
    if isinstance(value, LinkRef):
        return {"id": value.id, "title": value.title}
    if isinstance(value, list):
        return [value_json(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def record_json(
    obj: ObjectDef,
    record: Mapping[str, Any],
    fields: list[str],
    expanded: Mapping[str, Mapping[int, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {name: value_json(record.get(name)) for name in SYSTEM_OUT}
    for name in fields:
        value = record.get(name)
        if expanded and name in expanded and isinstance(value, LinkRef):
            out[name] = expanded[name].get(value.id) or value_json(value)
        else:
            out[name] = value_json(value)
    return out


def readable_fields(obj: ObjectDef, hidden: frozenset[str]) -> list[str]:
    return [
        f.name
        for f in obj.fields.values()
        if f.kind in (COLUMN, LINK, MANY_TO_MANY) and f.name not in hidden
    ]


# -- JSON Schema per field type --------------------------------------------------------------

_STRINGS = {"string", "text", "email", "phone", "url", "autonumber"}


def field_schema(f: FieldDef, *, output: bool) -> dict[str, Any]:
    """The JSON Schema of one field (nullable unless the API never sends null)."""
    t = f.type
    if f.kind == LINK:
        if output:
            return {
                "type": ["object", "null"],
                "description": f"The linked {f.target}: id and title (the whole record "
                "when expanded)",
                "properties": {"id": {"type": "integer"}, "title": {"type": "string"}},
                "required": ["id"],
            }
        return {"type": ["integer", "null"], "minimum": 1, "maximum": INT64}
    if f.kind == MANY_TO_MANY:
        if output:
            return {"type": "array", "items": {"type": "object", "required": ["id"]}}
        return {
            "type": ["array", "null"],
            "items": {"type": "integer", "minimum": 1, "maximum": INT64},
        }
    schema: dict[str, Any]
    if t in _STRINGS:
        schema = {"type": "string"}
        if not output and f.max_length:
            schema["maxLength"] = f.max_length
        if t == "email":
            schema["format"] = "email"
    elif t == "choice":
        schema = {"type": "string", "enum": list(f.choice_codes)}
    elif t == "multichoice":
        schema = {"type": "array", "items": {"type": "string", "enum": list(f.choice_codes)}}
    elif t == "integer":
        schema = {"type": "integer", "minimum": -INT64, "maximum": INT64}
    elif t in ("decimal", "money", "percent"):
        schema = (
            {"type": "string", "description": "A decimal number, as text to keep its digits"}
            if output
            else {"type": ["number", "string"]}
        )
    elif t == "boolean":
        schema = {"type": "boolean"}
    elif t == "date":
        schema = {"type": "string", "format": "date"}
    elif t == "datetime":
        schema = {"type": "string", "format": "date-time"}
    elif t == "file":
        schema = {"type": "object"}
    elif t == "json":
        return {"description": "Any JSON value"}
    else:  # a plugin's type: whatever it stores
        return {"description": f"A {t} value"}
    if f.help:
        schema["description"] = f.help
    nullable = dict(schema)
    nullable["type"] = (
        [schema["type"], "null"]
        if isinstance(schema["type"], str)
        else [
            *schema["type"],
            "null",
        ]
    )
    if "enum" in nullable:
        nullable["enum"] = [*nullable["enum"], None]
    return nullable


def writable(obj: ObjectDef, f: FieldDef) -> bool:
    return (
        f.kind in (COLUMN, LINK, MANY_TO_MANY)
        and f.type != "autonumber"
        and not f.read_only
        and f.formula is None
    )


# -- checks before the records service ------------------------------------------------------


class BadValue(ValueError):
    pass


def reject_constant(name: str) -> Any:
    raise BadValue(f"{name} is not a number JSON allows")


def check_text(value: Any, where: str = "") -> None:
    """No NUL characters nor lone surrogates anywhere (no database stores them)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BadValue("contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadValue("is not valid Unicode text") from None
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise BadValue("is not a finite number")
    elif isinstance(value, Mapping):
        for k, v in value.items():
            check_text(k, where)
            check_text(v, where)
    elif isinstance(value, list | tuple):
        for v in value:
            check_text(v, where)


def precheck(
    model: Model, obj: ObjectDef, values: Mapping[str, Any], ctx: CoerceContext
) -> dict[str, str]:
    """Field → why, for values a database would refuse with an error of its own."""
    errors: dict[str, str] = {}
    for name, raw in values.items():
        try:
            check_text(raw)
        except BadValue as exc:
            errors[name] = str(exc)
            continue
        f = obj.fields.get(name)
        if f is None or f.kind == HAS_MANY or raw is None:
            continue
        ftype = model.field_types.get(f.type)
        if ftype.coerce is None:
            continue
        try:
            value = ftype.coerce(f, raw, ctx)
        except ValueError:
            continue  # the records service explains it in its own words
        except (ArithmeticError, OverflowError, TypeError):
            errors[name] = f"'{_short(raw)}' is out of range for a {f.type}"
            continue
        if not _in_range(value, f):
            errors[name] = f"'{_short(raw)}' is out of range for a {f.type}"
    return errors


def _in_range(value: Any, f: FieldDef) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -INT64 <= value <= INT64
    if isinstance(value, list):
        return all(_in_range(v, f) for v in value)
    if isinstance(value, decimal.Decimal):
        precision = f.precision or 18
        scale = f.scale if f.scale is not None else (2 if f.type == "money" else 4)
        return value.is_finite() and (value == 0 or value.adjusted() < precision - scale)
    if isinstance(value, dt.datetime | dt.date):
        return 1 <= value.year <= 9999
    return True


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "…"


def as_record(obj: ObjectDef, record: Record) -> Record:
    return record
