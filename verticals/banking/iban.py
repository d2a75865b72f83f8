"""The `iban` field type the banking pack contributes: an International Bank Account
Number, checked (ISO 13616: country, length, the mod-97 check digits) and stored compact
in capitals, so `es91 2100 0418 4502 0005 1332` and `ES9121000418450200051332` are the
same account."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from modeler.fieldtypes import CoerceContext, FieldType

if TYPE_CHECKING:
    from modeler.schema import FieldDef

#: Lengths of the IBAN in the SEPA countries a Spanish bank meets most; other countries
#: are checked for shape and check digits only.
LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "CH": 21, "DE": 22, "DK": 18, "ES": 24, "FI": 18,
    "FR": 27, "GB": 22, "IE": 22, "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "SE": 24,
}  # fmt: skip
SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")


def check_digits_ok(iban: str) -> bool:
    """ISO 7064 mod 97-10: move the first four characters to the end, letters → 10..35,
    and the number must leave 1 when divided by 97."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def make_iban(country: str, bban: str) -> str:
    """The IBAN of a national account number (BBAN): the check digits computed."""
    moved = bban + country + "00"
    digits = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    return f"{country}{digits:02d}{bban}"


def normalize_iban(value: str) -> str:
    iban = re.sub(r"[\s-]", "", value).upper()
    if iban.startswith("IBAN"):
        iban = iban[4:]
    if not SHAPE.fullmatch(iban):
        raise ValueError(
            f"'{value}' is not an IBAN (two letters, two check digits, then 11 to 30 "
            "letters and digits)"
        )
    expected = LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        raise ValueError(f"an IBAN of {iban[:2]} has {expected} characters, not {len(iban)}")
    if not check_digits_ok(iban):
        raise ValueError(f"the check digits of '{value}' do not match: a character is mistyped")
    return iban


def _coerce(f: FieldDef, value: Any, ctx: CoerceContext) -> str:
    return normalize_iban(str(value))


IBAN = FieldType(
    "iban",
    "An International Bank Account Number, checked (country length, mod-97 check digits) "
    "and stored compact in capitals.",
    sql_type=lambda f: sa.String(34),
    coerce=_coerce,
    widget="string",
    textual=True,
    source="banking",
)
