"""A kanban board of any object with a choice field, as pages/*.yaml declares it
(`kind: board`): one column per value, a card per record. Dragging a card asks the
records service to change the value, so the workflow decides (its transitions,
conditions and roles), and a refused move comes back with the reason.

Each card knows where it may go (`Enforcer.allowed_states`, when the columns are the
workflow's field), so the columns it cannot enter are dimmed while it is dragged.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette_admin import route

from app_builder.pages.base import PageView, form_actor, refusal
from app_builder.pages.reads import Reads
from framework.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from framework.pages.spec import Board
from storage.queries import Record
from storage.tables import column_name

if TYPE_CHECKING:
    from framework.app import Ficha


class BoardView(PageView):
    """The board of one object, e.g. opportunities by stage."""

    def __init__(self, ficha: Ficha, board: Board) -> None:
        self.menu_label = board.label
        self.icon = board.icon
        self.path = board.path
        self.route_name = board.name
        self.needs = board.needs
        super().__init__(ficha)
        self.board = board
        self.object_name = board.object
        self.obj = ficha.model[board.object]
        self.state_field = board.columns
        self.card_fields = board.card
        self.sum_field = board.sum
        workflow = ficha.behaviour.of(board.object).workflow_field
        # which columns a card may enter is the workflow's to say, when it moves this field
        self.by_workflow = workflow == board.columns

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
                "move_url": self.index_url(request) + "/move",
                "mine_field": self.board.mine,
                "may_move": reads.may(self.object_name, "update"),
            },
        )

    def _columns(
        self, reads: Reads, actor: Any, mine: bool, text: str | None
    ) -> list[dict[str, Any]]:
        table = reads.table(self.object_name)
        state = table.c[column_name(self.obj.fields[self.state_field])]
        where: list[Any] = []
        if self.board.filter is not None:
            where.append(self.board.filter.where(self.ficha.storage))
        if mine and self.board.mine is not None:
            where.append(table.c[column_name(self.obj.fields[self.board.mine])] == reads.user_id)
        enforcer = self.ficha.records.enforcer if self.by_workflow else None
        columns = []
        with self.ficha.storage.read() as conn:
            for value in self.obj.fields[self.state_field].values:
                condition = [state == value.code, *where]
                limit = self.board.limit_of(value.code)
                cards = reads.list(
                    conn,
                    self.object_name,
                    where=condition,
                    sort=self.board.sort,
                    limit=limit,
                    search=text,
                )
                total = (
                    len(cards)
                    if len(cards) < limit
                    else reads.count(
                        conn, self.object_name, where=condition, search=text, cap=9999
                    ).value
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

    @route("/move", methods=["POST"])
    async def move(self, request: Request) -> Response:
        """POST {id, to, version}: the move, through the workflow; 409 with the reason."""
        try:
            data = await request.json()
            ident, target = int(data["id"]), str(data["to"])
            version = int(data["version"]) if data.get("version") is not None else None
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"ok": False, "error": "the move could not be read"}, 400)
        actor = form_actor(request)

        enforcer = self.ficha.records.enforcer if self.by_workflow else None

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
