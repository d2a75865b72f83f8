"""ListSpec/FormSpec → a starlette-admin view per object. Reads go through storage's
Reader (one query per page, joins for linked titles); writes go to the RecordService.
"""

from __future__ import annotations

import contextlib
import copy as _copy
import datetime as dt
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import anyio.to_thread
from markupsafe import escape
from starlette.requests import Request
from starlette_admin import fields as sa_fields
from starlette_admin.actions import link_row_action, row_action
from starlette_admin.contrib.sqla.filters import build_filter_clause
from starlette_admin.exceptions import ActionFailed, FormValidationError
from starlette_admin.filters import FilterGroup, FilterRegistry
from starlette_admin.storage import BaseStorage
from starlette_admin.types import RequestAction
from starlette_admin.views import BaseModelView
from starlette_admin.widgets import PanelWidget, TabsWidget

from app_builder.filters import FichaFilterRegistry
from app_builder.pages.exports import FORMATS, export_action
from app_builder.widgets import RelatedListField, VersionField, field_for
from framework.errors import Conflict, PermissionDenied, ValidationFailed
from framework.permissions import Who
from framework.records import Actor
from modeler.fieldtypes import COLUMN, HAS_MANY, LINK, MANY_TO_MANY
from modeler.schema import ObjectDef
from storage.queries import Record, Sort
from storage.sources import LegacyUnavailable

if TYPE_CHECKING:
    from framework.app import Ficha

RELATED_PREVIEW = 10
HISTORY_SHOWN = 20


def actor_for(request: Request) -> Actor:
    """Who is acting: the signed-in user (set by the security middleware)."""
    actor = getattr(request.state, "actor", None)
    return actor if actor is not None else Actor(None, "anonymous", "screen")


class RecordView(BaseModelView):
    """The generated screens of one object: list, detail, create, edit, delete."""

    row_actions_display_type = BaseModelView.row_actions_display_type
    # the Export button streams CSV or XLSX itself (app_builder/pages/exports.py)
    exporters = FORMATS
    export_action = export_action
    importers: Sequence[Any] = []
    page_size_options = [25, 50, 100]
    search_highlight = True
    list_template = "ficha_list.html"
    detail_template = "ficha_detail.html"
    create_template = "ficha_create.html"
    edit_template = "ficha_edit.html"

    def __init__(self, ficha: Ficha, obj: ObjectDef, files: BaseStorage | None = None) -> None:
        self.ficha = ficha
        self.obj = obj
        self.key = obj.name
        self.identity = obj.name
        self.name = obj.label
        self.label = obj.plural
        self.menu_label = obj.plural
        self.display_name = obj.label
        self.icon = obj.icon or "fa fa-table-list"
        self.pk_attr = "id"
        self.page_size = obj.list.page_size
        self.page_size_options = sorted({obj.list.page_size, 25, 50, 100})
        # Filters of starlette-admin resolve field names on a mapped class; Ficha's
        # tables are mapped at run time for exactly this kind of reuse.
        self.model = ficha.storage.mapped_class(obj.name)
        ordered = self._ordered_fields()
        self.fields = [
            sa_fields.IntegerField(
                "id",
                label="#",
                read_only=True,
                exclude_from_create=True,
                exclude_from_edit=True,
                exclude_from_list="id" not in obj.list.columns,
            )
        ]
        # when a record was created and last changed: shown on its page, a list column
        # only when `list: columns` names it
        for stamp, stamp_label in (("created_at", "Created"), ("updated_at", "Last changed")):
            self.fields.append(
                sa_fields.DateTimeField(
                    stamp,
                    label=stamp_label,
                    read_only=True,
                    exclude_from_create=True,
                    exclude_from_edit=True,
                    exclude_from_list=stamp not in obj.list.columns,
                )
            )
        workflow = ficha.behaviour.of(obj.name).workflow_field
        for f in ordered:
            field = field_for(obj, f, ficha.model.field_types, storage=files)
            if f.name == workflow and isinstance(field, sa_fields.EnumField):
                field.choices_loader = self._workflow_choices
                field.choices = None
            self.fields.append(field)
        self.fields.append(VersionField("version", label="Version"))
        types = ficha.model.field_types
        # Only columns with an index can be sorted: sorting a million rows by anything
        # else takes seconds. A column gets one from list sort, filter, index or unique.
        sorted_by = {name for name, _ in obj.list.sort}
        self.sortable_fields = [
            "id",
            *(n for n in ("created_at", "updated_at") if n in sorted_by),
        ] + [
            f.name
            for f in ordered
            if types.get(f.type).orderable
            and f.kind == COLUMN
            and (f.unique or f.index or f.filter or f.name in sorted_by)
        ]
        # starlette-admin offers "searchable" fields in its filter builder (the search box
        # itself is Ficha's full-text search, see find_all). Links are always filterable:
        # their key is indexed.
        self.searchable_fields = ["id"] + [
            f.name
            for f in ordered
            if f.name in obj.list.filters
            or f.kind == LINK
            or (f.name in obj.list.columns and f.kind not in (HAS_MANY, MANY_TO_MANY))
        ]
        self.fields_default_sort = [(name, desc) for name, desc in obj.list.sort]
        self.form_layout = self._layout()
        self.exclude_fields_from_list = []
        self._copies: dict[tuple[str, str], sa_fields.BaseField] = {}
        super().__init__()
        # Link row actions return URLs (the template calls them without awaiting).
        handlers: dict[str, Any] = self._row_actions_handlers
        handlers["view"] = lambda request, pk: self._page_url(request, "detail", pk)
        handlers["edit"] = lambda request, pk: self._page_url(request, "edit", pk)

    def _ordered_fields(self) -> list[Any]:
        order = {name: i for i, name in enumerate(self.obj.form.field_order)}
        columns = {name: i for i, name in enumerate(self.obj.list.columns)}
        fields = list(self.obj.fields.values())
        # List columns keep their declared order; forms follow the layout below.
        return sorted(fields, key=lambda f: (columns.get(f.name, 1000), order.get(f.name, 1000)))

    def _layout(self) -> list[Any] | None:
        editable = {f.name for f in self.obj.fields.values() if f.kind != HAS_MANY}
        sections = [(s, [n for n in s.fields if n in editable]) for s in self.obj.form.sections]
        sections = [(s, names) for s, names in sections if names]
        if len(sections) <= 1 and not any(s.kind == "tab" for s, _ in sections):
            return None
        panels = [s for s, _ in sections if s.kind != "tab"]
        tabs = [s for s, _ in sections if s.kind == "tab"]
        names = dict(sections)
        layout: list[Any] = [
            PanelWidget(
                title=s.title,
                children=list(names[s]),  # type: ignore[arg-type]
                collapsible=s.collapsed,
                collapsed=s.collapsed,
            )
            for s in panels
        ]
        if tabs:  # starlette-admin normalises field names into widgets
            layout.append(TabsWidget(tabs=[(s.title, names[s]) for s in tabs]))  # type: ignore[misc]
        return layout

    # -- per-page caches: a list page asks these once per row ------------------------------

    async def get_row_actions_for_obj(self, request: Request, obj: Any) -> list[dict[str, Any]]:
        """The row actions do not depend on the record: work them out once per page."""
        cache: dict[str, Any] = request.state.__dict__.setdefault("_ficha_row_actions", {})
        key = f"{self.key}:{request.state.action}"
        if key not in cache:
            cache[key] = await super().get_row_actions_for_obj(request, obj)
        return list(cache[key])

    async def serialize(
        self,
        obj: Any,
        request: Request,
        include_relationships: bool = True,
        include_select2: bool = False,
    ) -> dict[str, Any]:
        """starlette-admin's serialize, with the page's fields worked out once per page
        instead of once per row, and the record's URL from the cached route."""
        cache: dict[Any, Any] = request.state.__dict__.setdefault("_ficha_serialized", {})
        key = (self.key, request.state.action)
        fields = cache.get(key)
        if fields is None:
            fields = cache[key] = [
                (f, isinstance(f, sa_fields.RelationField)) for f in self.get_fields_list(request)
            ]
        result: dict[str, Any] = {}
        for field, relation in fields:
            if relation and not include_relationships:
                continue
            value = await field.parse_obj(request, obj)
            result[field.name] = await self.serialize_field_value(value, field, request)
        meta: dict[str, Any] = {}
        if include_select2:
            meta["select2"] = {
                "selection": await self.select2_selection(obj, request),
                "result": await self.select2_result(obj, request),
            }
        meta["repr"] = await self.repr(obj, request)
        if "id" not in result:
            result["id"] = await self.get_serialized_pk_value(request, obj)
        meta["detailUrl"] = self._page_url(request, "detail", await self.get_pk_value(request, obj))
        result["_meta"] = meta
        return result

    def _page_url(self, request: Request, route: str, pk: Any) -> str:
        from app_builder.site import detail_url, edit_url

        return (detail_url if route == "detail" else edit_url)(request, self.obj.name, pk)

    # -- permissions hooks (roles arrive with the security capability) ---------------------

    def _who(self, request: Request) -> Who:
        who = getattr(request.state, "who", None)
        return who if who is not None else self.ficha.permissions.who(actor_for(request))

    def _may(self, request: Request, action: str) -> bool:
        return self.ficha.permissions.allowed(self._who(request), self.obj.name, action)

    def is_accessible(self, request: Request) -> bool:
        return self._may(request, "read")

    def can_view_detail(self, request: Request) -> bool:
        return self._may(request, "read")

    def can_create(self, request: Request) -> bool:
        return self._may(request, "create")

    def can_edit(self, request: Request) -> bool:
        return self._may(request, "update")

    def can_delete(self, request: Request) -> bool:
        return self._may(request, "delete")

    def can_export(self, request: Request) -> bool:
        return self._may(request, "export")

    # -- personal data: export and erasure, for administrators, on the record page ------

    @property
    def _personal(self) -> bool:
        return any(f.personal for f in self.obj.fields.values())

    async def is_row_action_allowed(self, request: Request, name: str) -> bool:
        if name in ("personal_export", "personal_erase"):
            who = self._who(request)
            return self._personal and (who.role is not None and who.role.everything)
        return await super().is_row_action_allowed(request, name)

    @link_row_action(
        name="personal_export",
        text="Export personal data",
        icon_class="fa fa-file-export",
        exclude_from_list=True,
    )
    def row_action_personal_export(self, request: Request, pk: Any) -> str:
        return f"/privacy/export/{self.obj.name}/{int(pk)}"

    @row_action(
        name="personal_erase",
        text="Erase personal data",
        confirmation="The personal fields of this record and of the records that "
        "belong to it will be blanked, for good. Numbers and history stay.",
        icon_class="fa fa-user-slash",
        submit_btn_text="Erase",
        exclude_from_list=True,
    )
    async def row_action_personal_erase(self, request: Request, pk: Any) -> str:
        from framework.privacy import erase_person

        actor = actor_for(request)
        erased = await anyio.to_thread.run_sync(
            lambda: erase_person(self.ficha.records, self.obj.name, int(pk), actor)
        )
        return f"Erased {len(erased)} personal field(s)."

    def _scope(self, request: Request) -> list[Any]:
        """The records this user may read, as a condition every read of this view adds."""
        condition = self.ficha.permissions.scope(self._who(request), self.obj.name, "read")
        return [] if condition is None else [condition]

    async def after_export(self, request: Request, ctx: Any) -> None:
        def log() -> None:
            with self.ficha.storage.write() as conn:
                self.ficha.audit.log(conn, "export", actor_for(request), object_name=self.obj.name)

        await anyio.to_thread.run_sync(log)

    # -- reads ---------------------------------------------------------------------------

    def get_filter_registry(self) -> FilterRegistry:
        return FichaFilterRegistry()

    def _where(self, request: Request, filters: FilterGroup | None) -> list[Any]:
        scope = self._scope(request) + self._expression(request)
        if filters is None or filters.is_empty():
            return scope
        fields_by_name = {f.name: f for f in self.get_fields_list(request)}
        clause = build_filter_clause(
            filters, fields_by_name, self.get_filter_registry(), self, request
        )
        return scope + ([] if clause is None else [clause])

    def _expression(self, request: Request) -> list[Any]:
        """`?expr=…`: a condition in the expression language, for what the filter syntax
        cannot say (a report's drill-down: `hour(created_at) == 9 and …`)."""
        text = request.query_params.get("expr")
        if not text:
            return []
        from app_builder.reports.listfilter import expression_filter

        return [expression_filter(self.ficha, self._who(request), self.obj.name, text)]

    async def find_all(
        self,
        request: Request,
        skip: int = 0,
        limit: int = 100,
        q: str | None = None,
        sorts: Sequence[tuple[str, str]] | None = None,
        filters: FilterGroup | None = None,
    ) -> Sequence[Any]:
        where = self._where(request, filters)
        order = [
            Sort(name, direction == "desc")
            for name, direction in (sorts or [])
            if name in self.obj.fields or name == "id"
        ]
        columns = self._visible_columns(request)
        reader = self.ficha.reader

        def run() -> list[Record]:
            with self.ficha.storage.read() as conn:
                records, total = reader.page(
                    conn,
                    self.obj.name,
                    where=where,
                    search=q,
                    sort=order,
                    limit=limit,
                    offset=skip,
                    fields=columns,
                )
                self._attach_many(conn, records, columns)
            # The list page asks for the count next, with the same filters: keep it.
            request.state.ficha_count = (self.obj.name, q, repr(filters), total)
            return records

        return await _read(run)

    def _visible_columns(self, request: Request) -> list[str] | None:
        if request.state.action in (RequestAction.LIST, RequestAction.RELATION_LOOKUP):
            wanted = set(self.obj.list.columns) | {self.obj.title_field}
            return [f.name for f in self.obj.fields.values() if f.name in wanted]
        return None

    def _attach_many(self, conn: Any, records: list[Record], columns: list[str] | None) -> None:
        """Many-to-many values for a whole page: one query per such column, not per row."""
        ids = [r.id for r in records]
        for f in self.obj.fields.values():
            if f.kind == MANY_TO_MANY and (columns is None or f.name in columns) and ids:
                links = self.ficha.reader.m2m_links(conn, self.obj.name, f.name, ids)
                for record in records:
                    record[f.name] = links.get(record.id, [])

    async def count(
        self, request: Request, q: str | None = None, filters: FilterGroup | None = None
    ) -> int:
        known = getattr(request.state, "ficha_count", None)
        if known is not None and known[:3] == (self.obj.name, q, repr(filters)):
            request.state.count_exact = known[3].exact
            return int(known[3].value)
        where = self._where(request, filters)

        def run() -> Any:
            with self.ficha.storage.read() as conn:
                return self.ficha.reader.count(conn, self.obj.name, where=where, search=q)

        result = await _read(run)
        request.state.count_exact = result.exact
        return result.value

    async def find_by_pk(self, request: Request, pk: Any) -> Any:
        try:
            ident = int(pk)
        except (TypeError, ValueError):
            return None
        detail = request.state.action == RequestAction.DETAIL
        table = self.ficha.storage.table(self.obj.name)
        scope = self._scope(request)

        def run() -> Record | None:
            with self.ficha.storage.read() as conn:
                # a record outside the user's scope is "not found", like one that is not
                found = self.ficha.reader.list(
                    conn, self.obj.name, where=[table.c.id == ident, *scope], limit=1
                )
                if not found:
                    return None
                record = found[0]
                self._attach_many(conn, [record], None)
                if detail:
                    self._attach_related(conn, record)
                    record["_history"] = self._history(conn, ident, hidden)
                return record

        hidden = self.ficha.permissions.hidden(self._who(request), self.obj.name)
        return await _read(run)

    def _history(self, conn: Any, ident: int, hidden: frozenset[str]) -> list[dict[str, Any]]:
        """The record's recent changes as people read them: labels, choice names and
        linked titles; never a field the viewer's role hides."""
        entries = self.ficha.audit.history(conn, self.obj.name, ident, limit=HISTORY_SHOWN)
        wanted: dict[str, set[int]] = {}
        for entry in entries:
            for name, pair in entry.changes.items():
                f = self.obj.fields.get(name)
                if f is not None and f.kind == LINK and name not in hidden:
                    wanted.setdefault(f.target or "", set()).update(
                        v for v in pair if isinstance(v, int)
                    )
        titles = {
            target: self.ficha.reader.titles(conn, target, ids) for target, ids in wanted.items()
        }

        zone = ZoneInfo(self.ficha.settings.timezone)

        def local(moment: dt.datetime) -> dt.datetime:
            """A stored (UTC) time in the project's timezone."""
            return (
                moment.replace(tzinfo=dt.UTC).astimezone(zone) if moment.tzinfo is None else moment
            )

        def shown(name: str, value: Any) -> str:
            f = self.obj.fields.get(name)
            if value is None or value == "":
                return "—"
            if f is not None and f.type == "datetime" and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    return local(dt.datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")
            if f is not None and f.kind == LINK and isinstance(value, int):
                ref = titles.get(f.target or "", {}).get(value)
                return ref.title if ref is not None else f"#{value}"
            if f is not None and f.values:
                if isinstance(value, list):
                    return ", ".join(f.choice_label(v) for v in value)
                return f.choice_label(value)
            return str(value)

        result = []
        for entry in entries:
            changes = [
                (self.field_label(name), shown(name, old), shown(name, new))
                for name, (old, new) in entry.changes.items()
                if name not in hidden and (old not in (None, "") or new not in (None, ""))
            ]
            result.append(
                {
                    "at": local(entry.at),
                    "actor_name": entry.actor_name,
                    "channel": entry.channel,
                    "action": entry.action,
                    "changes": changes,
                }
            )
        return result

    def _attach_related(self, conn: Any, record: Record) -> None:
        for f in self.obj.fields.values():
            if f.kind != HAS_MANY:
                continue
            rows, total = self.ficha.reader.related(
                conn, self.obj.name, record.id, f.name, limit=RELATED_PREVIEW
            )
            target = self.ficha.model[f.target or ""]
            record[f.name] = {
                "object": target.name,
                "via": f.via,
                "parent": record.id,
                "total": total.value,
                "exact": total.exact,
                "rows": [
                    {"id": r.id, "title": str(r.get(target.title_field) or f"#{r.id}")}
                    for r in rows
                ],
            }

    async def find_by_pks(self, request: Request, pks: list[Any]) -> Sequence[Any]:
        ids = [int(p) for p in pks if str(p).isdigit()]

        table = self.ficha.storage.table(self.obj.name)
        scope = self._scope(request)

        def run() -> list[Record]:
            with self.ficha.storage.read() as conn:
                return self.ficha.reader.list(
                    conn, self.obj.name, where=[table.c.id.in_(ids), *scope], limit=0
                )

        return await _read(run)

    async def repr(self, obj: Any, request: Request) -> str:
        value = obj.get(self.obj.title_field) if isinstance(obj, dict) else None
        return str(value) if value not in (None, "") else f"{self.obj.label} #{obj['id']}"

    async def select2_result(self, obj: Any, request: Request) -> str:
        # select2 parses this as HTML: the title is escaped inside a span.
        return f"<span>{escape(await self.repr(obj, request))}</span>"

    async def select2_selection(self, obj: Any, request: Request) -> str:
        return f"<span>{escape(await self.repr(obj, request))}</span>"

    def get_fields_list(
        self, request: Request, *, include_nested: bool = False, action: RequestAction | None = None
    ) -> Sequence[sa_fields.BaseField]:
        fields = self._for_role(
            request, super().get_fields_list(request, include_nested=include_nested, action=action)
        )
        if (action or request.state.action) == RequestAction.DETAIL:
            # The record page follows the form's order, related lists last.
            order = {name: i for i, name in enumerate(self.obj.form.field_order)}
            return sorted(
                fields, key=lambda f: (isinstance(f, RelatedListField), order.get(f.name, -1))
            )
        return fields

    def _for_role(
        self, request: Request, fields: Sequence[sa_fields.BaseField]
    ) -> list[sa_fields.BaseField]:
        """Leave out what the role hides; make read-only what it may not change."""
        who = self._who(request)
        hidden = self.ficha.permissions.hidden(who, self.obj.name)
        locked = self.ficha.permissions.read_only(who, self.obj.name)
        if not hidden and not locked:
            return list(fields)
        result = []
        for field in fields:
            if field.name in hidden:
                continue
            if field.name in locked and not field.read_only:
                key = ("read_only", field.name)
                copy = self._copies.get(key)
                if copy is None:
                    copy = self._copies[key] = _copy.copy(field)
                    copy.read_only = True
                field = copy
            result.append(field)
        return result

    # -- writes: all through the records service -------------------------------------------

    async def validate_fields(
        self, request: Request, data: dict[str, Any], exclude: Collection[str] = ()
    ) -> None:
        """Only uploads are checked here (size, type). Every other value goes to the
        records service, which checks them all at once and says why in its own words."""
        errors: dict[str | int, Any] = {}
        for field in self.get_fields_list(request):
            if (
                isinstance(field, sa_fields.FileField)
                and field.name in data
                and (field.name not in exclude)
            ):
                try:
                    await field.validate(request, data[field.name], data)
                except ValueError as exc:
                    errors[field.name] = str(exc)
        if errors:
            raise FormValidationError(errors)

    def _values(self, request: Request, data: dict[str, Any]) -> dict[str, Any]:
        values = {}
        for field in self.get_fields_list(request):
            if (
                field.read_only
                or isinstance(field, RelatedListField | VersionField)
                or (field.name == "id")
            ):
                continue
            if field.name in data:
                values[field.name] = data[field.name]
        return values

    async def create(self, request: Request, data: dict[str, Any]) -> Any:
        values = self._values(request, data)
        actor = actor_for(request)
        try:
            return await anyio.to_thread.run_sync(
                lambda: self.ficha.records.create(self.obj.name, values, actor)
            )
        except ValidationFailed as exc:
            raise FormValidationError(_form_errors(exc)) from exc
        except (PermissionDenied, LegacyUnavailable) as exc:
            raise FormValidationError({"_all_": str(exc)}) from exc

    async def edit(self, request: Request, pk: Any, data: dict[str, Any]) -> Any:
        values = self._values(request, data)
        version = data.get("version")
        actor = actor_for(request)
        try:
            return await anyio.to_thread.run_sync(
                lambda: self.ficha.records.update(
                    self.obj.name,
                    int(pk),
                    values,
                    actor,
                    expected_version=version if isinstance(version, int) else None,
                )
            )
        except ValidationFailed as exc:
            raise FormValidationError(_form_errors(exc)) from exc
        except (PermissionDenied, LegacyUnavailable) as exc:
            raise FormValidationError({"_all_": str(exc)}) from exc
        except Conflict as exc:
            raise FormValidationError({"_all_": str(exc)}) from exc

    # -- workflows: a state field offers only the moves allowed from where the record is

    def _workflow_choices(self, request: Request) -> list[tuple[str, str]]:
        field = self.obj.fields[self.ficha.behaviour.of(self.obj.name).workflow_field or ""]
        every = [(v.code, v.label) for v in field.values]
        pk = request.query_params.get("pk")
        if request.state.action != RequestAction.EDIT or not pk or not pk.isdigit():
            return every
        cache: dict[str, Any] = request.state.__dict__.setdefault("_ficha_states", {})
        if self.obj.name not in cache:
            enforcer = self.ficha.records.enforcer
            with self.ficha.storage.read() as conn:
                record = self.ficha.reader.get(conn, self.obj.name, int(pk))
                allowed = (
                    enforcer.allowed_states(conn, self.obj, record, actor_for(request))
                    if record is not None and enforcer is not None
                    else []
                )
            cache[self.obj.name] = allowed
        allowed = cache[self.obj.name]
        return [(code, label) for code, label in every if code in allowed] or every

    def field_label(self, name: str) -> str:
        f = self.obj.fields.get(name)
        return f.label if f is not None else name

    async def delete(self, request: Request, pks: list[Any]) -> int | None:
        actor = actor_for(request)
        ids = [int(p) for p in pks]
        try:
            return await anyio.to_thread.run_sync(
                lambda: self.ficha.records.delete_many(self.obj.name, ids, actor)
            )
        except ValidationFailed as exc:
            raise ActionFailed("; ".join(exc.errors.values())) from exc
        except (PermissionDenied, LegacyUnavailable) as exc:
            raise ActionFailed(str(exc)) from exc


async def _read(run: Any) -> Any:
    """A read off the event loop; a legacy system that does not answer is a page that
    says so (503), not a stack trace."""
    try:
        return await anyio.to_thread.run_sync(run)
    except LegacyUnavailable as exc:
        from starlette.exceptions import HTTPException

        raise HTTPException(503, str(exc)) from exc


def _form_errors(exc: ValidationFailed) -> dict[str | int, Any]:
    # starlette-admin shows form-wide errors under "_all_"
    return {("_all_" if k == "__all__" else k): v for k, v in exc.errors.items()}
