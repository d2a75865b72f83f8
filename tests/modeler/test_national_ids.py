"""National ids are read as typed and refused, with the reason, when the check letter or
digit is wrong."""

from __future__ import annotations

import pytest

from modeler.fieldtypes import DEFAULT_REGISTRY, CoerceContext
from modeler.national_ids import spanish_dni
from modeler.schema import FieldDef


def read(value: str, country: str = "ES") -> str:
    ftype = DEFAULT_REGISTRY.get("national_id")
    assert ftype.coerce is not None
    f = FieldDef(name="nid", type="national_id", label="Nid")
    return str(ftype.coerce(f, value, CoerceContext(phone_region=country)))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("12345678Z", "12345678Z"),
        ("12.345.678-z", "12345678Z"),
        ("x1234567l", "X1234567L"),  # NIE
        ("Y 1234567 X", "Y1234567X"),
        ("B12345674", "B12345674"),  # company NIF, digit control
        ("Q2826000H", "Q2826000H"),  # a public body: letter control
        ("K1234567L", "K1234567L"),
    ],
)
def test_spanish_ids_are_read_as_typed(typed: str, stored: str) -> None:
    assert read(typed) == stored


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("12345678A", "the letter should be Z"),
        ("X1234567A", "the letter should be L"),
        ("B12345675", "the last character should be 4$"),
        ("C12345675", "the last character should be 4 or D"),
        ("Q2826000A", "the last character should be H"),
        ("1234", "expected 8 digits and a letter"),
    ],
)
def test_wrong_spanish_ids_say_why(typed: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        read(typed)


def test_other_countries_are_tidied_only() -> None:
    assert read("ab 123-456 c", "GB") == "AB123456C"
    with pytest.raises(ValueError, match="not an identity number"):
        read("a!", "GB")


def test_demo_dnis_are_valid() -> None:
    assert read(spanish_dni(7)) == "00000007" + "TRWAGMYFPDXBNJZSQVHLCKE"[7]
