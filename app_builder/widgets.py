"""Field type → starlette-admin field: the only place a widget is chosen for a field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette_admin import fields as sa_fields
from starlette_admin.storage import BaseStorage
from starlette_admin.types import RequestAction

from framework.expressions.evaluate import Context
from modeler.fieldtypes import COLUMN, CoerceContext, FieldTypeRegistry
from modeler.schema import FieldDef, ObjectDef
from storage.queries import LinkRef


class KeepsBadInput:
    """starlette-admin drops input it cannot parse (a number typed as "1.000,50", a date
    as "31/12/2025") and would store an empty value without a word. Ficha keeps the text
    so the records service reads it its own way or says exactly why it cannot."""

    id: str

    async def parse_form_data(self, request: Request, form_data: Any) -> Any:
        parsed = await super().parse_form_data(request, form_data)  # type: ignore[misc]
        raw = form_data.get(self.id)
        if parsed is None and isinstance(raw, str) and raw.strip():
            return raw
        return parsed


@dataclass
class IntegerInput(KeepsBadInput, sa_fields.IntegerField):
    pass


@dataclass
class DecimalInput(KeepsBadInput, sa_fields.DecimalField):
    pass


@dataclass
class DateInput(KeepsBadInput, sa_fields.DateField):
    pass


@dataclass
class DateTimeInput(KeepsBadInput, sa_fields.DateTimeField):
    pass


@dataclass
class ChoiceInput(sa_fields.EnumField):
    """A choice shown by its label; a stored code no longer declared shows as it is
    (instead of breaking the page)."""

    def _get_label(self, value: Any, request: Request) -> Any:
        if self.choices_loader is None:  # fixed choices: a dict, built once
            labels = self.__dict__.get("_labels")
            if labels is None:
                pairs: Any = self._get_choices(request)  # (code, label) pairs
                labels = self.__dict__["_labels"] = dict(pairs)
            return labels.get(value, value)
        for code, label in self._get_choices(request):
            if value == code:
                return label
        return value


@dataclass
class VersionField(sa_fields.BaseField):
    """The version an edit form was opened at, sent back with the form: a save based on
    a stale version is refused with what changed meanwhile (optimistic locking)."""

    form_template: str = "fields/form/version.html"
    label_template: str = "fields/form/version.html"
    exclude_from_list: bool | None = True
    exclude_from_detail: bool | None = True
    exclude_from_create: bool | None = True
    exclude_from_export: bool | None = True
    exclude_from_import: bool | None = True
    searchable: bool | None = False
    orderable: bool | None = False

    async def parse_form_data(self, request: Request, form_data: Any) -> Any:
        raw = form_data.get(self.id)
        return int(raw) if isinstance(raw, str) and raw.isdigit() else None


@dataclass
class LinkField(sa_fields.HasOne):
    """A link shown by its target's title (loaded by the list query's join), so no page
    ever loads or serializes the whole linked record."""

    async def serialize_value(self, request: Request, value: Any) -> Any:
        if not isinstance(value, LinkRef):
            return await super().serialize_value(request, value)
        if request.state.action.is_form() or request.state.action == RequestAction.EXPORT:
            return value.id
        return {"id": value.id, "_meta": {"repr": value.title}}


@dataclass
class ManyLinkField(sa_fields.HasMany):
    """A many_to_many shown as the titles of the linked records."""

    async def serialize_value(self, request: Request, value: Any) -> Any:
        refs = [v for v in (value or []) if isinstance(v, LinkRef)]
        if request.state.action.is_form():
            return [r.id for r in refs]
        if request.state.action == RequestAction.EXPORT:
            return ", ".join(r.title for r in refs)
        return [{"id": r.id, "_meta": {"repr": r.title}} for r in refs]


@dataclass
class RelatedListField(sa_fields.BaseField):
    """The records of a has_many on the detail page: the first few and a link to all."""

    target: str = ""
    via: str = ""
    detail_template: str = "fields/detail/related_list.html"
    list_template: str = "fields/detail/related_list.html"
    exclude_from_list: bool | None = True
    exclude_from_create: bool | None = True
    exclude_from_edit: bool | None = True
    exclude_from_export: bool | None = True
    exclude_from_import: bool | None = True
    searchable: bool | None = False
    orderable: bool | None = False

    async def serialize_value(self, request: Request, value: Any) -> Any:
        return value  # a dict prepared by the view: {"rows": [...], "total": n, ...}


def _choices(f: FieldDef) -> list[tuple[str, str]]:
    return [(v.code, v.label) for v in f.values]


Factory = Callable[[FieldDef, dict[str, Any]], sa_fields.BaseField]


def _decimal(f: FieldDef, common: dict[str, Any]) -> sa_fields.BaseField:
    return DecimalInput(f.name, **common)


def _money(f: FieldDef, common: dict[str, Any]) -> sa_fields.BaseField:
    common["help_text"] = common.get("help_text") or (f.currency or "EUR")
    return DecimalInput(f.name, **common)


def _percent(f: FieldDef, common: dict[str, Any]) -> sa_fields.BaseField:
    common["help_text"] = common.get("help_text") or "%"
    return DecimalInput(f.name, **common)


WIDGETS: dict[str, Factory] = {
    "string": lambda f, c: sa_fields.StringField(f.name, **c),
    "text": lambda f, c: sa_fields.TextAreaField(f.name, **c),
    "integer": lambda f, c: IntegerInput(f.name, **c),
    "decimal": _decimal,
    "money": _money,
    "percent": _percent,
    "boolean": lambda f, c: sa_fields.BooleanField(f.name, **c),
    "date": lambda f, c: DateInput(f.name, **c),
    "datetime": lambda f, c: DateTimeInput(f.name, **c),
    "email": lambda f, c: sa_fields.EmailField(f.name, **c),
    "phone": lambda f, c: sa_fields.PhoneField(f.name, **c),
    "url": lambda f, c: sa_fields.URLField(f.name, **c),
    "choice": lambda f, c: ChoiceInput(f.name, choices=_choices(f), **c),
    "multichoice": lambda f, c: ChoiceInput(
        f.name,
        choices=_choices(f),
        multiple=True,
        list_template="fields/list/tags.html",
        detail_template="fields/detail/tags.html",
        **c,
    ),
    "link": lambda f, c: LinkField(f.name, key=f.target, **c),
    "many_to_many": lambda f, c: ManyLinkField(f.name, key=f.target, **c),
    "has_many": lambda f, c: RelatedListField(f.name, target=f.target or "", via=f.via or "", **c),
    "json": lambda f, c: sa_fields.JSONField(f.name, **c),
    "autonumber": lambda f, c: sa_fields.StringField(f.name, **c),
}


def form_default(f: FieldDef, types: FieldTypeRegistry) -> Any:
    """The value a new record's form starts with: the declared default, ready to show."""
    if f.default is None or f.kind != COLUMN:
        return None
    if isinstance(f.default, str) and f.default.startswith("="):
        expression = f.default[1:].replace(" ", "")
        if expression == "today()":  # on the project's clock, as the rules read it
            return lambda *_: Context().today
        if expression == "now()":
            # stored time (UTC): the form shows it in the project's timezone
            return lambda *_: dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        return None
    ftype = types.get(f.type)
    if ftype.coerce is None:
        return f.default
    try:
        return ftype.coerce(f, f.default, CoerceContext())
    except ValueError:  # checked at load (M030); never block a form for it
        return None


def field_for(
    obj: ObjectDef, f: FieldDef, types: FieldTypeRegistry, *, storage: BaseStorage | None = None
) -> sa_fields.BaseField:
    common: dict[str, Any] = {
        "label": f.label,
        "help_text": f.help,
        "required": f.required,
        # a formula computes the field: an input there would be overwritten on save
        "read_only": f.read_only
        or f.type == "autonumber"
        or f.formula is not None
        or f.name in obj.form.locked,
        "exclude_from_list": f.name not in obj.list.columns,
        "searchable": f.name in obj.search_fields,
    }
    if f.type == "autonumber":
        common["exclude_from_create"] = True
    default = form_default(f, types)
    if default is not None:
        common["default"] = default
    if f.type == "file":
        accept = f.options.get("accept")
        max_size = f.options.get("max_size")
        return sa_fields.FileField(
            f.name,
            storage=storage,
            upload_folder=f"{obj.name}/{f.name}",
            accept=accept,
            max_size=int(max_size) if max_size else 10 * 1024 * 1024,
            **common,
        )
    # Plugin types name the widget they look like (an IBAN is a "string").
    factory = WIDGETS.get(types.get(f.type).widget) or WIDGETS["string"]
    return factory(f, common)
