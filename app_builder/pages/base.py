"""What every page of app_builder/pages shares: the loaded project, rendering in the
screens' layout, how values are shown, and how a refused write is told to the user."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette_admin.flash import flash
from starlette_admin.views import CustomView

from app_builder.pages.reads import Reads, actor_of
from framework.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from storage.queries import LinkRef

if TYPE_CHECKING:
    from framework.app import Ficha

T = TypeVar("T")


class PageView(CustomView):
    """A page of the screens' menu, built on the loaded project."""

    #: objects the page reads; it is in the menu for users who may read all of them
    needs: tuple[str, ...] = ()

    def __init__(self, ficha: Ficha) -> None:
        super().__init__()
        self.ficha = ficha

    def is_accessible(self, request: Request) -> bool:
        reads = Reads.of(request, self.ficha)
        return all(reads.may(name) for name in self.needs)

    def reads(self, request: Request) -> Reads:
        return Reads.of(request, self.ficha)

    async def run(self, fn: Callable[[], T]) -> T:
        """Database work off the event loop, as the generated screens do it."""
        return await anyio.to_thread.run_sync(fn)

    def url(self, request: Request, name: str, **params: Any) -> str:
        return str(request.url_for(f"{request.app.state.ROUTE_NAME}:{name}", **params))

    def index_url(self, request: Request) -> str:
        """The page itself (its other routes are this and a suffix: two boards never
        share a route's name)."""
        return self.url(request, self.route_name or "")

    def render(self, request: Request, template: str, context: dict[str, Any]) -> Response:
        assert self._admin is not None, "the page must be added to the screens first"
        context.setdefault("title", self.title(request))
        context.setdefault("show", Show(self.ficha))
        context.setdefault("record_url", lambda obj, ident: self.record_url(request, obj, ident))
        return self._admin._template_response(request, template, context)

    def record_url(self, request: Request, obj: str, ident: int) -> str:
        from app_builder.site import detail_url

        return detail_url(request, obj, ident)

    def back(self, url: str) -> Response:
        return RedirectResponse(url, status_code=303)

    async def write(self, request: Request, fn: Callable[[], T], done: str) -> T | None:
        """Run a write through the records service; tell the user what happened."""
        try:
            result = await self.run(fn)
        except ValidationFailed as exc:
            flash(request, "Not saved: " + refusal(self.ficha, exc), "error")
            return None
        except (PermissionDenied, Conflict, NotFound) as exc:
            flash(request, f"Not saved: {exc}", "error")
            return None
        flash(request, done, "success")
        return result


def refusal(ficha: Ficha, exc: ValidationFailed) -> str:
    """A refused write in the user's words: each field's label and its reason."""
    obj = ficha.model.objects.get(exc.object_name)
    parts = []
    for name, message in exc.errors.items():
        f = obj.fields.get(name) if obj is not None else None
        parts.append(message if f is None else f"{f.label} {message}")
    return "; ".join(parts)


def form_actor(request: Request) -> Any:
    return actor_of(request)


class Show:
    """How a value reads on a page: labels for choices, titles for links, amounts with
    thousands separators, moments to the minute (UTC)."""

    def __init__(self, ficha: Ficha) -> None:
        self.model = ficha.model

    def __call__(self, record: Any, obj: str, name: str) -> str:
        value = record.get(name) if hasattr(record, "get") else None
        return self.value(value, obj, name)

    def value(self, value: Any, obj: str, name: str) -> str:
        if value is None or value == "" or value == []:
            return "—"
        f = self.model[obj].fields.get(name) if obj in self.model.objects else None
        if isinstance(value, LinkRef):
            return value.title
        if isinstance(value, list):
            return ", ".join(self.value(v, obj, name) for v in value)
        if f is not None and f.values:
            return f.choice_label(value)
        if isinstance(value, bool):
            return "Yes" if value else "No"
        if isinstance(value, Decimal):
            if f is not None and f.type == "percent":
                return f"{value.normalize():f} %"
            return f"{value:,.2f}"
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M")
        if isinstance(value, dt.date):
            return value.isoformat()
        return str(value)

    def label(self, obj: str, name: str) -> str:
        f = self.model[obj].fields.get(name) if obj in self.model.objects else None
        return f.label if f is not None else name
