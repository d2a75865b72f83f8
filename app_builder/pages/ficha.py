"""The ficha: one page per customer, and the "Who is this customer?" search that opens it.

`/admin/ficha?q=…` identifies the customer (app_builder/pages/identify.py) and, when one
customer matches, opens its file; `/admin/ficha/<id>` is the file itself, with quick
actions that write through the records service: log a call, open a ticket, create an
opportunity, record a campaign response.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette_admin import route
from starlette_admin.flash import flash

from app_builder.pages import ficha_data
from app_builder.pages.base import PageView, form_actor
from app_builder.pages.identify import identify

ENTRY = "account"


class FichaView(PageView):
    """Customer file (menu: "Customer file")."""

    menu_label = "Customer file"
    icon = "fa fa-address-card"
    path = "/ficha"
    route_name = "ficha"
    needs = (ENTRY,)

    @route("")
    async def index(self, request: Request) -> Response:
        text = request.query_params.get("q", "").strip()[:200]
        reads = self.reads(request)

        def find() -> list[Any]:
            with self.ficha.storage.read() as conn:
                return identify(reads, conn, text)

        matches = await self.run(find) if text else []
        if len(matches) == 1:
            flash(request, f"{matches[0].name}: identified by {matches[0].how}", "info")
            return self.back(self.url(request, "ficha_show", pk=matches[0].account_id))
        return self.render(
            request,
            "pages/identify.html",
            {"q": text, "matches": matches, "searched": bool(text)},
        )

    @route("/{pk:int}", name="ficha_show")
    async def show(self, request: Request) -> Response:
        ident = int(request.path_params["pk"])
        page = _int(request.query_params.get("page"), 1)
        reads = self.reads(request)

        def load() -> Any:
            with self.ficha.storage.read() as conn:
                return ficha_data.load(reads, conn, ident, page, self._segments)

        found = await self.run(load)
        if found is None:
            return self.render(
                request,
                "pages/identify.html",
                {"q": "", "matches": [], "searched": True, "missing": ident},
            )
        return self.render(
            request,
            "pages/ficha.html",
            {
                "f": found,
                "title": str(found.account.get("name") or f"Account #{ident}"),
                "may": {o: reads.may(o, "create") for o in _WRITES},
                "now": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                "today": dt.date.today(),
                "actions": {
                    name: self.url(request, f"ficha_{name}", pk=ident) for name in _WRITES.values()
                },
                "show_url": self.url(request, "ficha_show", pk=ident),
            },
        )

    # -- quick actions: each one record, through the records service ------------------

    @route("/{pk:int}/call", methods=["POST"], name="ficha_call")
    async def log_call(self, request: Request) -> Response:
        ident, form = int(request.path_params["pk"]), await request.form()
        values = {
            "account": ident,
            "contact": _text(form, "contact"),
            "channel": _text(form, "channel") or "phone",
            "direction": _text(form, "direction") or "inbound",
            "subject": _text(form, "subject"),
            "summary": _text(form, "summary"),
            "outcome": _text(form, "outcome"),
            "duration_seconds": _seconds(form.get("minutes")),
            "agent": form_actor(request).user_id,
            "occurred_at": dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
        }
        await self._create(request, "interaction", values, "The call was logged")
        return self.back(self.url(request, "ficha_show", pk=ident))

    @route("/{pk:int}/ticket", methods=["POST"], name="ficha_ticket")
    async def open_ticket(self, request: Request) -> Response:
        ident, form = int(request.path_params["pk"]), await request.form()
        values = {
            "account": ident,
            "contact": _text(form, "contact"),
            "subject": _text(form, "subject"),
            "description": _text(form, "description"),
            "priority": _text(form, "priority") or "normal",
            "category": _text(form, "category"),
            "channel": _text(form, "channel") or "phone",
            "asset": _text(form, "asset"),
            "assigned_to": form_actor(request).user_id,
        }
        await self._create(request, "ticket", values, "The ticket was opened")
        return self.back(self.url(request, "ficha_show", pk=ident))

    @route("/{pk:int}/opportunity", methods=["POST"], name="ficha_opportunity")
    async def new_opportunity(self, request: Request) -> Response:
        ident, form = int(request.path_params["pk"]), await request.form()
        values = {
            "account": ident,
            "name": _text(form, "name"),
            "amount": _text(form, "amount"),
            "product": _text(form, "product"),
            "expected_close": _text(form, "expected_close"),
            "owner": form_actor(request).user_id,
            "source": "existing",
        }
        await self._create(request, "opportunity", values, "The opportunity was created")
        return self.back(self.url(request, "ficha_show", pk=ident))

    @route("/{pk:int}/response", methods=["POST"], name="ficha_response")
    async def campaign_response(self, request: Request) -> Response:
        ident, form = int(request.path_params["pk"]), await request.form()
        values = {
            "account": ident,
            "campaign": _text(form, "campaign"),
            "contact": _text(form, "contact"),
            "response": _text(form, "response"),
            "notes": _text(form, "notes"),
            "agent": form_actor(request).user_id,
        }
        await self._create(request, "campaign_response", values, "The response was recorded")
        return self.back(self.url(request, "ficha_show", pk=ident))

    async def _create(self, request: Request, obj: str, values: dict[str, Any], done: str) -> None:
        actor = form_actor(request)
        clean = {k: v for k, v in values.items() if v not in (None, "")}
        await self.write(request, lambda: self.ficha.records.create(obj, clean, actor), done)

    @property
    def _segments(self) -> dict[str, Any]:
        """Compiled segment expressions of alerts, kept as long as this model is served."""
        cache: dict[str, Any] = self.__dict__.setdefault("_segment_cache", {})
        return cache


_WRITES = {
    "interaction": "call",
    "ticket": "ticket",
    "opportunity": "opportunity",
    "campaign_response": "response",
}


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _int(text: str | None, default: int) -> int:
    try:
        return max(1, int(text or default))
    except ValueError:
        return default


def _seconds(minutes: Any) -> int | None:
    try:
        return round(float(str(minutes).replace(",", ".")) * 60) if minutes else None
    except ValueError:
        return None
