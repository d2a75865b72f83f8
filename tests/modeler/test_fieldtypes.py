"""Field types read values the way people type them, and refuse the rest with a reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from modeler.fieldtypes import DEFAULT_REGISTRY, CoerceContext, FieldType, FieldTypeRegistry
from modeler.schema import ChoiceValue, FieldDef

CTX = CoerceContext(phone_region="ES")


def coerce(type_name: str, value: Any, **field: Any) -> Any:
    f = FieldDef(name="f", type=type_name, label="F", **field)
    ftype = DEFAULT_REGISTRY.get(type_name)
    assert ftype.coerce is not None
    return ftype.coerce(f, value, CTX)


CHOICES = (ChoiceValue("smb", "Small business"), ChoiceValue("ent", "Enterprise"))


@pytest.mark.parametrize(
    ("type_name", "raw", "expected", "extra"),
    [
        ("string", "  Ana  ", "Ana", {}),
        ("integer", "1,000,000", 1_000_000, {}),
        ("integer", 7.0, 7, {}),
        ("decimal", "12,5", Decimal("12.5000"), {}),
        ("money", "1,234.5", Decimal("1234.50"), {}),
        ("percent", "21%", Decimal("21.0000"), {}),
        ("boolean", "sí", True, {}),
        ("boolean", "no", False, {}),
        ("date", "2024-02-29", dt.date(2024, 2, 29), {}),
        ("date", "29/02/2024", dt.date(2024, 2, 29), {}),
        ("datetime", "2024-03-01T10:00:00+01:00", dt.datetime(2024, 3, 1, 9, 0), {}),
        ("email", "Ana.Lopez@Example.COM", "ana.lopez@example.com", {}),
        ("phone", "600 12 34 56", "+34600123456", {}),
        ("phone", "+44 20 7946 0958", "+442079460958", {}),
        ("url", "example.com/x", "https://example.com/x", {}),
        ("choice", "Enterprise", "ent", {"values": CHOICES}),
        ("multichoice", "smb, ent, smb", ["smb", "ent"], {"values": CHOICES}),
        ("link", "42", 42, {"target": "customer"}),
        ("json", '{"a": [1, 2]}', {"a": [1, 2]}, {}),
    ],
)
def test_values_are_read_as_typed(
    type_name: str, raw: Any, expected: Any, extra: dict[str, Any]
) -> None:
    assert coerce(type_name, raw, **extra) == expected


@pytest.mark.parametrize(
    ("type_name", "raw", "message", "extra"),
    [
        ("integer", "12.5", "'12.5' is not a whole number", {}),
        ("integer", True, "expected a whole number", {}),
        ("decimal", "abc", "'abc' is not a number", {}),
        ("decimal", "NaN", "is not a finite number", {}),
        ("boolean", "perhaps", "is not yes/no", {}),
        ("date", "2024-02-30", "is not a date", {}),
        ("email", "ana@", "is not a valid email address", {}),
        ("phone", "12", "not a possible phone number", {}),
        ("url", "ftp://x", "is not a web address", {}),
        ("choice", "gold", "'gold' is not one of: smb, ent", {"values": CHOICES}),
        ("link", "abc", "is not the id of a customer record", {"target": "customer"}),
        ("json", "{oops", "not valid JSON", {}),
    ],
)
def test_bad_values_are_refused_with_a_reason(
    type_name: str, raw: Any, message: str, extra: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=message):
        coerce(type_name, raw, **extra)


def test_a_plugin_type_cannot_take_a_built_in_name() -> None:
    with pytest.raises(ValueError, match="field type 'email' from acme is already declared"):
        FieldTypeRegistry.build([FieldType("email", "mine", source="acme")])


def test_every_type_documents_itself() -> None:
    for ftype in DEFAULT_REGISTRY.types.values():
        assert ftype.description.endswith(".")
        assert ftype.kind in ("column", "link", "has_many", "many_to_many")
        if ftype.has_column:
            assert ftype.sql_type is not None
