"""How "Who is this customer?" reads what was typed, before looking it up: each kind of
identifier as it is stored."""

from __future__ import annotations

from app_builder.pages.identify import readings


def test_a_typed_text_is_read_as_each_kind_of_identifier_stores_it() -> None:
    assert readings(" 600 12 34 56 ", "ES")["phone"] == {"+34600123456"}
    assert readings("Rosa.Ruiz@Example.com", "ES")["email"] == {"rosa.ruiz@example.com"}
    assert readings("12345678-z", "ES")["national_id"] == {"12345678Z"}
    # a card or a customer number as printed, and as it is kept (no separators)
    assert readings("4000 0001-2345", "ES")["code"] == {"4000 0001-2345", "400000012345"}
    assert readings("7590-vhveg", "ES")["code"] == {"7590-VHVEG", "7590VHVEG"}
    assert readings("VHVEG", "ES")["code"] == {"VHVEG"}


def test_words_without_a_digit_are_a_name_not_a_code() -> None:
    found = readings("Alba Marín Pascual", "ES")
    assert found == {"phone": set(), "email": set(), "national_id": set(), "code": set()}
