"""Value transforms a mapping may apply to a cell before it reaches the records service
(which then coerces and checks it like any other input)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

_SPACES = re.compile(r"\s+")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "strip": lambda v: v.strip() if isinstance(v, str) else v,
    "lower": lambda v: v.lower() if isinstance(v, str) else v,
    "upper": lambda v: v.upper() if isinstance(v, str) else v,
    "title": lambda v: v.title() if isinstance(v, str) else v,
    "collapse_spaces": lambda v: _SPACES.sub(" ", v).strip() if isinstance(v, str) else v,
    "digits": lambda v: re.sub(r"\D", "", _text(v)),
    "yes_no": lambda v: {"yes": True, "no": False}.get(_text(v).strip().lower(), v),
    "decimal_comma": lambda v: (
        _text(v).replace(".", "").replace(",", ".") if isinstance(v, str) else v
    ),
}


def parse_date(value: Any, fmt: str) -> Any:
    """A cell in a declared date format (the records service reads ISO dates itself)."""
    if isinstance(value, dt.date) or value is None or value == "":
        return value
    try:
        parsed = dt.datetime.strptime(str(value).strip(), fmt)
    except ValueError:
        raise ValueError(f"'{value}' is not a date in the form {fmt}") from None
    return parsed.date() if "%H" not in fmt else parsed
