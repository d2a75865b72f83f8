"""`kind: board`, `kind: agenda` and `kind: work_queues` in pages/*.yaml → their specs,
every name checked against the model."""

from __future__ import annotations

from framework.pages.read import MOMENTS, NUMBERS, PageChecker, items
from framework.pages.spec import Agenda, AgendaItems, Board, PlanFrom, WorkQueues
from modeler.fieldtypes import COLUMN, LINK
from modeler.loader import Node
from modeler.schema import ObjectDef

COMMON_KEYS = ("kind", "label", "icon", "object")
BOARD_KEYS = (*COMMON_KEYS, "columns", "card", "sort", "sum", "mine", "limit", "limits", "filter")
AGENDA_KEYS = (
    *COMMON_KEYS,
    "when",
    "who",
    "done",
    "badge",
    "offer",
    "duration",
    "fields",
    "plan_from",
    "also",
)
PLAN_KEYS = ("object", "link", "filter", "mine", "copy", "sort")
ALSO_KEYS = ("object", "when", "who", "label", "fields", "filter")
USER = "user"
#: what a work queue record holds, field → the kinds of field that can hold it
QUEUE_FIELDS = {
    "name": ("string",),
    "object": ("choice", "string"),
    "filter": ("text", "string"),
    "sort": ("string", "text"),
    "group_by": ("string",),
    "shared": ("boolean",),
    "owner": ("link",),
}


def read_board(
    name: str, doc: Node, pack: str, check: PageChecker, obj: ObjectDef, label: str, icon: str
) -> Board | None:
    if not check.mapping(doc, f"board '{name}'", BOARD_KEYS):
        return None
    columns_node = doc.get("columns")
    workflow = obj.workflow.field if obj.workflow is not None else None
    if columns_node is None and workflow is None:
        check.add(
            "002",
            f"board '{name}' needs columns: (a choice field: a column per value)",
            doc.pos,
            _choices(obj),
        )
        return None
    columns = check.field(
        columns_node or Node(workflow, doc.pos), obj, "columns", kinds=(COLUMN,), types=("choice",)
    )
    if columns is None:
        return None
    limits: list[tuple[str, int]] = []
    limits_node = doc.get("limits")
    if limits_node is not None:
        if not limits_node.is_map:
            check.add("001", "limits must be a mapping of column → cards", limits_node.pos)
        for code, value in limits_node.items():
            if check.choice(value, code, columns.choice_codes, f"value of {columns.name}"):
                count = check.integer(value, f"the limit of {code}", 1, 500)
                if count is not None:
                    limits.append((code, count))
    total = check.field(doc.get("sum"), obj, "sum", kinds=(COLUMN,), types=NUMBERS)
    mine = check.field(doc.get("mine"), obj, "mine", kinds=(LINK,), target=USER)
    return Board(
        name,
        "board",
        label,
        icon,
        obj.name,
        doc.pos,
        pack,
        columns=columns.name,
        card=check.field_names(doc.get("card"), obj, "a card's field"),
        sort=check.sort(doc.get("sort"), obj),
        sum=total.name if total is not None else None,
        mine=mine.name if mine is not None else None,
        limit=check.integer(doc.get("limit"), "limit (cards a column)", 1, 500) or 50,
        limits=tuple(limits),
        filter=check.expression(doc.get("filter"), obj, "the filter"),
    )


def read_agenda(
    name: str, doc: Node, pack: str, check: PageChecker, obj: ObjectDef, label: str, icon: str
) -> Agenda | None:
    if not check.mapping(doc, f"agenda '{name}'", AGENDA_KEYS):
        return None
    when = _required(check, doc, "when", obj, "when (the moment)", types=MOMENTS)
    who = _required(check, doc, "who", obj, "who (whose agenda)", kinds=(LINK,), target=USER)
    if when is None or who is None:
        return None
    badge_field = check.field(doc.get("badge"), obj, "badge", kinds=(COLUMN,), types=("choice",))
    badge = badge_field.name if badge_field is not None else None
    offer: tuple[str, ...] = ()
    if badge_field is not None:
        offer_node = doc.get("offer")
        codes = badge_field.choice_codes
        offer = (
            tuple(
                code
                for code in check.names(offer_node, "offer")
                if check.choice(offer_node, code, codes, f"value of {badge}")
            )
            if offer_node is not None
            else codes
        )
    done = check.field(doc.get("done"), obj, "done", kinds=(COLUMN,), types=("boolean",))
    duration = check.field(
        doc.get("duration"), obj, "duration", kinds=(COLUMN,), types=("integer",)
    )
    return Agenda(
        name,
        "agenda",
        label,
        icon,
        obj.name,
        doc.pos,
        pack,
        when=when,
        who=who,
        done=done.name if done is not None else None,
        badge=badge,
        offer=offer,
        duration=duration.name if duration is not None else None,
        fields=check.field_names(doc.get("fields"), obj, "fields"),
        plan_from=_plan_from(check, doc.get("plan_from"), obj),
        also=tuple(
            extra for item in items(doc.get("also")) if (extra := _also(check, item)) is not None
        ),
    )


def _required(
    check: PageChecker,
    doc: Node,
    key: str,
    obj: ObjectDef,
    what: str,
    *,
    kinds: tuple[str, ...] = (COLUMN,),
    types: tuple[str, ...] = (),
    target: str | None = None,
) -> str | None:
    node = doc.get(key)
    if node is None:
        check.add("002", f"the agenda needs {key}:", doc.pos, _fitting(obj, kinds, types))
        return None
    f = check.field(node, obj, what, kinds=kinds, types=types, target=target)
    return f.name if f is not None else None


def _plan_from(check: PageChecker, node: Node | None, obj: ObjectDef) -> PlanFrom | None:
    if node is None or not check.mapping(node, "plan_from", PLAN_KEYS):
        return None
    source = check.find_object(node.get("object"), "plan_from's object")
    if source is None:
        if node.get("object") is None:
            check.add("002", "plan_from needs object: (what is planned for)", node.pos)
        return None
    links = [n for n, f in obj.fields.items() if f.kind == LINK and f.target == source.name]
    link_node = node.get("link")
    if link_node is None and len(links) == 1:
        link = links[0]
    else:
        f = check.field(
            link_node or Node("", node.pos),
            obj,
            "plan_from's link",
            kinds=(LINK,),
            target=source.name,
        )
        if f is None:
            return None
        link = f.name
    copy = []
    for item in items(node.get("copy")):
        mine = check.field(item, obj, "a field copied")
        theirs = check.field(item, source, "a field copied") if mine is not None else None
        if mine is not None and theirs is not None:
            copy.append(mine.name)
    mine_field = check.field(node.get("mine"), source, "mine", kinds=(LINK,), target=USER)
    return PlanFrom(
        source.name,
        link,
        check.expression(node.get("filter"), source, "plan_from's filter"),
        mine_field.name if mine_field is not None else None,
        tuple(copy),
        check.sort(node.get("sort"), source),
    )


def _also(check: PageChecker, item: Node) -> AgendaItems | None:
    if not check.mapping(item, "an item of also", ALSO_KEYS):
        return None
    obj = check.find_object(item.get("object"))
    if obj is None:
        if item.get("object") is None:
            check.add("002", "an item of also needs object:", item.pos)
        return None
    when = _required(check, item, "when", obj, "when (the moment)", types=MOMENTS)
    who = _required(check, item, "who", obj, "who", kinds=(LINK,), target=USER)
    if when is None or who is None:
        return None
    return AgendaItems(
        obj.name,
        when,
        who,
        check.text(item.get("label"), "label") or obj.label,
        check.field_names(item.get("fields"), obj, "fields"),
        check.expression(item.get("filter"), obj, "the filter"),
    )


def read_work_queues(
    name: str, doc: Node, pack: str, check: PageChecker, obj: ObjectDef, label: str, icon: str
) -> WorkQueues | None:
    if not check.mapping(doc, f"page '{name}'", COMMON_KEYS):
        return None
    for field, types in QUEUE_FIELDS.items():
        if (
            check.field(doc.get("object"), obj, f"a queue's {field}", types=types, name=field)
            is None
        ):
            return None
    return WorkQueues(name, "work_queues", label, icon, obj.name, doc.pos, pack)


def _choices(obj: ObjectDef) -> str | None:
    names = [n for n, f in obj.fields.items() if f.type == "choice" and f.kind == COLUMN]
    return f"{obj.label}'s choice fields: {', '.join(names)}" if names else None


def _fitting(obj: ObjectDef, kinds: tuple[str, ...], types: tuple[str, ...]) -> str | None:
    names = [n for n, f in obj.fields.items() if f.kind in kinds and (not types or f.type in types)]
    return f"{obj.label}'s fields that fit: {', '.join(names)}" if names else None
