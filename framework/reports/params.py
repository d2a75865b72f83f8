"""Report parameters as the user types them (a form, `--param k=v`) → typed values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from framework.errors import FichaError
from framework.reports.spec import ParamDef


class BadParameter(FichaError):
    """A parameter the user gave cannot be read; the message says which and why."""


def _start_of(word: str, today: dt.date) -> dt.date | None:
    if word == "today":
        return today
    if word == "yesterday":
        return today - dt.timedelta(days=1)
    if word == "start_of_week":
        return today - dt.timedelta(days=today.weekday())
    if word == "start_of_month":
        return today.replace(day=1)
    if word == "start_of_quarter":
        return today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    if word == "start_of_year":
        return today.replace(month=1, day=1)
    return None


def parse_value(param: ParamDef, raw: str, today: dt.date | None = None) -> Any:
    """One typed value; raise BadParameter with a plain reason."""
    text = raw.strip()
    if text == "":
        return None
    today = today or dt.date.today()
    label = param.label or param.name
    try:
        if param.type == "date":
            return _start_of(text, today) or dt.date.fromisoformat(text)
        if param.type == "datetime":
            day = _start_of(text, today)
            if day is not None:
                return dt.datetime.combine(day, dt.time())
            return dt.datetime.fromisoformat(text).replace(tzinfo=None)
        if param.type == "integer":
            return int(text)
        if param.type == "number":
            return Decimal(text)
        if param.type == "boolean":
            if text.lower() in ("yes", "true", "1", "on"):
                return True
            if text.lower() in ("no", "false", "0", "off"):
                return False
            raise ValueError(text)
    except (ValueError, InvalidOperation):
        example = {
            "date": "YYYY-MM-DD, or today, start_of_month …",
            "datetime": "YYYY-MM-DD HH:MM",
            "integer": "a whole number",
            "number": "a number such as 12.5",
            "boolean": "yes or no",
        }[param.type]
        raise BadParameter(f"{label}: '{raw}' is not valid here ({example})") from None
    if param.choices and text not in param.choices:
        raise BadParameter(f"{label}: '{raw}' is not one of {', '.join(param.choices)}")
    return text


def resolve(
    params: tuple[ParamDef, ...], given: Mapping[str, str], today: dt.date | None = None
) -> dict[str, Any]:
    """Every parameter's value: what was given, else its default; unknown names and
    missing required values are refused."""
    known = {p.name for p in params}
    unknown = sorted(set(given) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise BadParameter(f"unknown parameter '{unknown[0]}' (this report's parameters: {listed})")
    values: dict[str, Any] = {}
    for param in params:
        raw = given.get(param.name)
        if raw is None:
            raw = param.default or ""
        values[param.name] = parse_value(param, raw, today)
        if values[param.name] is None and param.required:
            raise BadParameter(f"{param.label or param.name} is required")
    return values


def as_text(value: Any) -> str:
    """A typed value as the form shows it again."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
