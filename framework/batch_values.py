"""How the batch path reads raw values (spreadsheet cells, JSON values) into checked
values: per field, worked out once per object, with the coercion, the constraints and
the messages of the single-record path (RecordService._validate and
_constraint_error), shortcuts for plain cells, and a column of cells at a time for rows
that name the same fields (an import's rows do).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from modeler.fieldtypes import BOOLEAN_WORDS, COLUMN, HAS_MANY, MANY_TO_MANY
from modeler.schema import FieldDef


@dataclass
class FieldPlan:
    """One field's coercion and constraints, with its bounds coerced once (the same
    checks, and messages, as RecordService._constraint_error)."""

    field: FieldDef
    coerce: Any
    skip: bool = False
    fixed: bool = False
    checked: bool = False
    max_length: int | None = None
    long_string: bool = False
    pattern: re.Pattern[str] | None = None
    low: Any = None
    high: Any = None
    #: the common case done quickly (a plain number or code in a text cell): the value,
    #: or None to go the type's full way (which also explains what is wrong)
    fast: Any = None
    #: raw → checked value (None for a blank), or ValueError saying what is wrong: the
    #: steps above made into one function, for a field that is neither skipped nor fixed
    convert: Any = None
    #: a column of raw values → (values, refusals by position): `convert` for each, the
    #: plain cells a comprehension at a time
    column: Any = None
    #: `fast` over a column: a value for each cell, or None where the shortcut says
    #: nothing (then the full coercion must)
    many: Any = None

    @classmethod
    def of(cls, f: FieldDef, model: Any, ctx: Any) -> FieldPlan:
        ftype = model.field_types.get(f.type)
        plan = cls(f, ftype.coerce)
        plan.skip = f.kind == HAS_MANY
        plan.fixed = f.type == "autonumber" or f.read_only
        if f.kind == MANY_TO_MANY:  # blank means no links: never reaches the fast path
            plan.coerce = lambda field, raw, c: (
                [] if raw in (None, "") else ftype.coerce(field, raw, c)
            )
        plan.max_length = f.max_length
        plan.long_string = f.type == "string" and f.max_length is None
        plan.pattern = re.compile(f.pattern) if f.pattern else None
        if ftype.comparable and ftype.coerce is not None:
            plan.low = None if f.min is None else ftype.coerce(f, f.min, ctx)
            plan.high = None if f.max is None else ftype.coerce(f, f.max, ctx)
        if ftype.coerce is not None:
            plan.fast, plan.many = shortcuts(f)
        plan.checked = bool(
            plan.max_length is not None
            or plan.long_string
            or plan.pattern is not None
            or plan.low is not None
            or plan.high is not None
        )
        if not (plan.skip or plan.fixed):
            plan.convert = converter(plan, ctx)
            plan.column = column_reader(plan)
        return plan

    def error(self, value: Any) -> str | None:
        f = self.field
        if self.max_length is not None and isinstance(value, str) and len(value) > self.max_length:
            return f"is longer than {self.max_length} characters ({len(value)})"
        if self.long_string and len(value) > 255:
            return f"is longer than 255 characters ({len(value)}); use a text field for more"
        if (
            self.pattern is not None
            and isinstance(value, str)
            and not self.pattern.fullmatch(value)
        ):
            return f"does not have the expected form ({f.pattern})"
        if self.low is not None and value < self.low:
            return f"must be at least {f.min}"
        if self.high is not None and value > self.high:
            return f"must be at most {f.max}"
        return None


_PLAIN_NUMBER = re.compile(r"-?\d{1,15}(\.\d{1,15})?")
#: the most digits a plain number has before the point once rounded (999…9.995 → 1000…0.00)
_PLAIN_DIGITS = 16


def shortcuts(f: FieldDef) -> tuple[Any, Any]:
    """(fast, many): a shortcut giving exactly what the field type's coercion gives for
    the text inputs it accepts, and None for every other input (a blank one too); and
    the same over a column of raw values (None where a value is not text)."""
    if f.kind != COLUMN:
        return None, None
    if f.type in ("decimal", "money", "percent"):
        scale = f.scale if f.scale is not None else {"money": 2}.get(f.type, 4)
        quantum = Decimal(1).scaleb(-scale)
        precision = f.precision or 18
        match = _PLAIN_NUMBER.fullmatch

        def number(raw: str) -> Any:
            if not match(raw):
                return None
            value = Decimal(raw).quantize(quantum, rounding=ROUND_HALF_UP)
            return value if len(value.as_tuple().digits) <= precision else None

        if _PLAIN_DIGITS + scale > precision:
            return number, _each(number)
        # as many decimals as the field keeps: the number as written is the rounded one
        exact = re.compile(rf"-?\d{{1,15}}\.\d{{{scale}}}" if scale else r"-?\d{1,15}").fullmatch

        def short_number(raw: str) -> Any:  # too few digits to pass the precision
            if exact(raw):
                return Decimal(raw)
            if not match(raw):
                return None
            return Decimal(raw).quantize(quantum, rounding=ROUND_HALF_UP)

        return short_number, lambda raws: [
            Decimal(r) if type(r) is str and exact(r) else None for r in raws
        ]  # a number written otherwise goes to short_number through convert
    if f.type == "integer":
        return (
            lambda raw: int(raw) if raw.isascii() and raw.isdigit() else None,
            lambda raws: [
                int(r) if type(r) is str and r.isascii() and r.isdigit() else None for r in raws
            ],
        )
    if f.type == "choice":
        codes = frozenset(c for c in f.choice_codes if c.strip())
        folded: dict[str, str] = {}
        for choice in f.values:  # the first choice whose label or code matches wins
            for text in (choice.label.lower(), choice.code.lower()):
                if text.strip():  # a blank cell is no choice, whatever the choices are
                    folded.setdefault(text, choice.code)
        return (
            lambda raw: raw if raw in codes else folded.get(raw.lower()),
            lambda raws: [
                (r if r in codes else folded.get(r.lower())) if type(r) is str else None
                for r in raws
            ],
        )
    if f.type == "boolean":
        words = BOOLEAN_WORDS  # as written, in lower, upper or title case
        spelled = {v: words[w] for w in words for v in (w, w.upper(), w.title()) if v.lower() == w}
        return spelled.get, lambda raws: [spelled.get(r) if type(r) is str else None for r in raws]
    if f.type == "date":
        iso = dt.date.fromisoformat  # the type's first try too, on the stripped text

        def day(raw: str) -> Any:
            try:
                return iso(raw)
            except ValueError:
                return None

        return day, _each(day)
    if f.type in ("string", "text"):
        return (
            lambda raw: raw if raw and raw == raw.strip() and "\r" not in raw else None,
            lambda raws: [
                r if type(r) is str and r and r == r.strip() and "\r" not in r else None
                for r in raws
            ],
        )
    return None, None


def _each(fast: Callable[[str], Any]) -> Callable[[Sequence[Any]], list[Any]]:
    return lambda raws: [fast(r) if type(r) is str else None for r in raws]


def converter(plan: FieldPlan, ctx: Any) -> Callable[[Any], Any]:
    """The field's raw → value, as one function made once per object: a blank is None,
    the shortcut is tried first, then the type's coercion, then the constraints, each
    refusal a ValueError with the message a single write gives."""
    f = plan.field
    coerce = plan.coerce
    fast = plan.fast
    if coerce is None:

        def parse(raw: Any) -> Any:
            return None if raw is None or (type(raw) is str and not raw.strip()) else raw

        return parse  # kept as given, unchecked, as a single write keeps it
    if fast is None:

        def parse(raw: Any) -> Any:
            if raw is None or (type(raw) is str and not raw.strip()):
                return None
            return coerce(f, raw, ctx)
    else:

        def parse(raw: Any) -> Any:
            if type(raw) is str:
                value = fast(raw)  # never a value for a blank
                if value is not None:
                    return value
                if not raw.strip():
                    return None
            elif raw is None:
                return None
            return coerce(f, raw, ctx)

    if not plan.checked:
        return parse
    low, high = plan.low, plan.high
    if plan.pattern is None and plan.max_length is None and not plan.long_string:

        def bounded(raw: Any) -> Any:  # a number or a date
            value = parse(raw)
            if value is not None:
                if low is not None and value < low:
                    raise ValueError(f"must be at least {f.min}")
                if high is not None and value > high:
                    raise ValueError(f"must be at most {f.max}")
            return value

        return bounded
    if plan.pattern is None and low is None and high is None:
        longest = plan.max_length if plan.max_length is not None else 255
        too_long = (
            "is longer than {0} characters ({1})"
            if plan.max_length is not None
            else "is longer than {0} characters ({1}); use a text field for more"
        )

        def short(raw: Any) -> Any:  # a string
            value = parse(raw)
            if isinstance(value, str) and len(value) > longest:
                raise ValueError(too_long.format(longest, len(value)))
            return value

        return short

    def checked(raw: Any) -> Any:
        value = parse(raw)
        if value is not None:
            message = plan.error(value)
            if message:
                raise ValueError(message)
        return value

    return checked


#: a column of raw values → the values, and the refusal of each refused one by position
ColumnReader = Callable[[Sequence[Any]], tuple[list[Any], dict[int, str]]]


def column_reader(plan: FieldPlan) -> ColumnReader:
    """`convert` over a column: the shortcut for every cell in one comprehension, the
    constraints in another, and `convert` itself only for the cells these leave (blank,
    unusual or refused ones), so every value and message is `convert`'s."""
    convert = plan.convert
    many = plan.many
    odd = _odd(plan)

    def read(raws: Sequence[Any]) -> tuple[list[Any], dict[int, str]]:
        values = many(raws) if many is not None else [None] * len(raws)
        refused: dict[int, str] = {}
        for i in odd(values) if odd is not None else range(len(raws)):
            try:
                values[i] = convert(raws[i])
            except ValueError as exc:
                refused[i] = str(exc)
        return values, refused

    return read


def _odd(plan: FieldPlan) -> Callable[[list[Any]], list[int]] | None:
    """The positions of a column `many` read that `convert` must read again: the
    cells it left, and the values a constraint refuses (for the message). None when
    every cell must go through `convert`."""
    if not plan.checked:
        return lambda values: [i for i, v in enumerate(values) if v is None]
    low, high = plan.low, plan.high
    if plan.pattern is None and plan.max_length is None and not plan.long_string:
        if high is None:
            return lambda values: [i for i, v in enumerate(values) if v is None or v < low]
        if low is None:
            return lambda values: [i for i, v in enumerate(values) if v is None or v > high]
        return lambda values: [i for i, v in enumerate(values) if v is None or v < low or v > high]
    if plan.pattern is None and low is None and high is None:
        longest = plan.max_length if plan.max_length is not None else 255
        return lambda values: [i for i, v in enumerate(values) if v is None or len(v) > longest]
    return None
