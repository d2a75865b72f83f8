"""The list screens' Export button: CSV or XLSX of the list as the user sees it — its
search, filters and sort, only the records and fields their role lets them read —
streamed a keyset page at a time instead of built in memory (starlette-admin's own
export reads every row first). A saved import mapping can name the columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread
from markupsafe import escape
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette_admin.actions import action
from starlette_admin.exceptions import ActionFailed
from starlette_admin.export.base import BaseExporter
from starlette_admin.views import build_export_form

from framework.errors import PermissionDenied, ValidationFailed
from framework.exporting import CONTENT_TYPES, Export, csv_chunks, file_chunks, xlsx_file
from storage.queries import Sort

if TYPE_CHECKING:
    from app_builder.screens import RecordView


class _Streamed(BaseExporter):
    """Lists the format in the export form; the file itself is made below."""

    requires = None

    async def generate(self, fields: Any, rows: Any) -> bytes:  # pragma: no cover - unused
        raise NotImplementedError


class CsvFormat(_Streamed):
    content_type = CONTENT_TYPES["csv"]
    extension = "csv"
    format_key = "csv"
    label = "CSV"


class XlsxFormat(_Streamed):
    content_type = CONTENT_TYPES["xlsx"]
    extension = "xlsx"
    format_key = "xlsx"
    label = "Excel (XLSX)"


FORMATS: list[Any] = [CsvFormat(), XlsxFormat()]


def saved_mappings(view: RecordView) -> dict[str, Any]:
    """The project's import mappings (mappings/*.yaml) for this object, by file name."""
    from framework.importing.mapping import load_mapping

    folder = view.ficha.settings.project_dir / "mappings"
    found: dict[str, Any] = {}
    for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
        try:
            mapping = load_mapping(path, view.ficha.model, view.ficha.settings.project_dir)
        except Exception:  # noqa: S112 - a broken mapping is simply not offered here
            continue
        if mapping.object == view.obj.name:
            found[path.stem] = mapping
    return found


async def export_form(request: Request, view: RecordView) -> str:
    form = await build_export_form(request, view)
    extra = (
        '<div class="mb-3"><label class="form-check"><input type="radio" name="scope" '
        'value="all" class="form-check-input"><span class="form-check-label">Every record '
        "of the list (its search, filters and sort), however many</span></label></div>"
    )
    mappings = saved_mappings(view)
    if mappings:
        options = "".join(
            f'<option value="{escape(name)}">{escape(name)}</option>' for name in mappings
        )
        extra += (
            '<div class="mb-3"><label class="form-label">Columns as in a saved mapping'
            f'</label><select class="form-select" name="mapping"><option value="">—</option>'
            f"{options}</select></div>"
        )
    return form.replace("</form>", extra + "</form>", 1) if "</form>" in form else form + extra


@action(
    name="export",
    text="Export",
    confirmation="",
    header="Export to a spreadsheet",
    icon_class="list.export",
    submit_btn_text="Export",
    form=export_form,
    custom_response=True,
    allow_empty_selection=True,
    dedicated_button=True,
    modal_size="lg",
)
async def export_action(view: RecordView, request: Request, selection: Any) -> Response:
    form = await request.form()
    fmt = str(form.get("format") or "csv")
    if fmt not in CONTENT_TYPES:
        raise ActionFailed(f"cannot export as {fmt}")
    scope = str(form.get("scope") or "all")
    filename = (str(form.get("filename") or "").strip() or view.obj.name).replace('"', "")
    wanted = [str(n) for n in form.getlist("fields")]
    list_query = QueryParams((request.query_params.get("_list_query") or "").lstrip("?"))
    params = view._parse_list_params(request, list_query)
    where = view._where(request, params.filters)
    sort = [
        Sort(name, direction == "desc")
        for name, direction in (params.sorts or [])
        if name in view.obj.fields or name == "id"
    ]
    if scope == "selected" and not selection.is_select_all:
        ids = [int(p) for p in await selection.pks() if str(p).isdigit()]
        table = view.ficha.storage.table(view.obj.name)
        where.append(table.c.id.in_(ids))
    mapping = saved_mappings(view).get(str(form.get("mapping") or ""))
    fields = [n for n in wanted if n in view.obj.fields or n == "id"] or None
    try:
        export = Export(
            view.ficha,
            view.obj.name,
            _actor(request),
            conditions=where,
            search=params.q,
            sort=sort,
            fields=fields,
            mapping=mapping,
            who=getattr(request.state, "who", None),
        )
    except (PermissionDenied, ValidationFailed) as exc:
        raise ActionFailed(str(exc)) from exc
    if scope == "page":
        export.limit = params.page_size
        export.offset = (params.page - 1) * params.page_size
    disposition = {"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'}
    if fmt == "xlsx":
        path, count = await anyio.to_thread.run_sync(lambda: xlsx_file(export))
        await anyio.to_thread.run_sync(lambda: export.log("xlsx", count))
        return StreamingResponse(
            file_chunks(path), media_type=CONTENT_TYPES["xlsx"], headers=disposition
        )
    counter: list[int] = []

    def chunks() -> Any:
        yield from csv_chunks(export, counter)
        export.log("csv", counter[0] if counter else 0)

    return StreamingResponse(chunks(), media_type=CONTENT_TYPES["csv"], headers=disposition)


def _actor(request: Request) -> Any:
    from app_builder.screens import actor_for

    return actor_for(request)
