"""The field types: for each, its Python value, its column type, its widget and how raw
input (a form string, a JSON value, a spreadsheet cell) becomes a checked value.

This is the only module that knows what a field type means. Plugins add types through the
`ficha_field_types` hook; the registry they land in is built once at start and handed to
the model (no global mutable registry).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa

if TYPE_CHECKING:
    from modeler.schema import FieldDef

#: How a field is kept: in a column of its object's table, as a foreign key column,
#: as the reverse side of another object's link (no column), or in a link table.
COLUMN, LINK, HAS_MANY, MANY_TO_MANY = "column", "link", "has_many", "many_to_many"


@dataclass(frozen=True, slots=True)
class CoerceContext:
    """What coercion may need to know about the installation (not about the record)."""

    phone_region: str = "ES"
    today: Callable[[], dt.date] = dt.date.today


Coercer = Callable[["FieldDef", Any, CoerceContext], Any]


@dataclass(frozen=True, slots=True)
class FieldType:
    name: str
    description: str
    kind: str = COLUMN
    python_type: type | None = str
    sql_type: Callable[[FieldDef], sa.types.TypeEngine[Any]] | None = None
    coerce: Coercer | None = None
    widget: str = "string"
    #: keys this type accepts in YAML on top of the common ones
    options: frozenset[str] = frozenset()
    textual: bool = False  # can be full-text searched
    orderable: bool = True
    comparable: bool = False  # min/max apply
    #: the pack or plugin that declared the type (shown by `ficha plugins`)
    source: str = "ficha"

    @property
    def has_column(self) -> bool:
        return self.kind in (COLUMN, LINK)


# -- coercion helpers ------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _coerce_string(f: FieldDef, value: Any, ctx: CoerceContext) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError("expected text, got a structured value")
    return str(value).strip()


def _coerce_text(f: FieldDef, value: Any, ctx: CoerceContext) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError("expected text, got a structured value")
    return str(value).replace("\r\n", "\n").strip()


def _coerce_integer(f: FieldDef, value: Any, ctx: CoerceContext) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number, got true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        if value != int(value):
            raise ValueError(f"{value} is not a whole number")
        return int(value)
    text = str(value).strip().replace("_", "")
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+", text):  # 1,000,000 from a spreadsheet
        text = text.replace(",", "")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"'{value}' is not a whole number") from None


def _number_text(value: Any) -> str:
    text = str(value).strip().replace("_", "").replace(" ", "")
    if "," in text and "." not in text and re.fullmatch(r"[+-]?\d+,\d+", text):
        text = text.replace(",", ".")  # a decimal comma, as typed in Spain
    elif re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    return text.rstrip("%") if text.endswith("%") else text


def _coerce_decimal(f: FieldDef, value: Any, ctx: CoerceContext) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("expected a number, got true/false")
    try:
        number = (
            Decimal(str(value)) if isinstance(value, int | float) else Decimal(_number_text(value))
        )
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a number") from None
    if not number.is_finite():
        raise ValueError(f"'{value}' is not a finite number")
    scale = f.scale if f.scale is not None else _DEFAULT_SCALE.get(f.type, 4)
    precision = f.precision or 18
    quantum = Decimal(1).scaleb(-scale)
    number = number.quantize(quantum, rounding=ROUND_HALF_UP)  # 0.125 → 0.13, as by hand
    if len(number.as_tuple().digits) > precision:
        raise ValueError(f"{value} has more than {precision} digits")
    return number


_DEFAULT_SCALE = {"money": 2, "percent": 4, "decimal": 4}

_TRUE = {"1", "true", "t", "yes", "y", "on", "si", "sí", "s", "x"}
_FALSE = {"0", "false", "f", "no", "n", "off", ""}
#: the words a boolean field reads (in lower case), each to its value; a blank is none
BOOLEAN_WORDS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE - {""}, False)}


def _coerce_boolean(f: FieldDef, value: Any, ctx: CoerceContext) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"'{value}' is not yes/no (use true or false)")


def _coerce_date(f: FieldDef, value: Any, ctx: CoerceContext) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for parse in (dt.date.fromisoformat, _day_first_date):
        try:
            return parse(text)
        except ValueError:
            continue
    raise ValueError(f"'{value}' is not a date (use YYYY-MM-DD)")


def _day_first_date(text: str) -> dt.date:
    match = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
    if not match:
        raise ValueError(text)
    day, month, year = (int(g) for g in match.groups())
    return dt.date(year, month, day)


def _coerce_datetime(f: FieldDef, value: Any, ctx: CoerceContext) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip().replace("Z", "+00:00")
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"'{value}' is not a date and time (use YYYY-MM-DD HH:MM)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    # Stored naive in UTC so that the three databases compare them the same way.
    return moment.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)


def _coerce_email(f: FieldDef, value: Any, ctx: CoerceContext) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        info = validate_email(str(value).strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"'{value}' is not a valid email address: {exc}") from None
    return str(info.normalized).lower()


def _coerce_phone(f: FieldDef, value: Any, ctx: CoerceContext) -> str:
    return normalize_phone(str(value), ctx.phone_region)


def normalize_phone(text: str, region: str) -> str:
    """A phone number in E.164 (+34600123456), whatever way it was typed."""
    import phonenumbers

    try:
        number = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"'{text}' is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"'{text}' is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _coerce_national_id(f: FieldDef, value: Any, ctx: CoerceContext) -> str:
    from modeler.national_ids import normalize_national_id

    return normalize_national_id(str(value), ctx.phone_region)


# A host name or an IP address: letters, digits, dots, hyphens (IPv6 in brackets is unwrapped).
_HOST = re.compile(r"[\w.-]+|[0-9a-f:]+", re.IGNORECASE)


def _coerce_url(f: FieldDef, value: Any, ctx: CoerceContext) -> str:
    text = str(value).strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number ("javascript:alert(1)")
    except ValueError:
        parts = parts._replace(netloc="")
    host = parts.hostname or ""
    if (
        parts.scheme.lower() not in ("http", "https")
        or not _HOST.fullmatch(host)
        or any(c.isspace() or ord(c) < 32 for c in text)
    ):
        raise ValueError(f"'{value}' is not a web address (http:// or https://)")
    return text


def _coerce_choice(f: FieldDef, value: Any, ctx: CoerceContext) -> str:
    text = str(value).strip()
    codes = f.choice_codes
    if text in codes:
        return text
    for choice in f.values:  # a spreadsheet holds labels, not codes
        if text.lower() in (choice.label.lower(), choice.code.lower()):
            return choice.code
    raise ValueError(f"'{value}' is not one of: {', '.join(codes)}")


def _coerce_multichoice(f: FieldDef, value: Any, ctx: CoerceContext) -> list[str]:
    if isinstance(value, str):
        items: Iterable[Any] = [part for part in re.split(r"[,;|]", value) if part.strip()]
    elif isinstance(value, Iterable):
        items = value
    else:
        items = [value]
    result: list[str] = []
    for item in items:
        code = _coerce_choice(f, item, ctx)
        if code not in result:
            result.append(code)
    return result


def _coerce_link(f: FieldDef, value: Any, ctx: CoerceContext) -> int:
    if isinstance(value, Mapping):
        value = value.get("id")
    elif hasattr(value, "id"):
        value = value.id
    try:
        ident = _coerce_integer(f, value, ctx)
    except ValueError:
        raise ValueError(f"'{value}' is not the id of a {f.target} record") from None
    if ident <= 0:
        raise ValueError(f"'{value}' is not the id of a {f.target} record")
    return ident


def _coerce_many(f: FieldDef, value: Any, ctx: CoerceContext) -> list[int]:
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, Iterable):
        value = [value]
    return sorted({_coerce_link(f, item, ctx) for item in value})


def _coerce_json(f: FieldDef, value: Any, ctx: CoerceContext) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg} at character {exc.pos}") from None
    try:
        json.dumps(value)
    except TypeError:
        raise ValueError("this value cannot be stored as JSON") from None
    return value


FILE_KEYS = ("filename", "content_type", "size", "storage", "key", "uploaded_at")


def _coerce_file(f: FieldDef, value: Any, ctx: CoerceContext) -> dict[str, Any]:
    """The metadata of a stored upload (the bytes live in the project's file storage)."""
    if not isinstance(value, Mapping) or not {"filename", "key"} <= set(value):
        raise ValueError("expected an uploaded file")
    return {
        k: str(value[k]) if k == "uploaded_at" else value[k]
        for k in FILE_KEYS
        if value.get(k) is not None
    }


def _coerce_autonumber(f: FieldDef, value: Any, ctx: CoerceContext) -> str:
    return str(value).strip()


# -- the built-in types ------------------------------------------------------------------

_NUMERIC = frozenset({"precision", "scale"})


def _string_type(f: FieldDef) -> sa.types.TypeEngine[Any]:
    return sa.String(f.max_length or 255)


def _decimal_type(f: FieldDef) -> sa.types.TypeEngine[Any]:
    scale = f.scale if f.scale is not None else _DEFAULT_SCALE.get(f.type, 4)
    return sa.Numeric(f.precision or 18, scale, asdecimal=True)


def _json_type(f: FieldDef) -> sa.types.TypeEngine[Any]:
    from sqlalchemy.dialects import postgresql

    # None is stored as SQL NULL (not the JSON text 'null'), so "is null" means one thing.
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _fixed(length: int) -> Callable[[FieldDef], sa.types.TypeEngine[Any]]:
    return lambda f: sa.String(length)


BUILTIN_TYPES: tuple[FieldType, ...] = (
    FieldType(
        "string",
        "One line of text (up to max_length, default 255).",
        sql_type=_string_type,
        coerce=_coerce_string,
        textual=True,
    ),
    FieldType(
        "text",
        "Several lines of free text.",
        sql_type=lambda f: sa.Text(),
        coerce=_coerce_text,
        widget="text",
        textual=True,
        orderable=False,
    ),
    FieldType(
        "integer",
        "A whole number.",
        python_type=int,
        sql_type=lambda f: sa.BigInteger(),
        coerce=_coerce_integer,
        widget="integer",
        comparable=True,
    ),
    FieldType(
        "decimal",
        "An exact number with decimals (precision, scale).",
        python_type=Decimal,
        sql_type=_decimal_type,
        coerce=_coerce_decimal,
        widget="decimal",
        options=_NUMERIC,
        comparable=True,
    ),
    FieldType(
        "money",
        "An amount of money (2 decimals; `currency:` EUR by default).",
        python_type=Decimal,
        sql_type=_decimal_type,
        coerce=_coerce_decimal,
        widget="money",
        options=_NUMERIC | {"currency"},
        comparable=True,
    ),
    FieldType(
        "percent",
        "A percentage, stored as the number shown (12.5 means 12.5%).",
        python_type=Decimal,
        sql_type=_decimal_type,
        coerce=_coerce_decimal,
        widget="percent",
        options=_NUMERIC,
        comparable=True,
    ),
    FieldType(
        "boolean",
        "Yes or no.",
        python_type=bool,
        sql_type=lambda f: sa.Boolean(),
        coerce=_coerce_boolean,
        widget="boolean",
    ),
    FieldType(
        "date",
        "A calendar day.",
        python_type=dt.date,
        sql_type=lambda f: sa.Date(),
        coerce=_coerce_date,
        widget="date",
        comparable=True,
    ),
    FieldType(
        "datetime",
        "A moment in time (kept in UTC).",
        python_type=dt.datetime,
        sql_type=lambda f: sa.DateTime(),
        coerce=_coerce_datetime,
        widget="datetime",
        comparable=True,
    ),
    FieldType(
        "email",
        "An email address, checked and normalised.",
        sql_type=_fixed(254),
        coerce=_coerce_email,
        widget="email",
        textual=True,
    ),
    FieldType(
        "phone",
        "A phone number, stored in international form (+34…).",
        sql_type=_fixed(32),
        coerce=_coerce_phone,
        widget="phone",
        textual=True,
    ),
    FieldType(
        "national_id",
        "A national identity or tax number (DNI, NIE, NIF in Spain), checked for the "
        "country of the locale.",
        sql_type=_fixed(20),
        coerce=_coerce_national_id,
        widget="string",
    ),
    FieldType("url", "A web address.", sql_type=_fixed(500), coerce=_coerce_url, widget="url"),
    FieldType(
        "choice",
        "One value from a fixed list (`values:` code: label).",
        sql_type=_fixed(64),
        coerce=_coerce_choice,
        widget="choice",
        options=frozenset({"values"}),
    ),
    FieldType(
        "multichoice",
        "Several values from a fixed list.",
        python_type=list,
        sql_type=_json_type,
        coerce=_coerce_multichoice,
        widget="multichoice",
        options=frozenset({"values"}),
        orderable=False,
    ),
    FieldType(
        "link",
        "A reference to one record of another object (many-to-one).",
        kind=LINK,
        python_type=int,
        sql_type=lambda f: sa.Integer(),
        coerce=_coerce_link,
        widget="link",
        options=frozenset({"object", "on_delete"}),
    ),
    FieldType(
        "has_many",
        "The records of another object that link to this one.",
        kind=HAS_MANY,
        python_type=list,
        coerce=None,
        widget="has_many",
        options=frozenset({"object", "via"}),
        orderable=False,
    ),
    FieldType(
        "many_to_many",
        "Links to many records of another object, both ways; "
        "`fields:` adds attributes to each link (a contact's role).",
        kind=MANY_TO_MANY,
        python_type=list,
        coerce=_coerce_many,
        widget="many_to_many",
        options=frozenset({"object", "fields", "via"}),
        orderable=False,
    ),
    FieldType(
        "json",
        "Any structured value (JSON).",
        python_type=dict,
        sql_type=_json_type,
        coerce=_coerce_json,
        widget="json",
        orderable=False,
    ),
    FieldType(
        "file",
        "An uploaded file.",
        python_type=dict,
        sql_type=_json_type,
        coerce=_coerce_file,
        widget="file",
        orderable=False,
        options=frozenset({"accept", "max_size"}),
    ),
    FieldType(
        "autonumber",
        "A number given by Ficha on creation, from `format:` such as CASE-{YYYY}-{00000}.",
        sql_type=_fixed(64),
        coerce=_coerce_autonumber,
        widget="autonumber",
        options=frozenset({"format"}),
    ),
)


@dataclass(frozen=True)
class FieldTypeRegistry:
    """Name → FieldType, frozen once the plugins have contributed theirs."""

    types: Mapping[str, FieldType] = field(default_factory=dict)

    @classmethod
    def build(cls, extra: Iterable[FieldType] = ()) -> FieldTypeRegistry:
        types: dict[str, FieldType] = {t.name: t for t in BUILTIN_TYPES}
        for t in extra:
            if t.name in types:
                raise ValueError(
                    f"field type '{t.name}' from {t.source} is already declared by "
                    f"{types[t.name].source}"
                )
            types[t.name] = t
        return cls(types)

    def get(self, name: str) -> FieldType:
        return self.types[name]

    def __contains__(self, name: object) -> bool:
        return name in self.types

    def names(self) -> list[str]:
        return sorted(self.types)


DEFAULT_REGISTRY = FieldTypeRegistry.build()
