"""Type conversions of stored values: which changes Ficha knows how to convert, the SQL
that converts them on each database, and which rows would not convert.

Conversions run in SQL (`UPDATE … SET new = CASE WHEN <converts> THEN <value> END`),
batched by id range, never loading a table into Python. Only what SQL cannot do the
same way on the three databases (phone and email normalisation, splitting a text into
several choices, plugin types) is converted in Python, streamed in batches.

A value "does not convert" when it is not empty and neither the SQL nor the admin's
`convert: {map: …}` gives it a value; the plan counts them and shows examples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from modeler.fieldtypes import DEFAULT_REGISTRY, CoerceContext
from modeler.schema import ChoiceValue, FieldDef

TEXTUAL = frozenset({"string", "text", "email", "phone", "url", "choice", "autonumber"})
NUMERIC = frozenset({"decimal", "money", "percent"})
DEFAULT_SCALE = {"money": 2, "percent": 4, "decimal": 4}
EXAMPLES = 5


@dataclass(frozen=True)
class Classified:
    how: str | None  # None: refused (see why)
    why: str | None = None


def classify(old: Mapping[str, Any], new: Mapping[str, Any]) -> Classified:
    """How values of a field of type old["type"] become values of new["type"]."""
    ot, nt = old.get("type"), new["type"]
    okind, nkind = old.get("kind", "column"), new.get("kind", "column")
    if "has_many" in (okind, nkind):
        return Classified(
            None,
            "a has_many field keeps no values of its own: remove the field in one migration "
            "and add the new one in the next",
        )
    if nkind == "many_to_many":
        if okind == "link":
            return Classified("pairs")
        return Classified(None, f"a {ot} field cannot become a many_to_many")
    if okind == "many_to_many":
        if nkind == "link":
            return Classified("single_pair")
        return Classified(None, f"a many_to_many cannot become a {nt} field")
    if nkind == "link":
        if okind == "link":
            return Classified("relink")
        if ot in TEXTUAL:
            return Classified("match")
        return Classified(None, f"a {ot} field cannot become a link")
    if okind == "link":
        if nt in ("string", "text"):
            return Classified("title")
        return Classified(None, f"a link cannot become a {nt} field")
    if nt in ("string", "text"):
        return Classified("text")
    if nt == "integer" and (ot in TEXTUAL or ot in NUMERIC):
        return Classified("integer")
    if nt in NUMERIC and (ot in TEXTUAL or ot in NUMERIC or ot == "integer"):
        return Classified("decimal")
    if nt == "date" and (ot in TEXTUAL or ot == "datetime"):
        return Classified("date")
    if nt == "choice" and (ot in TEXTUAL or ot == "multichoice"):
        return Classified("choice")
    if nt == "multichoice" and ot == "choice":
        return Classified("multichoice")
    if nt in ("file", "autonumber", "has_many") or ot in ("file", "json", "multichoice"):
        return Classified(None, f"Ficha cannot convert a {ot} field to {nt}")
    if nt in DEFAULT_REGISTRY and DEFAULT_REGISTRY.get(nt).coerce is not None:
        return Classified("python")
    return Classified(None, f"Ficha cannot convert a {ot} field to {nt}")


# -- SQL per database ----------------------------------------------------------------------


def _exact(backend: str, expr: Any) -> Any:
    # MariaDB compares text ignoring case and accents under its default collation; a
    # conversion must see 'Lead' and 'lead' as different, as Python and the others do.
    return expr.collate("utf8mb4_bin") if backend == "mariadb" else expr


def _trim(c: Any) -> Any:
    return sa.func.trim(c)


def _length(backend: str, expr: Any) -> Any:
    return sa.func.length(expr) if backend == "sqlite" else sa.func.char_length(expr)


def _as_text(backend: str, c: Any, source: str) -> Any:
    """The value as text, the same way on every database (dates as YYYY-MM-DD)."""
    if source in TEXTUAL or source == "text":
        return c
    if source == "date":
        if backend == "postgresql":
            return sa.func.to_char(c, "YYYY-MM-DD")
        if backend == "mariadb":
            return sa.func.date_format(c, "%Y-%m-%d")
        return c
    if source == "datetime":
        if backend == "postgresql":
            return sa.func.to_char(c, "YYYY-MM-DD HH24:MI:SS")
        if backend == "mariadb":
            return sa.func.date_format(c, "%Y-%m-%d %H:%i:%s")
        return sa.func.substr(c, 1, 19)
    if source == "boolean":
        return sa.case((c.is_(None), None), (c == sa.true(), "true"), else_="false")
    if backend == "mariadb":
        return sa.cast(c, sa.CHAR)
    return sa.cast(c, sa.Text if backend == "postgresql" else sa.String)


def _integer(backend: str, expr: Any) -> Any:
    return sa.cast(expr, sa.BigInteger if backend != "sqlite" else sa.Integer)


def _numeric(backend: str, expr: Any, precision: int, scale: int) -> Any:
    if backend == "sqlite":  # NUMERIC affinity: keep it a number, rounded to the scale
        return sa.func.round(sa.cast(expr, sa.Float), scale)
    return sa.cast(expr, sa.Numeric(precision, scale))


def _blank(c: Any, source: str) -> Any:
    if source in TEXTUAL:
        return sa.or_(c.is_(None), _trim(c) == "")
    return c.is_(None)


@dataclass(frozen=True)
class SqlConversion:
    """For one column: which rows are empty, which convert, and to what."""

    blank: Any
    ok: Any
    value: Any


def sql_conversion(
    backend: str, how: str, c: Any, params: Mapping[str, Any], ident: Any
) -> SqlConversion:
    source = params["source"]
    blank = _blank(c, source)
    t = _trim(c) if source in TEXTUAL else c
    if how == "text":
        text = c if source in TEXTUAL else _as_text(backend, c, source)
        limit = params.get("max_length")
        ok = _length(backend, text) <= limit if limit else sa.true()
        # Text keeps its exact value (spaces included); only NULL is empty.
        return SqlConversion(c.is_(None), ok, text)
    if how == "integer":
        if source in NUMERIC:
            return SqlConversion(
                blank, sa.and_(c == sa.func.floor(c), sa.func.abs(c) < 10**18), _integer(backend, c)
            )
        return SqlConversion(blank, t.regexp_match("^[+-]?[0-9]{1,18}$"), _integer(backend, t))
    if how == "decimal":
        precision, scale = params["precision"], params["scale"]
        whole = precision - scale
        if source in NUMERIC or source == "integer":
            ok = sa.func.abs(c) < 10**whole
            if source in NUMERIC:
                ok = sa.and_(ok, sa.func.round(c, scale) == c)  # no decimals are cut off
            return SqlConversion(blank, ok, _numeric(backend, c, precision, scale))
        pattern = (
            f"^[+-]?[0-9]{{1,{whole}}}([.,][0-9]{{1,{scale}}})?$"
            if scale
            else (f"^[+-]?[0-9]{{1,{whole}}}$")
        )
        value = _numeric(backend, sa.func.replace(t, ",", "."), precision, scale)
        return SqlConversion(blank, t.regexp_match(pattern), value)
    if how == "date":
        return _date(backend, c, t, source, blank)
    if how == "choice":
        if source == "multichoice":
            first, count = _json_first(backend, c), _json_length(backend, c)
            value = _choice_case(backend, first, params)
            ok = sa.or_(count == 0, sa.and_(count == 1, value.is_not(None)))
            return SqlConversion(c.is_(None), ok, sa.case((count == 0, None), else_=value))
        value = _choice_case(backend, t, params)
        return SqlConversion(blank, value.is_not(None), value)
    if how == "multichoice":
        ok = _exact(backend, c).in_(list(params["codes"]))
        return SqlConversion(blank, ok, _json_array(backend, c))
    if how == "match":
        target = sa.table(
            params["target"], sa.column("id"), sa.column(params["match"]), sa.column("deleted_at")
        )
        where = sa.and_(
            _exact(backend, target.c[params["match"]]) == _exact(backend, t),
            target.c.deleted_at.is_(None),
        )
        return _lookup(blank, target, where)
    if how == "relink":
        old = sa.table(params["old_target"], sa.column("id"), sa.column(params["match"]))
        new = sa.table(
            params["target"], sa.column("id"), sa.column(params["match"]), sa.column("deleted_at")
        )
        lookup = sa.select(old.c[params["match"]]).where(old.c.id == c).correlate_except(old)
        key = lookup.scalar_subquery()
        where = sa.and_(
            _exact(backend, new.c[params["match"]]) == _exact(backend, key),
            new.c.deleted_at.is_(None),
        )
        return _lookup(blank, new, where)
    if how == "title":
        old = sa.table(params["old_target"], sa.column("id"), sa.column(params["match"]))
        text = _as_text(backend, old.c[params["match"]], params.get("match_type", "string"))
        value = sa.select(text).where(old.c.id == c).correlate_except(old).scalar_subquery()
        limit = params.get("max_length")
        ok = _length(backend, value) <= limit if limit else sa.true()
        return SqlConversion(blank, sa.and_(value.is_not(None), ok), value)
    if how == "single_pair":
        link = sa.table(params["link_table"], sa.column(params["this"]), sa.column(params["other"]))
        pairs = (
            sa.select(sa.func.count())
            .where(link.c[params["this"]] == ident)
            .correlate_except(link)
            .scalar_subquery()
        )
        value = (
            sa.select(sa.func.min(link.c[params["other"]]))
            .where(link.c[params["this"]] == ident)
            .correlate_except(link)
            .scalar_subquery()
        )
        return SqlConversion(pairs == 0, pairs == 1, value)
    raise ValueError(f"no SQL conversion '{how}'")


def _lookup(blank: Any, target: Any, where: Any) -> SqlConversion:
    count = sa.select(sa.func.count()).select_from(target).where(where)
    matches = count.correlate_except(target).scalar_subquery()
    first = sa.select(sa.func.min(target.c.id)).where(where).correlate_except(target)
    value = first.scalar_subquery()
    return SqlConversion(blank, matches == 1, value)  # none or several: does not convert


def _choice_case(backend: str, text: Any, params: Mapping[str, Any]) -> Any:
    """The code a text names: the code itself, or its label, ignoring case (as a form or
    a spreadsheet import reads it)."""
    whens = []
    lowered = _exact(backend, sa.func.lower(text))
    for code in params["codes"]:
        whens.append((_exact(backend, text) == code, code))
    for code in params["codes"]:
        label = str(params["labels"].get(code, code))
        whens.append((lowered.in_(sorted({code.lower(), label.lower()})), code))
    return sa.case(*whens, else_=None)


def _json_array(backend: str, c: Any) -> Any:
    if backend == "postgresql":
        return sa.func.jsonb_build_array(c)
    return sa.func.json_array(c)


def _json_first(backend: str, c: Any) -> Any:
    if backend == "postgresql":
        return c.op("->>")(0)
    if backend == "mariadb":
        return sa.func.json_unquote(sa.func.json_extract(c, "$[0]"))
    return sa.func.json_extract(c, "$[0]")


def _json_length(backend: str, c: Any) -> Any:
    if backend == "postgresql":
        return sa.func.jsonb_array_length(c)
    if backend == "mariadb":
        return sa.func.json_length(c)
    return sa.func.json_array_length(c)


def _date(backend: str, c: Any, t: Any, source: str, blank: Any) -> SqlConversion:
    if source == "datetime":
        converted: Any = sa.func.date(c) if backend == "sqlite" else sa.cast(c, sa.Date)
        return SqlConversion(blank, sa.true(), converted)
    iso = t.regexp_match("^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    day_first = t.regexp_match("^[0-9]{2}[/.-][0-9]{2}[/.-][0-9]{4}$")
    sub = sa.func.substr
    # Day-first dates (31/12/2024, as typed in Spain) are rearranged to YYYY-MM-DD.
    rearranged = sub(t, 7, 4).concat("-").concat(sub(t, 4, 2)).concat("-").concat(sub(t, 1, 2))
    text = sa.case((iso, t), (day_first, rearranged), else_=None)
    y, m, d = (
        _integer(backend, sub(text, start, size)) for start, size in ((1, 4), (6, 2), (9, 2))
    )
    leap = sa.or_(sa.and_(y % 4 == 0, y % 100 != 0), y % 400 == 0)
    days = sa.case(
        (m == 2, sa.case((leap, 29), else_=28)),
        (m.in_([4, 6, 9, 11]), 30),
        else_=31,
    )
    ok = sa.and_(text.is_not(None), y >= 1, m.between(1, 12), d >= 1, d <= days)
    value: Any = text if backend == "sqlite" else sa.cast(text, sa.Date)
    return SqlConversion(blank, ok, value)


# -- conversions in Python -----------------------------------------------------------------


def python_converter(
    target_type: str, params: Mapping[str, Any], phone_region: str = "ES"
) -> Callable[[Any], Any]:
    """A function old value → new value (ValueError when it does not convert), using the
    new field type's own coercion, exactly as a form would read the value."""
    ftype = DEFAULT_REGISTRY.get(target_type)
    assert ftype.coerce is not None
    probe = FieldDef(
        name="value",
        type=target_type,
        label="value",
        values=tuple(
            ChoiceValue(code, str(params.get("labels", {}).get(code, code)))
            for code in params.get("codes", ())
        ),
        max_length=params.get("max_length"),
        precision=params.get("precision"),
        scale=params.get("scale"),
    )
    ctx = CoerceContext(phone_region=phone_region)
    coerce = ftype.coerce

    def convert(value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return coerce(probe, value, ctx)

    return convert


def new_value(target_type: str, params: Mapping[str, Any], raw: Any) -> Any:
    """A value the admin wrote (a `convert: map` or a `backfill:`), as the new type
    stores it. `=today()` and `=now()` are read when the migration runs."""
    if raw is None:
        return None
    if raw == "=today()":
        return dt.date.today()
    if raw == "=now()":
        return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    if target_type in ("link", "many_to_many"):
        return int(raw)
    return python_converter(target_type, params)(raw)


def describe_examples(rows: Sequence[tuple[Any, Any]]) -> str:
    return ", ".join(f"{_show(value)} (id {ident})" for ident, value in rows)


def _show(value: Any) -> str:
    text = str(value)
    if len(text) > 40:
        text = text[:37] + "…"
    return f"'{text}'"


# -- shared by the plan (before) and the run (after filling the new column) -----------------


def mapping_key(backend: str, c: Any, source: str) -> Any:
    """The old value as the text a `convert: map` key is compared with."""
    text = _trim(c) if source in TEXTUAL else _as_text(backend, c, source)
    return _exact(backend, text)


def failing(
    backend: str,
    how: str,
    t: Any,
    column: str,
    params: Mapping[str, Any],
    mapping_keys: Sequence[str] = (),
    filled: str | None = None,
) -> Any:
    """WHERE clause of the rows whose value does not convert: judged by the conversion's
    own test before the run, or by an empty new column (`filled`) after it."""
    c = t.c[column]
    if how == "pairs":
        return sa.false()
    if how == "single_pair":
        link = sa.table(params["link_table"], sa.column(params["this"]))
        pairs = (
            sa.select(sa.func.count())
            .where(link.c[params["this"]] == t.c.id)
            .correlate_except(link)
        )
        if filled is not None:
            return sa.and_(t.c[filled].is_(None), pairs.scalar_subquery() > 0)
        return pairs.scalar_subquery() > 1
    source = params["source"]
    if how == "python":
        blank = _blank(c, source)
        ok = None
    else:
        conv = sql_conversion(backend, how, c, params, t.c.id)
        blank, ok = conv.blank, conv.ok
    clause = sa.not_(blank)
    if filled is not None:
        clause = sa.and_(clause, t.c[filled].is_(None))
    elif ok is not None:
        clause = sa.and_(clause, sa.not_(ok))
    if mapping_keys:
        clause = sa.and_(clause, sa.not_(mapping_key(backend, c, source).in_(list(mapping_keys))))
    return clause


def column_type(type_name: str, params: Mapping[str, Any]) -> sa.types.TypeEngine[Any]:
    """The column type a field of `type_name` gets (as storage/tables.py builds it)."""
    if type_name in ("link", "many_to_many"):
        return sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    ftype = DEFAULT_REGISTRY.get(type_name)
    assert ftype.sql_type is not None
    probe = FieldDef(
        name="value",
        type=type_name,
        label="value",
        max_length=params.get("max_length"),
        precision=params.get("precision"),
        scale=params.get("scale"),
    )
    return ftype.sql_type(probe)
