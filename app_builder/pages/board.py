"""A kanban board of any object with a workflow: one column per state, a card per record;
dragging a card asks the records service to change the state, so the workflow decides
(its transitions, conditions and roles), and a refused move comes back with the reason.

The core pack's opportunities are the sales pipeline (`/admin/pipeline`); tickets get a
board too. Each card knows where it may go (`Enforcer.allowed_states`), so the columns it
cannot enter are dimmed while it is dragged.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette_admin import route

from app_builder.pages.base import PageView, form_actor, refusal
from app_builder.pages.reads import Reads
from framework.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from modeler.fieldtypes import LINK
from storage.queries import Record, Sort
from storage.tables import column_name

CARDS_PER_COLUMN = 50


class BoardView(PageView):
    """The board of one object, e.g. opportunities by stage."""

    #: the object, the card's fields after its title, the sort of each column
    object_name = "opportunity"
    card_fields: tuple[str, ...] = ("account", "amount", "expected_close", "owner")
    sort: tuple[Sort, ...] = (Sort("expected_close"),)
    sum_field: str | None = "amount"

    def __init__(self, ficha: Any, **options: Any) -> None:
        for key, value in options.items():
            setattr(self, key, value)
        super().__init__(ficha)
        self.needs = (self.object_name,)
        self.obj = ficha.model[self.object_name]
        self.state_field = ficha.behaviour.of(self.object_name).workflow_field or ""
        # routes are named after the view, so two boards never share a route name
        self.index_name = self.route_name or self.object_name

    @route("")
    async def index(self, request: Request) -> Response:
        mine = request.query_params.get("mine") == "1"
        text = request.query_params.get("q", "").strip()[:200] or None
        reads = self.reads(request)
        actor = form_actor(request)

        def load() -> list[dict[str, Any]]:
            return self._columns(reads, actor, mine, text)

        columns = await self.run(load)
        return self.render(
            request,
            "pages/board.html",
            {
                "board": self,
                "columns": columns,
                "mine": mine,
                "q": text or "",
                "move_url": self.url(request, f"{self.index_name}_move"),
                "may_move": reads.may(self.object_name, "update"),
            },
        )

    def _columns(
        self, reads: Reads, actor: Any, mine: bool, text: str | None
    ) -> list[dict[str, Any]]:
        table = reads.table(self.object_name)
        state = table.c[self.state_field]
        where: list[Any] = []
        owner = self.obj.fields.get("owner")
        if mine and owner is not None and owner.kind == LINK:
            where.append(table.c[column_name(owner)] == reads.user_id)
        enforcer = self.ficha.records.enforcer
        columns = []
        with self.ficha.storage.read() as conn:
            for value in self.obj.fields[self.state_field].values:
                condition = [state == value.code, *where]
                cards = reads.list(
                    conn,
                    self.object_name,
                    where=condition,
                    sort=self.sort,
                    limit=CARDS_PER_COLUMN,
                    search=text,
                )
                total = (
                    len(cards)
                    if len(cards) < CARDS_PER_COLUMN
                    else reads.count(conn, self.object_name, where=condition, cap=9999).value
                )
                for card in cards:
                    allowed = (
                        enforcer.allowed_states(conn, self.obj, card, actor)
                        if enforcer is not None
                        else []
                    )
                    card["_allowed"] = json.dumps(allowed)
                columns.append(
                    {
                        "code": value.code,
                        "label": value.label,
                        "cards": cards,
                        "total": total,
                        "sum": _sum(cards, self.sum_field),
                    }
                )
        return columns

    async def move(self, request: Request) -> Response:
        """POST {id, to, version}: the move, through the workflow; 409 with the reason."""
        try:
            data = await request.json()
            ident, target = int(data["id"]), str(data["to"])
            version = int(data["version"]) if data.get("version") is not None else None
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"ok": False, "error": "the move could not be read"}, 400)
        actor = form_actor(request)

        enforcer = self.ficha.records.enforcer

        def save() -> tuple[Record, list[str]]:
            record = self.ficha.records.update(
                self.object_name,
                ident,
                {self.state_field: target},
                actor,
                expected_version=version,
            )
            # the move's rules may have saved the record again (a probability that follows
            # the stage): the card keeps the version as stored, so the next move is not
            # taken for someone else's change
            with self.ficha.storage.read() as conn:
                stored = self.ficha.reader.get(conn, self.object_name, ident) or record
                allowed = enforcer.allowed_states(conn, self.obj, stored, actor) if enforcer else []
            return stored, allowed

        try:
            record, allowed = await self.run(save)
        except ValidationFailed as exc:
            return JSONResponse({"ok": False, "error": refusal(self.ficha, exc)}, 409)
        except (PermissionDenied, Conflict, NotFound) as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, 409)
        label = self.obj.fields[self.state_field].choice_label(record.get(self.state_field))
        return JSONResponse(
            {
                "ok": True,
                "version": record["version"],
                "state": record.get(self.state_field),
                "label": label,
                "allowed": allowed,
            }
        )


def _sum(cards: list[Record], name: str | None) -> Any:
    if name is None:
        return None
    values = [c.get(name) for c in cards if c.get(name) is not None]
    return sum(values) if values else None


class PipelineView(BoardView):
    menu_label = "Pipeline"
    icon = "fa fa-table-columns"
    path = "/pipeline"
    route_name = "pipeline"

    @route("/move", methods=["POST"], name="pipeline_move")
    async def move_card(self, request: Request) -> Response:
        return await self.move(request)


class TicketBoardView(BoardView):
    menu_label = "Ticket board"
    icon = "fa fa-table-columns"
    path = "/ticket-board"
    route_name = "ticket_board"
    object_name = "ticket"
    card_fields = ("account", "priority", "resolution_due", "assigned_to")
    sort = (Sort("resolution_due"),)
    sum_field = None

    @route("/move", methods=["POST"], name="ticket_board_move")
    async def move_card(self, request: Request) -> Response:
        return await self.move(request)
