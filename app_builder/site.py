"""The web application: the starlette-admin site (one view per object, a menu per pack)
behind a stable mount that `ficha serve --reload` can swap when the YAML changes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlencode

from starlette.applications import Starlette
from starlette.datastructures import URLPath
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.types import Receive, Scope, Send
from starlette_admin.base import BaseAdmin
from starlette_admin.i18n import TimezoneConfig
from starlette_admin.routing import route
from starlette_admin.security.csrf import CSRFMiddleware
from starlette_admin.storage.local import LocalStorage
from starlette_admin.views import DropDown

from app_builder.list_rows import render_row
from app_builder.screens import RecordView
from app_builder.security import FichaAuth, SecurityMiddleware
from framework.app import PROJECT_PACK, Ficha
from framework.errors import NotFound
from framework.settings import Settings
from modeler.keys import SYSTEM_PACK

log = logging.getLogger("ficha.web")

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
ADMIN_PATH = "/admin"


def _files_storage(ficha: Ficha) -> LocalStorage:
    # starlette-admin keeps storages in a registry by name: one name per project folder.
    digest = hashlib.sha1(str(ficha.settings.data_dir).encode()).hexdigest()[:10]  # noqa: S324
    return LocalStorage(ficha.settings.data_dir / "files", name=f"files-{digest}")


def _page_url(request: Request, route: str, key: str, pk: Any) -> str:
    """starlette-admin's detail_url/edit_url, with the route looked up and the origin
    encoded once per page and object (they are asked several times per row)."""
    cache: dict[tuple[str, str], tuple[str, str]] = request.state.__dict__.setdefault(
        "_ficha_page_urls", {}
    )
    parts = cache.get((route, key))
    if parts is None:
        from starlette_admin.helpers import _carry_origin

        url = request.url_for(f"{request.app.state.ROUTE_NAME}:{route}", key=key)
        origin = _carry_origin(request)
        parts = cache[(route, key)] = (
            f"{url}?pk=",
            "&" + urlencode({"_origin": origin}) if origin else "",
        )
    return f"{parts[0]}{quote_plus(str(pk))}{parts[1]}"


def detail_url(request: Request, key: str, pk: Any) -> str:
    return _page_url(request, "detail", key, pk)


def edit_url(request: Request, key: str, pk: Any) -> str:
    return _page_url(request, "edit", key, pk)


class _ClosingCSRFMiddleware(CSRFMiddleware):
    """starlette-admin's CSRF check, closing the form it parsed to read the token: an
    uploaded file's temporary copy stays open otherwise (the app parses its own)."""

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        try:
            return await super().dispatch(request, call_next)
        finally:
            await request.close()


class FichaAdmin(BaseAdmin):
    """starlette-admin's admin, closing uploaded files once a form is handled: the
    library reads the form but leaves its temporary files open until the collector runs."""

    def _init_csrf(self) -> None:
        assert self.secret_key is not None
        self.middlewares.append(Middleware(_ClosingCSRFMiddleware, secret_key=self.secret_key))

    # the routes are read from the handlers' @route marks: an override must carry them too
    @route("/{key}/create", methods=["GET", "POST"], name="create")
    async def _render_create(self, request: Request) -> Response:
        try:
            return await super()._render_create(request)
        finally:
            await request.close()

    @route("/{key}/edit", methods=["GET", "POST"], name="edit")
    async def _render_edit(self, request: Request) -> Response:
        try:
            return await super()._render_edit(request)
        finally:
            await request.close()


def build_admin(ficha: Ficha) -> BaseAdmin:
    admin = FichaAdmin(
        title=ficha.settings.name,
        base_url=ADMIN_PATH,
        route_name="admin",
        templates_dir=str(TEMPLATES),
        secret_key=ficha.settings.secret_key,
        auth_provider=FichaAuth(lambda: ficha),
        # times are stored in UTC and shown, typed and exported in the project's timezone
        timezone_config=TimezoneConfig(
            default_timezone=ficha.settings.timezone,
            database_timezone="UTC",
            timezone_cookie_name=None,
            use_user_locale_timezone=False,
        ),
    )
    env = admin.templates.env
    # Templates are Ficha's and starlette-admin's own files, which do not change while
    # serving (a changed YAML rebuilds the whole Admin): no mtime check per include.
    env.auto_reload = False
    env.globals["detail_url"] = detail_url
    env.globals["ficha_list_row"] = functools.partial(render_row, env)
    files = _files_storage(ficha)
    by_pack: dict[str, list[RecordView]] = {}
    for obj in ficha.model:
        by_pack.setdefault(obj.pack, []).append(RecordView(ficha, obj, files))
    labels = {p.name: p.label for p in ficha.model.packs}
    labels[SYSTEM_PACK] = "Administration"
    labels[PROJECT_PACK] = "My objects"
    # the project's own objects and the packs first; Ficha's administration last
    packs = [p.name for p in ficha.model.packs if p.name != SYSTEM_PACK] + [
        PROJECT_PACK,
        SYSTEM_PACK,
    ]
    for pack in packs:
        views = by_pack.get(pack, [])
        if not views:
            continue
        if len(by_pack) == 1:  # one pack: no need for a dropdown
            for view in views:
                admin.add_view(view)
        else:
            admin.add_view(
                DropDown(
                    labels.get(pack, pack), views=list(views), icon="fa fa-folder", always_open=True
                )
            )
    for views in ficha.pm.hook.ficha_views(ficha=ficha):
        for view in views or []:
            admin.add_view(view)
    return admin


class UrlPaths(dict[tuple[Any, ...], URLPath]):
    """Route paths already found. starlette's url_for walks every route in turn, each
    failing with an exception, and a page asks it dozens of times (the menu, static
    files, links); a path depends only on the route table, which changes only when the
    admin is swapped (and this is cleared)."""

    def wrap(self, router: Router) -> None:
        lookup = router.url_path_for

        def url_path_for(name: str, /, **params: Any) -> URLPath:
            try:
                key = (name, *sorted(params.items()))
                return self[key]
            except KeyError:
                path = self[key] = lookup(name, **params)
                return path
            except TypeError:  # a parameter that cannot be a key: look it up each time
                return lookup(name, **params)

        router.url_path_for = url_path_for  # type: ignore[method-assign]


class SwappableApp:
    """A stable ASGI target whose inner app can be replaced while serving.

    starlette-admin cannot add views once mounted, so a changed model means a new Admin;
    requests already running finish on the old one."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.generation = 0
        self.url_paths = UrlPaths()

    def swap(self, app: Starlette) -> None:
        self.app = app
        self.generation += 1
        self.url_paths.clear()

    @property
    def routes(self) -> list[Any]:  # url_for("admin:…") walks these
        return self.app.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def admin_app(ficha: Ficha) -> Starlette:
    admin = build_admin(ficha)
    holder = Starlette()
    admin.mount_to(holder)  # builds admin.app; the holder itself is never served
    assert admin.app is not None
    admin.app.state.ficha = ficha
    return admin.app


def build_web_app(
    settings: Settings,
    *,
    reload: bool = False,
    ficha: Ficha | None = None,
    scheduler: bool = False,
    **_: Any,
) -> Starlette:
    """The web application. `scheduler=True` (what `ficha serve` does) also runs timed
    rules in a background thread; tests drive the scheduler themselves."""
    ficha = ficha or Ficha.load(settings)
    target = SwappableApp(admin_app(ficha))
    state = {"ficha": ficha}

    async def home(request: Request) -> Response:
        return RedirectResponse(f"{ADMIN_PATH}/", status_code=302)

    async def personal_export(request: Request) -> Response:
        """A person's data as one JSON file (administrators only; the export is audited)."""
        from framework.privacy import export_json

        ficha = state["ficha"]
        who = getattr(request.state, "who", None)
        if who is None or who.role is None or not who.role.everything:
            return JSONResponse(
                {"detail": "only an administrator may export a person's data"}, status_code=403
            )
        name = request.path_params["object"]
        ident = int(request.path_params["ident"])
        if name not in ficha.model:
            return JSONResponse({"detail": f"there is no object '{name}'"}, status_code=404)
        try:
            text = export_json(ficha.records, name, ident)
        except NotFound as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)
        with ficha.storage.write() as conn:
            ficha.audit.log(
                conn, "personal_export", request.state.actor, object_name=name, record_id=ident
            )
        return Response(
            text,
            media_type="application/json",
            headers={"content-disposition": f'attachment; filename="{name}-{ident}.json"'},
        )

    async def health(request: Request) -> Response:
        try:
            state["ficha"].storage.check_connection()
        except Exception as exc:  # reported, not raised: this is what the endpoint is for
            return JSONResponse({"status": "error", "detail": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok", "objects": len(state["ficha"].model.objects)})

    app = Starlette(
        middleware=[Middleware(SecurityMiddleware, ficha_of=lambda: state["ficha"])],
        routes=[
            Route("/", home),
            Route("/healthz", health),
            Route("/privacy/export/{object}/{ident:int}", personal_export),
            *[r for routes in ficha.pm.hook.ficha_routes(ficha=ficha) for r in routes or []],
            Mount(ADMIN_PATH, app=target, name="admin"),
        ],
    )
    app.state.ficha_state = state
    app.state.admin = target
    target.url_paths.wrap(app.router)
    if scheduler:
        from framework.scheduler import SchedulerThread

        ficha.start_schedules()
        thread = SchedulerThread(ficha.scheduler)
        app.state.scheduler_thread = thread
        thread.start()
    if reload:
        watcher = ReloadWatcher(settings, target, state)
        app.state.reload_watcher = watcher
        watcher.start()
    return app


def _signature(paths: Iterable[Path]) -> tuple[tuple[str, float], ...]:
    found = []
    for path in paths:
        if path.is_dir():
            found += [
                (str(p), p.stat().st_mtime)
                for p in sorted(path.rglob("*"))
                if p.suffix in (".yaml", ".yml", ".py") and p.is_file()
            ]
        elif path.exists():
            found.append((str(path), path.stat().st_mtime))
    return tuple(found)


class ReloadWatcher(threading.Thread):
    """Polls the project's YAML and revision files; when they change and the new model
    loads and needs no migration, builds a new Admin and swaps it in. A broken YAML keeps
    the running screens and prints the problems; a model that needs `ficha migrate`
    says so and waits."""

    def __init__(
        self, settings: Settings, target: SwappableApp, state: dict[str, Any], interval: float = 0.5
    ) -> None:
        super().__init__(daemon=True, name="ficha-reload")
        self.settings = settings
        self.target = target
        self.state = state
        self.interval = interval
        self.stop_event = threading.Event()
        self.last_error = ""
        self._seen = self._current()

    def _paths(self) -> list[Path]:
        ficha: Ficha = self.state["ficha"]
        paths = [
            self.settings.project_dir / "ficha.yaml",
            self.settings.objects_dir,
            self.settings.migrations_dir,
        ]
        paths += [p.path for p in ficha.model.packs if p.path is not None]
        return paths

    def _current(self) -> tuple[tuple[str, float], ...]:
        return _signature(self._paths())

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            now = self._current()
            if now == self._seen:
                continue
            self._seen = now
            self.reload()

    def reload(self) -> bool:
        from storage.migrations import plan

        try:
            settings = Settings.load(self.settings.project_dir)
            ficha = Ficha.load(settings, self.state["ficha"].pm)
        except Exception as exc:  # any problem keeps the running screens
            self._report(f"the YAML was not reloaded:\n{exc}")
            return False
        pending = plan(ficha.storage, settings.migrations_dir)
        if not pending.empty:
            ficha.close()
            steps = pending.pending or [s.description for s in pending.steps]
            self._report(
                "the model changed the database layout; run 'ficha migrate' to "
                "apply:\n  " + "\n  ".join(steps)
            )
            return False
        old = self.state["ficha"]
        self.target.swap(admin_app(ficha))
        self.state["ficha"] = ficha
        self.last_error = ""
        log.warning("reloaded the model: %d objects", len(ficha.model.objects))
        old.close()
        return True

    def _report(self, message: str) -> None:
        self.last_error = message
        log.warning("%s", message)

    def stop(self) -> None:
        self.stop_event.set()
