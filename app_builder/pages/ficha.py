"""The customer file (ficha): one page per record of the declared object, and the "Who is
this customer?" search that opens it — both as pages/customer_file.yaml declares them.

`/admin/ficha?q=…` identifies the customer (identify.py) and, when one customer matches,
opens its file; `/admin/ficha/<id>` is the file itself, with the declared quick actions
(`/admin/ficha/<id>/<action>`), each of which makes one record through the records
service.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette_admin import route
from starlette_admin.flash import flash

from app_builder.pages import ficha_data
from app_builder.pages.base import PageView, Show, form_actor
from app_builder.pages.cells import LIGHT, STRONG, Cells
from app_builder.pages.identify import identify
from framework.enforce import user_context
from framework.expressions import Context, Expression
from framework.pages.spec import Action, ActionField, CustomerFile

if TYPE_CHECKING:
    from framework.app import Ficha


#: a reading → how the search box names it, and an example of the help line
READING_PHRASES = {
    "phone": ("a phone in any format", "600 12 34 56"),
    "email": ("an email", "ana@example.com"),
    "national_id": ("a national id", "12345678Z"),
    "code": ("a card or another code", "4000 0001 2345 6789"),
}


class FichaView(PageView):
    """The customer file (menu: its declared label)."""

    route_name = "ficha"  # the header's search box opens it by this name

    def __init__(self, ficha: Ficha, page: CustomerFile, pages: dict[str, Any]) -> None:
        self.menu_label = page.label
        self.icon = page.icon
        self.path = page.path
        self.needs = page.needs
        super().__init__(ficha)
        self.page = page
        self.pages = pages  # the other declared pages, to link to them by name
        self._segments: dict[str, Any] = {}  # compiled segment conditions of alerts

    @route("")
    async def index(self, request: Request) -> Response:
        text = request.query_params.get("q", "").strip()[:200]
        reads = self.reads(request)

        def find() -> list[Any]:
            with self.ficha.storage.read() as conn:
                return identify(reads, conn, self.page, text)

        matches = await self.run(find) if text else []
        if len(matches) == 1:
            flash(request, f"{matches[0].name}: identified by {matches[0].how}", "info")
            return self.back(self.url(request, "ficha_show", pk=matches[0].account_id))
        return self.render(request, "pages/identify.html", self._identify(text, matches))

    def _identify(self, text: str, matches: list[Any], missing: int | None = None) -> Any:
        model = self.ficha.model
        # what may be typed: the readings the declared identifiers are compared with
        readings = list(dict.fromkeys(r for s in self.page.identify for r in s.readings))
        return {
            "q": text,
            "matches": matches,
            "searched": bool(text) or missing is not None,
            "missing": missing,
            "create": [model[name] for name in self.page.create],
            "placeholder": ", ".join(
                [*(READING_PHRASES[r][0] for r in readings), "a name"]
            ).capitalize(),
            "examples": [READING_PHRASES[r][1] for r in readings],
        }

    @route("/{pk:int}", name="ficha_show")
    async def show(self, request: Request) -> Response:
        ident = int(request.path_params["pk"])
        page = _int(request.query_params.get("page"), 1)
        reads = self.reads(request)
        context = Context(user=user_context(form_actor(request)))

        def load() -> Any:
            with self.ficha.storage.read() as conn:
                return ficha_data.load(reads, conn, self.page, ident, page, self._segments, context)

        found = await self.run(load)
        if found is None:
            return self.render(request, "pages/identify.html", self._identify("", [], ident))
        obj = self.ficha.model[self.page.object]
        title = found.record.get(obj.title_field)
        show_url = self.url(request, "ficha_show", pk=ident)
        # another file's address is this one's with its id (one route lookup a page)
        base = show_url.rsplit("/", 1)[0]
        links = _PageLinks(self, request)
        return self.render(
            request,
            "pages/ficha.html",
            {
                "f": found,
                "spec": self.page,
                "obj": obj,
                "title": str(title or f"{obj.label} #{ident}"),
                "may": {a.name: reads.may(a.relation.object, "create") for a in self.page.actions},
                "actions": {a.name: f"{show_url}/{a.name}" for a in self.page.actions},
                "show_url": show_url,
                "page_url": links.url,
                "page_label": links.label,
                "ficha_url": lambda pk: f"{base}/{int(pk)}",
                "cell": Cells(Show(self.ficha), self.page.object, lambda pk: f"{base}/{int(pk)}"),
                "light": LIGHT,
                "strong": STRONG,
                "model": self.ficha.model,
            },
        )

    # -- quick actions: each one record, through the records service ------------------

    @route("/{pk:int}/{action:str}", methods=["POST"], name="ficha_action")
    async def act(self, request: Request) -> Response:
        ident = int(request.path_params["pk"])
        back = self.back(self.url(request, "ficha_show", pk=ident))
        action = next(
            (a for a in self.page.actions if a.name == request.path_params["action"]), None
        )
        if action is None:
            flash(request, "There is no such action on this page", "error")
            return back
        form = await request.form()
        actor = form_actor(request)
        values = _values(action, form, Context(user=user_context(actor)))
        values[action.relation.links[0]] = ident
        clean = {k: v for k, v in values.items() if v not in (None, "")}
        obj = action.relation.object
        await self.write(request, lambda: self.ficha.records.create(obj, clean, actor), action.done)
        return back


class _PageLinks:
    """The other declared pages this request may open, looked up once each."""

    def __init__(self, view: FichaView, request: Request) -> None:
        self.view = view
        self.request = request
        self.found: dict[str, str | None] = {}

    def url(self, name: str) -> str | None:
        if name not in self.found:
            page = self.view.pages.get(name)
            self.found[name] = (
                page.index_url(self.request)
                if page is not None and page.is_accessible(self.request)
                else None
            )
        return self.found[name]

    def label(self, name: str) -> str:
        return str(getattr(self.view.pages.get(name), "menu_label", name))


def _values(action: Action, form: FormData, context: Context) -> dict[str, Any]:
    """What the form gave, each as its field stores it, and the declared values."""
    values: dict[str, Any] = {f.field: _typed(f, form.get(f.field)) for f in action.fields}
    for name, value in action.values:
        values[name] = value.evaluate({}, None, context) if isinstance(value, Expression) else value
    return values


def _typed(field: ActionField, value: Any) -> Any:
    text = value.strip() if isinstance(value, str) else None
    if not text:
        return None
    if field.factor is not None:
        try:
            stored = Decimal(text.replace(",", ".")) * field.factor
        except InvalidOperation:
            return text  # the records service says why it is not a number
        return int(stored.quantize(Decimal(1), ROUND_HALF_UP))  # minutes typed, seconds kept
    return text


def _int(text: str | None, default: int) -> int:
    try:
        return max(1, int(text or default))
    except ValueError:
        return default
