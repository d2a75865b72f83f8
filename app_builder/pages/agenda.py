"""The agenda: a user's activities (calls, meetings, visits, tasks) and planned service
visits by day or by week, with a form to plan a call or a visit for one of their open
opportunities, and a button to mark an activity done."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette_admin import route

from app_builder.pages.base import PageView, form_actor
from app_builder.pages.reads import Reads
from storage.queries import Record, Sort
from storage.tables import column_name

KINDS = ("call", "visit", "meeting", "task", "email")


class AgendaView(PageView):
    menu_label = "Agenda"
    icon = "fa fa-calendar-days"
    path = "/agenda"
    route_name = "agenda"
    needs = ("activity",)

    @route("")
    async def index(self, request: Request) -> Response:
        params = request.query_params
        view = "day" if params.get("view") == "day" else "week"
        day = _date(params.get("date")) or dt.date.today()
        start = day if view == "day" else day - dt.timedelta(days=day.weekday())
        days = [start + dt.timedelta(days=n) for n in range(1 if view == "day" else 7)]
        reads = self.reads(request)
        me = reads.user_id
        user = _int(params.get("user")) or me
        plan_for = _int(params.get("opportunity"))

        def load() -> dict[str, Any]:
            return self._load(reads, user, days, plan_for)

        data = await self.run(load)
        step = dt.timedelta(days=1 if view == "day" else 7)
        return self.render(
            request,
            "pages/agenda.html",
            {
                **data,
                "view": view,
                "day": day,
                "days": days,
                "user": user,
                "today": dt.date.today(),
                "previous": (day - step).isoformat(),
                "next": (day + step).isoformat(),
                "kinds": [
                    v for v in self.ficha.model["activity"].fields["kind"].values if v.code in KINDS
                ],
                "plan_url": self.url(request, "agenda_plan"),
                "done_url": self.url(request, "agenda_done"),
                "may_plan": reads.may("activity", "create"),
            },
        )

    def _load(
        self, reads: Reads, user: int | None, days: list[dt.date], plan_for: int | None
    ) -> dict[str, Any]:
        begin = dt.datetime.combine(days[0], dt.time())
        end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time())
        by_day: dict[dt.date, list[dict[str, Any]]] = {d: [] for d in days}
        model = self.ficha.model
        with self.ficha.storage.read() as conn:
            activity = reads.table("activity")
            assigned = activity.c[column_name(model["activity"].fields["assigned_to"])]
            for a in reads.list(
                conn,
                "activity",
                where=[assigned == user, activity.c.due >= begin, activity.c.due < end],
                sort=[Sort("due")],
                limit=300,
            ):
                by_day[a["due"].date()].append({"kind": "activity", "at": a["due"], "r": a})
            if reads.may("service_visit"):
                visit = reads.table("service_visit")
                tech = visit.c[column_name(model["service_visit"].fields["technician"])]
                for v in reads.list(
                    conn,
                    "service_visit",
                    where=[tech == user, visit.c.planned_at >= begin, visit.c.planned_at < end],
                    sort=[Sort("planned_at")],
                    limit=100,
                ):
                    by_day[v["planned_at"].date()].append(
                        {"kind": "service_visit", "at": v["planned_at"], "r": v}
                    )
            users = reads.list(
                conn,
                "user",
                where=[reads.table("user").c.active.is_not(False)],
                limit=200,
                fields=["name"],
                sort=[Sort("name")],
            )
            deals = self._open_deals(reads, conn, user, plan_for)
        for items in by_day.values():
            items.sort(key=lambda i: i["at"])
        return {"by_day": by_day, "users": users, "deals": deals, "plan_for": plan_for}

    def _open_deals(
        self, reads: Reads, conn: Any, user: int | None, plan_for: int | None
    ) -> list[Record]:
        """The user's open opportunities to plan for (and the one asked for, first)."""
        if not reads.may("opportunity"):
            return []
        table = reads.table("opportunity")
        owner = table.c[column_name(self.ficha.model["opportunity"].fields["owner"])]
        open_ = table.c.stage.not_in(("won", "lost"))
        deals = reads.list(
            conn,
            "opportunity",
            where=[owner == user, open_],
            sort=[Sort("expected_close")],
            limit=100,
            fields=["name", "account"],
        )
        if plan_for is not None and all(d.id != plan_for for d in deals):
            asked = reads.get(conn, "opportunity", plan_for)
            if asked is not None:
                deals.insert(0, asked)
        return deals

    @route("/plan", methods=["POST"], name="agenda_plan")
    async def plan(self, request: Request) -> Response:
        """Plan a call, visit or meeting, for an opportunity (its account comes with it)."""
        form = await request.form()
        actor = form_actor(request)
        deal_id = _int(str(form.get("opportunity") or ""))
        day = _date(str(form.get("date") or "")) or dt.date.today()
        at = _time(str(form.get("time") or "")) or dt.time(9)
        kind = str(form.get("kind") or "call")
        values: dict[str, Any] = {
            "kind": kind if kind in KINDS else "call",
            "subject": str(form.get("subject") or "").strip() or None,
            "due": dt.datetime.combine(day, at),
            "duration_minutes": _int(str(form.get("minutes") or "")) or 30,
            "assigned_to": _int(str(form.get("user") or "")) or actor.user_id,
            "opportunity": deal_id,
        }

        def save() -> Any:
            if deal_id is not None:
                with self.ficha.storage.read() as conn:
                    deal = self.reads(request).get(conn, "opportunity", deal_id)
                if deal is not None:
                    values["account"] = deal["account"].id if deal.get("account") else None
                    if not values["subject"]:
                        kind_label = (
                            self.ficha.model["activity"].fields["kind"].choice_label(values["kind"])
                        )
                        values["subject"] = f"{kind_label}: {deal['name']}"
            return self.ficha.records.create(
                "activity", {k: v for k, v in values.items() if v is not None}, actor
            )

        await self.write(request, save, "Planned")
        return self.back(f"{self.url(request, 'agenda')}?date={day.isoformat()}")

    @route("/done", methods=["POST"], name="agenda_done")
    async def done(self, request: Request) -> Response:
        form = await request.form()
        ident = _int(str(form.get("id") or ""))
        actor = form_actor(request)
        back = str(form.get("back") or self.url(request, "agenda"))
        if ident is not None:
            await self.write(
                request,
                lambda: self.ficha.records.update("activity", ident, {"done": True}, actor),
                "Marked as done",
            )
        # only a page of this site: never another site given in the form
        safe = back.startswith("/") and not back.startswith("//")
        return self.back(back if safe else self.url(request, "agenda"))


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
