"""An agenda, as pages/*.yaml declares it (`kind: agenda`): a user's records with a moment
(the core pack's activities, and the service visits planned for them) by day or by week,
a form to plan one for a record it plans from (an open opportunity), and a button that
marks one done."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette_admin import route

from app_builder.pages.base import PageView, form_actor
from app_builder.pages.reads import Reads
from framework.enforce import user_context
from framework.expressions import Context
from framework.pages.spec import Agenda, AgendaItems
from storage.queries import Record, Sort
from storage.tables import column_name

if TYPE_CHECKING:
    from framework.app import Ficha

ITEMS = 300  # of one kind, in the days shown
CHOICES = 100  # records offered to plan from


class AgendaView(PageView):
    def __init__(self, ficha: Ficha, agenda: Agenda, file_object: str | None = None) -> None:
        self.menu_label = agenda.label
        self.icon = agenda.icon
        self.path = agenda.path
        self.route_name = agenda.name
        self.needs = agenda.needs
        super().__init__(ficha)
        self.agenda = agenda
        self.file_object = file_object  # a link to it opens the customer file

    @route("")
    async def index(self, request: Request) -> Response:
        params = request.query_params
        view = "day" if params.get("view") == "day" else "week"
        day = _date(params.get("date")) or dt.date.today()
        start = day if view == "day" else day - dt.timedelta(days=day.weekday())
        days = [start + dt.timedelta(days=n) for n in range(1 if view == "day" else 7)]
        reads = self.reads(request)
        user = _int(params.get("user")) or reads.user_id
        plan = self.agenda.plan_from
        plan_for = _int(params.get(plan.object)) if plan is not None else None
        context = Context(user=user_context(form_actor(request)))

        def load() -> dict[str, Any]:
            return self._load(reads, user, days, plan_for, context)

        data = await self.run(load)
        step = dt.timedelta(days=1 if view == "day" else 7)
        obj = self.ficha.model[self.agenda.object]
        badge = obj.fields.get(self.agenda.badge or "")
        here = self.index_url(request)
        return self.render(
            request,
            "pages/agenda.html",
            {
                **data,
                "agenda": self.agenda,
                "obj": obj,
                "view": view,
                "day": day,
                "days": days,
                "user": user,
                "today": dt.date.today(),
                "previous": (day - step).isoformat(),
                "next": (day + step).isoformat(),
                "kinds": [v for v in badge.values if v.code in self.agenda.offer] if badge else [],
                "plan_url": here + "/plan",
                "done_url": here + "/done",
                "may_plan": reads.may(self.agenda.object, "create"),
                "plan_from": plan,
                "file_object": self.file_object,
                "ficha_show": (lambda pk: self.url(request, "ficha_show", pk=pk))
                if self.file_object
                else None,
                "model": self.ficha.model,
            },
        )

    def _items(
        self,
        reads: Reads,
        conn: Any,
        items: AgendaItems,
        user: int | None,
        begin: dt.datetime,
        end: dt.datetime,
        context: Context,
    ) -> list[Record]:
        if not reads.may(items.object):
            return []
        obj = self.ficha.model[items.object]
        table = reads.table(items.object)
        who = table.c[column_name(obj.fields[items.who])]
        when = table.c[column_name(obj.fields[items.when])]
        where = [who == user, when >= begin, when < end]
        if items.filter is not None:
            where.append(items.filter.where(self.ficha.storage, context=context))
        return reads.list(conn, items.object, where=where, sort=[Sort(items.when)], limit=ITEMS)

    def _load(
        self,
        reads: Reads,
        user: int | None,
        days: list[dt.date],
        plan_for: int | None,
        context: Context,
    ) -> dict[str, Any]:
        begin = dt.datetime.combine(days[0], dt.time())
        end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time())
        by_day: dict[dt.date, list[dict[str, Any]]] = {d: [] for d in days}
        agenda = self.agenda
        own = AgendaItems(agenda.object, agenda.when, agenda.who, "", agenda.fields)
        with self.ficha.storage.read() as conn:
            for n, items in enumerate((own, *agenda.also)):
                for r in self._items(reads, conn, items, user, begin, end, context):
                    at = r[items.when]
                    by_day[at.date()].append({"own": n == 0, "spec": items, "at": at, "r": r})
            users = reads.list(
                conn,
                "user",
                where=[reads.table("user").c.active.is_not(False)],
                limit=200,
                fields=["name"],
                sort=[Sort("name")],
            )
            sources = self._sources(reads, conn, user, plan_for, context)
        for found in by_day.values():
            found.sort(key=lambda i: i["at"])
        return {"by_day": by_day, "users": users, "sources": sources, "plan_for": plan_for}

    def _sources(
        self, reads: Reads, conn: Any, user: int | None, plan_for: int | None, context: Context
    ) -> list[Record]:
        """The user's records to plan for (and the one asked for, first)."""
        plan = self.agenda.plan_from
        if plan is None or not reads.may(plan.object):
            return []
        obj = self.ficha.model[plan.object]
        table = reads.table(plan.object)
        where = []
        if plan.mine is not None:
            where.append(table.c[column_name(obj.fields[plan.mine])] == user)
        if plan.filter is not None:
            where.append(plan.filter.where(self.ficha.storage, context=context))
        shown = [obj.title_field, *plan.copy]
        found = reads.list(
            conn, plan.object, where=where, sort=plan.sort, limit=CHOICES, fields=shown
        )
        if plan_for is not None and all(d.id != plan_for for d in found):
            asked = reads.get(conn, plan.object, plan_for)
            if asked is not None:
                found.insert(0, asked)
        return found

    @route("/plan", methods=["POST"])
    async def plan(self, request: Request) -> Response:
        """Plan one, for a record it plans from (whose declared fields come with it)."""
        form = await request.form()
        actor = form_actor(request)
        agenda = self.agenda
        obj = self.ficha.model[agenda.object]
        plan = agenda.plan_from
        source_id = _int(str(form.get("source") or ""))
        day = _date(str(form.get("date") or "")) or dt.date.today()
        at = _time(str(form.get("time") or "")) or dt.time(9)
        title = obj.title_field
        values: dict[str, Any] = {
            title: str(form.get("subject") or "").strip() or None,
            agenda.when: dt.datetime.combine(day, at),
            agenda.who: _int(str(form.get("user") or "")) or actor.user_id,
        }
        badge = obj.fields.get(agenda.badge or "")
        kind = str(form.get("kind") or "")
        if badge is not None:
            values[badge.name] = kind if kind in agenda.offer else agenda.offer[0]
        if agenda.duration is not None:
            values[agenda.duration] = _int(str(form.get("minutes") or "")) or 30
        if plan is not None:
            values[plan.link] = source_id

        def save() -> Any:
            if plan is not None and source_id is not None:
                with self.ficha.storage.read() as conn:
                    source = self.reads(request).get(conn, plan.object, source_id)
                if source is not None:
                    for name in plan.copy:
                        copied = source.get(name)
                        values[name] = getattr(copied, "id", copied)
                    if not values[title]:
                        what = badge.choice_label(values[badge.name]) if badge else obj.label
                        source_title = source.get(self.ficha.model[plan.object].title_field)
                        values[title] = f"{what}: {source_title}"
            return self.ficha.records.create(
                agenda.object, {k: v for k, v in values.items() if v is not None}, actor
            )

        await self.write(request, save, "Planned")
        return self.back(f"{self.index_url(request)}?date={day.isoformat()}")

    @route("/done", methods=["POST"])
    async def done(self, request: Request) -> Response:
        form = await request.form()
        ident = _int(str(form.get("id") or ""))
        actor = form_actor(request)
        here = self.index_url(request)
        back = str(form.get("back") or here)
        done = self.agenda.done
        if ident is not None and done is not None:
            await self.write(
                request,
                lambda: self.ficha.records.update(self.agenda.object, ident, {done: True}, actor),
                "Marked as done",
            )
        # only a page of this site: never another site given in the form
        safe = back.startswith("/") and not back.startswith("//")
        return self.back(back if safe else here)


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _time(text: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(text) if text else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None
