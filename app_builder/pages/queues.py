"""Work queues: saved, shareable lists (records of the object pages/*.yaml names with
`kind: work_queues` — the core pack's `work_queue`: which object, a filter expression, a
sort, a field to group by) that a user opens as a list, or works through one record at a
time with "Next".

The filter is the expression language (`status == "new" and assigned_to == user.id`),
compiled to one SQL condition and added to the user's own read scope. Working a queue
goes by position, and notices when the record just worked has left the queue (its status
changed, say), so "Next" never skips the record that moved up into its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette_admin import route

from app_builder.pages.base import PageView, form_actor
from app_builder.pages.reads import Reads
from framework.enforce import user_context
from framework.expressions import Context, Expression, ExpressionError
from framework.pages.spec import WorkQueues
from modeler.fieldtypes import COLUMN, LINK
from storage.queries import LinkRef, Record, Sort
from storage.tables import column_name

if TYPE_CHECKING:
    from framework.app import Ficha

PAGE = 50


@dataclass
class Queue:
    record: Record
    object: str
    where: list[Any]
    sort: list[Sort]
    group: str | None
    problems: list[str]

    @property
    def id(self) -> int:
        return self.record.id


def compile_queue(reads: Reads, record: Record, actor: Any) -> Queue:
    """The queue's records as SQL: its filter, sort and grouping, or what is wrong."""
    model = reads.ficha.model
    name = str(record.get("object") or "")
    problems: list[str] = []
    if name not in model.objects:
        return Queue(record, name, [sa.false()], [], None, [f"there is no object '{name}'"])
    obj = model[name]
    where: list[Any] = []
    text = str(record.get("filter") or "").strip()
    if text:
        try:
            expression = Expression.compile(text, model, name)
            where.append(
                expression.where(reads.ficha.storage, context=Context(user=user_context(actor)))
            )
        except ExpressionError as exc:
            problems.append(
                f"the filter cannot be read (character {exc.offset + 1}): {exc.message}"
            )
            where.append(sa.false())
    sort: list[Sort] = []
    group = str(record.get("group_by") or "").strip() or None
    if group is not None and (
        group not in obj.fields or obj.fields[group].kind not in (COLUMN, LINK)
    ):
        problems.append(f"{obj.label} has no field '{group}' to group by")
        group = None
    for part in str(record.get("sort") or "").replace(";", ",").split(","):
        field = part.strip()
        if not field:
            continue
        descending = field.startswith("-")
        field = field.lstrip("-+ ")
        if field != "id" and (
            field not in obj.fields or obj.fields[field].kind not in (COLUMN, LINK)
        ):
            problems.append(f"{obj.label} has no field '{field}' to sort by")
            continue
        sort.append(Sort(field, descending))
    if group is not None:
        sort = [Sort(group), *[s for s in sort if s.field != group]]
    return Queue(record, name, where, sort or [Sort("id")], group, problems)


class QueuesView(PageView):
    def __init__(self, ficha: Ficha, page: WorkQueues, file_object: str | None = None) -> None:
        self.menu_label = page.label
        self.icon = page.icon
        self.path = page.path
        self.route_name = page.name
        self.needs = page.needs
        super().__init__(ficha)
        self.queue_object = page.object
        self.file_object = file_object  # a record leading to it opens the customer file

    def render(self, request: Request, template: str, context: dict[str, Any]) -> Response:
        context.setdefault("queue_object", self.queue_object)
        context.setdefault("page_label", self.menu_label)
        return super().render(request, template, context)

    def _visible(self, reads: Reads) -> list[Any]:
        """Shared queues, and the user's own."""
        queue = self.queue_object
        table = reads.table(queue)
        owner = table.c[column_name(self.ficha.model[queue].fields["owner"])]
        return [sa.or_(table.c.shared.is_(True), owner == reads.user_id)]

    @route("")
    async def index(self, request: Request) -> Response:
        reads = self.reads(request)
        actor = form_actor(request)

        def load() -> list[dict[str, Any]]:
            found = []
            with self.ficha.storage.read() as conn:
                for record in reads.list(
                    conn,
                    self.queue_object,
                    where=self._visible(reads),
                    sort=[Sort("name")],
                    limit=200,
                ):
                    queue = compile_queue(reads, record, actor)
                    count = (
                        reads.count(conn, queue.object, where=queue.where, cap=999)
                        if reads.may(queue.object) and not queue.problems
                        else None
                    )
                    found.append({"queue": queue, "count": count})
            return found

        queues = await self.run(load)
        return self.render(
            request,
            "pages/queues.html",
            {
                "queues": queues,
                "may_create": reads.may(self.queue_object, "create"),
                "model": self.ficha.model,
            },
        )

    async def _queue(self, request: Request, reads: Reads) -> Queue | None:
        ident = int(request.path_params["pk"])
        actor = form_actor(request)

        def find() -> Queue | None:
            table = reads.table(self.queue_object)
            with self.ficha.storage.read() as conn:
                found = reads.list(
                    conn,
                    self.queue_object,
                    where=[table.c.id == ident, *self._visible(reads)],
                    limit=1,
                )
            return compile_queue(reads, found[0], actor) if found else None

        return await self.run(find)

    @route("/{pk:int}", name="queue_list")
    async def show(self, request: Request) -> Response:
        reads = self.reads(request)
        queue = await self._queue(request, reads)
        if queue is None or not reads.may(queue.object):
            return self.render(
                request,
                "pages/queues.html",
                {"queues": [], "missing": True, "model": self.ficha.model},
            )
        page = max(1, _int(request.query_params.get("page"), 1))

        def load() -> tuple[list[Record], Any]:
            with self.ficha.storage.read() as conn:
                rows = reads.list(
                    conn,
                    queue.object,
                    where=queue.where,
                    sort=queue.sort,
                    limit=PAGE,
                    offset=(page - 1) * PAGE,
                )
                total = reads.count(conn, queue.object, where=queue.where, cap=9999)
            return rows, total

        rows, total = await self.run(load)
        obj = self.ficha.model[queue.object]
        columns = [
            c for c in obj.list.columns if c in obj.fields and c not in reads.hidden(queue.object)
        ]
        if queue.group and queue.group not in columns:
            columns = [queue.group, *columns]
        return self.render(
            request,
            "pages/queue.html",
            {
                "queue": queue,
                "obj": obj,
                "rows": rows,
                "total": total,
                "page": page,
                "pages": max(1, -(-total.value // PAGE)),
                "columns": columns,
                "work_url": self.url(request, "queue_work", pk=queue.id),
                "title": str(queue.record.get("name")),
            },
        )

    @route("/{pk:int}/work", name="queue_work")
    async def work(self, request: Request) -> Response:
        """One record of the queue; "Next" goes to the one after it."""
        reads = self.reads(request)
        queue = await self._queue(request, reads)
        if queue is None or not reads.may(queue.object):
            return self.render(
                request,
                "pages/queues.html",
                {"queues": [], "missing": True, "model": self.ficha.model},
            )
        position = max(0, _int(request.query_params.get("pos"), 0))
        last = _int(request.query_params.get("last"), 0)

        def load() -> tuple[int, Record | None, Any]:
            with self.ficha.storage.read() as conn:
                pos = position
                if last and pos > 0:
                    # the record worked last was at pos - 1: if it has left the queue,
                    # the one that moved up into its place is next
                    there = reads.list(
                        conn,
                        queue.object,
                        where=queue.where,
                        sort=queue.sort,
                        limit=1,
                        offset=pos - 1,
                        fields=[],
                    )
                    if not there or there[0].id != last:
                        pos -= 1
                found = reads.list(
                    conn, queue.object, where=queue.where, sort=queue.sort, limit=1, offset=pos
                )
                total = reads.count(conn, queue.object, where=queue.where, cap=9999)
            return pos, (found[0] if found else None), total

        pos, record, total = await self.run(load)
        obj = self.ficha.model[queue.object]
        fields = [
            n
            for n in obj.form.field_order
            if n in obj.fields
            and obj.fields[n].kind in (COLUMN, LINK)
            and record is not None
            and n in record
        ]
        customer = self._customer(queue.object, record) if record is not None else None
        return self.render(
            request,
            "pages/queue_work.html",
            {
                "queue": queue,
                "obj": obj,
                "record": record,
                "fields": fields,
                "pos": pos,
                "total": total,
                "customer": customer,
                "work_url": self.url(request, "queue_work", pk=queue.id),
                "list_url": self.url(request, "queue_list", pk=queue.id),
                "title": str(queue.record.get("name")),
            },
        )

    def _customer(self, name: str, record: Record) -> int | None:
        """The customer file the record belongs to: itself, or the one it links to."""
        if self.file_object is None:
            return None
        if name == self.file_object:
            return record.id
        for f in self.ficha.model[name].fields.values():
            if f.kind == LINK and f.target == self.file_object:
                link = record.get(f.name)
                if isinstance(link, LinkRef):
                    return link.id
        return None


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default
