"""National identity and tax numbers: read as people type them, checked where the country
has a check letter or digit.

Spain (the default locale) has one, so a mistyped DNI is refused before it can hide a
customer from the identification search: DNI (12345678Z), NIE (X1234567L), the NIF of
companies and other bodies (B12345674, formerly CIF) and the K/L/M numbers. For other
countries the number is only tidied (capitals, no spaces, dots or dashes).
"""

from __future__ import annotations

import re

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_NIE_PREFIX = {"X": "0", "Y": "1", "Z": "2"}
_CIF_LETTERS = "JABCDEFGHI"
#: company/body NIFs whose control character is always a letter, or always a digit
_CONTROL_LETTER = set("NPQRSW")
_CONTROL_DIGIT = set("ABEH")


def tidy(text: str) -> str:
    """Capitals, without the spaces, dots, dashes and slashes people type in ids."""
    return re.sub(r"[\s.\-/]", "", text).upper()


def normalize_national_id(text: str, country: str = "ES") -> str:
    """The id in its canonical form; ValueError with the reason when it cannot be one."""
    value = tidy(str(text))
    if not value:
        raise ValueError("is empty")
    if country.upper() == "ES":
        problem = spanish_problem(value)
        if problem:
            raise ValueError(f"'{text}' is not a valid DNI, NIE or NIF: {problem}")
        return value
    if not re.fullmatch(r"[A-Z0-9]{4,20}", value):
        raise ValueError(f"'{text}' is not an identity number (4 to 20 letters and digits)")
    return value


def spanish_problem(value: str) -> str | None:
    """Why a tidied Spanish id is wrong, or None when its check character fits."""
    if re.fullmatch(r"\d{8}[A-Z]", value):
        expected = _DNI_LETTERS[int(value[:8]) % 23]
        return None if value[8] == expected else f"the letter should be {expected}"
    if re.fullmatch(r"[XYZ]\d{7}[A-Z]", value):
        expected = _DNI_LETTERS[int(_NIE_PREFIX[value[0]] + value[1:8]) % 23]
        return None if value[8] == expected else f"the letter should be {expected}"
    if re.fullmatch(r"[KLM]\d{7}[A-Z]", value):
        expected = _DNI_LETTERS[int(value[1:8]) % 23]
        return None if value[8] == expected else f"the letter should be {expected}"
    if re.fullmatch(r"[ABCDEFGHJNPQRSUVW]\d{7}[0-9A-J]", value):
        digit = _company_control(value[1:8])
        letter = _CIF_LETTERS[digit]
        control = value[8]
        if value[0] in _CONTROL_LETTER:
            allowed = {letter}
        elif value[0] in _CONTROL_DIGIT:
            allowed = {str(digit)}
        else:
            allowed = {letter, str(digit)}
        if control in allowed:
            return None
        return f"the last character should be {' or '.join(sorted(allowed))}"
    return (
        "expected 8 digits and a letter (DNI), X/Y/Z, 7 digits and a letter (NIE) "
        "or a letter and 8 characters (NIF)"
    )


def _company_control(digits: str) -> int:
    """The check digit of a company NIF's seven digits (the former CIF rule)."""
    total = 0
    for i, ch in enumerate(digits):
        n = int(ch)
        if i % 2 == 0:  # odd positions, counting from 1, are doubled and their digits added
            n *= 2
            n = n // 10 + n % 10
        total += n
    return (10 - total % 10) % 10


def spanish_dni(number: int) -> str:
    """A valid DNI for an 8-digit number (demo data, tests)."""
    return f"{number:08d}{_DNI_LETTERS[number % 23]}"


def spanish_company_nif(number: int, letter: str = "B") -> str:
    """A valid company NIF for a 7-digit number (demo data, tests)."""
    digits = f"{number % 10_000_000:07d}"
    return f"{letter}{digits}{_company_control(digits)}"
