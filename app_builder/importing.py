"""The import screens, a built-in plugin: upload a spreadsheet → map its columns to fields
(or pick a saved mapping) → preview what would happen (a dry run) → run it, with a
report and the refused rows as a file. The work is the importer's (framework/importing),
through the records service; the run goes on in the background while the page shows how
far it got.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette_admin import route
from starlette_admin.views import BaseView, CustomView

from framework.errors import ModelError, PermissionDenied
from modeler.fieldtypes import COLUMN, LINK, MANY_TO_MANY
from plugins import hookimpl

if TYPE_CHECKING:
    from framework.app import Ficha

TEMPLATE = "ficha_import.html"
PREVIEW_ROWS = 1000
SHOWN_ROWS = 10
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
TOKEN = re.compile(r"[A-Za-z0-9_-]{8,40}")


_SAVING = threading.Lock()


class NoSuchImport(PermissionDenied):
    pass


def _guarded(handler: Any) -> Any:
    """A route of one import: not found (404) for anyone but who started it."""
    import functools

    @functools.wraps(handler)
    async def wrapped(self: ImportView, request: Request) -> Response:
        try:
            return await handler(self, request)
        except NoSuchImport:
            return Response("there is no such import", status_code=404)

    return wrapped


class ImportView(CustomView):
    """The Import page of the Administration menu."""

    def __init__(self, ficha: Ficha) -> None:
        super().__init__(
            menu_label="Import", icon="fa fa-file-import", path="/import", route_name="import"
        )
        self.ficha = ficha
        self.label = "Import"
        self.identity = "import"

    # -- who may -------------------------------------------------------------------------------

    def _who(self, request: Request) -> Any:
        from app_builder.screens import actor_for

        who = getattr(request.state, "who", None)
        return who if who is not None else self.ficha.permissions.who(actor_for(request))

    def objects(self, request: Request) -> list[Any]:
        who = self._who(request)
        permissions = self.ficha.permissions
        return [
            obj
            for obj in self.ficha.model
            if permissions.allowed(who, obj.name, "import")
            and permissions.allowed(who, obj.name, "create")
        ]

    def is_accessible(self, request: Request) -> bool:
        return bool(self.objects(request))

    def title(self, request: Request) -> str:
        return "Import"

    # -- the job folder --------------------------------------------------------------------------

    def folder(self, request: Request) -> Path:
        """The import's folder; only the user who uploaded the file reaches it."""
        token = str(request.path_params.get("token", ""))
        path = self.ficha.settings.data_dir / "imports" / token
        state = self._state(path) if TOKEN.fullmatch(token) else {}
        actor = getattr(request.state, "actor", None)
        if not state or state.get("user") != getattr(actor, "user_id", None):
            raise NoSuchImport(token)
        return path

    @staticmethod
    def _state(path: Path) -> dict[str, Any]:
        try:
            return dict(json.loads((path / "state.json").read_text()))
        except (OSError, ValueError):
            return {}

    @staticmethod
    def _save(path: Path, **changes: Any) -> dict[str, Any]:
        with _SAVING:
            state = ImportView._state(path)
            state.update(changes)
            # written whole, then renamed: a page reading it never sees half a file
            temporary = path / f"state.{threading.get_ident()}.tmp"
            temporary.write_text(json.dumps(state, default=str))
            temporary.replace(path / "state.json")
        return state

    def _render(self, request: Request, context: dict[str, Any], status: int = 200) -> Response:
        assert self._admin is not None
        context.setdefault("title", "Import")
        return self._admin._template_response(request, TEMPLATE, context, status_code=status)

    def _url(self, request: Request, name: str, **params: Any) -> str:
        return str(request.url_for(f"{request.app.state.ROUTE_NAME}:{name}", **params))

    # -- 1. upload -------------------------------------------------------------------------------

    @route("", methods=["GET", "POST"])
    async def index(self, request: Request) -> Response:
        objects = self.objects(request)
        if not objects:
            return self._render(request, {"step": "denied"}, 403)
        mappings = self._mappings()
        if request.method == "GET":
            return self._render(
                request, {"step": "upload", "objects": objects, "mappings": mappings}
            )
        form = await request.form()
        upload = form.get("file")
        name = str(form.get("object") or "")
        chosen = str(form.get("mapping") or "")
        errors = []
        if not isinstance(upload, UploadFile) or not upload.filename:
            errors.append("choose a .csv or .xlsx file")
        elif Path(upload.filename).suffix.lower() not in (".csv", ".xlsx", ".xlsm", ".txt"):
            errors.append("the file must be a .csv or .xlsx spreadsheet")
        if chosen and chosen in mappings:
            name = mappings[chosen]["object"]
        if name not in {o.name for o in objects}:
            errors.append("choose what to import into")
        if errors:
            await form.close()
            return self._render(
                request,
                {"step": "upload", "objects": objects, "mappings": mappings, "errors": errors},
                422,
            )
        assert isinstance(upload, UploadFile) and upload.filename
        token = secrets.token_urlsafe(12)
        folder = self.ficha.settings.data_dir / "imports" / token
        folder.mkdir(parents=True)
        filename = SAFE_NAME.sub("_", Path(upload.filename).name).lstrip(".") or "upload.csv"
        with (folder / filename).open("wb") as out:
            while chunk := await upload.read(1 << 20):
                out.write(chunk)
        await form.close()
        actor = getattr(request.state, "actor", None)
        self._save(
            folder,
            user=getattr(actor, "user_id", None),
            object=name,
            file=filename,
            mapping=mappings.get(chosen, {}).get("data"),
            status="uploaded",
        )
        return RedirectResponse(self._url(request, "import_map", token=token), status_code=303)

    def _mappings(self) -> dict[str, dict[str, Any]]:
        """Saved mappings (the project's mappings/*.yaml) by file name."""
        from ruamel.yaml import YAML

        folder = self.ficha.settings.project_dir / "mappings"
        found: dict[str, dict[str, Any]] = {}
        for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
            try:
                data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
            except Exception:  # noqa: S112 - a broken file is not offered; ficha import says why
                continue
            if isinstance(data, dict) and data.get("object") in self.ficha.model:
                found[path.stem] = {"object": data["object"], "data": data}
        return found

    # -- 2. map -----------------------------------------------------------------------------------

    @route("/{token}/map", methods=["GET", "POST"], name="import_map")
    @_guarded
    async def map(self, request: Request) -> Response:
        folder = self.folder(request)
        state = self._state(folder)
        obj = self.ficha.model[state["object"]]
        from framework.importing.sources import SourceError, open_sheet

        try:
            sheet = await anyio.to_thread.run_sync(lambda: open_sheet(folder / state["file"]))
        except SourceError as exc:
            return self._render(
                request,
                {
                    "step": "upload",
                    "errors": [str(exc)],
                    "objects": self.objects(request),
                    "mappings": self._mappings(),
                },
                422,
            )
        headers = sheet.headers
        sample = []
        for _ in range(5):
            row = next(sheet.rows, None)
            if row is None:
                break
            sample.append(row[1])
        sheet.close()
        fields = [
            f
            for f in obj.fields.values()
            if f.kind in (COLUMN, LINK, MANY_TO_MANY)
            and f.type != "autonumber"
            and f.formula is None
            and not f.read_only
        ]
        mapping = state.get("mapping") or self._guess(obj, headers)
        errors: list[str] = []
        if request.method == "POST":
            form = await request.form()
            mapping = self._from_form(obj, headers, form)
            problems = self._check(mapping)
            errors = [str(p.message) + (f" ({p.hint})" if p.hint else "") for p in problems]
            save_as = SAFE_NAME.sub("_", str(form.get("save_as") or "")).strip("._")
            if not errors and save_as:
                self._write_mapping(save_as, mapping)
            if not errors:
                self._save(folder, mapping=mapping, status="mapped")
                return RedirectResponse(
                    self._url(request, "import_preview", token=folder.name), status_code=303
                )
        columns = mapping.get("columns", {})
        chosen = {
            h: (
                columns.get(h)
                if isinstance(columns.get(h), str)
                else (columns.get(h) or {}).get("field")
            )
            for h in headers
        }
        lookups = {
            h: (columns.get(h) or {}).get("lookup") if isinstance(columns.get(h), dict) else None
            for h in headers
        }
        return self._render(
            request,
            {
                "step": "map",
                "object": obj,
                "headers": headers,
                "sample": sample,
                "fields": fields,
                "chosen": chosen,
                "lookups": lookups,
                "targets": {
                    f.name: [
                        g
                        for g in self.ficha.model[f.target or ""].stored_fields()
                        if g.kind == COLUMN
                    ]
                    for f in fields
                    if f.kind in (LINK, MANY_TO_MANY)
                },
                "key": mapping.get("key") or [],
                "mode": mapping.get("mode", "good_rows"),
                "on_existing": mapping.get("on_existing", "update"),
                "errors": errors,
                "token": folder.name,
            },
            422 if errors else 200,
        )

    @staticmethod
    def _guess(obj: Any, headers: list[str]) -> dict[str, Any]:
        from framework.importing.cli import same_names

        return {"object": obj.name, "columns": same_names(obj, headers)}

    @staticmethod
    def _from_form(obj: Any, headers: list[str], form: Any) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        for i, header in enumerate(headers):
            name = str(form.get(f"field_{i}") or "")
            if not name or name not in obj.fields:
                continue
            lookup = str(form.get(f"lookup_{i}") or "")
            columns[header] = {"field": name, "lookup": lookup} if lookup else name
        key = [str(k) for k in form.getlist("key") if str(k) in obj.fields]
        return {
            "object": obj.name,
            "columns": columns,
            "key": key,
            "mode": "all_or_nothing" if form.get("mode") == "all_or_nothing" else "good_rows",
            "on_existing": str(form.get("on_existing") or "update")
            if form.get("on_existing") in ("update", "skip", "error")
            else "update",
        }

    def _check(self, data: dict[str, Any]) -> list[Any]:
        from framework.importing.mapping import mapping_from_dict

        if not data.get("columns"):
            from modeler.problems import Problem
            from modeler.schema import SourcePos

            return [Problem("I007", "map at least one column to a field", SourcePos("<mapping>"))]
        try:
            mapping_from_dict(data, self.ficha.model)
        except ModelError as exc:
            return list(exc.problems)
        return []

    def _write_mapping(self, name: str, data: dict[str, Any]) -> None:
        """Keep the mapping as YAML in the project (the source of truth), for the CLI,
        the next import and exports."""
        from ruamel.yaml import YAML

        folder = self.ficha.settings.project_dir / "mappings"
        folder.mkdir(exist_ok=True)
        yaml = YAML()
        yaml.default_flow_style = False
        with (folder / f"{name}.yaml").open("w", encoding="utf-8") as out:
            out.write(
                "# Saved from the import screen; `ficha import FILE --mapping` reads it too.\n"
            )
            yaml.dump({k: v for k, v in data.items() if v not in (None, [], {})}, out)

    # -- 3. preview -------------------------------------------------------------------------------

    @route("/{token}/preview", methods=["GET"], name="import_preview")
    @_guarded
    async def preview(self, request: Request) -> Response:
        folder = self.folder(request)
        state = self._state(folder)
        from framework.importing.engine import Importer
        from framework.importing.mapping import mapping_from_dict

        mapping = mapping_from_dict(state["mapping"], self.ficha.model)
        actor = self._actor(request)

        def dry() -> Any:
            importer = Importer(self.ficha, mapping, actor, dry_run=True, limit=PREVIEW_ROWS)
            return importer.run(folder / state["file"])

        report = await anyio.to_thread.run_sync(dry)
        return self._render(
            request,
            {
                "step": "preview",
                "report": report,
                "limit": PREVIEW_ROWS,
                "mapping": state["mapping"],
                "token": folder.name,
            },
        )

    def _actor(self, request: Request) -> Any:
        from app_builder.screens import actor_for

        return actor_for(request).via("import")

    # -- 4. run -----------------------------------------------------------------------------------

    @route("/{token}/run", methods=["POST"], name="import_run")
    @_guarded
    async def run(self, request: Request) -> Response:
        folder = self.folder(request)
        state = self._state(folder)
        if state.get("status") not in ("running", "done"):
            self._save(folder, status="running", rows=0, done=0.0)
            thread = threading.Thread(
                target=self._work,
                args=(folder, state, self._actor(request)),
                name=f"ficha-import-{folder.name}",
                daemon=True,
            )
            thread.start()
        return RedirectResponse(
            self._url(request, "import_status", token=folder.name), status_code=303
        )

    def _work(self, folder: Path, state: dict[str, Any], actor: Any) -> None:
        from framework.importing.engine import Importer
        from framework.importing.mapping import mapping_from_dict

        last = [0.0]

        def progress(p: Any) -> None:
            if p.done - last[0] >= 0.02:
                last[0] = p.done
                self._save(folder, rows=p.rows, done=round(p.done, 3))

        try:
            mapping = mapping_from_dict(state["mapping"], self.ficha.model)
            importer = Importer(
                self.ficha, mapping, actor, error_file=folder / "errors.csv", progress=progress
            )
            report = importer.run(folder / state["file"])
            self._save(folder, status="done", report=report.as_dict(), summary=report.summary())
        except Exception as exc:  # shown on the page; the import changed nothing it refused
            self._save(folder, status="failed", error=f"{type(exc).__name__}: {exc}")

    @route("/{token}", methods=["GET"], name="import_status")
    @_guarded
    async def status(self, request: Request) -> Response:
        folder = self.folder(request)
        state = self._state(folder)
        return self._render(
            request,
            {
                "step": "status",
                "state": state,
                "token": folder.name,
                "has_errors": (folder / "errors.csv").exists(),
            },
        )

    @route("/{token}/errors.csv", methods=["GET"], name="import_errors")
    @_guarded
    async def errors(self, request: Request) -> Response:
        folder = self.folder(request)
        path = folder / "errors.csv"
        if not path.exists():
            return Response("no refused rows", status_code=404)
        return FileResponse(path, media_type="text/csv", filename=f"refused-rows-{folder.name}.csv")


@hookimpl
def ficha_views(ficha: Ficha) -> list[BaseView]:
    return [ImportView(ficha)]
